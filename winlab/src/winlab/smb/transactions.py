"""SMB1 TRANSACTION (TransactNmPipe, function 0x26) and TRANSACTION2 requests answered without impacket's
generic Structure classes.

Every RPC call of an smb audit is a TransactNmPipe (about half its requests), and the path and volume
queries most of the rest are TRANSACTION2; parsing and framing them through impacket's
`NewSMBPacket`, `SMBTransaction_Parameters` and their response twins cost winlab more than the work
itself: winlab serves every emulated host from one Python process, so that cost was the smb audit's
wall floor at fleet scale. This path reads the request with `struct`, runs the same handler (the pipe's
`transact`, or the TRANSACTION2 sub-command's handler winlab registered: the same faults and
statistics), and frames the same replies, byte for byte what impacket's `smbTransaction`,
`smbTransaction2` and `processRequest` build, quirks included (tests/unit/winlab/test_transactions.py
holds them side by side), signed as impacket signs. What it does not take (another command, a
secondary or partial transaction, an offset outside the message, a wrong pipe name, a sub-command
winlab does not serve, a session not logged on) it returns None for, and impacket's path answers it.
"""

from __future__ import annotations

import hashlib
import logging
import struct

from impacket.nt_errors import STATUS_BUFFER_OVERFLOW, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, \
    STATUS_SUCCESS

log = logging.getLogger(__name__)

SMB_COM_TRANSACTION, SMB_COM_TRANSACTION2, TRANS_TRANSACT_NMPIPE = 0x25, 0x32, 0x0026
FLAGS1_REPLY = 0x80
FLAGS2_LONG_NAMES, FLAGS2_SIGNATURE, FLAGS2_EXTENDED_SECURITY, FLAGS2_NT_STATUS, FLAGS2_UNICODE = \
    0x0001, 0x0004, 0x0800, 0x4000, 0x8000
HEADER = struct.Struct("<4sBLBHH8sHHHHH")  # MS-CIFS 2.2.3.1: 32 bytes
WORDS = struct.Struct("<HHHHBBHLHHHHHBB")  # 2.2.4.33.1 / 2.2.4.46.1 before the setup words
REPLY_WORDS = struct.Struct("<HHHHHHHHHBB")  # 2.2.4.33.2 / 2.2.4.46.2 before the setup words
WORDS_AT = HEADER.size + 1
SETUP_WORDS = {SMB_COM_TRANSACTION: 2, SMB_COM_TRANSACTION2: 1}  # function and FID; the sub-command
PIPE_NAME_UNICODE, PIPE_NAME_ASCII = "\\PIPE\\\x00".encode("utf-16le"), b"\\PIPE\\\x00"
REPLY_START = HEADER.size + 1 + REPLY_WORDS.size + 2  # 55: where impacket's reply counts its offsets from
STATUS_PIPE_EMPTY = 0xC00000D9


class Request:
    """What a transaction request says (the fields the reply and the handler need)."""

    __slots__ = ("command", "flags2", "tid", "pid", "mid", "setup", "max_data", "parameters", "data")

    def __init__(self, command, flags2, tid, pid, mid, setup, max_data, parameters, data):
        self.command, self.flags2, self.tid, self.pid, self.mid = command, flags2, tid, pid, mid
        self.setup, self.max_data, self.parameters, self.data = setup, max_data, parameters, data

    def packet(self) -> dict:
        """What winlab's TRANSACTION2 handlers read of the request packet."""
        return {"Command": self.command, "Flags2": self.flags2, "Tid": self.tid}


def parse(raw: bytes) -> Request | None:
    """The request, or None for anything impacket's own handler should see."""
    command = raw[4] if len(raw) > 4 and raw[:4] == b"\xffSMB" else None  # the checks before assume SMB1
    setup_words = SETUP_WORDS.get(command)
    if setup_words is None or len(raw) < WORDS_AT + 2 * (14 + setup_words) + 2 or raw[WORDS_AT - 1] != 14 + setup_words:
        return None
    (dummy, dummy, dummy, flags1, flags2, dummy, dummy, dummy, tid, pid, dummy, mid) = HEADER.unpack_from(raw)
    (total_params, total_data, dummy, max_data, dummy, dummy, dummy, dummy, dummy, param_count, param_offset,
     data_count, data_offset, setup_count, dummy) = WORDS.unpack_from(raw, WORDS_AT)
    setup = struct.unpack_from(f"<{setup_words}H", raw, WORDS_AT + WORDS.size)
    bytes_at = WORDS_AT + 2 * (14 + setup_words) + 2
    end = bytes_at + struct.unpack_from("<H", raw, bytes_at - 2)[0]
    if (flags1 & FLAGS1_REPLY or setup_count != setup_words or param_count != total_params
            or data_count != total_data or end > len(raw)
            or not all(bytes_at <= offset and offset + count <= end
                       for offset, count in ((param_offset, param_count), (data_offset, data_count)) if count)):
        return None
    if command == SMB_COM_TRANSACTION and (setup[0] != TRANS_TRANSACT_NMPIPE or not _names_pipe(raw[bytes_at:end], flags2)):
        return None
    return Request(command, flags2, tid, pid, mid, setup, max_data,
                   raw[param_offset:param_offset + param_count] if param_count else b"",
                   raw[data_offset:data_offset + data_count] if data_count else b"")


def _names_pipe(block: bytes, flags2: int) -> bool:
    if flags2 & FLAGS2_UNICODE:
        return any(block[pad:pad + len(PIPE_NAME_UNICODE)].upper() == PIPE_NAME_UNICODE for pad in (0, 1))
    return block[:len(PIPE_NAME_ASCII)].upper() == PIPE_NAME_ASCII


def message(request: Request, conn: dict, status: int, words: bytes, data: bytes) -> bytes:
    """One reply as processRequest frames it, signed with the connection's next sequence number when it signs."""
    flags2 = FLAGS2_EXTENDED_SECURITY | FLAGS2_NT_STATUS | FLAGS2_LONG_NAMES | request.flags2 & FLAGS2_UNICODE
    signing = bool(conn.get("SignatureEnabled"))
    if signing:
        flags2 |= FLAGS2_SIGNATURE
    message = bytearray(HEADER.pack(b"\xffSMB", request.command, status, FLAGS1_REPLY, flags2, 0, b"\x00" * 8, 0,
                                    request.tid, request.pid, conn["Uid"], request.mid))
    message += bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data
    if signing:
        message[14:22] = struct.pack("<q", conn["SignSequenceNumber"])
        message[14:22] = hashlib.md5(conn["SigningSessionKey"] + conn["SigningChallengeResponse"]
                                     + bytes(message)).digest()[:8]
        conn["SignSequenceNumber"] += 2
    return bytes(message)


def frame(request: Request, conn: dict, status: int, setup: bytes = b"", parameters: bytes = b"",
          data: bytes = b"") -> list[bytes]:
    """The replies impacket frames: no words and no bytes when the handler gave nothing (an error), else one
    reply per MaxDataCount of data, every parameter in the first, the totals counting what is left (as
    impacket counts them)."""
    if not (setup or parameters or data):
        return [message(request, conn, status, b"", b"")]
    # a handler may give impacket Structures (find_first's parameters), as impacket's path allows
    parameters = parameters.getData() if hasattr(parameters, "getData") else parameters
    data = data.getData() if hasattr(data, "getData") else data
    replies, displacement = [], 0
    while data or parameters:
        count = min(len(data), request.max_data)
        pad1 = b"\xff" * ((4 - (REPLY_START + len(setup)) % 4) % 4) if parameters else b""
        param_offset = REPLY_START + len(setup) + len(pad1) if parameters else 0
        pad2 = b"\xff" * ((4 - (REPLY_START + len(setup) + len(pad1) + len(parameters)) % 4) % 4) if data else b""
        data_offset = REPLY_START + len(setup) + len(pad1) + len(parameters) + len(pad2) if data else 0
        words = REPLY_WORDS.pack(len(parameters), len(data), 0, len(parameters), param_offset, 0, count, data_offset,
                                 displacement, len(setup), 0) + setup
        replies.append(message(request, conn, status, words, pad1 + parameters + pad2 + data[:count]))
        displacement += count + 1  # impacket's count, one more than the data sent
        data, parameters = data[count:], b""
        if not count and data:  # impacket would loop for ever on a MaxDataCount of 0
            break
    return replies


def run_pipe(server, conn: dict, fid: int, data: bytes, max_data: int, pipe_kind: int) -> tuple[int, bytes]:
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


def answer(server, conn_id: str, raw: bytes, pipe_kind: int, trans2: dict) -> list[bytes] | None:
    """The whole signed replies to a TransactNmPipe or TRANSACTION2 request, or None: impacket's path
    answers it. `trans2`: the TRANSACTION2 sub-commands winlab serves, as impacket would call them."""
    request = parse(raw)  # None at once for any other command
    conn = server.getConnectionData(conn_id, checkStatus=False) if request is not None else {}
    if not conn.get("Authenticated"):
        return None
    if request.command == SMB_COM_TRANSACTION:
        status, out = run_pipe(server, conn, request.setup[1], request.data, request.max_data, pipe_kind)
        return frame(request, conn, status, data=out)
    handler = trans2.get(request.setup[0])
    if handler is None:
        return None
    setup, parameters, data, status = handler(conn_id, server, request.packet(), request.parameters, request.data,
                                              request.max_data)
    return frame(request, conn, status, setup, parameters, data)
