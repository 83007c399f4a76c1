"""SMB1 (NT LM 0.12) commands for the disk shares and the named pipes of IPC$.

Every command a disk share may receive is answered here from the host model: impacket's stock
handlers serve the controller's own folders through `os`, which must never happen. Pipes are
served in-process by the RPC engine, in message mode. Each handler is wrapped so that nothing it
raises drops the connection (impacket would): an internal error becomes STATUS_INTERNAL_ERROR.
"""

from __future__ import annotations

import functools
import logging
import struct

from impacket import smb, smbserver
from impacket.nt_errors import STATUS_ACCESS_DENIED, STATUS_BUFFER_OVERFLOW, STATUS_INVALID_HANDLE, \
    STATUS_INVALID_PARAMETER, STATUS_NO_SUCH_FILE, STATUS_NOT_SUPPORTED, STATUS_OBJECT_NAME_NOT_FOUND, \
    STATUS_OBJECT_PATH_NOT_FOUND, STATUS_SUCCESS

from ..filesystem import STATUS_NOT_A_DIRECTORY
from . import info, opens, transactions
from .transactions import STATUS_PIPE_EMPTY
from .session import error_reply

log = logging.getLogger(__name__)
PIPE, DISK = -3, -4
STATUS_INTERNAL_ERROR = 0xC00000E5
STATUS_NO_MORE_FILES = 0x80000006
STATUS_SMB_BAD_TID = 0x00050002  # ERRSRV/ERRinvnid
STATUS_INVALID_LEVEL = 0xC0000148  # ERRDOS/ERRunknownlevel: what NT 4.0 answers for a level it lacks (assumed)
SMB_INFO_PASSTHROUGH = 0x3E8
LOCKING_ANDX_OPLOCK_RELEASE = 0x02
NT_CREATE_REQUEST_OPLOCK, NT_CREATE_REQUEST_OPBATCH = 0x2, 0x4
SMB_MAX_DATA = 16000  # keeps every TRANS2 reply in one packet under the negotiated buffer
# MS-CIFS 2.2.4.43.1 (14 words): AndX, FID, offset, timeout, write mode, remaining, data length (high, low), data
# offset, offset's high half; 2.2.4.43.2: AndX, count, available, reserved
WRITE_WORDS = struct.Struct("<BBHHLLHHHHHL")
WRITTEN_WORDS = struct.Struct("<BBHHHL")
CLOSE_WORDS = struct.Struct("<HL")  # 2.2.4.5.1: FID, last write time
SMB_COM_WRITE_ANDX, SMB_COM_CLOSE = 0x2F, 0x04
# 2.2.4.42.1: AndX, FID, offset, maximum and minimum count, timeout, remaining (10 words), offset's high half (12)
READ_WORDS, READ_WORDS_LONG = struct.Struct("<BBHHLHHLH"), struct.Struct("<BBHHLHHLHL")
# 2.2.4.42.2 as impacket frames it: AndX, remaining, data mode, reserved, data length, data offset, data length's
# high half (a 4-byte field there), 6 reserved bytes
READ_REPLY_WORDS = struct.Struct("<BBHHHHHHL6s")
READ_DATA_AT = 32 + 1 + READ_REPLY_WORDS.size + 2  # 59: the data right after the byte count
SMB_COM_READ_ANDX = 0x2E


def guarded(command: int):
    def wrap(handler):
        @functools.wraps(handler)
        def run(conn_id, server, *args):
            try:
                return handler(conn_id, server, *args)
            except Exception:  # noqa: BLE001 - a reply, never a dropped connection
                log.exception("%s: SMB1 command 0x%02x failed", server.site.computer_name, command)
                return [error_reply(command)], None, STATUS_INTERNAL_ERROR
        return run
    return wrap


def guarded_trans(handler):
    @functools.wraps(handler)
    def run(conn_id, server, *args, **kwargs):
        try:
            return handler(conn_id, server, *args, **kwargs)
        except Exception:  # noqa: BLE001
            log.exception("%s: TRANS2 sub-command failed", server.site.computer_name)
            return b"", b"", b"", STATUS_INTERNAL_ERROR
    return run


def _name(flags2: int, raw) -> str:
    text = smbserver.decodeSMBString(flags2, raw)
    return (text.decode("latin-1") if isinstance(text, bytes) else text).rstrip("\x00")


def _share(server, conn, packet):
    """('ipc', None), ('disk', DiskShare) or (None, None) for an unknown tree."""
    share = conn["ConnectedShares"].get(packet["Tid"])
    if share is None:
        return None, None
    name = share["shareName"].upper()
    return ("ipc", None) if name == "IPC$" else ("disk", server.site.disk_share(name))


def _disk(server, conn, packet):
    """(DiskShare, 0), or (None, status): STATUS_SMB_BAD_TID for a tree never connected, access denied for IPC$."""
    kind, share = _share(server, conn, packet)
    if kind is None:
        return None, STATUS_SMB_BAD_TID
    return (share, 0) if kind == "disk" and share is not None else (None, STATUS_ACCESS_DENIED)


def _passthrough_refused(server, level: int) -> bool:
    """Pass-through levels (1000 + an MS-FSCC class) came with Windows 2000 (CAP_INFOLEVEL_PASSTHRU);
    Windows NT 4.0 does not know them."""
    return level >= SMB_INFO_PASSTHROUGH and not server.site.passthrough


def _open(conn, fid, kind):
    entry = conn["OpenedFiles"].get(fid)
    return entry if entry is not None and entry.get("FileHandle") == kind else None


def new_fid(conn) -> int:
    conn["NextFid"] = conn.get("NextFid", 0x4000) % 0xFFF0 + 1
    return conn["NextFid"]


def _ok(command: int, parameters=b"", data=b""):
    reply = smb.SMBCommand(command)
    reply["Parameters"], reply["Data"] = parameters, data
    return [reply], None, STATUS_SUCCESS


def _fail(command: int, status: int):
    return [error_reply(command)], None, status


def pipe_name(raw: str) -> str:
    name = raw.rstrip("\x00").lstrip("\\").lower()
    return name[5:] if name.startswith("pipe\\") else name


def oplock_break(server, conn_id: str, tid: int, fid: int, uid: int):
    """How a break reaches an open's holder: an SMB_COM_LOCKING_ANDX request from the server (MID 0xFFFF,
    the holder's TID and FID, OPLOCK_RELEASE, the new level: 1 level II, 0 none), never signed (MS-CIFS
    2.2.4.32.1, 3.3.4.2), sent on the holder's connection whatever thread breaks it."""
    def notify(level: int) -> None:
        packet = smb.NewSMBPacket()
        packet["Flags1"], packet["Flags2"] = 0, smb.SMB.FLAGS2_NT_STATUS | smb.SMB.FLAGS2_LONG_NAMES
        packet["Tid"], packet["Uid"], packet["Pid"], packet["Mid"] = tid, uid, 0xFFFF, 0xFFFF
        command = smb.SMBCommand(smb.SMB.SMB_COM_LOCKING_ANDX)
        command["Parameters"] = struct.pack("<BBHHBBLHH", 0xFF, 0, 0, fid, LOCKING_ANDX_OPLOCK_RELEASE,
                                            1 if level == opens.LEVEL_II else 0, 0, 0, 0)
        command["Data"] = b""
        packet.addCommand(command)
        server.send_unsolicited(conn_id, packet.getData())
    return notify


# MS-CIFS 2.2.4.64.1: AndX (command, reserved, offset), reserved, name length, flags, root FID, desired access,
# allocation size, attributes, share access, disposition, options, impersonation, security flags (24 words)
NT_CREATE_WORDS = struct.Struct("<BBHBHLLLqLLLLLB")
# 2.2.4.64.2, the reply impacket frames (not the extended one): AndX, oplock level, FID, action, four times,
# attributes, allocation size, end of file, file type, pipe state, directory
NT_CREATED_WORDS = struct.Struct("<BBHBHLqqqqLqqHHB")
SMB_COM_NT_CREATE_ANDX = 0xA2


class Create:
    """What an NT_CREATE_ANDX asks (read by impacket's classes or by struct), and where its reply goes."""

    __slots__ = ("command", "flags2", "tid", "pid", "mid", "name", "flags", "access", "attributes", "share_access",
                 "disposition", "options")

    def __init__(self, flags2, tid, pid, mid, name, flags, access, attributes, share_access, disposition, options):
        self.command, self.flags2, self.tid, self.pid, self.mid = SMB_COM_NT_CREATE_ANDX, flags2, tid, pid, mid
        self.name, self.flags, self.access, self.attributes = name, flags, access, attributes
        self.share_access, self.disposition, self.options = share_access, disposition, options


@guarded(0xA2)
def nt_create(conn_id, server, command, packet):
    params = smb.SMBNtCreateAndX_Parameters(command["Parameters"])
    data = smb.SMBNtCreateAndX_Data(flags=packet["Flags2"], data=command["Data"])
    status, words = create(conn_id, server, Create(
        packet["Flags2"], packet["Tid"], packet["Pid"], packet["Mid"], _name(packet["Flags2"], data["FileName"]),
        params["CreateFlags"], params["AccessMask"], params["FileAttributes"], params["ShareAccess"],
        params["Disposition"], params["CreateOptions"]))
    return _fail(0xA2, status) if status else _ok(0xA2, words)


def create(conn_id, server, ask: Create) -> tuple[int, bytes]:
    """(status, the reply's words) of an NT_CREATE_ANDX: a pipe of IPC$, or a file or folder of a disk share
    opened by the host model's rules (share modes, oplocks)."""
    conn = server.getConnectionData(conn_id)
    where = {"Tid": ask.tid, "Flags2": ask.flags2}
    kind, share = _share(server, conn, where)
    if kind == "ipc":
        pipe = server.site.open_pipe(pipe_name(ask.name))
        if pipe is None:
            return STATUS_OBJECT_NAME_NOT_FOUND, b""
        fid = new_fid(conn)
        conn["OpenedFiles"][fid] = {"FileHandle": PIPE, "FileName": ask.name, "DeleteOnClose": False, "Pipe": pipe}
        # a message-mode pipe: normal attributes, 4 KiB allocated, named pipe type, its state
        return STATUS_SUCCESS, NT_CREATED_WORDS.pack(0xFF, 0, 0, 0, fid, 1, 0, 0, 0, 0, 0x80, 4096, 0, 2, 0x05FF, 0)
    share, status = _disk(server, conn, where)
    if status:
        return status, b""
    fid = new_fid(conn)
    oplock = (bool(ask.flags & NT_CREATE_REQUEST_OPBATCH) and server.site.oplocks,
              bool(ask.flags & NT_CREATE_REQUEST_OPLOCK) and server.site.oplocks)
    status, handle, action = share.open(ask.name, ask.access, ask.disposition, ask.options, share=ask.share_access,
                                        attributes=ask.attributes, owner=session_owner(conn_id, conn), oplock=oplock,
                                        notify=oplock_break(server, conn_id, ask.tid, fid, conn["Uid"]))
    if status:
        return status, b""
    conn["OpenedFiles"][fid] = {"FileHandle": DISK, "FileName": handle.path, "DeleteOnClose": False,
                                "Handle": handle, "Share": share}
    created, accessed, written, changed = info.times(handle.node, server.site.boot_time)
    size = 0 if handle.node.is_dir else handle.node.size
    level = handle.open.oplock if handle.open is not None else 0
    return STATUS_SUCCESS, NT_CREATED_WORDS.pack(0xFF, 0, 0, level, fid, action, created, accessed, written, changed,
                                                 handle.node.attributes, size, size, 0, 0, int(handle.node.is_dir))


class Simple:
    """The header fields a reply needs, of a request read with struct."""

    __slots__ = ("command", "flags2", "tid", "pid", "mid")

    def __init__(self, raw: bytes):
        (dummy, self.command, dummy, dummy, self.flags2, dummy, dummy, dummy, self.tid, self.pid, dummy,
         self.mid) = transactions.HEADER.unpack_from(raw)


def _words(raw: bytes, command: int, layout: struct.Struct) -> tuple | None:
    """The request's words by `layout`, or None unless it is that SMB1 request (not a reply) with exactly those
    words and its byte count."""
    at = transactions.WORDS_AT
    if (len(raw) < at + layout.size + 2 or raw[:4] != b"\xffSMB" or raw[4] != command
            or raw[at - 1] != layout.size // 2 or raw[9] & transactions.FLAGS1_REPLY):
        return None
    return layout.unpack_from(raw, at)


def _bytes(raw: bytes, layout: struct.Struct) -> tuple[int, int]:
    """(where the request's bytes start, where they end by its byte count) after words laid out by `layout`."""
    start = transactions.WORDS_AT + layout.size + 2
    return start, start + struct.unpack_from("<H", raw, start - 2)[0]


def _reply(server, conn_id: str, header, command: int, run) -> list[bytes]:
    """The one signed reply of `run()`'s (status, words, data); what it raises is STATUS_INTERNAL_ERROR, never a
    dropped connection (as `guarded` makes it on impacket's path)."""
    try:
        status, words, data = run()
    except Exception:  # noqa: BLE001
        log.exception("%s: SMB1 command 0x%02x failed", server.site.computer_name, command)
        status, words, data = STATUS_INTERNAL_ERROR, b"", b""
    return [transactions.message(header, server.getConnectionData(conn_id, checkStatus=False), status, words, data)]


def parse_create(raw: bytes) -> Create | None:
    """An NT_CREATE_ANDX read with struct, or None for what impacket's path should read (another command, a
    chained AndX, another word count, a name that does not end)."""
    words = _words(raw, SMB_COM_NT_CREATE_ANDX, NT_CREATE_WORDS)
    if words is None or words[0] != 0xFF:
        return None
    (dummy, dummy, dummy, dummy, dummy, flags, dummy, access, dummy, attributes, share_access, disposition, options,
     dummy, dummy) = words
    start, end = _bytes(raw, NT_CREATE_WORDS)
    block, header = raw[start:end], Simple(raw)
    if header.flags2 & transactions.FLAGS2_UNICODE:  # a pad byte, then UTF-16 up to its NUL (impacket's 'u')
        text = block[1:]
        stop = next((i for i in range(0, len(text) - 1, 2) if text[i:i + 2] == b"\x00\x00"), None)
        if stop is None:
            return None
        name = text[:stop].decode("utf-16le", "replace")
    else:  # up to its NUL (impacket's 'z')
        stop = block.find(b"\x00")
        if stop < 0:
            return None
        name = block[:stop].decode("latin-1")
    return Create(header.flags2, header.tid, header.pid, header.mid, name, flags, access, attributes, share_access,
                  disposition, options)


def create_answer(server, conn_id: str, raw: bytes) -> list[bytes] | None:
    """The signed reply to an NT_CREATE_ANDX read with struct, or None: impacket's path answers it."""
    ask = parse_create(raw)
    if ask is None:
        return None
    return _reply(server, conn_id, ask, SMB_COM_NT_CREATE_ANDX, lambda: create(conn_id, server, ask) + (b"",))


def write_answer(server, conn_id: str, raw: bytes) -> list[bytes] | None:
    """WRITE_ANDX read with struct (a DLL transaction writes 60 KiB at a time), or None for impacket's path: a
    chained AndX, the short form, data outside the message."""
    words = _words(raw, SMB_COM_WRITE_ANDX, WRITE_WORDS)
    if words is None:
        return None
    andx, dummy, dummy, fid, low, dummy, dummy, dummy, dummy, length, data_at, high = words
    start, end = _bytes(raw, WRITE_WORDS)
    if andx != 0xFF or data_at < start or data_at + length > min(end, len(raw)):
        return None
    payload = raw[data_at:data_at + length]
    return _reply(server, conn_id, Simple(raw), SMB_COM_WRITE_ANDX,
                  lambda: write(conn_id, server, fid, low + (high << 32), payload) + (b"",))


def close_answer(server, conn_id: str, raw: bytes) -> list[bytes] | None:
    words = _words(raw, SMB_COM_CLOSE, CLOSE_WORDS)
    if words is None:
        return None
    return _reply(server, conn_id, Simple(raw), SMB_COM_CLOSE,
                  lambda: (close_fid(conn_id, server, words[0]), b"", b""))


def read_answer(server, conn_id: str, raw: bytes) -> list[bytes] | None:
    """READ_ANDX read with struct (a DLL transaction reads back every byte it wrote), or None for impacket's path."""
    words = _words(raw, SMB_COM_READ_ANDX, READ_WORDS_LONG) or _words(raw, SMB_COM_READ_ANDX, READ_WORDS)
    if words is None or words[0] != 0xFF:
        return None
    fid, offset, max_count = words[3], words[4] + (words[9] << 32 if len(words) > 9 else 0), words[5]
    return _reply(server, conn_id, Simple(raw), SMB_COM_READ_ANDX,
                  lambda: read(conn_id, server, fid, offset, max_count))


BY_HAND = {SMB_COM_NT_CREATE_ANDX: create_answer, SMB_COM_WRITE_ANDX: write_answer, SMB_COM_CLOSE: close_answer,
           SMB_COM_READ_ANDX: read_answer}


def answer_by_hand(server, conn_id: str, raw: bytes) -> list[bytes] | None:
    """The replies winlab frames by hand (the commands an audit and a DLL transaction repeat), or None for
    impacket's path. Only on a session logged on: impacket's path refuses the others."""
    if len(raw) < transactions.WORDS_AT or raw[:4] != b"\xffSMB":
        return None
    fast = BY_HAND.get(raw[4])
    if fast is None:
        return transactions.answer(server, conn_id, raw, PIPE, TRANS2)
    if not server.getConnectionData(conn_id, checkStatus=False).get("Authenticated"):
        return None
    return fast(server, conn_id, raw)


def session_owner(conn_id: str, conn) -> str:
    """Opens belong to a session: its connection and UID (a logoff or a drop closes them)."""
    return f"{conn_id}/{conn.get('Uid')}"


@guarded(0x24)
def locking_andx(conn_id, server, command, packet):
    """Only the answer to an oplock break (OPLOCK_RELEASE, no locks): it gets no reply (MS-CIFS 3.3.5.30).
    Byte-range locks are not emulated: the collection's clients take none."""
    conn = server.getConnectionData(conn_id)
    fid, kind, level, dummy, unlocks, locks = struct.unpack_from("<HBBLHH", command["Parameters"], 4)
    entry = _open(conn, fid, DISK)
    if kind & LOCKING_ANDX_OPLOCK_RELEASE and not unlocks and not locks:
        if entry is not None and entry["Handle"].open is not None:
            with server.site.lock:
                server.site.opens.acknowledge(entry["Handle"].open, keeps_level_ii=bool(level))
        if conn.get("SignatureEnabled"):
            conn["SignSequenceNumber"] += 1  # a request without a reply takes one number, not two
        return [], None, STATUS_SUCCESS
    if entry is None:
        return _fail(0x24, STATUS_INVALID_HANDLE)
    return _fail(0x24, STATUS_NOT_SUPPORTED)


@guarded(0x2E)
def read_andx(conn_id, server, command, packet):
    request = smb.SMBReadAndX_Parameters2(command["Parameters"]) if command["WordCount"] == 10 else \
        smb.SMBReadAndX_Parameters(command["Parameters"])
    offset = request["Offset"] + ((request["HighOffset"] << 32) if "HighOffset" in request.fields else 0)
    status, words, data = read(conn_id, server, request["Fid"], offset, request["MaxCount"])
    if not words:
        return _fail(0x2E, status)
    replies, dummy, dummy = _ok(0x2E, words, data)
    return replies, None, status


def read(conn_id, server, fid: int, offset: int, max_count: int) -> tuple[int, bytes, bytes]:
    """(status, the reply's words, its data) of a READ_ANDX of an open pipe (more data: STATUS_BUFFER_OVERFLOW
    with the first part) or file (at most 60 KiB); no words for an error."""
    conn = server.getConnectionData(conn_id)
    pipe, disk = _open(conn, fid, PIPE), _open(conn, fid, DISK)
    if pipe is not None:
        data, more = pipe["Pipe"].read(max_count)
        if not data:
            return STATUS_PIPE_EMPTY, b"", b""
        status, remaining = (STATUS_BUFFER_OVERFLOW if more else STATUS_SUCCESS), 0
    elif disk is not None:
        data = disk["Share"].read(disk["Handle"], offset, min(max_count, 61440))
        status, remaining = STATUS_SUCCESS, 0xFFFF
    else:
        return STATUS_INVALID_HANDLE, b"", b""
    return status, READ_REPLY_WORDS.pack(0xFF, 0, 0, remaining, 0, 0, len(data), READ_DATA_AT, 0, b""), data


@guarded(0x2F)
def write_andx(conn_id, server, command, packet):
    if command["WordCount"] == 0x0C:
        params, data = smb.SMBWriteAndX_Parameters_Short(command["Parameters"]), smb.SMBWriteAndX_Data_Short()
    else:
        params, data = smb.SMBWriteAndX_Parameters(command["Parameters"]), smb.SMBWriteAndX_Data()
    data["DataLength"], data["DataOffset"] = params["DataLength"], params["DataOffset"]
    data.fromString(command["Data"])
    offset = params["Offset"] + ((params["HighOffset"] << 32) if "HighOffset" in params.fields else 0)
    status, words = write(conn_id, server, params["Fid"], offset, data["Data"])
    return _fail(0x2F, status) if status else _ok(0x2F, words)


def write(conn_id, server, fid: int, offset: int, payload: bytes) -> tuple[int, bytes]:
    """(status, the reply's words) of a WRITE_ANDX to an open pipe or file (a disk may write less: write_limit)."""
    conn = server.getConnectionData(conn_id)
    pipe, disk = _open(conn, fid, PIPE), _open(conn, fid, DISK)
    if pipe is not None:
        pipe["Pipe"].write(payload)
    elif disk is not None:
        payload = payload[:server.site.write_limit(len(payload))]
        status = disk["Share"].write(disk["Handle"], offset, payload)
        if status:
            return status, b""
    else:
        return STATUS_INVALID_HANDLE, b""
    return STATUS_SUCCESS, WRITTEN_WORDS.pack(0xFF, 0, 0, len(payload) & 0xFFFF, 0xFFFF, 0)


@guarded(0x04)
def close(conn_id, server, command, packet):
    status = close_fid(conn_id, server, smb.SMBClose_Parameters(command["Parameters"])["FID"])
    return _fail(0x04, status) if status else _ok(0x04)


def close_fid(conn_id, server, fid: int) -> int:
    conn = server.getConnectionData(conn_id)
    entry = conn["OpenedFiles"].pop(fid, None)
    if entry is None or entry.get("FileHandle") not in (PIPE, DISK):
        return STATUS_INVALID_HANDLE
    return entry["Share"].close(entry["Handle"]) if entry["FileHandle"] == DISK else STATUS_SUCCESS


def _disk_path_command(command: int, structure, field: str, action):
    @guarded(command)
    def handle(conn_id, server, smb_command, packet):
        conn = server.getConnectionData(conn_id)
        share, status = _disk(server, conn, packet)
        if status:
            return _fail(command, status)
        data = structure(flags=packet["Flags2"], data=smb_command["Data"])
        status = action(share, _name(packet["Flags2"], data[field]), smb_command)
        return _fail(command, status) if status else _ok(command)
    return handle


def _check_directory(share, name, dummy_command=None):
    status, node = share.stat(name)
    if status:
        return STATUS_OBJECT_PATH_NOT_FOUND
    return STATUS_SUCCESS if node.is_dir else STATUS_NOT_A_DIRECTORY


def _delete(share, name, command):
    """SMB_COM_DELETE: hidden and system files only when SearchAttributes asks for them; a pattern deletes
    what matches, stopping at the first error, as Windows does."""
    search = smb.SMBDelete_Parameters(command["Parameters"])["SearchAttributes"]
    if "*" in name or "?" in name:
        folder, pattern = name.rsplit("\\", 1) if "\\" in name else ("", name)
        status, nodes = share.listing(folder, pattern)
        matches = [n for n in nodes if not n.is_dir and not n.attributes & 0x6 & ~search]
        if status or not matches:
            return status or STATUS_NO_SUCH_FILE
        for node in matches:
            status = share.delete(f"{folder}\\{node.name}", search)
            if status:
                return status
        return STATUS_SUCCESS
    return share.delete(name, search)


@guarded(0x07)
def rename(conn_id, server, command, packet):
    conn = server.getConnectionData(conn_id)
    share, status = _disk(server, conn, packet)
    if status:
        return _fail(0x07, status)
    data = smb.SMBRename_Data(flags=packet["Flags2"], data=command["Data"])
    status = share.rename(_name(packet["Flags2"], data["OldFileName"]), _name(packet["Flags2"], data["NewFileName"]))
    return _fail(0x07, status) if status else _ok(0x07)


@guarded(0x08)
def query_information(conn_id, server, command, packet):
    conn = server.getConnectionData(conn_id)
    share, status = _disk(server, conn, packet)
    if status:
        return _fail(0x08, status)
    data = smb.SMBQueryInformation_Data(flags=packet["Flags2"], data=command["Data"])
    status, node = share.stat(_name(packet["Flags2"], data["FileName"]))
    if status:
        return _fail(0x08, status)
    reply = smb.SMBQueryInformationResponse_Parameters()
    reply["FileAttributes"] = node.attributes
    reply["LastWriteTime"] = int(node.mtime(server.site.boot_time))
    reply["FileSize"] = 0 if node.is_dir else node.size
    reply["Reserved"] = b"\x00" * 10
    return _ok(0x08, reply)


@guarded(0x05)
def flush(conn_id, server, command, packet):
    return _ok(0x05)


def refuse(command: int):
    """Commands the collection's clients never send to a share here: never the stock os-backed code."""
    @guarded(command)
    def handle(conn_id, server, smb_command, packet):
        return _fail(command, STATUS_NOT_SUPPORTED)
    return handle


# -- TRANS2 -------------------------------------------------------------------
def _file_info(server, node, level: int) -> bytes | None:
    if _passthrough_refused(server, level):
        return None
    when = info.times(node, server.site.boot_time)
    encoders = {0x101: lambda: info.basic(node, when), 0x102: lambda: info.standard(node),
                0x107: lambda: info.smb1_all(node, when), 0x108: lambda: info.short_name(node),
                0x3EC: lambda: info.basic(node, when), 0x3ED: lambda: info.standard(node),
                0x3FE: lambda: info.stream(node) if not node.is_dir else b""}
    encoder = encoders.get(level)
    return encoder() if encoder else None


def _unknown_level(server, level: int) -> int:
    return STATUS_INVALID_LEVEL if _passthrough_refused(server, level) else STATUS_NOT_SUPPORTED


@guarded_trans
def query_path(conn_id, server, packet, parameters, data, max_data=0):
    conn = server.getConnectionData(conn_id)
    share, status = _disk(server, conn, packet)
    if status:
        return b"", b"", b"", status
    request = smb.SMBQueryPathInformation_Parameters(flags=packet["Flags2"], data=parameters)
    status, node = share.stat(_name(packet["Flags2"], request["FileName"]))
    if status:
        return b"", b"", b"", status
    out = _file_info(server, node, request["InformationLevel"])
    if out is None:
        return b"", b"", b"", _unknown_level(server, request["InformationLevel"])
    return b"", b"\x00\x00", out, STATUS_SUCCESS


@guarded_trans
def query_file(conn_id, server, packet, parameters, data, max_data=0):
    conn = server.getConnectionData(conn_id)
    fid, level = struct.unpack("<HH", parameters[:4])
    entry = _open(conn, fid, DISK)
    if entry is None:
        return b"", b"", b"", STATUS_INVALID_HANDLE
    out = _file_info(server, entry["Handle"].node, level)
    return (b"", b"", b"", _unknown_level(server, level)) if out is None else (b"", b"\x00\x00", out, STATUS_SUCCESS)


@guarded_trans
def query_fs(conn_id, server, packet, parameters, data, max_data=0):
    conn = server.getConnectionData(conn_id)
    share, status = _disk(server, conn, packet)
    if status:
        return b"", b"", b"", status
    level = struct.unpack("<H", parameters[:2])[0]
    if _passthrough_refused(server, level):
        return b"", b"", b"", STATUS_INVALID_LEVEL
    size, free = share.space()
    encoders = {0x3EF: lambda: info.fs_full_size(size, free), 0x103: lambda: info.fs_size(size, free),
                0x3EB: lambda: info.fs_size(size, free), 0x105: info.fs_attribute, 0x3F5: info.fs_attribute,
                0x104: info.fs_device, 0x3F4: info.fs_device,
                0x102: lambda: info.fs_volume(share.label, share.serial),
                0x3E9: lambda: info.fs_volume(share.label, share.serial)}
    encoder = encoders.get(level)
    return (b"", b"", encoder(), STATUS_SUCCESS) if encoder else (b"", b"", b"", STATUS_NOT_SUPPORTED)


@guarded_trans
def set_file(conn_id, server, packet, parameters, data, max_data=0):
    conn = server.getConnectionData(conn_id)
    request = smb.SMBSetFileInformation_Parameters(parameters)
    entry = _open(conn, request["FID"], DISK)
    if entry is None:
        return b"", b"", b"", STATUS_INVALID_HANDLE
    level, handle = request["InformationLevel"], entry["Handle"]
    if _passthrough_refused(server, level):
        status = STATUS_INVALID_LEVEL
    elif level in (0x102, 0x3ED):  # disposition: delete when closed
        handle.delete_on_close = bool(data[:1] and data[0])
        status = entry["Share"].may_delete(handle) if handle.delete_on_close else STATUS_SUCCESS
        if status:
            handle.delete_on_close = False
    elif level in (0x104, 0x3FC):  # end of file
        status = entry["Share"].truncate(handle, struct.unpack("<q", data[:8])[0])
    elif level in (0x101, 0x3EC):  # SMB_SET_FILE_BASIC_INFO / FileBasicInformation: times and attributes
        if len(data) < 36:
            status = STATUS_INVALID_PARAMETER
        else:
            stamps = struct.unpack_from("<qqqq", data, 0)
            status = entry["Share"].set_basic(handle, stamps, struct.unpack_from("<L", data, 32)[0])
    else:
        status = STATUS_NOT_SUPPORTED
    return (b"", b"\x00\x00", b"", status) if status == STATUS_SUCCESS else (b"", b"", b"", status)


@guarded_trans
def find_first(conn_id, server, packet, parameters, data, max_data=0):
    conn = server.getConnectionData(conn_id)
    share, status = _disk(server, conn, packet)
    if status:
        return b"", b"", b"", status
    request = smb.SMBFindFirst2_Parameters(packet["Flags2"], data=parameters)
    style = info.SMB1_FIND_LEVELS.get(request["InformationLevel"])
    if style is None:
        return b"", b"", b"", STATUS_NOT_SUPPORTED
    full = _name(packet["Flags2"], request["FileName"])
    folder, pattern = full.rsplit("\\", 1) if "\\" in full else ("", full)
    status, nodes = share.listing(folder, pattern or "*")
    if status:
        return b"", b"", b"", STATUS_OBJECT_PATH_NOT_FOUND if status == STATUS_OBJECT_NAME_NOT_FOUND else status
    if not nodes:
        return b"", b"", b"", STATUS_NO_SUCH_FILE
    return _emit(server, conn, None, style, nodes, request["SearchCount"], min(max_data or SMB_MAX_DATA, SMB_MAX_DATA),
                 request["Flags"], first=True)


@guarded_trans
def find_next(conn_id, server, packet, parameters, data, max_data=0):
    conn = server.getConnectionData(conn_id)
    request = smb.SMBFindNext2_Parameters(flags=packet["Flags2"], data=parameters)
    search = conn["SIDs"].get(request["SID"])
    if search is None:
        return b"", b"", b"", STATUS_INVALID_HANDLE
    style, nodes, index = search
    return _emit(server, conn, request["SID"], style, nodes, request["SearchCount"],
                 min(max_data or SMB_MAX_DATA, SMB_MAX_DATA), request["Flags"], first=False, index=index)


def _emit(server, conn, sid, style, nodes, count, max_bytes, flags, first, index=0):
    out, sent, last = info.directory_entries(style, nodes[:count], max_bytes, index, server.site.boot_time)
    rest = nodes[sent:]
    done = not rest
    if not done:
        sid = sid or (max(conn["SIDs"] or [0]) + 1)
        conn["SIDs"][sid] = (style, rest, index + sent)
    elif sid:
        conn["SIDs"].pop(sid, None)
    if flags & 0x0001 and sid:  # close after this request
        conn["SIDs"].pop(sid, None)
    reply = smb.SMBFindFirst2Response_Parameters() if first else smb.SMBFindNext2Response_Parameters()
    if first:
        reply["SID"] = sid or 1
    reply["SearchCount"], reply["EndOfSearch"], reply["EaErrorOffset"], reply["LastNameOffset"] = sent, int(done), 0, last
    return b"", reply, out, STATUS_SUCCESS


# -- pipes: TransactNmPipe ------------------------------------------------------
def _names_pipe(packet) -> bool:
    """Whether the transaction's Name is \\PIPE\\ in the session's encoding (Unicode after a pad byte that
    aligns it): Windows and Samba refuse a TransactNmPipe named otherwise, e.g. in ASCII on a Unicode session."""
    raw = bytes(smb.SMBCommand(packet["Data"][0])["Data"])
    if packet["Flags2"] & smb.SMB.FLAGS2_UNICODE:
        wanted = "\\PIPE\\\x00".encode("utf-16le")
        return any(raw[pad:pad + len(wanted)].upper() == wanted for pad in (0, 1))
    return raw[:7].upper() == b"\\PIPE\\\x00"


def transact_pipe(conn_id, server, packet, parameters, data, max_data=0):
    """impacket's path for what transactions.parse leaves to it (a wrong name, a partial transaction)."""
    if not _names_pipe(packet):
        return b"", b"", b"", STATUS_NOT_SUPPORTED
    try:
        conn = server.getConnectionData(conn_id)
        setup = smb.SMBTransaction_Parameters(smb.SMBCommand(packet["Data"][0])["Parameters"])["Setup"]
        status, out = transactions.run_pipe(server, conn, struct.unpack("<H", setup[2:4])[0], data, max_data, PIPE)
    except Exception:  # noqa: BLE001
        log.exception("%s: TransactNmPipe failed", server.site.computer_name)
        return b"", b"", b"", STATUS_INVALID_PARAMETER
    return b"", b"", out, status


NT_TRANSACT_SET_SECURITY_DESC, NT_TRANSACT_QUERY_SECURITY_DESC = 0x03, 0x06
STATUS_BUFFER_TOO_SMALL = 0xC0000023


def nt_transact_security(original):
    """NT_TRANSACT_QUERY_SECURITY_DESC and _SET_SECURITY_DESC (MS-CIFS 2.2.7.6, 2.2.7.3) on an open file or
    folder: the host's DACL (acls.py). Other NT_TRANSACT functions go to impacket's handler. A set answers
    with no parameters and no data, as Windows does (impacket's own handler takes that for a failure)."""
    @guarded(0xA0)
    def handle(conn_id, server, command, packet, *rest):
        params = smb.SMBNTTransaction_Parameters(command["Parameters"])
        if params["Function"] not in (NT_TRANSACT_SET_SECURITY_DESC, NT_TRANSACT_QUERY_SECURITY_DESC):
            return original(conn_id, server, command, packet, *rest)
        base = 73 + params["SetupLength"]
        words = command["Data"][params["ParameterOffset"] - base:][:params["ParameterCount"]]
        data = command["Data"][params["DataOffset"] - base:][:params["DataCount"]] if params["DataOffset"] else b""
        fid, _reserved, information = struct.unpack_from("<HHL", words, 0)
        conn = server.getConnectionData(conn_id)
        entry = _open(conn, fid, DISK)
        if entry is None:
            return [error_reply(0xA0)], None, STATUS_INVALID_HANDLE
        if params["Function"] == NT_TRANSACT_SET_SECURITY_DESC:
            status = entry["Share"].set_security(entry["Handle"], data, information)
            return [_nt_transact_reply(b"", b"") if not status else error_reply(0xA0)], None, status
        descriptor = entry["Share"].security(entry["Handle"], information)
        if len(descriptor) > params["MaxDataCount"]:
            return [_nt_transact_reply(struct.pack("<L", len(descriptor)), b"")], None, STATUS_BUFFER_TOO_SMALL
        return [_nt_transact_reply(struct.pack("<L", len(descriptor)), descriptor)], None, STATUS_SUCCESS
    return handle


def _nt_transact_reply(parameters: bytes, data: bytes):
    reply = smb.SMBCommand(smb.SMB.SMB_COM_NT_TRANSACT)
    words, body = smb.SMBNTTransactionResponse_Parameters(), smb.SMBNTTransactionResponse_Data()
    words["TotalParameterCount"] = words["ParameterCount"] = len(parameters)
    words["TotalDataCount"] = words["DataCount"] = len(data)
    words["ParameterDisplacement"] = words["DataDisplacement"] = 0
    words["SetupCount"], words["Setup"] = 0, b""
    base = 71  # the header, 18 parameter words and the byte count: where the data area starts
    pad1 = (4 - base % 4) % 4 if parameters else 0
    words["ParameterOffset"] = base + pad1 if parameters else 0
    pad2 = (4 - (base + pad1 + len(parameters)) % 4) % 4 if data else 0
    words["DataOffset"] = base + pad1 + len(parameters) + pad2 if data else 0
    body["Pad1"], body["Pad2"] = b"\x00" * pad1, b"\x00" * pad2
    body["Trans_Parameters"], body["Trans_Data"] = parameters, data
    reply["Parameters"], reply["Data"] = words, body
    return reply


# The TRANSACTION2 sub-commands served (MS-CIFS 2.2.6): impacket's path and transactions.answer call the same.
TRANS2 = {0x01: find_first, 0x02: find_next, 0x03: query_fs, 0x05: query_path, 0x07: query_file, 0x08: set_file,
          0x06: guarded_trans(lambda *a, **k: (b"", b"", b"", STATUS_NOT_SUPPORTED))}  # SET_PATH_INFORMATION


def install(server) -> None:
    for command, handler in ((0xA2, nt_create), (0x24, locking_andx), (0x2E, read_andx), (0x2F, write_andx), (0x04, close),
                             (0x05, flush), (0x07, rename), (0x08, query_information)):
        server.hookSmbCommand(command, handler)
    server.hookSmbCommand(0x06, _disk_path_command(0x06, smb.SMBDelete_Data, "FileName", _delete))
    server.hookSmbCommand(0x00, _disk_path_command(0x00, smb.SMBCreateDirectory_Data, "DirectoryName",
                                                   lambda share, name, command: share.mkdir(name)))
    server.hookSmbCommand(0x01, _disk_path_command(0x01, smb.SMBDeleteDirectory_Data, "DirectoryName",
                                                   lambda share, name, command: share.rmdir(name)))
    server.hookSmbCommand(0x10, _disk_path_command(0x10, smb.SMBCheckDirectory_Data, "DirectoryName",
                                                   _check_directory))
    for command in (0x02, 0x09, 0x0A, 0x0B, 0x22, 0x23, 0x2D, 0x80):  # OPEN, SET_INFORMATION, READ, WRITE...
        server.hookSmbCommand(command, refuse(command))
    for sub, handler in TRANS2.items():
        server.hookTransaction2(sub, handler)
    server.hookTransaction(smb.SMB.TRANS_TRANSACT_NMPIPE, transact_pipe)
    original = server.hookSmbCommand(0xA0, lambda *args: None)
    server.hookSmbCommand(0xA0, nt_transact_security(original))
