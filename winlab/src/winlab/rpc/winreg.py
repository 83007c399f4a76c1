"""\\PIPE\\winreg (MS-RRP) on the host model's registry, and the remote shutdown of MS-RSP that it
carries (BaseInitiateSystemShutdown and its Ex form, BaseAbortSystemShutdown): a restart makes the
host unreachable for restart_seconds and re-reads the EXIFS drive letter at boot, as win_reboot does.

Samba's parser is strict where Windows' own clients are not: counted strings keep Length,
MaximumLength and the conformant counts consistent, and an empty class name is a NULL pointer."""

import struct

from impacket.dcerpc.v5 import dtypes, rrp
from impacket.dcerpc.v5.dtypes import NULL
from impacket.dcerpc.v5.ndr import NDRCALL

from .. import filetimes
from . import winreg_wire as wire
from .engine import Interface

ERROR_FILE_NOT_FOUND, ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER = 2, 5, 6, 87
ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS = 234, 259
ERROR_SHUTDOWN_IN_PROGRESS, ERROR_NO_SHUTDOWN_IN_PROGRESS = 1115, 1116
REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_MULTI_SZ = 1, 2, 4, 7
KEY_WOW64_64KEY, KEY_WOW64_32KEY = 0x0100, 0x0200


class BaseInitiateSystemShutdown(NDRCALL):
    opnum = 24
    structure = (("ServerName", rrp.PREGISTRY_SERVER_NAME), ("lpMessage", rrp.PRRP_UNICODE_STRING),
                 ("dwTimeout", dtypes.DWORD), ("bForceAppsClosed", dtypes.BOOLEAN),
                 ("bRebootAfterShutdown", dtypes.BOOLEAN))


class BaseInitiateSystemShutdownEx(NDRCALL):
    opnum = 30
    structure = BaseInitiateSystemShutdown.structure + (("dwReason", dtypes.DWORD),)


class BaseAbortSystemShutdown(NDRCALL):
    opnum = 25
    structure = (("ServerName", rrp.PREGISTRY_SERVER_NAME),)


class BaseInitiateSystemShutdownResponse(NDRCALL):
    structure = (("ErrorCode", dtypes.ULONG),)


class BaseInitiateSystemShutdownExResponse(BaseInitiateSystemShutdownResponse):
    pass


class BaseAbortSystemShutdownResponse(BaseInitiateSystemShutdownResponse):
    pass


def _typed(value):
    """The registry type and bytes of a model value (str, int or list of str)."""
    if isinstance(value, bool) or isinstance(value, int):
        return REG_DWORD, struct.pack("<L", value & 0xFFFFFFFF)
    if isinstance(value, list):
        return REG_MULTI_SZ, "".join(str(v) + "\x00" for v in value).encode("utf-16le") + b"\x00\x00"
    return REG_SZ, (str(value) + "\x00").encode("utf-16le")


def _untyped(kind: int, data: bytes):
    if kind in (REG_SZ, REG_EXPAND_SZ):
        return data.decode("utf-16le", "replace").split("\x00", 1)[0]
    if kind == REG_DWORD and len(data) >= 4:
        return struct.unpack("<L", data[:4])[0]
    if kind == REG_MULTI_SZ:
        return [p for p in data.decode("utf-16le", "replace").split("\x00") if p]
    return None


def _set_hkey(field, handle: bytes) -> None:
    # RPC_HKEY is a struct (attributes + uuid), not a 20-byte blob like the other handles
    field["context_handle_attributes"] = struct.unpack("<L", handle[:4])[0]
    field["context_handle_uuid"] = handle[4:]


def _key(pipe, request, name="hKey"):
    return pipe.handles.get(request[name].getData())


def _join(parent: str, sub: str) -> str:
    sub = sub.rstrip("\x00").strip("\\")
    return parent + ("\\" + sub if sub else "")


class Registry:
    """Key existence and enumeration over the model's flat {path: {value: data}}."""

    def __init__(self, host):
        self.host = host

    def exists(self, path: str) -> bool:
        lowered = path.lower()
        return path.upper() == "HKLM" or any(k.lower() == lowered or k.lower().startswith(lowered + "\\")
                                            for k in self.host.state["registry"])

    def subkeys(self, path: str) -> list[str]:
        prefix, names = path.lower() + "\\", {}
        for key in self.host.state["registry"]:
            if key.lower().startswith(prefix):
                head = key[len(prefix):].split("\\", 1)[0]
                names.setdefault(head.lower(), head)
        return sorted(names.values(), key=str.lower)

    def values(self, path: str) -> dict:
        key = self.host._key(path)
        return dict(self.host.state["registry"][key]) if key else {}


def _open_hklm(pipe, stub):
    rrp.OpenLocalMachine(stub)
    response = rrp.OpenLocalMachineResponse()
    _set_hkey(response["phKey"], pipe.new_handle("HKLM"))
    response["ErrorCode"] = 0
    return response


def _view(pipe, access: int, path: str) -> str | None:
    """KEY_WOW64_32KEY in samDesired: the 32-bit programs' view (WOW6432Node on 64-bit Windows).
    Windows 2000 and NT 4.0 predate WOW64: the bit is an access right no key grants, so the open is denied
    (None); Windows Server 2003 (x86) ignores it."""
    if not access & (KEY_WOW64_32KEY | KEY_WOW64_64KEY):
        return path
    if pipe.site.host.state.get("os") in ("windowsnt4", "windows2000"):
        return None
    return pipe.site.host.view32(path) if access & KEY_WOW64_32KEY else path


def _open_key(pipe, stub):
    request = wire.open_key_request(stub)
    parent = pipe.handles.get(request["handle"])
    path = _join(parent, request["subkey"]) if parent else None
    viewed = _view(pipe, request["access"], path) if path else None
    with pipe.site.lock:
        found = viewed is not None and Registry(pipe.site.host).exists(viewed)
    error = 0 if found else (ERROR_INVALID_HANDLE if not parent else ERROR_ACCESS_DENIED
                             if viewed is None else ERROR_FILE_NOT_FOUND)
    return wire.open_key_answer(pipe.new_handle(viewed) if found else b"\x00" * 20, error)


def _create_key(pipe, stub):
    request = rrp.BaseRegCreateKey(stub)
    response = rrp.BaseRegCreateKeyResponse()
    parent = _key(pipe, request)
    if parent is None:
        _set_hkey(response["phkResult"], b"\x00" * 20)
        response["lpdwDisposition"], response["ErrorCode"] = NULL, ERROR_INVALID_HANDLE
        return response
    path = _view(pipe, request["samDesired"], _join(parent, request["lpSubKey"]))
    if path is None:
        _set_hkey(response["phkResult"], b"\x00" * 20)
        response["lpdwDisposition"], response["ErrorCode"] = NULL, ERROR_ACCESS_DENIED
        return response
    with pipe.site.lock:
        existed = Registry(pipe.site.host).exists(path)
        if not existed:
            pipe.site.host.state["registry"][path] = {}
            pipe.site.host._reg_touch(path)
            pipe.site.save()
    _set_hkey(response["phkResult"], pipe.new_handle(path))
    response["lpdwDisposition"] = 2 if existed else 1  # REG_OPENED_EXISTING_KEY / REG_CREATED_NEW_KEY
    response["ErrorCode"] = 0
    return response


def _delete_key(pipe, stub):
    request = rrp.BaseRegDeleteKey(stub)
    response = rrp.BaseRegDeleteKeyResponse()
    parent = _key(pipe, request)
    path = _join(parent, request["lpSubKey"]) if parent else None
    with pipe.site.lock:
        registry = Registry(pipe.site.host)
        if path is None or not registry.exists(path):
            response["ErrorCode"] = ERROR_FILE_NOT_FOUND if parent else ERROR_INVALID_HANDLE
        elif registry.subkeys(path):
            response["ErrorCode"] = ERROR_ACCESS_DENIED  # RegDeleteKey never deletes a key with subkeys
        else:
            pipe.site.host.state["registry"].pop(pipe.site.host._key(path) or path, None)
            pipe.site.save()
            response["ErrorCode"] = 0
    return response


def _query_info(pipe, stub):
    request = rrp.BaseRegQueryInfoKey(stub)
    response = rrp.BaseRegQueryInfoKeyResponse()
    path = _key(pipe, request)
    with pipe.site.lock:
        registry = Registry(pipe.site.host)
        subkeys, values = registry.subkeys(path or ""), registry.values(path or "")
    response.fields["lpClassOut"]["Data"] = NULL  # never '' (Samba: "Pull bytes 4294967294")
    response["lpcSubKeys"], response["lpcbMaxSubKeyLen"] = len(subkeys), 2 * max([len(k) for k in subkeys] or [0])
    response["lpcbMaxClassLen"], response["lpcValues"] = 0, len(values)
    response["lpcbMaxValueNameLen"] = 2 * max([len(k) for k in values] or [0])
    response["lpcbMaxValueLen"] = max([len(_typed(v)[1]) for v in values.values()] or [0])
    response["lpcbSecurityDescriptor"] = 0
    _set_time(response["lpftLastWriteTime"], pipe.site.host.reg_written(path) if path else None)
    response["ErrorCode"] = 0 if path else ERROR_INVALID_HANDLE
    return response


def _enum_key(pipe, stub):
    request = rrp.BaseRegEnumKey(stub)
    response = rrp.BaseRegEnumKeyResponse()
    with pipe.site.lock:
        names = Registry(pipe.site.host).subkeys(_key(pipe, request) or "")
    index = request["dwIndex"]
    room = request.fields["lpNameIn"].fields["MaximumLength"]
    if index >= len(names) or 2 * (len(names[index]) + 1) > room:
        response["lpNameOut"] = "\x00"
        response["lplpClassOut"], response["lpftLastWriteTime"] = NULL, NULL
        response["ErrorCode"] = ERROR_NO_MORE_ITEMS if index >= len(names) else ERROR_MORE_DATA
        return response
    response["lpNameOut"] = names[index] + "\x00"
    response["lplpClassOut"] = NULL if request.fields["lpClassIn"].fields["ReferentID"] == 0 else ""
    if request.fields["lpftLastWriteTime"].fields["ReferentID"] == 0:
        response["lpftLastWriteTime"] = NULL
    else:
        _set_time(response["lpftLastWriteTime"], pipe.site.host.reg_written(_join(_key(pipe, request), names[index])))
    response["ErrorCode"] = 0
    return response


def _set_time(field, epoch: float | None) -> None:
    """A key's LastWriteTime as the FILETIME (UTC) RegQueryInfoKey and RegEnumKeyEx return; 0 for none."""
    ticks = filetimes.from_epoch(epoch) if epoch else 0
    field["dwLowDateTime"], field["dwHighDateTime"] = ticks & 0xFFFFFFFF, ticks >> 32


def _data_reply(response, request, kind: int, data: bytes) -> None:
    """Two-pass value reads: no buffer -> the size; a small buffer -> ERROR_MORE_DATA; else the bytes."""
    response["lpType"] = kind
    asked = request["lpcbData"] if request.fields["lpcbData"].fields["ReferentID"] else 0
    if request.fields["lpData"].fields["ReferentID"] == 0:
        response["lpData"], response["ErrorCode"] = NULL, 0
    elif asked < len(data):
        response["lpData"], response["ErrorCode"] = NULL, ERROR_MORE_DATA
    else:
        response["lpData"], response["ErrorCode"] = list(data), 0
    response["lpcbData"] = response["lpcbLen"] = len(data)


def _none(response, error: int):
    for field in ("lpType", "lpData", "lpcbData", "lpcbLen"):
        response[field] = NULL
    response["ErrorCode"] = error
    return response


def _enum_value(pipe, stub):
    request = rrp.BaseRegEnumValue(stub)
    response = rrp.BaseRegEnumValueResponse()
    with pipe.site.lock:
        values = sorted(Registry(pipe.site.host).values(_key(pipe, request) or "").items(), key=lambda kv: kv[0].lower())
    index = request["dwIndex"]
    if index >= len(values):
        response["lpValueNameOut"] = "\x00"
        return _none(response, ERROR_NO_MORE_ITEMS)
    name, value = values[index]
    response["lpValueNameOut"] = name + "\x00"
    _data_reply(response, request, *_typed(value))
    return response


def _query_value(pipe, stub):
    """Two-pass value reads, as _data_reply: no buffer -> the size; a small buffer -> ERROR_MORE_DATA."""
    request = wire.query_value_request(stub)
    name = request["name"].rstrip("\x00").lower()
    with pipe.site.lock:
        values = Registry(pipe.site.host).values(pipe.handles.get(request["handle"]) or "")
    found = next((k for k in values if k.lower() == name), None)
    if found is None:
        return wire.query_value_answer(None, None, None, ERROR_FILE_NOT_FOUND)
    kind, data = _typed(values[found])
    if not request["has_data"]:
        return wire.query_value_answer(kind, None, len(data), 0)
    if request["asked"] < len(data):
        return wire.query_value_answer(kind, None, len(data), ERROR_MORE_DATA)
    return wire.query_value_answer(kind, data, len(data), 0)


def _set_value(pipe, stub):
    request = rrp.BaseRegSetValue(stub)
    response = rrp.BaseRegSetValueResponse()
    path = _key(pipe, request)
    value = _untyped(request["dwType"], b"".join(request["lpData"])[:request["cbData"]])
    if path is None or value is None:
        response["ErrorCode"] = ERROR_INVALID_HANDLE if path is None else ERROR_INVALID_PARAMETER
        return response
    with pipe.site.lock:
        pipe.site.host.reg_set(path, request["lpValueName"].rstrip("\x00"), value)
        pipe.site.save()
    response["ErrorCode"] = 0
    return response


def _delete_value(pipe, stub):
    request = rrp.BaseRegDeleteValue(stub)
    response = rrp.BaseRegDeleteValueResponse()
    path, name = _key(pipe, request), request["lpValueName"].rstrip("\x00")
    with pipe.site.lock:
        host = pipe.site.host
        if path is None or not host.reg_has(path, name):
            response["ErrorCode"] = ERROR_FILE_NOT_FOUND if path else ERROR_INVALID_HANDLE
        else:
            host.reg_delete(path, name)
            pipe.site.save()
            response["ErrorCode"] = 0
    return response


def _query_multiple(pipe, stub):
    """BaseRegQueryMultipleValues (MS-RRP 3.1.5.26): each value's type, size and offset in one buffer. A
    buffer too small gets ERROR_MORE_DATA and the size needed; a value that does not exist fails the whole
    call with ERROR_FILE_NOT_FOUND, as NtQueryMultipleValueKey does (assumed for Windows 2000)."""
    request = wire.query_multiple_request(stub)
    path = pipe.handles.get(request["handle"])
    with pipe.site.lock:
        values = {k.lower(): v for k, v in Registry(pipe.site.host).values(path or "").items()}
    buffer, error, entries = b"", 0, []
    for dummy, name in request["names"]:
        name = (name or "").rstrip("\x00").lower()
        if name not in values:
            error = error or ERROR_FILE_NOT_FOUND
            entries.append((0, 0, 0))
        else:
            kind, data = _typed(values[name])
            entries.append((len(data), len(buffer), kind))
            buffer += data
    if path is None:
        error = ERROR_INVALID_HANDLE
    elif not error and request["room"] < len(buffer):
        error = ERROR_MORE_DATA
    return wire.query_multiple_answer(request["names"], entries, buffer if not error else None, len(buffer), error)


def _close(pipe, stub):
    request = rrp.BaseRegCloseKey(stub)
    pipe.handles.pop(request["hKey"].getData(), None)
    response = rrp.BaseRegCloseKeyResponse()
    _set_hkey(response["hKey"], b"\x00" * 20)
    response["ErrorCode"] = 0
    return response


def _version(pipe, stub):
    response = rrp.BaseRegGetVersionResponse()
    response["lpdwVersion"], response["ErrorCode"] = 5, 0
    return response


def _shutdown(request_class):
    def handle(pipe, stub):
        request = request_class(stub)
        response = BaseInitiateSystemShutdownResponse()
        with pipe.site.lock:
            host = pipe.site.host
            if host.state.get("restart_at") is not None:
                response["ErrorCode"] = ERROR_SHUTDOWN_IN_PROGRESS
            else:
                host.schedule_restart(request["dwTimeout"] + 1.0, power_off=not request["bRebootAfterShutdown"])
                response["ErrorCode"] = 0
            pipe.site.save()
        return response
    return handle


def _abort(pipe, stub):
    BaseAbortSystemShutdown(stub)
    response = BaseAbortSystemShutdownResponse()
    with pipe.site.lock:
        host = pipe.site.host
        response["ErrorCode"] = 0 if host.state.get("restart_at") is not None else ERROR_NO_SHUTDOWN_IN_PROGRESS
        host.state["restart_at"] = None
        pipe.site.save()
    return response


WINREG = Interface("winreg", ("338CD001-2244-31F1-AAAA-900038001003", "1.0"), {
    2: _open_hklm, 5: _close, 6: _create_key, 7: _delete_key, 8: _delete_value, 9: _enum_key, 10: _enum_value,
    15: _open_key, 16: _query_info, 17: _query_value, 22: _set_value, 24: _shutdown(BaseInitiateSystemShutdown),
    29: _query_multiple,
    25: _abort, 26: _version, 30: _shutdown(BaseInitiateSystemShutdownEx),
})
