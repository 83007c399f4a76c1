"""SMB1 messages framed with struct, for the requests an audit sends dozens of times per host.

impacket builds and parses every SMB1 message through its generic Structure class, which evaluates
each field's format at run time: an audit of one host spent about 0.05 CPU-seconds per host in it,
as much as everything else the controller does for the host together (docs/benchmarks.md,
issue 24). The requests an audit repeats (TransactNmPipe, NT_CREATE_ANDX, TRANSACTION2) are framed
here instead, byte for byte as impacket frames them, on impacket's own session: its NetBIOS
session sends and receives (so signing.Verifier still checks every answer's signature), its UID,
flags and signing sequence number are used and advanced as its own sendSMB does (MS-CIFS 2.2.3.1
header, 3.2.4.1.1 signing). Anything unusual in an answer (an error status, an oplock break) is
handed to impacket's parser, so errors are the same SessionError the rest of the client raises.
"""

from __future__ import annotations

import os
import struct

from . import signing

HEADER = struct.Struct("<4sBLBHH8sHHHHH")  # MS-CIFS 2.2.3.1, 32 bytes


class Answer:
    """One SMB1 answer: its raw bytes (data offsets count from the header) and its parameter words."""

    __slots__ = ("raw", "words")

    def __init__(self, raw: bytes):
        self.raw = raw
        self.words = raw[33:33 + 2 * raw[32]]


def send(server, tid: int, command: int, words: bytes, data: bytes) -> None:
    """One request on the session, signed as impacket's sendSMB signs (the same sequence numbers)."""
    flags1, flags2 = server.get_flags()
    signed = bool(getattr(server, "_SignatureEnabled", False))
    if signed:
        flags2 |= signing.FLAGS2_SECURITY_SIGNATURE
    header = HEADER.pack(b"\xffSMB", command, 0, flags1, flags2, 0, b"\x00" * 8, 0, tid, os.getpid() & 0xFFFF,
                         server._uid, 0)  # pylint: disable=protected-access  # Mid 0, as impacket sends
    message = header + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data
    if signed:  # pylint: disable=protected-access  # impacket's own signing state, advanced as it advances it
        sequence = server._SignSequenceNumber
        mac = signing.smb1_mac(server._SigningSessionKey, server._SigningChallengeResponse, message, sequence)
        message = message[:14] + mac + message[22:]
        server._SignSequenceNumber += 1 if server._SignatureVerificationEnabled else 2
    server._sess.send_packet(message)  # pylint: disable=protected-access


def receive(server, command: int) -> Answer:
    """The answer to the request just sent. An oplock break before it is released and skipped (smb1.py says why);
    an error status raises impacket's SessionError, from impacket's own check of the answer."""
    from impacket import smb

    from . import smb1

    while True:
        raw = server._sess.recv_packet(getattr(server, "_SMB__timeout", None)).get_trailer()  # pylint: disable=protected-access
        if len(raw) < 35 or raw[:4] != b"\xffSMB":
            raise smb.UnsupportedFeature("an answer that is no SMB1 message")
        if signing.smb1_oplock_break(raw):
            smb1.release(server, smb.NewSMBPacket(data=raw))
            continue
        if raw[4] != command or raw[5:9] != b"\x00\x00\x00\x00":
            smb.NewSMBPacket(data=raw).isValidAnswer(command)  # raises what impacket raises for this answer
        return Answer(raw)


def request(server, tid: int, command: int, words: bytes, data: bytes) -> Answer:
    send(server, tid, command, words, data)
    return receive(server, command)
