"""SMB signing and the NTLMv2 logon, checked against the specifications' own arithmetic: the MACs against
impacket's signer (another implementation of MS-CIFS 3.1.4.1), the NT LM 0.12 NTLMv2 responses against
winlab's verifier, and the strict booleans the security options take."""

import datetime
import hashlib
import hmac
import struct

import pytest
from impacket import smb
from winlab.smb.session import verify

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import transport
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import signing

KEY, RESPONSE = bytes(range(16)), bytes(range(24))


def test_the_smb1_mac_is_the_one_impacket_signs_with():
    packet = smb.NewSMBPacket()
    packet["Command"], packet["Mid"], packet["Flags2"] = smb.SMB.SMB_COM_ECHO, 7, smb.SMB.FLAGS2_SMB_SECURITY_SIGNATURE
    packet.addCommand(smb.SMBCommand(smb.SMB.SMB_COM_ECHO))
    signer = smb.SMB.__new__(smb.SMB)
    signer._SignSequenceNumber, signer._SignatureVerificationEnabled = 5, False
    signer.signSMB(packet, KEY, RESPONSE)
    raw = packet.getData()
    assert signing.smb1_mac(KEY, RESPONSE, raw, 5) == raw[14:22]
    assert signing.smb1_mac(KEY, RESPONSE, raw, 6) != raw[14:22]  # the sequence number is part of it


def test_the_smb2_mac_is_hmac_sha256_of_the_message_with_a_zero_signature():
    header = b"\xfeSMB" + b"\x00" * 60 + b"payload"
    signed = header[:48] + hmac.new(KEY, header, hashlib.sha256).digest()[:16] + header[64:]
    assert signing.smb2_mac(KEY, signed, 0x0202) == signed[48:64]


def test_the_nt_lm_012_ntlmv2_responses_prove_the_password_and_give_the_signing_key():
    challenge, client_challenge = b"\x01" * 8, b"\x02" * 8
    when = datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc)
    nt, lm, key = signing.ntlmv2_responses("Administrator", "Lab-Passw0rd!", "LAB", challenge, client_challenge, when)
    assert len(lm) == 24 and lm[16:] == client_challenge and len(nt) > 24  # never an LM or NTLMv1 response
    assert verify("Administrator", "LAB", nt, lm, 0, challenge, "Lab-Passw0rd!") == key
    assert verify("Administrator", "LAB", nt, lm, 0, challenge, "wrong") is None
    assert struct.unpack_from("<Q", nt, 24)[0] // 10_000_000 - 11644473600 == int(when.timestamp())


@pytest.mark.parametrize("value, expected", [
    (True, True), ("yes", True), ("On", True), (1, True), ("0", False), ("false", False),
    ("maybe", None), (2, None), ("", None), (None, None), ([], None),
])
def test_security_options_take_strict_booleans_only(value, expected):
    assert transport.strict_bool(value) is expected


class _Conn:
    """What logon() reads of an impacket SMBConnection's negotiate, and nothing else."""

    def __init__(self, mode, capabilities):
        server = type("Server", (), {})()
        server._dialects_parameters = {"SecurityMode": mode, "Capabilities": capabilities}
        self.server, self.logins = server, 0

    def getDialect(self):
        return smb.SMB_DIALECT

    def getSMBServer(self):
        return self.server

    def login(self, *args, **kwargs):
        self.logins += 1


@pytest.mark.parametrize("mode, capabilities, words", [
    (0x01, signing.CAP_EXTENDED_SECURITY, "plain-text passwords"),
    (0x03, 0, "offers no extended security"),
])
def test_a_logon_the_collection_does_not_do_is_refused_before_any_credentials_are_sent(mode, capabilities, words):
    conn = _Conn(mode, capabilities)
    with pytest.raises(signing.Refused, match=words):
        signing.logon(conn, "h", "u", "p", "d")
    assert conn.logins == 0
