"""SMB1 requests that impacket's client sends differently from what the collection needs.

impacket's SMBConnection does the negotiate, the logon and most requests; these few it gets wrong
for a client that must not be broken by another program on the host (sources: MS-CIFS; the
facts are in docs/transports.md):
- NT_CREATE_ANDX: impacket always asks for a batch oplock (CreateFlags 0x16). When a second
  opener (a backup agent, a virus scanner, the next run) makes the server break it, the break
  arrives as the answer to impacket's next request, which then fails. These opens ask for none.
- WRITE_ANDX: impacket moves on by the bytes it sent, not by those the server says it wrote, so a
  short write leaves a hole silently. Here every write's count is checked.
- RENAME and set-information work on the session's tree; impacket connects a new tree (and lists
  the folder first) for every delete and rename.
- A server-initiated oplock break that still arrives (nothing here asks for one) is acknowledged
  and skipped, so it can never be taken for the answer to a request.
"""

from __future__ import annotations

import struct

from . import smb1_frames

NT_CREATE_EXTENDED_RESPONSE = 0x10  # no REQUEST_OPLOCK (0x2) or REQUEST_OPBATCH (0x4): no oplock at all
LOCKING_ANDX_OPLOCK_RELEASE = 0x02
TRANS2_SET_FILE_INFORMATION, SMB_SET_FILE_BASIC_INFO = 0x08, 0x101
TRANS2_QUERY_PATH_INFORMATION, SMB_QUERY_FILE_ALL_INFO = 0x05, 0x107
TRANS2_QUERY_FS_INFORMATION = 0x03
SMB_COM_TRANSACTION, SMB_COM_TRANSACTION2, SMB_COM_NT_CREATE_ANDX = 0x25, 0x32, 0xA2
SMB_COM_TREE_CONNECT_ANDX, NO_TID = 0x75, 0xFFFF
SMB_COM_READ_ANDX, CAP_LARGE_READX, STATUS_END_OF_FILE = 0x2E, 0x4000, 0xC0000011
# 2.2.4.42.1 (12 words): AndX, FID, offset, maximum and minimum count, timeout, remaining, offset's high half
READ_WORDS = struct.Struct("<BBHHLHHLHL")
# 2.2.4.43.1 (14 words): AndX, FID, offset, timeout, write mode, remaining, data length's high and low halves,
# data offset, offset's high half
WRITE_WORDS = struct.Struct("<BBHHLLHHHHHL")
WRITE_DATA_AT = 32 + 1 + WRITE_WORDS.size + 2  # header, word count, words, byte count: the data follows at once
SMB_COM_WRITE_ANDX, SMB_COM_CLOSE = 0x2F, 0x04
CLOSE_WORDS = struct.Struct("<HL")  # 2.2.4.5.1: FID, last write time (0: the server's own)
READ_ANSWER = struct.Struct("<4x6xHHH")  # 2.2.4.42.2: data length, data offset, data length's high half
# MS-CIFS 2.2.4.55.1: AndX (command, reserved, offset), flags, password length (one NUL: the session's logon is
# the credential)
TREE_CONNECT_WORDS = struct.Struct("<BBHHH")
# MS-CIFS 2.2.4.64.1: AndX (command, reserved, offset), reserved, name length, flags, root FID, access, allocation
# size (two halves), attributes, share access, disposition, options, impersonation, security flags
NT_CREATE_WORDS = struct.Struct("<BBHBHLLLLLLLLLLB")
NT_CREATE_ANSWER = struct.Struct("<5xHxxxxqxxxxxxxxqqLxxxxxxxxq")  # 2.2.4.64.2: FID, times, attributes, end of file
# 2.2.4.33.1 / 2.2.4.46.1: total counts, maxima, setup maximum, flags, timeout, counts and offsets, setup count
TRANS_WORDS = struct.Struct("<HHHHBBHLHHHHHBB")
TRANS_ANSWER = struct.Struct("<2xH8xHH")  # total data count, data count (after parameters), data offset


def _unicode(server) -> bool:
    from impacket import smb

    return bool(server.get_flags()[1] & smb.SMB.FLAGS2_UNICODE)


def _name(server, path: str) -> bytes:
    return path.encode("utf-16le") if _unicode(server) else path.encode("latin-1", "replace")


def _answer(server, command: int):
    """The server's answer to the request just sent; an error status raises impacket's SessionError with it
    (an oplock break before it was skipped by skip_oplock_breaks)."""
    packet = server.recvSMB()
    packet.isValidAnswer(command)
    return packet


def skip_oplock_breaks(server) -> None:
    """Wrap the connection's receive: an oplock break (LOCKING_ANDX from the server, MID 0xFFFF) is answered
    with a release to none and never handed to a waiting request."""
    from impacket import smb

    receive = server.recvSMB

    def recv():
        while True:
            packet = receive()
            if (packet["Command"] == smb.SMB.SMB_COM_LOCKING_ANDX and packet["Mid"] == 0xFFFF
                    and not packet["Flags1"] & smb.SMB.FLAGS1_REPLY):
                release(server, packet)
                continue
            return packet
    server.recvSMB = recv


def release(server, packet) -> None:
    """Acknowledge an oplock break: release to none (no answer comes)."""
    from impacket import smb

    fid = struct.unpack_from("<H", smb.SMBCommand(packet["Data"][0])["Parameters"], 4)[0]
    ack = smb.NewSMBPacket()
    ack["Tid"] = packet["Tid"]
    command = smb.SMBCommand(smb.SMB.SMB_COM_LOCKING_ANDX)
    command["Parameters"] = struct.pack("<BBHHBBLHH", 0xFF, 0, 0, fid, LOCKING_ANDX_OPLOCK_RELEASE, 0, 0, 0, 0)
    command["Data"] = b""
    ack.addCommand(command)
    server.sendSMB(ack)
    if getattr(server, "_SignatureEnabled", False):
        server._SignSequenceNumber -= 1  # pylint: disable=protected-access  # no answer: one number, not two


def create(server, tid: int, path: str, access: int, share: int, disposition: int, options: int,
           attributes: int = 0) -> int:
    """NT_CREATE_ANDX without an oplock; the FID."""
    return create_info(server, tid, path, access, share, disposition, options, attributes)[0]


def create_info(server, tid: int, path: str, access: int, share: int, disposition: int, options: int,
                attributes: int = 0) -> tuple[int, dict]:
    """NT_CREATE_ANDX without an oplock: the FID, and the file's size, times and attributes as the answer
    carries them (so no query of the open file is needed for them)."""
    name = _name(server, path)
    words = NT_CREATE_WORDS.pack(0xFF, 0, 0, 0, len(name), NT_CREATE_EXTENDED_RESPONSE, 0, access, 0, 0, attributes,
                                 share, disposition, options, 2, 0)
    if _unicode(server):  # a pad byte aligns the name; 'u' strings end in two NULs (and one more to an even length)
        data = b"\x00" + name + b"\x00\x00" + (b"\x00" if len(name) & 1 else b"")
    else:
        data = name + b"\x00"
    answer = smb1_frames.request(server, tid, SMB_COM_NT_CREATE_ANDX, words, data)
    (fid, creation, last_write, change, attributes, end_of_file) = NT_CREATE_ANSWER.unpack_from(answer.words, 0)
    return fid, {"size": end_of_file, "creation": creation, "last_write": last_write, "change": change,
                 "attributes": attributes, "is_dir": bool(attributes & 0x10)}


def tree_connect(server, share: str) -> int:
    """TREE_CONNECT_ANDX to \\\\<address>\\<share>; the TID. The request impacket's connectTree sends, where the
    address is the one the session is connected to: impacket resolves the host's name again (getaddrinfo)
    for every tree, which costs a name lookup per tree and can name another address than the session's."""
    address = server._sess.get_socket().getpeername()[0]  # pylint: disable=protected-access
    path = f"\\\\{address}\\{share}"
    if _unicode(server):  # the path upper-cased as impacket sends it; the service is ASCII either way
        data = b"\x00" + path.upper().encode("utf-16le") + b"\x00\x00" + b"?????\x00"
    else:
        data = b"\x00" + path.encode("latin-1", "replace") + b"\x00" + b"?????\x00"
    answer = smb1_frames.request(server, NO_TID, SMB_COM_TREE_CONNECT_ANDX, TREE_CONNECT_WORDS.pack(0xFF, 0, 0, 0, 1),
                                 data)
    server.tid = struct.unpack_from("<H", answer.raw, 24)[0]
    return server.tid


def read_size(server) -> int:
    """The most one READ_ANDX asks for, as impacket's readFile decides it: 65,000 bytes when the server reads
    large and the session is not signed, else the server's buffer size."""
    # pylint: disable=protected-access  # impacket's negotiated parameters
    if server._dialects_parameters["Capabilities"] & CAP_LARGE_READX and not server._SignatureEnabled:
        return 65000
    return server._dialects_parameters["MaxBufferSize"]


def read(server, tid: int, fid: int, offset: int, length: int) -> bytes:
    """One READ_ANDX of a file: up to `length` bytes (at most read_size) from `offset`; b"" at its end, as
    impacket's readFile gives. The request impacket's read_andx sends."""
    from impacket import smb

    count = min(length, read_size(server))
    words = READ_WORDS.pack(0xFF, 0, 0, fid, offset & 0xFFFFFFFF, count, count, 0, count, offset >> 32)
    try:
        answer = smb1_frames.request(server, tid, SMB_COM_READ_ANDX, words, b"")
    except smb.SessionError as error:  # only a status: a lost connection (NetBIOSError) must stay what it is
        if error.get_error_code() == STATUS_END_OF_FILE:
            return b""
        raise
    low, data_offset, high = READ_ANSWER.unpack_from(answer.words, 0)
    return bytes(answer.raw[data_offset:data_offset + low + (high << 16)])


def _trans2(server, tid: int, setup: int, param: bytes, data: bytes = b"") -> bytes:
    """One TRANSACTION2 (MS-CIFS 2.2.4.46), laid out as impacket's send_trans2 lays it out; the answer's data."""
    offset = 32 + 2 + 28 + 2 + 1  # header, WordCount, 14 words, one setup word, ByteCount (impacket's sum)
    pad = (4 - (offset - 1 + len(param)) % 4) % 4 if data else 0
    words = TRANS_WORDS.pack(len(param), len(data), 1024, server._dialects_parameters["MaxBufferSize"], 0, 0, 0, 0, 0,  # pylint: disable=protected-access
                             len(param), offset, len(data), offset + len(param) + pad, 1, 0) + struct.pack("<H", setup)
    answer = smb1_frames.request(server, tid, SMB_COM_TRANSACTION2, words, param + b"\xff" * pad + data)
    return _trans_data(answer)


def _trans_data(answer) -> bytes:
    """The data of a TRANSACTION or TRANSACTION2 answer (one part: every answer asked for here fits one)."""
    total, count, data_offset = TRANS_ANSWER.unpack_from(answer.words, 0)
    if not total or not count:
        return b""
    return bytes(answer.raw[data_offset:data_offset + count])


def _query_path(server, tid: int, path: str, level: int) -> bytes:
    return _trans2(server, tid, TRANS2_QUERY_PATH_INFORMATION,
                   struct.pack("<HL", level, 0) + _name(server, path) + (b"\x00\x00" if _unicode(server) else b"\x00"))


def path_all_info(server, tid: int, path: str) -> bytes:
    """SMB_QUERY_FILE_ALL_INFO of a path (a level NT 4.0 has too), the same bytes a query of an open file gives:
    one request, where an open, a query and a close are three."""
    return _query_path(server, tid, path, SMB_QUERY_FILE_ALL_INFO)


def fs_info(server, tid: int, level: int) -> bytes:
    """TRANS2_QUERY_FS_INFORMATION of the tree's volume at one level."""
    return _trans2(server, tid, TRANS2_QUERY_FS_INFORMATION, struct.pack("<H", level))


def transact_pipe(server, tid: int, fid: int, data: bytes) -> bytes:
    """TransactNmPipe (SMB_COM_TRANSACTION, setup 0x26): write a request and read the answer in one round trip
    (MS-CIFS 2.2.5.6). The transaction's name, \\PIPE\\, is in Unicode when the session is (after a pad byte
    that aligns it): impacket sends it in ASCII whatever the session, which Samba refuses (NOT_SUPPORTED)."""
    unicode = _unicode(server)
    start = 32 + 1 + 2 * 16 + 2  # header, WordCount, 14 words and 2 setup words, ByteCount
    pad = b"\x00" if unicode and start % 2 else b""
    name = "\\PIPE\\\x00".encode("utf-16le" if unicode else "latin-1")
    offset = start + len(pad) + len(name)
    align = b"\x00" * ((4 - offset % 4) % 4)
    offset += len(align)
    words = TRANS_WORDS.pack(0, len(data), 0, 65504, 0, 0, 0, 0, 0, 0, offset, len(data), offset, 2, 0) + struct.pack(
        "<HH", 0x26, fid)
    return _trans_data(smb1_frames.request(server, tid, SMB_COM_TRANSACTION, words, pad + name + align + data))


def write(server, tid: int, fid: int, data: bytes, offset: int) -> int:
    """One WRITE_ANDX, the request impacket's write_andx sends (the data right after the byte count, at 63); the
    count the server wrote (CountHigh above 64 KiB). impacket measured and packed its 60 KiB message several
    times over through its Structure class: most of a DLL transaction's CPU on the controller."""
    words = WRITE_WORDS.pack(0xFF, 0, 0, fid, offset & 0xFFFFFFFF, 0xFF, 8, len(data) & 0xFFFF, len(data) >> 16,
                             len(data) & 0xFFFF, WRITE_DATA_AT, offset >> 32)
    answer = smb1_frames.request(server, tid, SMB_COM_WRITE_ANDX, words, data)
    count, dummy, high = struct.unpack_from("<HHH", answer.words, 4)
    return count | (high << 16 if len(data) > 0xFFFF else 0)


def close(server, tid: int, fid: int) -> None:
    """SMB_COM_CLOSE of one FID, leaving its last write time as the server keeps it (the request impacket sends)."""
    smb1_frames.request(server, tid, SMB_COM_CLOSE, CLOSE_WORDS.pack(fid, 0), b"")


def set_basic(server, tid: int, fid: int, times: tuple[int, int, int, int], attributes: int) -> None:
    """SMB_SET_FILE_BASIC_INFO (not a pass-through level: Windows NT 4.0 has it too). A time of 0 and
    attributes of 0 leave the file's as they are."""
    _trans2(server, tid, TRANS2_SET_FILE_INFORMATION, struct.pack("<HHH", fid, SMB_SET_FILE_BASIC_INFO, 0),
            struct.pack("<qqqqLL", *times, attributes, 0))


def rename(server, tid: int, old: str, new: str) -> None:
    """SMB_COM_RENAME on this tree (never over an existing file: STATUS_OBJECT_NAME_COLLISION)."""
    from impacket import smb

    command = smb.SMBCommand(smb.SMB.SMB_COM_RENAME)
    command["Parameters"] = smb.SMBRename_Parameters()
    command["Parameters"]["SearchAttributes"] = 0x16  # hidden, system, directory: as Windows' own client asks
    command["Data"] = smb.SMBRename_Data(flags=server.get_flags()[1])
    command["Data"]["OldFileName"] = _name(server, old)
    command["Data"]["NewFileName"] = _name(server, new)
    packet = smb.NewSMBPacket()
    packet["Tid"] = tid
    packet.addCommand(command)
    server.sendSMB(packet)
    _answer(server, smb.SMB.SMB_COM_RENAME)
