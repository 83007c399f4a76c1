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

NT_CREATE_EXTENDED_RESPONSE = 0x10  # no REQUEST_OPLOCK (0x2) or REQUEST_OPBATCH (0x4): no oplock at all
LOCKING_ANDX_OPLOCK_RELEASE = 0x02
TRANS2_SET_FILE_INFORMATION, SMB_SET_FILE_BASIC_INFO = 0x08, 0x101
TRANS2_QUERY_PATH_INFORMATION, SMB_QUERY_FILE_ALL_INFO = 0x05, 0x107


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
                _release(server, packet)
                continue
            return packet
    server.recvSMB = recv


def _release(server, packet) -> None:
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
    from impacket import smb

    name = _name(server, path)
    command = smb.SMBCommand(smb.SMB.SMB_COM_NT_CREATE_ANDX)
    command["Parameters"] = smb.SMBNtCreateAndX_Parameters()
    command["Data"] = smb.SMBNtCreateAndX_Data(flags=server.get_flags()[1])
    params = command["Parameters"]
    params["FileNameLength"], params["CreateFlags"], params["AccessMask"] = len(name), NT_CREATE_EXTENDED_RESPONSE, access
    params["FileAttributes"], params["ShareAccess"], params["Disposition"] = attributes, share, disposition
    params["CreateOptions"], params["Impersonation"], params["SecurityFlags"] = options, 2, 0
    command["Data"]["FileName"] = name
    if _unicode(server):
        command["Data"]["Pad"] = 0
    packet = smb.NewSMBPacket()
    packet["Tid"] = tid
    packet.addCommand(command)
    server.sendSMB(packet)
    reply = _answer(server, smb.SMB.SMB_COM_NT_CREATE_ANDX)
    answer = smb.SMBNtCreateAndXResponse_Parameters(smb.SMBCommand(reply["Data"][0])["Parameters"])
    return answer["Fid"], {"size": answer["EndOfFile"], "creation": answer["CreateTime"],
                           "last_write": answer["LastWriteTime"], "change": answer["LastChangeTime"],
                           "attributes": answer["FileAttributes"], "is_dir": bool(answer["FileAttributes"] & 0x10)}


def _query_path(server, tid: int, path: str, level: int) -> bytes:
    from impacket import smb

    server.send_trans2(tid, TRANS2_QUERY_PATH_INFORMATION, b"\x00",
                       struct.pack("<HL", level, 0) + _name(server, path) + (
                           b"\x00\x00" if _unicode(server) else b"\x00"), b"")
    reply = _answer(server, smb.SMB.SMB_COM_TRANSACTION2)
    command = smb.SMBCommand(reply["Data"][0])
    params = smb.SMBTransaction2Response_Parameters(command["Parameters"])
    return bytes(command["Data"][-params["TotalDataCount"]:]) if params["TotalDataCount"] else b""


def path_all_info(server, tid: int, path: str) -> bytes:
    """SMB_QUERY_FILE_ALL_INFO of a path (a level NT 4.0 has too), the same bytes a query of an open file gives:
    one request, where an open, a query and a close are three."""
    return _query_path(server, tid, path, SMB_QUERY_FILE_ALL_INFO)


def transact_pipe(server, tid: int, fid: int, data: bytes) -> bytes:
    """TransactNmPipe (SMB_COM_TRANSACTION, setup 0x26): write a request and read the answer in one round trip
    (MS-CIFS 2.2.5.6). The transaction's name, \\PIPE\\, is in Unicode when the session is (after a pad byte
    that aligns it): impacket sends it in ASCII whatever the session, which Samba refuses (NOT_SUPPORTED)."""
    from impacket import smb

    unicode = _unicode(server)
    start = 32 + 1 + 2 * 16 + 2  # header, WordCount, 14 words and 2 setup words, ByteCount
    pad = b"\x00" if unicode and start % 2 else b""
    name = "\\PIPE\\\x00".encode("utf-16le" if unicode else "latin-1")
    offset = start + len(pad) + len(name)
    align = b"\x00" * ((4 - offset % 4) % 4)
    offset += len(align)
    command = smb.SMBCommand(smb.SMB.SMB_COM_TRANSACTION)
    params = command["Parameters"] = smb.SMBTransaction_Parameters()
    params["Setup"] = struct.pack("<HH", 0x26, fid)
    params["TotalParameterCount"], params["TotalDataCount"] = 0, len(data)
    params["MaxParameterCount"], params["MaxDataCount"] = 0, 65504
    params["ParameterCount"], params["ParameterOffset"] = 0, offset
    params["DataCount"], params["DataOffset"] = len(data), offset
    command["Data"] = pad + name + align + data
    packet = smb.NewSMBPacket()
    packet["Tid"] = tid
    packet.addCommand(command)
    server.sendSMB(packet)
    reply = _answer(server, smb.SMB.SMB_COM_TRANSACTION)
    answer = smb.SMBCommand(reply["Data"][0])
    words = smb.SMBTransactionResponse_Parameters(answer["Parameters"])
    return bytes(answer["Data"][-words["DataCount"]:]) if words["DataCount"] else b""


def write(server, tid: int, fid: int, data: bytes, offset: int) -> int:
    """One WRITE_ANDX; the count the server wrote (CountHigh above 64 KiB)."""
    from impacket import smb

    reply = server.write_andx(tid, fid, data, offset)
    if not reply:
        raise OSError("the server did not answer the write")
    words = smb.SMBCommand(reply["Data"][0])["Parameters"]
    count, dummy, high = struct.unpack_from("<HHH", words, 4)
    return count | (high << 16 if len(data) > 0xFFFF else 0)


def set_basic(server, tid: int, fid: int, times: tuple[int, int, int, int], attributes: int) -> None:
    """SMB_SET_FILE_BASIC_INFO (not a pass-through level: Windows NT 4.0 has it too). A time of 0 and
    attributes of 0 leave the file's as they are."""
    from impacket import smb

    data = struct.pack("<qqqqLL", *times, attributes, 0)
    server.send_trans2(tid, TRANS2_SET_FILE_INFORMATION, b"\x00", struct.pack("<HHH", fid, SMB_SET_FILE_BASIC_INFO, 0),
                       data)
    _answer(server, smb.SMB.SMB_COM_TRANSACTION2)


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
