"""Raw SMB1 requests for tests that look at what a server answers (oplock levels, breaks, statuses),
built on impacket's packet classes and independent of the collection's own client."""

from __future__ import annotations

import struct

from impacket import smb
from impacket.smbconnection import SMB_DIALECT, SMBConnection

BATCH, NONE = 0x16, 0x10  # CreateFlags: request batch oplock (+ extended response); no oplock
GENERIC_READ, GENERIC_WRITE, DELETE = 0x80000000, 0x40000000, 0x00010000
SHARE_READ, SHARE_WRITE, SHARE_DELETE, SHARE_ALL = 1, 2, 4, 7
OPEN, OVERWRITE_IF = 1, 5
NON_DIRECTORY, DELETE_ON_CLOSE = 0x40, 0x1000


def connect(port: int, password: str = "Lab-Passw0rd!") -> SMBConnection:
    conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port, preferredDialect=SMB_DIALECT, timeout=15)
    conn.login("Administrator", password)
    return conn


def status_of(error) -> int:
    """The NT status of either of impacket's SessionErrors."""
    getter = getattr(error, "get_error_code", None) or error.getErrorCode
    return getter()


def nt_create(conn: SMBConnection, tid: int, path: str, access=GENERIC_READ, share=SHARE_ALL, disposition=OPEN,
              options=NON_DIRECTORY, flags=NONE, attributes=0) -> tuple[int, int]:
    """(FID, granted oplock level: 0 none, 1 exclusive, 2 batch, 3 level II); an error raises SessionError."""
    server = conn.getSMBServer()
    flags2 = server.get_flags()[1]
    name = path.encode("utf-16le") if flags2 & smb.SMB.FLAGS2_UNICODE else path
    command = smb.SMBCommand(smb.SMB.SMB_COM_NT_CREATE_ANDX)
    command["Parameters"] = smb.SMBNtCreateAndX_Parameters()
    command["Data"] = smb.SMBNtCreateAndX_Data(flags=flags2)
    p = command["Parameters"]
    p["FileNameLength"], p["CreateFlags"], p["AccessMask"], p["FileAttributes"] = len(name), flags, access, attributes
    p["ShareAccess"], p["Disposition"], p["CreateOptions"], p["Impersonation"] = share, disposition, options, 2
    command["Data"]["FileName"] = name
    if flags2 & smb.SMB.FLAGS2_UNICODE:
        command["Data"]["Pad"] = 0
    packet = smb.NewSMBPacket()
    packet["Tid"] = tid
    packet.addCommand(command)
    server.sendSMB(packet)
    reply = server.recvSMB()
    reply.isValidAnswer(smb.SMB.SMB_COM_NT_CREATE_ANDX)
    words = smb.SMBNtCreateAndXResponse_Parameters(smb.SMBCommand(reply["Data"][0])["Parameters"])
    return words["Fid"], words["OplockLevel"]


def oplock_break(conn: SMBConnection) -> dict:
    """The next message on the connection, which must be a server's oplock break: {fid, level, mid, signed}."""
    packet = conn.getSMBServer().recvSMB()
    assert packet["Command"] == smb.SMB.SMB_COM_LOCKING_ANDX and not packet["Flags1"] & smb.SMB.FLAGS1_REPLY, packet
    words = smb.SMBCommand(packet["Data"][0])["Parameters"]
    fid, kind, level = struct.unpack_from("<HBB", words, 4)
    return {"fid": fid, "type": kind, "level": level, "mid": packet["Mid"],
            "signed": bool(packet["Flags2"] & smb.SMB.FLAGS2_SMB_SECURITY_SIGNATURE)}


def acknowledge(conn: SMBConnection, tid: int, fid: int, level: int) -> None:
    """LOCKING_ANDX with OPLOCK_RELEASE and no locks: no answer comes."""
    command = smb.SMBCommand(smb.SMB.SMB_COM_LOCKING_ANDX)
    command["Parameters"] = struct.pack("<BBHHBBLHH", 0xFF, 0, 0, fid, 0x02, level, 0, 0, 0)
    command["Data"] = b""
    packet = smb.NewSMBPacket()
    packet["Tid"] = tid
    packet.addCommand(command)
    conn.getSMBServer().sendSMB(packet)


def request(conn: SMBConnection, command_code: int, tid: int = 0, uid: int | None = None, parameters=b"", data=b""):
    """Any request as it is given (UID included); the reply packet, whatever its status."""
    server = conn.getSMBServer()
    command = smb.SMBCommand(command_code)
    command["Parameters"], command["Data"] = parameters, data
    packet = smb.NewSMBPacket()
    packet["Tid"] = tid
    packet.addCommand(command)
    if uid is not None:
        server._uid = uid  # pylint: disable=protected-access  # sendSMB stamps this UID
    server.sendSMB(packet)
    return server.recvSMB()


def reply_status(packet) -> int:
    return packet["ErrorCode"] << 16 | packet["_reserved"] << 8 | packet["ErrorClass"]


def trans2_query_fs(conn: SMBConnection, tid: int, level: int):
    """TRANS2_QUERY_FS_INFORMATION: (status, data)."""
    server = conn.getSMBServer()
    server.send_trans2(tid, smb.SMB.TRANS2_QUERY_FS_INFORMATION, b"\x00", struct.pack("<H", level), b"")
    packet = server.recvSMB()
    status = reply_status(packet)
    if status:
        return status, b""
    command = smb.SMBCommand(packet["Data"][0])
    params = smb.SMBTransaction2Response_Parameters(command["Parameters"])
    return 0, bytes(command["Data"][-params["TotalDataCount"]:])
