"""SMB 2.002 commands for the disk shares and named pipes of hosts whose OS offers SMB2
(`os: windows2016`). Same rules as SMB1 (disk.py, the RPC engine); only the framing differs."""

from __future__ import annotations

import functools
import logging
import struct

from impacket import smb3structs as smb2
from impacket import uuid as iuuid
from impacket.nt_errors import STATUS_ACCESS_DENIED, STATUS_BUFFER_OVERFLOW, STATUS_INVALID_HANDLE, \
    STATUS_BUFFER_TOO_SMALL, STATUS_NO_SUCH_FILE, STATUS_NOT_SUPPORTED, STATUS_OBJECT_NAME_NOT_FOUND, \
    STATUS_SUCCESS

from . import info
from .smb1 import DISK, PIPE, STATUS_INTERNAL_ERROR, STATUS_NO_MORE_FILES, STATUS_PIPE_EMPTY, pipe_name

log = logging.getLogger(__name__)
STATUS_END_OF_FILE = 0xC0000011
STATUS_INFO_LENGTH_MISMATCH = 0xC0000004
STATUS_INVALID_DEVICE_REQUEST = 0xC0000010
RESTART_SCANS, REOPEN = 0x01, 0x10


def guarded(handler):
    @functools.wraps(handler)
    def run(conn_id, server, *args):
        try:
            return handler(conn_id, server, *args)
        except Exception:  # noqa: BLE001 - a reply, never a dropped connection
            log.exception("%s: SMB2 %s failed", server.site.computer_name, handler.__name__)
            return [smb2.SMB2Error()], None, STATUS_INTERNAL_ERROR
    return run


def _fail(status: int):
    return [smb2.SMB2Error()], None, status


def _fid(conn, request) -> bytes:
    fid = request["FileID"].getData()
    if fid == b"\xff" * 16 and "SMB2_CREATE" in conn["LastRequest"]:  # a compound: the CREATE before it
        fid = conn["LastRequest"]["SMB2_CREATE"]["FileID"]
    return fid


def _entry(conn, fid, kind):
    entry = conn["OpenedFiles"].get(fid)
    return entry if entry is not None and entry.get("FileHandle") == kind else None


def _share(server, conn, packet):
    share = conn["ConnectedShares"].get(packet["TreeID"])
    if share is None:
        return None, None
    name = share["shareName"].upper()
    return ("ipc", None) if name == "IPC$" else ("disk", server.site.disk_share(name))


@guarded
def create(conn_id, server, packet):
    conn = server.getConnectionData(conn_id)
    request = smb2.SMB2Create(packet["Data"])
    name = request["Buffer"][:request["NameLength"]].decode("utf-16le")
    kind, share = _share(server, conn, packet)
    reply = smb2.SMB2Create_Response()
    fid = iuuid.generate()
    if kind == "ipc":
        pipe = server.site.open_pipe(pipe_name(name))
        if pipe is None:
            return _fail(STATUS_OBJECT_NAME_NOT_FOUND)
        conn["OpenedFiles"][fid] = {"FileHandle": PIPE, "FileName": name, "DeleteOnClose": False, "Pipe": pipe,
                                    "Open": {"EnumerationLocation": 0, "EnumerationSearchPattern": ""}}
        reply["CreateAction"], reply["FileAttributes"], reply["AllocationSize"] = 1, 0x80, 4096
    elif share is None:
        return _fail(STATUS_ACCESS_DENIED)
    else:
        # SMB2 opens take part in share access like SMB1's; no SMB2 oplock is granted (a server may grant
        # less than asked, and the collection's clients ask for none).
        status, handle, action = share.open(name, request["DesiredAccess"], request["CreateDisposition"],
                                            request["CreateOptions"], share=request["ShareAccess"],
                                            attributes=request["FileAttributes"], owner=f"{conn_id}/{conn.get('Uid')}")
        if status:
            return _fail(status)
        conn["OpenedFiles"][fid] = {"FileHandle": DISK, "FileName": handle.path, "DeleteOnClose": False,
                                    "Handle": handle, "Share": share,
                                    "Open": {"EnumerationLocation": 0, "EnumerationSearchPattern": ""}}
        reply["CreateAction"], reply["FileAttributes"] = action, handle.node.attributes
        reply["CreationTime"], reply["LastAccessTime"], reply["LastWriteTime"], reply["ChangeTime"] = \
            info.times(handle.node, server.site.boot_time)
        reply["AllocationSize"] = reply["EndOfFile"] = 0 if handle.node.is_dir else handle.node.size
    reply["FileID"], reply["Buffer"] = fid, b"\x00"
    conn["LastRequest"]["SMB2_CREATE"] = reply
    return [reply], None, STATUS_SUCCESS


@guarded
def read(conn_id, server, packet):
    conn = server.getConnectionData(conn_id)
    request = smb2.SMB2Read(packet["Data"])
    fid = _fid(conn, request)
    reply = smb2.SMB2Read_Response()
    reply["DataOffset"] = 0x50
    pipe = _entry(conn, fid, PIPE)
    if pipe is not None:
        data, more = pipe["Pipe"].read(request["Length"])
        if not data:
            return _fail(STATUS_PIPE_EMPTY)
        reply["DataLength"], reply["Buffer"] = len(data), data
        return [reply], None, STATUS_BUFFER_OVERFLOW if more else STATUS_SUCCESS
    disk = _entry(conn, fid, DISK)
    if disk is None:
        return _fail(STATUS_INVALID_HANDLE)
    data = disk["Share"].read(disk["Handle"], request["Offset"], request["Length"])
    if not data and request["Length"]:
        return _fail(STATUS_END_OF_FILE)
    reply["DataLength"], reply["Buffer"] = len(data), data
    return [reply], None, STATUS_SUCCESS


@guarded
def write(conn_id, server, packet):
    conn = server.getConnectionData(conn_id)
    request = smb2.SMB2Write(packet["Data"])
    fid = _fid(conn, request)
    pipe, disk = _entry(conn, fid, PIPE), _entry(conn, fid, DISK)
    data = request["Buffer"]
    if pipe is not None:
        pipe["Pipe"].write(data)
    elif disk is not None:
        data = data[:server.site.write_limit(len(data))]
        status = disk["Share"].write(disk["Handle"], request["Offset"], data)
        if status:
            return _fail(status)
    else:
        return _fail(STATUS_INVALID_HANDLE)
    reply = smb2.SMB2Write_Response()
    reply["Count"] = len(data)
    return [reply], None, STATUS_SUCCESS


@guarded
def close(conn_id, server, packet):
    conn = server.getConnectionData(conn_id)
    request = smb2.SMB2Close(packet["Data"])
    entry = conn["OpenedFiles"].pop(_fid(conn, request), None)
    if entry is None or entry.get("FileHandle") not in (PIPE, DISK):
        return _fail(STATUS_INVALID_HANDLE)
    status = entry["Share"].close(entry["Handle"]) if entry["FileHandle"] == DISK else STATUS_SUCCESS
    return _fail(status) if status else ([smb2.SMB2Close_Response()], None, STATUS_SUCCESS)


@guarded
def flush(conn_id, server, packet):
    return [smb2.SMB2Flush_Response()], None, STATUS_SUCCESS


def _file_class(node, klass: int, when: tuple) -> bytes | None:
    encoders = {4: lambda: info.basic(node, when), 5: lambda: info.standard(node), 18: lambda: info.smb2_all(node, when),
                21: lambda: info.short_name(node), 22: lambda: info.stream(node) if not node.is_dir else b"",
                34: lambda: struct.pack("<qqqqqqLL", *when, *_sizes(node), node.attributes, 0),
                35: lambda: struct.pack("<LL", node.attributes, 0)}
    encoder = encoders.get(klass)
    return encoder() if encoder else None


def _sizes(node):
    size = 0 if node.is_dir else node.size
    return (size + 4095) // 4096 * 4096, size


@guarded
def query_info(conn_id, server, packet):
    conn = server.getConnectionData(conn_id)
    request = smb2.SMB2QueryInfo(packet["Data"])
    entry = _entry(conn, _fid(conn, request), DISK)
    if entry is None:
        return _fail(STATUS_INVALID_HANDLE if _entry(conn, _fid(conn, request), PIPE) is None else STATUS_NOT_SUPPORTED)
    node, klass = entry["Handle"].node, request["FileInfoClass"]
    if request["InfoType"] == 1:
        out = _file_class(node, klass, info.times(node, server.site.boot_time))
    elif request["InfoType"] == 2:
        size, free = entry["Share"].space()
        out = {1: lambda: info.fs_volume(entry["Share"].label, entry["Share"].serial), 3: lambda: info.fs_size(size, free),
               4: info.fs_device, 5: info.fs_attribute, 7: lambda: info.fs_full_size(size, free)}.get(klass, lambda: None)()
    elif request["InfoType"] == 3:  # SMB2_0_INFO_SECURITY: the DACL (acls.py)
        out = entry["Share"].security(entry["Handle"], request["AdditionalInformation"])
        if len(out) > request["OutputBufferLength"]:
            return _fail(STATUS_BUFFER_TOO_SMALL)
    else:
        return _fail(STATUS_NOT_SUPPORTED)
    if out is None:
        return _fail(STATUS_NOT_SUPPORTED)
    status = STATUS_SUCCESS
    if len(out) > request["OutputBufferLength"]:
        out, status = out[:request["OutputBufferLength"]], STATUS_BUFFER_OVERFLOW
    reply = smb2.SMB2QueryInfo_Response()
    reply["OutputBufferOffset"], reply["OutputBufferLength"], reply["Buffer"] = 0x48, len(out), out
    return [reply], None, status


@guarded
def set_info(conn_id, server, packet):
    conn = server.getConnectionData(conn_id)
    request = smb2.SMB2SetInfo(packet["Data"])
    entry = _entry(conn, _fid(conn, request), DISK)
    if entry is not None and request["InfoType"] == 3:  # SMB2_0_INFO_SECURITY
        status = entry["Share"].set_security(entry["Handle"], request["Buffer"], request["AdditionalInformation"])
        return _fail(status) if status else ([smb2.SMB2SetInfo_Response()], None, STATUS_SUCCESS)
    if entry is None or request["InfoType"] != 1:
        return _fail(STATUS_INVALID_HANDLE if entry is None else STATUS_NOT_SUPPORTED)
    share, handle, klass, data = entry["Share"], entry["Handle"], request["FileInfoClass"], request["Buffer"]
    if klass == 13:  # disposition
        handle.delete_on_close = bool(data[:1] and data[0])
        status = share.may_delete(handle) if handle.delete_on_close else STATUS_SUCCESS
    elif klass == 10:  # rename: the new name is relative to the share
        rename = smb2.FILE_RENAME_INFORMATION_TYPE_2(data)
        new = rename["FileName"].decode("utf-16le")
        old = handle.path[len(share.root.rstrip("\\")):]
        status = share.rename(old, new, bool(rename["ReplaceIfExists"]), handle)
        if not status:
            handle.path = share.path(new)
    elif klass in (19, 20):  # allocation, end of file
        status = share.truncate(handle, struct.unpack("<q", data[:8])[0]) if klass == 20 else STATUS_SUCCESS
    elif klass == 4:  # FileBasicInformation: times and attributes
        status = share.set_basic(handle, struct.unpack_from("<qqqq", data, 0), struct.unpack_from("<L", data, 32)[0]) \
            if len(data) >= 36 else STATUS_INFO_LENGTH_MISMATCH
    else:
        status = STATUS_NOT_SUPPORTED
    return _fail(status) if status else ([smb2.SMB2SetInfo_Response()], None, STATUS_SUCCESS)


@guarded
def query_directory(conn_id, server, packet):
    conn = server.getConnectionData(conn_id)
    request = smb2.SMB2QueryDirectory(packet["Data"])
    entry = _entry(conn, _fid(conn, request), DISK)
    if entry is None or not entry["Handle"].node.is_dir:
        return _fail(STATUS_INVALID_HANDLE)
    style = info.SMB2_FIND_CLASSES.get(request["FileInformationClass"])
    if style is None:
        return _fail(STATUS_NOT_SUPPORTED)
    handle, share = entry["Handle"], entry["Share"]
    first = handle.listing is None or request["Flags"] & (RESTART_SCANS | REOPEN)
    if first:
        pattern = request["Buffer"][:request["FileNameLength"]].decode("utf-16le") or "*"
        status, nodes = share.listing(handle.path[len(share.root.rstrip("\\")):], pattern)
        if status:
            return _fail(status)
        if not nodes:
            return _fail(STATUS_NO_SUCH_FILE)
        handle.listing, handle.listed = nodes, 0
    if not handle.listing:
        return _fail(STATUS_NO_MORE_FILES)
    out, sent, dummy = info.directory_entries(style, handle.listing, request["OutputBufferLength"], handle.listed,
                                              server.site.boot_time)
    handle.listing, handle.listed = handle.listing[sent:], handle.listed + sent
    reply = smb2.SMB2QueryDirectory_Response()
    reply["OutputBufferOffset"], reply["OutputBufferLength"], reply["Buffer"] = 0x48, len(out), out
    return [reply], None, STATUS_SUCCESS


def transceive(conn_id, server, request):
    try:
        conn = server.getConnectionData(conn_id)
        entry = _entry(conn, request["FileID"].getData(), PIPE)
        if entry is None:
            return smb2.SMB2Error(), STATUS_INVALID_DEVICE_REQUEST
        out, dummy = entry["Pipe"].transact(request["Buffer"], request["MaxOutputResponse"])
        return out, STATUS_SUCCESS
    except Exception:  # noqa: BLE001
        log.exception("%s: FSCTL_PIPE_TRANSCEIVE failed", server.site.computer_name)
        return smb2.SMB2Error(), STATUS_INTERNAL_ERROR


def install(server) -> None:
    for command, handler in ((smb2.SMB2_CREATE, create), (smb2.SMB2_READ, read), (smb2.SMB2_WRITE, write),
                             (smb2.SMB2_CLOSE, close), (smb2.SMB2_FLUSH, flush), (smb2.SMB2_QUERY_INFO, query_info),
                             (smb2.SMB2_SET_INFO, set_info), (smb2.SMB2_QUERY_DIRECTORY, query_directory)):
        server.hookSmb2Command(command, handler)
    server.hookSmb2Command(smb2.SMB2_LOCK, guarded(lambda conn_id, srv, packet: _fail(STATUS_NOT_SUPPORTED)))
    server.getIoctls()[smb2.FSCTL_PIPE_TRANSCEIVE] = transceive
