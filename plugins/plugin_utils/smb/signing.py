"""The logon and SMB signing of a session: NTLMv2 once, signed whenever the server offers it, every answer checked.

impacket's client (the library the transport stands on) signs only when a server *requires* it, never
checks a signature it receives, and retries a failed NTLMv2 logon with NTLMv1 against servers that call
themselves Windows 2000 or Samba. Here (MS-CIFS 3.2.4.2.4, 3.2.5.3, 3.2.5.1; MS-SMB 3.2.4.2.4;
MS-SMB2 3.2.4.1.1, 3.2.5.1.3):

- **one logon attempt**, NTLMv2 (NTLMSSP over SPNEGO); no NTLMv1 retry, never LM, never a password in
  plain text. A server without extended security (Windows NT 4.0) is refused unless the inventory opts
  in (`ansible_smb_nt4_logon`); the logon is then NTLMv2 and LMv2 in the NT LM 0.12 session setup.
- **signing whenever offered**: SMB1 asks for it in the session setup when the negotiate's
  SecurityMode says signatures are enabled (0x04), and signs from the first request after the logon;
  SMB2 signs every request after the logon.
- **every answer verified** against the session's key and the expected sequence number (SMB1: the
  request's number + 1, the same for every part of a multi-part answer; SMB2: HMAC-SHA256 or AES-CMAC
  of the message). Oplock breaks (never signed) and SMB2 interim answers are the only exceptions. A
  wrong or missing signature drops the connection: `Tampered`, which the transport treats as a lost
  connection (reconnect, recover by the journal) and reports.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import struct

SECURITY_ENCRYPT_PASSWORDS, SECURITY_SIGNATURES_ENABLED, SECURITY_SIGNATURES_REQUIRED = 0x02, 0x04, 0x08
CAP_EXTENDED_SECURITY, CAP_UNICODE, CAP_NT_STATUS = 0x80000000, 0x0004, 0x0040
FLAGS2_SECURITY_SIGNATURE = 0x0004
SMB2_FLAGS_ASYNC, SMB2_FLAGS_SIGNED = 0x02, 0x08
STATUS_PENDING = 0x00000103
BREAK_MID, BREAK_MESSAGE_ID = 0xFFFF, 0xFFFFFFFFFFFFFFFF
SMB_COM_LOCKING_ANDX, SMB_COM_SESSION_SETUP_ANDX = 0x24, 0x73


class Tampered(ConnectionError):
    """An answer whose signature is wrong or missing on a signed session: the connection is given up."""


class Refused(ValueError):
    """The server asks for a logon the collection does not do (plain text, LM, NTLMv1, NT 4.0 without opt-in)."""


def smb1_oplock_break(raw: bytes) -> bool:
    """Whether an SMB1 message is a server's oplock break (LOCKING_ANDX, MID 0xFFFF, not a reply): never signed,
    and never the answer to a request (MS-CIFS 3.2.5.42)."""
    return raw[4] == SMB_COM_LOCKING_ANDX and struct.unpack_from("<H", raw, 30)[0] == BREAK_MID and not raw[9] & 0x80


def smb1_mac(key: bytes, response: bytes, raw: bytes, sequence: int) -> bytes:
    """MS-CIFS 3.1.4.1: MD5(key, challenge response, message with the sequence number in the signature field)."""
    message = raw[:14] + struct.pack("<Q", sequence) + raw[22:]
    return hashlib.md5(key + response + message).digest()[:8]


def smb2_mac(key: bytes, raw: bytes, dialect: int) -> bytes:
    """MS-SMB2 3.1.4.1: HMAC-SHA256 (2.0.2, 2.1) or AES-CMAC (3.x) of the message with a zero signature."""
    message = raw[:48] + b"\x00" * 16 + raw[64:]
    if dialect <= 0x0210:
        return hmac.new(key, message, hashlib.sha256).digest()[:16]
    from impacket import crypto

    return crypto.AES_CMAC(key, message, len(message))


class Verifier:
    """Wraps the NetBIOS session's receive of one connection: once `start` is called, every answer's
    signature is checked before impacket parses it. Until then it keeps the last answer, so that the
    session setup's own signed answer is checked too."""

    def __init__(self, client, host: str):
        self.client, self.host, self.active, self.last = client, host, False, None
        self.smb1 = hasattr(client, "_sess")
        self.session = client._sess if self.smb1 else client._NetBIOSSession  # pylint: disable=protected-access
        self.receive = self.session.recv_packet
        self.session.recv_packet = self

    def __call__(self, *args, **kwargs):
        packet = self.receive(*args, **kwargs)
        raw = packet.get_trailer()
        if self.active:
            self.check(raw)
        else:
            self.last = raw
        return packet

    def start(self, first_sequence: int | None = None) -> None:
        """From now on every answer is checked; SMB1's session setup answer (number 1) is checked now."""
        if self.smb1 and self.last is not None and first_sequence is not None:
            self.check(self.last, first_sequence)
        self.active, self.last = True, None

    def check(self, raw: bytes, sequence: int | None = None) -> None:
        if self.smb1:
            self._check_smb1(raw, sequence)
        else:
            self._check_smb2(raw)

    def _fail(self, why: str):
        self.active = False
        raise Tampered(f"{self.host}: {why} on a signed SMB session; the connection was given up (a device on the "
                       "path may be changing the traffic)")

    def _check_smb1(self, raw: bytes, sequence: int | None) -> None:
        if raw[:4] != b"\xffSMB" or len(raw) < 32:
            self._fail("an answer that is no SMB1 message")
        if smb1_oplock_break(raw):
            return  # never signed
        flags2 = struct.unpack_from("<H", raw, 10)[0]
        if sequence is None:
            sequence = self.client._SignSequenceNumber - 1  # pylint: disable=protected-access  # the request's + 1
        key, response = self.client._SigningSessionKey, self.client._SigningChallengeResponse  # pylint: disable=protected-access
        wanted = smb1_mac(key, response, raw, sequence)
        if not flags2 & FLAGS2_SECURITY_SIGNATURE or not hmac.compare_digest(raw[14:22], wanted):
            self._fail(f"an unsigned answer or one with a wrong signature (sequence number {sequence})")

    def _check_smb2(self, raw: bytes) -> None:
        offset = 0
        while True:
            header = raw[offset:]
            if header[:4] != b"\xfeSMB" or len(header) < 64:
                self._fail("an answer that is no SMB2 message")
            status = struct.unpack_from("<L", header, 8)[0]
            flags, next_command = struct.unpack_from("<LL", header, 16)
            message_id = struct.unpack_from("<Q", header, 24)[0]
            length = next_command or len(header)
            unsigned_allowed = message_id == BREAK_MESSAGE_ID or (status == STATUS_PENDING and flags & SMB2_FLAGS_ASYNC)
            if not unsigned_allowed:
                session = self.client._Session  # pylint: disable=protected-access
                dialect = self.client._Connection["Dialect"]  # pylint: disable=protected-access
                key = session["SessionKey"] if dialect <= 0x0210 else session["SigningKey"]
                if not flags & SMB2_FLAGS_SIGNED or not hmac.compare_digest(
                        header[48:64], smb2_mac(key, header[:length], dialect)):
                    self._fail(f"an unsigned answer or one with a wrong signature (message {message_id})")
            if not next_command:
                return
            offset += next_command


def negotiated(conn) -> dict:
    """What the negotiate offered: {dialect, extended, encrypted, offered, required}."""
    from impacket.smbconnection import SMB_DIALECT

    if conn.getDialect() != SMB_DIALECT:
        return {"dialect": "smb2", "extended": True, "encrypted": True, "offered": True, "required": conn.isSigningRequired()}
    params = conn.getSMBServer()._dialects_parameters  # pylint: disable=protected-access
    mode = params["SecurityMode"]
    return {"dialect": "smb1", "extended": bool(params["Capabilities"] & CAP_EXTENDED_SECURITY),
            "encrypted": bool(mode & SECURITY_ENCRYPT_PASSWORDS),
            "offered": bool(mode & SECURITY_SIGNATURES_ENABLED), "required": bool(mode & SECURITY_SIGNATURES_REQUIRED)}


def logon(conn, host: str, user: str, password: str, domain: str, nt4_logon: bool = False) -> dict:
    """One NTLMv2 logon, signing whenever offered; returns {signed, authentication, dialect}.

    Raises Refused before sending any credentials when the server wants a logon the collection does not do;
    impacket's errors (a wrong password) otherwise, after exactly one attempt."""
    offer = negotiated(conn)
    client = conn.getSMBServer()
    if offer["dialect"] == "smb2":
        client._Connection["RequireSigning"] = True  # pylint: disable=protected-access  # sign every request
        verifier = Verifier(client, host)
        conn.login(user, password, domain, ntlmFallback=False)
        signed = bool(client._Session["SigningActivated"])  # pylint: disable=protected-access
        if signed:
            verifier.start()
        return {"signed": signed, "authentication": "NTLMv2", "dialect": "smb2"}
    if not offer["encrypted"]:
        raise Refused(f"{host} negotiates plain-text passwords (SecurityMode without challenge/response); the "
                      "collection never sends a password in plain text")
    if not offer["extended"] and not nt4_logon:
        raise Refused(f"{host} offers no extended security (Windows NT 4.0, or a server set up like it): its logon "
                      "would be LM or NTLMv1 by default; set ansible_smb_nt4_logon: true for this host to log on "
                      "with NTLMv2 in the NT LM 0.12 session setup (the server must accept NTLMv2: NT 4.0 SP4 or "
                      "later)")
    verifier = Verifier(client, host)
    if offer["offered"]:
        client._SignatureRequired = True  # pylint: disable=protected-access  # ask for signing in the session setup
    if offer["extended"]:
        conn.login(user, password, domain, ntlmFallback=False)
        authentication = "NTLMv2"
    else:
        _ntlmv2_standard(client, user, password, domain)
        authentication = "NTLMv2 (NT LM 0.12, no extended security)"
    signed = offer["offered"] and not client._action & 1  # pylint: disable=protected-access  # a guest never signs
    if signed:
        client._SignSequenceNumber, client._SignatureEnabled = 2, True  # pylint: disable=protected-access
        verifier.start(first_sequence=1)
    return {"signed": bool(signed), "authentication": authentication, "dialect": "smb1"}


def ntlmv2_responses(user: str, password: str, domain: str, challenge: bytes, client_challenge: bytes,
                     when: datetime.datetime) -> tuple[bytes, bytes, bytes]:
    """(NTLMv2 response, LMv2 response, session key) as MS-NLMP 3.3.2 computes them, without target
    information (the NT LM 0.12 session setup has none)."""
    from impacket import ntlm

    key = ntlm.NTOWFv2(user, password, domain)
    ticks = int((when - datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds() * 10_000_000)
    blob = b"\x01\x01" + b"\x00" * 6 + struct.pack("<Q", ticks) + client_challenge + b"\x00" * 4 + b"\x00" * 4 + \
        b"\x00" * 4
    proof = hmac.new(key, challenge + blob, hashlib.md5).digest()
    lmv2 = hmac.new(key, challenge + client_challenge, hashlib.md5).digest() + client_challenge
    return proof + blob, lmv2, hmac.new(key, proof, hashlib.md5).digest()


def _ntlmv2_standard(client, user: str, password: str, domain: str) -> None:
    """The NT LM 0.12 session setup (no extended security) with NTLMv2 and LMv2 responses."""
    from impacket import smb

    challenge = client._dialects_data["Challenge"]  # pylint: disable=protected-access
    if len(challenge) != 8:
        raise Refused("the server sent no 8-byte challenge; the collection never sends a password in plain text")
    now = datetime.datetime.now(datetime.timezone.utc)
    nt_response, lm_response, key = ntlmv2_responses(user, password, domain, challenge, os.urandom(8), now)
    flags2 = client._SMB__flags2  # pylint: disable=protected-access  # names in OEM text here, as NT 4.0 expects
    client._SMB__flags2 = flags2 & ~(smb.SMB.FLAGS2_UNICODE | smb.SMB.FLAGS2_EXTENDED_SECURITY)  # pylint: disable=protected-access
    try:
        packet = smb.NewSMBPacket()
        if client._SignatureRequired:  # pylint: disable=protected-access
            packet["Flags2"] |= FLAGS2_SECURITY_SIGNATURE
        setup = smb.SMBCommand(smb.SMB.SMB_COM_SESSION_SETUP_ANDX)
        setup["Parameters"], setup["Data"] = smb.SMBSessionSetupAndX_Parameters(), smb.SMBSessionSetupAndX_Data()
        params = setup["Parameters"]
        params["MaxBuffer"], params["MaxMpxCount"], params["VCNumber"] = 61440, 2, 1
        params["SessionKey"] = client._dialects_parameters["SessionKey"]  # pylint: disable=protected-access
        params["AnsiPwdLength"], params["UnicodePwdLength"] = len(lm_response), len(nt_response)
        params["Capabilities"] = CAP_NT_STATUS | smb.SMB.CAP_LARGE_READX | smb.SMB.CAP_LARGE_WRITEX
        data = setup["Data"]
        data["AnsiPwd"], data["UnicodePwd"] = lm_response, nt_response
        data["Account"], data["PrimaryDomain"] = str(user), str(domain)
        data["NativeOS"], data["NativeLanMan"] = "Unix", "smsfleet.q317061"
        packet.addCommand(setup)
        client.sendSMB(packet)
        answer = client.recvSMB()
        answer.isValidAnswer(smb.SMB.SMB_COM_SESSION_SETUP_ANDX)
        client._uid = answer["Uid"]  # pylint: disable=protected-access
        client._action = smb.SMBSessionSetupAndXResponse_Parameters(  # pylint: disable=protected-access
            smb.SMBCommand(answer["Data"][0])["Parameters"])["Action"]
        client._SigningSessionKey, client._SigningChallengeResponse = key, nt_response  # pylint: disable=protected-access
    finally:
        client._SMB__flags2 = flags2  # pylint: disable=protected-access
