"""Negotiate and session setup as a Windows 2000 server answers them, with honest NTLM.

impacket's stock server marks a failed logon authenticated, accepts any password on the basic
path and uses one fixed challenge for everyone; here each connection gets its own random
challenge, NTLMv1 (with or without extended session security) and NTLMv2 responses are checked
against the host's credentials, a wrong password gets STATUS_LOGON_FAILURE and the connection
stays unauthenticated, and the session key SMB1 signing needs is derived as Windows does.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time

from Cryptodome.Cipher import ARC4
from impacket import ntlm, smb, smbserver
from impacket import smb3structs as smb2
from impacket.nt_errors import STATUS_LOGON_FAILURE, STATUS_MORE_PROCESSING_REQUIRED, STATUS_NOT_IMPLEMENTED, \
    STATUS_SUCCESS
from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp, TypesMech

NTLMSSP = TypesMech["NTLMSSP - Microsoft NTLM Security Support Provider"]
KEPT_FLAGS = (ntlm.NTLMSSP_NEGOTIATE_56 | ntlm.NTLMSSP_NEGOTIATE_128 | ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH
              | ntlm.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY | ntlm.NTLMSSP_NEGOTIATE_UNICODE
              | ntlm.NTLM_NEGOTIATE_OEM | ntlm.NTLMSSP_NEGOTIATE_SIGN | ntlm.NTLMSSP_NEGOTIATE_SEAL
              | ntlm.NTLMSSP_NEGOTIATE_ALWAYS_SIGN)


def error_reply(command: int):
    """An error answer as Windows sends it: no words, no bytes; the status says it all."""
    reply = smb.SMBCommand(command)
    reply["Parameters"], reply["Data"] = b"", b""
    return reply


def verify(user, domain, nt, lm, flags, challenge, password, encrypted_key=b"") -> bytes | None:
    """The exported session key when the response proves the password, else None."""
    nthash = ntlm.compute_nthash(password)
    if len(nt) > 24:  # NTLMv2 (Samba tries the domain as sent, upper-cased, then empty: so does Windows)
        for name in dict.fromkeys((domain, domain.upper(), "")):
            key = ntlm.NTOWFv2(user, "", name, nthash)
            proof = ntlm.hmac_md5(key, challenge + nt[16:])
            if hmac.compare_digest(proof, nt[:16]):
                exchange = ntlm.hmac_md5(key, proof)
                break
        else:
            return None
    elif len(nt) == 24:  # NTLMv1, with extended session security when the LM field carries a client challenge
        if flags & ntlm.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY and len(lm) >= 8:
            expected = ntlm.ntlmssp_DES_encrypt(nthash, hashlib.md5(challenge + lm[:8]).digest()[:8])
        else:
            expected = ntlm.ntlmssp_DES_encrypt(nthash, challenge)
        if not hmac.compare_digest(expected, nt):
            return None
        base = ntlm.generateSessionKeyV1("", "", nthash)
        exchange = ntlm.KXKEY(flags | ntlm.NTLMSSP_NEGOTIATE_NTLM, base, lm, challenge, password, "", nthash,
                              use_ntlmv2=False)
    else:
        return None  # anonymous: never a logon to an administrative share
    if flags & ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH and encrypted_key:
        return ARC4.new(exchange).decrypt(encrypted_key)
    return exchange


def _spnego(state: bytes, token: bytes | None = None) -> bytes:
    reply = SPNEGO_NegTokenResp()
    reply["NegState"] = state
    if token is not None:
        reply["SupportedMech"] = NTLMSSP
        reply["ResponseToken"] = token
    return reply.getData()


def ntlm_step(conn: dict, site, blob: bytes) -> tuple[bytes, int, bytes | None]:
    """One GSS/NTLMSSP leg: (token for the reply, NT status, session key on success)."""
    raw = blob[:1] not in (b"\x60", b"\xa1")
    if blob[:1] == b"\x60":
        token = SPNEGO_NegTokenInit(blob)["MechToken"]
    elif blob[:1] == b"\xa1":
        token = SPNEGO_NegTokenResp(blob)["ResponseToken"]
    else:
        token = blob
    kind = struct.unpack("<L", token[8:12])[0] if token[:8] == b"NTLMSSP\x00" else 0
    if kind == 1:
        negotiate = ntlm.NTLMAuthNegotiate()
        negotiate.fromString(token)
        conn["NtlmChallenge"] = os.urandom(8)  # per connection, used once
        name = site.computer_name.encode("utf-16le")
        pairs = ntlm.AV_PAIRS()
        pairs[ntlm.NTLMSSP_AV_HOSTNAME] = pairs[ntlm.NTLMSSP_AV_DNS_HOSTNAME] = name
        pairs[ntlm.NTLMSSP_AV_DOMAINNAME] = pairs[ntlm.NTLMSSP_AV_DNS_DOMAINNAME] = name
        challenge = ntlm.NTLMAuthChallenge()
        challenge["flags"] = (negotiate["flags"] & KEPT_FLAGS) | ntlm.NTLMSSP_NEGOTIATE_TARGET_INFO | \
            ntlm.NTLMSSP_TARGET_TYPE_SERVER | ntlm.NTLMSSP_NEGOTIATE_NTLM | ntlm.NTLMSSP_REQUEST_TARGET
        challenge["domain_len"] = challenge["domain_max_len"] = len(name)
        challenge["domain_offset"], challenge["domain_name"] = 48, name
        challenge["challenge"] = conn["NtlmChallenge"]
        challenge["TargetInfoFields_len"] = challenge["TargetInfoFields_max_len"] = len(pairs)
        challenge["TargetInfoFields"], challenge["TargetInfoFields_offset"] = pairs, 48 + len(name)
        challenge["Version"] = b""  # Windows 2000 sends no version
        return (challenge.getData() if raw else _spnego(b"\x01", challenge.getData())), \
            STATUS_MORE_PROCESSING_REQUIRED, None
    key = None
    if kind == 3 and "NtlmChallenge" in conn:
        auth = ntlm.NTLMAuthChallengeResponse()
        auth.fromString(token)
        decode = (lambda b: b.decode("utf-16le")) if auth["flags"] & ntlm.NTLMSSP_NEGOTIATE_UNICODE else \
            (lambda b: b.decode("latin-1"))
        user, domain = decode(auth["user_name"]), decode(auth["domain_name"])
        password = site.password_for(user)
        if password is not None:
            key = verify(user, domain, auth["ntlm"], auth["lanman"], auth["flags"], conn["NtlmChallenge"], password,
                         auth["session_key"])
        conn.pop("NtlmChallenge", None)
        if key is not None:
            conn["user_name"] = user
    if key is None:
        site.auth_failure()
        return (b"" if raw else _spnego(b"\x02")), STATUS_LOGON_FAILURE, None
    return (b"" if raw else _spnego(b"\x00")), STATUS_SUCCESS, key


def _session_setup(conn_id, server, command, packet):
    conn = server.getConnectionData(conn_id, checkStatus=False)
    site, flags2 = server.site, packet["Flags2"]
    reply = smb.SMBCommand(smb.SMB.SMB_COM_SESSION_SETUP_ANDX)
    sign_response = b""
    if command["WordCount"] == 12:  # extended security: SPNEGO/NTLMSSP
        params = smb.SMBSessionSetupAndX_Extended_Parameters(command["Parameters"])
        data = smb.SMBSessionSetupAndX_Extended_Data()
        data["SecurityBlobLength"] = params["SecurityBlobLength"]
        data.fromString(command["Data"])
        token, status, key = ntlm_step(conn, site, data["SecurityBlob"])
        if status == STATUS_MORE_PROCESSING_REQUIRED:
            conn["Uid"] = conn.get("Uid") or (struct.unpack("<H", os.urandom(2))[0] | 0x800)
        answer = smb.SMBSessionSetupAndX_Extended_Response_Parameters()
        body = smb.SMBSessionSetupAndX_Extended_Response_Data(flags=flags2)
        answer["Action"], answer["SecurityBlobLength"] = 0, len(token)
        body["SecurityBlobLength"], body["SecurityBlob"] = len(token), token
    else:  # NT LM 0.12 without extended security: the responses come straight in the request
        params = smb.SMBSessionSetupAndX_Parameters(command["Parameters"])
        data = smb.SMBSessionSetupAndX_Data(flags=flags2)
        data["AnsiPwdLength"], data["UnicodePwdLength"] = params["AnsiPwdLength"], params["UnicodePwdLength"]
        data.fromString(command["Data"])
        user = _text(smbserver.decodeSMBString(flags2, data["Account"]))
        domain = _text(smbserver.decodeSMBString(flags2, data["PrimaryDomain"]))
        password, key = site.password_for(user), None
        if password is not None and "EncryptionKey" in conn:
            key = verify(user, domain, data["UnicodePwd"], data["AnsiPwd"], 0, conn["EncryptionKey"], password)
        status = STATUS_SUCCESS if key is not None else STATUS_LOGON_FAILURE
        if key is None:
            site.auth_failure()
        else:
            conn["Uid"], conn["user_name"] = struct.unpack("<H", os.urandom(2))[0] | 0x800, user
            if len(data["UnicodePwd"]) == 24:
                key = ntlm.generateSessionKeyV1("", "", ntlm.compute_nthash(password))
        sign_response = data["UnicodePwd"]
        answer = smb.SMBSessionSetupAndXResponse_Parameters()
        body = smb.SMBSessionSetupAndXResponse_Data(flags=flags2)
        answer["Action"] = 0
        body["PrimaryDomain"] = smbserver.encodeSMBString(flags2, site.workgroup)
    body["NativeOS"] = smbserver.encodeSMBString(flags2, site.native_os)
    body["NativeLanMan"] = smbserver.encodeSMBString(flags2, site.native_lanman)
    reply["Parameters"], reply["Data"] = answer, body
    if status == STATUS_SUCCESS:
        conn["Authenticated"] = True
        # Signing starts with the first logon when the server enables it and the client asks, or the server requires it.
        wanted = site.signing_enabled and ((flags2 & smb.SMB.FLAGS2_SMB_SECURITY_SIGNATURE) or site.require_signing)
        if wanted and not conn["SignatureEnabled"]:
            conn["SignatureEnabled"], conn["SigningSessionKey"] = True, key
            conn["SigningChallengeResponse"], conn["SignSequenceNumber"] = sign_response, 1
    elif status != STATUS_MORE_PROCESSING_REQUIRED:
        conn["Authenticated"], conn["Uid"] = False, 0
    server.setConnectionData(conn_id, conn)
    return [reply], None, status


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _smb2_session_setup(conn_id, server, packet):
    conn = server.getConnectionData(conn_id, checkStatus=False)
    request = smb2.SMB2SessionSetup(packet["Data"])
    token, status, key = ntlm_step(conn, server.site, request["Buffer"])
    reply = smb2.SMB2SessionSetup_Response()
    reply["SecurityBufferOffset"], reply["SecurityBufferLength"], reply["Buffer"] = 0x48, len(token), token or b""
    if status == STATUS_MORE_PROCESSING_REQUIRED:
        conn["Uid"] = conn.get("Uid") or struct.unpack("<Q", os.urandom(8))[0] >> 1
    elif status == STATUS_SUCCESS:  # every later SMB2 reply, this one included, is signed
        conn["Authenticated"], conn["SignatureEnabled"], conn["SigningSessionKey"] = True, True, key
    else:
        conn["Authenticated"], conn["SignatureEnabled"] = False, False
    server.setConnectionData(conn_id, conn)
    return [reply], None, status


def error_packet(server, conn_id: str, raw: bytes, status: int) -> bytes:
    """A whole SMB1 error reply to a raw request, signed when the connection signs."""
    request = smb.NewSMBPacket(data=raw)
    conn = server.getConnectionData(conn_id, checkStatus=False)
    reply = smb.NewSMBPacket()
    reply["Flags1"] = smb.SMB.FLAGS1_REPLY
    reply["Flags2"] = smb.SMB.FLAGS2_NT_STATUS | smb.SMB.FLAGS2_LONG_NAMES | (request["Flags2"] & smb.SMB.FLAGS2_UNICODE)
    reply["Tid"], reply["Mid"], reply["Pid"], reply["Uid"] = request["Tid"], request["Mid"], request["Pid"], request["Uid"]
    reply["ErrorCode"], reply["_reserved"], reply["ErrorClass"] = status >> 16, status >> 8 & 0xFF, status & 0xFF
    reply.addCommand(error_reply(request["Command"]))
    if conn.get("SignatureEnabled"):
        reply["Flags2"] |= smb.SMB.FLAGS2_SMB_SECURITY_SIGNATURE
        server.signSMBv1(conn, reply, conn["SigningSessionKey"], conn["SigningChallengeResponse"])
    return reply.getData()


def security_mode(site) -> int:
    """User-level security with challenge/response (0x03); signing enabled 0x04, required 0x08 (MS-CIFS 2.2.4.52.2)."""
    return 0x03 | (0x04 if site.signing_enabled else 0) | (0x08 if site.require_signing else 0)


def _negotiate(conn_id, server, command, packet):
    """NT LM 0.12 as the host's Windows answers it: its capabilities and security mode, MaxMpxCount 50,
    MaxBufferSize 16644 (a server with more than 512 MB), a fresh challenge; extended security (SPNEGO)
    only where the OS has it and the client asked, as Windows 2000 decides."""
    conn = server.getConnectionData(conn_id, checkStatus=False)
    conn["Pid"] = packet["Pid"]
    conn["EncryptionKey"] = os.urandom(8)  # the challenge of the non-extended logon, per connection
    site, profile = server.site, server.site.profile
    dialects = smb.SMBCommand(packet["Data"][0])["Data"].split(b"\x02")
    reply = smb.SMBCommand(smb.SMB.SMB_COM_NEGOTIATE)
    if b"NT LM 0.12\x00" not in dialects:
        reply["Parameters"], reply["Data"] = struct.pack("<H", 0xFFFF), b""
        return [reply], None, STATUS_SUCCESS
    extended = profile.extended_security and bool(packet["Flags2"] & smb.SMB.FLAGS2_EXTENDED_SECURITY)
    params = smb.SMBExtended_Security_Parameters() if extended else smb.SMBNTLMDialect_Parameters()
    params["DialectIndex"] = dialects.index(b"NT LM 0.12\x00") - 1
    params["SecurityMode"] = security_mode(site)
    params["MaxMpxCount"], params["MaxNumberVcs"], params["MaxBufferSize"], params["MaxRawSize"] = 50, 1, 16644, 65536
    params["SessionKey"] = 0
    params["Capabilities"] = profile.capabilities | (0x80000000 if extended else 0)
    now = smb.POSIXtoFT(time.time())
    params["LowDateTime"], params["HighDateTime"], params["ServerTimeZone"] = now & 0xFFFFFFFF, now >> 32, 0
    if extended:
        blob = SPNEGO_NegTokenInit()
        blob["MechTypes"] = [NTLMSSP]
        data = hashlib.md5(site.computer_name.encode()).digest() + blob.getData()  # ServerGUID, SecurityBlob
        params["ChallengeLength"] = 0
    else:  # the challenge, then the domain's name (Unicode when the client speaks it)
        unicode = packet["Flags2"] & smb.SMB.FLAGS2_UNICODE
        data = conn["EncryptionKey"] + (site.workgroup + "\x00").encode("utf-16le" if unicode else "latin-1")
        params["ChallengeLength"] = 8
    reply["Parameters"], reply["Data"] = params, data
    server.setConnectionData(conn_id, conn)
    # Windows answers in Unicode whatever the request said; a client that did not ask learns it here.
    packet_out = smb.NewSMBPacket()
    packet_out["Flags1"] = smb.SMB.FLAGS1_REPLY
    packet_out["Flags2"] = smb.SMB.FLAGS2_NT_STATUS | smb.SMB.FLAGS2_UNICODE | smb.SMB.FLAGS2_LONG_NAMES | (
        smb.SMB.FLAGS2_EXTENDED_SECURITY if extended else 0)
    packet_out["Tid"], packet_out["Mid"], packet_out["Pid"] = packet["Tid"], packet["Mid"], packet["Pid"]
    packet_out.addCommand(reply)
    return None, [packet_out], STATUS_SUCCESS


def install(server) -> None:
    def not_implemented(conn_id, srv, command, packet):  # through the normal path, so the reply is signed
        return [error_reply(packet["Command"])], None, STATUS_NOT_IMPLEMENTED

    server.hookSmbCommand(smb.SMB.SMB_COM_NEGOTIATE, _negotiate)
    server.hookSmbCommand(smb.SMB.SMB_COM_SESSION_SETUP_ANDX, _session_setup)
    server.hookSmbCommand(0xFF, not_implemented)
    server.hookSmb2Command(smb2.SMB2_SESSION_SETUP, _smb2_session_setup)
