"""SMB1 TransactNmPipe (TRANSACTION, function 0x26) answered without impacket's generic Structure classes.

Every RPC call of an smb audit is one of these (about half its requests), and parsing and framing
them through impacket's `NewSMBPacket`, `SMBTransaction_Parameters` and their response twins cost
winlab more than the RPC work itself: winlab serves every emulated host from one Python process, so
that cost was the smb audit's wall floor at fleet scale. This path reads the request with `struct`,
runs the same pipe (`RpcPipe.transact`, the same faults and statistics), and frames the same reply,
byte for byte what impacket's `smbTransaction` and `processRequest` build (tests/unit/winlab/
test_pipe_transact.py holds them side by side), signed as impacket signs. What it does not take
(another command, a secondary or partial transaction, an offset outside the message, a session not
logged on) it returns None for, and impacket's own handler answers as before.
"""

from __future__ import annotations

import hashlib
import logging
import struct

from impacket.nt_errors import STATUS_BUFFER_OVERFLOW, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, \
    STATUS_SUCCESS

log = logging.getLogger(__name__)

SMB_COM_TRANSACTION, TRANS_TRANSACT_NMPIPE = 0x25, 0x0026
FLAGS1_REPLY = 0x80
FLAGS2_LONG_NAMES, FLAGS2_SIGNATURE, FLAGS2_EXTENDED_SECURITY, FLAGS2_NT_STATUS, FLAGS2_UNICODE = \
    0x0001, 0x0004, 0x0800, 0x4000, 0x8000
HEADER = struct.Struct("<4sBLBHH8sHHHHH")  # MS-CIFS 2.2.3.1: 32 bytes
REQUEST_WORDS = struct.Struct("<HHHHBBHLHHHHHBBH")  # 2.2.4.33.1 with its first setup word (the function)
REPLY_WORDS = struct.Struct("<HHHHHHHHHBB")  # 2.2.4.33.2, no setup words
WORDS_AT = HEADER.size + 1
BYTES_AT = WORDS_AT + 32 + 2  # 16 words (14 + 2 setup words: function, FID), then ByteCount
PIPE_NAME_UNICODE, PIPE_NAME_ASCII = "\\PIPE\\\x00".encode("utf-16le"), b"\\PIPE\\\x00"
# impacket's reply: no parameters (ParameterOffset 0), one pad byte 0xFF, the data at offset 56
REPLY_DATA_AT = HEADER.size + 1 + REPLY_WORDS.size + 2 + 1
STATUS_PIPE_EMPTY = 0xC00000D9


class Request:
    """What a TransactNmPipe request says (the fields the reply and the pipe need)."""

    __slots__ = ("flags2", "tid", "pid", "mid", "fid", "max_data", "data")

    def __init__(self, flags2, tid, pid, mid, fid, max_data, data):
        self.flags2, self.tid, self.pid, self.mid = flags2, tid, pid, mid
        self.fid, self.max_data, self.data = fid, max_data, data


def parse(raw: bytes) -> Request | None:
    """The request, or None for anything impacket's own handler should see: another command or function,
    parameters or data split over secondary requests, offsets outside the byte block, a wrong pipe name
    (refused there with STATUS_NOT_SUPPORTED, as Windows and Samba refuse it)."""
    if len(raw) < BYTES_AT or raw[4] != SMB_COM_TRANSACTION or raw[WORDS_AT - 1] != 16:
        return None
    (dummy, dummy, dummy, flags1, flags2, dummy, dummy, dummy, tid, pid, dummy, mid) = HEADER.unpack_from(raw)
    (total_params, total_data, dummy, max_data, dummy, dummy, dummy, dummy, dummy, params, dummy, count, offset,
     setup_count, dummy, function) = REQUEST_WORDS.unpack_from(raw, WORDS_AT)
    byte_count = struct.unpack_from("<H", raw, BYTES_AT - 2)[0]
    end = BYTES_AT + byte_count
    if (flags1 & FLAGS1_REPLY or setup_count != 2 or function != TRANS_TRANSACT_NMPIPE or params != total_params
            or count != total_data or not BYTES_AT <= offset <= offset + count <= end <= len(raw)):
        return None
    if not _names_pipe(raw[BYTES_AT:end], flags2):
        return None
    fid = struct.unpack_from("<H", raw, BYTES_AT - 4)[0]
    return Request(flags2, tid, pid, mid, fid, max_data, raw[offset:offset + count])


def _names_pipe(block: bytes, flags2: int) -> bool:
    if flags2 & FLAGS2_UNICODE:
        return any(block[pad:pad + len(PIPE_NAME_UNICODE)].upper() == PIPE_NAME_UNICODE for pad in (0, 1))
    return block[:len(PIPE_NAME_ASCII)].upper() == PIPE_NAME_ASCII


def frame(request: Request, conn: dict, status: int, out: bytes) -> bytes:
    """The reply impacket frames: no words and no bytes when there is no data (an error), else the data
    after one pad byte; signed with the connection's next sequence number when it signs."""
    flags2 = FLAGS2_EXTENDED_SECURITY | FLAGS2_NT_STATUS | FLAGS2_LONG_NAMES | request.flags2 & FLAGS2_UNICODE
    signing = bool(conn.get("SignatureEnabled"))
    if signing:
        flags2 |= FLAGS2_SIGNATURE
    header = HEADER.pack(b"\xffSMB", SMB_COM_TRANSACTION, status, FLAGS1_REPLY, flags2, 0, b"\x00" * 8, 0,
                         request.tid, request.pid, conn["Uid"], request.mid)
    if out:
        body = (b"\x0a" + REPLY_WORDS.pack(0, len(out), 0, 0, 0, 0, len(out), REPLY_DATA_AT, 0, 0, 0)
                + struct.pack("<H", 1 + len(out)) + b"\xff" + out)
    else:
        body = b"\x00\x00\x00"
    message = bytearray(header + body)
    if signing:
        message[14:22] = struct.pack("<q", conn["SignSequenceNumber"])
        message[14:22] = hashlib.md5(conn["SigningSessionKey"] + conn["SigningChallengeResponse"]
                                     + bytes(message)).digest()[:8]
        conn["SignSequenceNumber"] += 2
    return bytes(message)


def run(server, conn: dict, fid: int, data: bytes, max_data: int, pipe_kind: int) -> tuple[int, bytes]:
    """One TransactNmPipe on the open pipe `fid`: (status, what the pipe answers). Both paths run it."""
    entry = conn["OpenedFiles"].get(fid)
    if entry is None or entry.get("FileHandle") != pipe_kind:
        return STATUS_INVALID_HANDLE, b""
    try:
        out, more = entry["Pipe"].transact(data, max_data)
    except Exception:  # noqa: BLE001 - a reply, never a dropped connection
        log.exception("%s: TransactNmPipe failed", server.site.computer_name)
        return STATUS_INVALID_PARAMETER, b""
    if not out:
        return STATUS_PIPE_EMPTY, b""
    return (STATUS_BUFFER_OVERFLOW if more else STATUS_SUCCESS), out


def answer(server, conn_id: str, raw: bytes, pipe_kind: int) -> bytes | None:
    """The whole signed reply to a TransactNmPipe request, or None: impacket's path answers it."""
    conn = server.getConnectionData(conn_id, checkStatus=False)
    request = parse(raw) if conn.get("Authenticated") else None
    if request is None:
        return None
    status, out = run(server, conn, request.fid, request.data, request.max_data, pipe_kind)
    return frame(request, conn, status, out)
