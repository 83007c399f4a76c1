"""The remote registry (MS-RRP, \\PIPE\\winreg) of one host, and its remote shutdown.

Values come back as PowerShell's RegistryKey.GetValue gives them to the probe: REG_SZ and
REG_EXPAND_SZ as text (not expanded), REG_DWORD as a signed 32-bit number, REG_MULTI_SZ as a
list. Keys of 32-bit programs on 64-bit Windows are in the 32-bit view (WOW6432Node): a key
missing from the native view is looked for there too (KEY_WOW64_32KEY, which Windows 2000 does
not know, so it is never asked first).
"""

from __future__ import annotations

import datetime
import struct

from . import rrp_wire
from .client import SmbError, Unreachable, rpc_code

MAXIMUM_ALLOWED, KEY_WOW64_32KEY = 0x02000000, 0x0200
REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ = 1, 2, 3, 4, 7
ERROR_FILE_NOT_FOUND, ERROR_ACCESS_DENIED, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS = 2, 5, 234, 259
RPC_X_BAD_STUB_DATA, NCA_OP_RNG_ERROR = 0x6F7, 0x1C010002
SHUTDOWN_NOT_IN_PROGRESS = 1116
MAX_VALUE_BYTES = 2 * (4096 + 1)  # 4,096 characters and the NUL (classification.VALUE_CHARACTERS)
FILETIME_EPOCH = 116444736000000000  # 1601-01-01 to 1970-01-01 in 100 ns ticks


def _fault(error) -> bool:
    """A DCE/RPC fault (the server could not take the call), not a result of the call."""
    return "rpc_x_bad_stub_data" in str(error).lower() or "nca_s_" in str(error).lower()


def decode(kind: int, data: bytes):
    """As PowerShell's GetValue gives it (the probe's JSON has the same forms over both transports): text,
    a signed number, a list of texts (REG_MULTI_SZ) or a list of byte values (REG_BINARY and the rest)."""
    if kind in (REG_SZ, REG_EXPAND_SZ):
        return data.decode("utf-16le", "replace").split("\x00", 1)[0]
    if kind == REG_DWORD and len(data) >= 4:
        return struct.unpack("<l", data[:4])[0]
    if kind == REG_MULTI_SZ:
        return [part for part in data.decode("utf-16le", "replace").split("\x00") if part]
    return list(bytes(data))


def impacket_handle(handle):
    """impacket's RPC_HKEY for a handle kept as its 20 bytes (rrp_wire), for the calls impacket still packs."""
    from impacket.dcerpc.v5 import rrp

    if not isinstance(handle, bytes):
        return handle
    key = rrp.RPC_HKEY()  # RPC_HKEY(bytes) reads only its first field
    key["context_handle_attributes"] = struct.unpack_from("<L", handle)[0]
    key["context_handle_uuid"] = handle[4:]
    return key


def _refused(code: int):
    """impacket's error for a call's Win32 error, so that messages read as they always have."""
    from impacket.dcerpc.v5 import rrp

    return rrp.DCERPCSessionError(error_code=code)


def _time(ticks: int) -> str | None:
    """A FILETIME as the probe's ISO 8601 UTC text; None for 0 (no time) or one before 1970."""
    if ticks <= FILETIME_EPOCH:
        return None
    when = datetime.datetime.fromtimestamp((ticks - FILETIME_EPOCH) / 10_000_000, tz=datetime.timezone.utc)
    return when.isoformat(timespec="seconds")


class Registry:
    def __init__(self, client):
        self.client = client
        self._root = None
        # Whether the host may have a 32-bit registry view (64-bit Windows: XP x64 / 2003 and later). The probe
        # sets False for Windows NT 4.0 and 2000, so a key missing there is not asked for a second time.
        self.wow64 = True
        self._read: dict = {}  # keys opened to be read, kept for the session; any write forgets them

    def _reader(self, subkey: str, software: bool):
        key = (subkey.lower(), software)
        if key not in self._read:
            self._read[key] = self.open_software(subkey) if software else self.open(subkey)
        return self._read[key]

    @property
    def dce(self):
        from impacket.dcerpc.v5 import rrp

        return self.client.pipe("winreg", rrp.MSRPC_UUID_RRP)

    def _call(self, opnum: int, stub: bytes) -> bytes:
        """One call packed by rrp_wire: its answer's stub (a fault raises impacket's DCERPCException)."""
        dce = self.dce
        dce.call(opnum, stub)
        return dce.recv()

    def _hklm(self) -> bytes:
        from impacket.dcerpc.v5 import rrp

        if self._root is None:
            try:
                self._root = rrp.hOpenLocalMachine(self.dce, MAXIMUM_ALLOWED)["phKey"].getData()
            except Exception as error:  # noqa: BLE001
                raise self.client.rpc_failure(f"the remote registry of {self.client.host} refused HKLM",
                                              error) from None
        return self._root

    def open(self, subkey: str, wow32: bool = False):
        """A handle to HKLM\\subkey (its 20 bytes), or None when the key does not exist."""
        access = MAXIMUM_ALLOWED | (KEY_WOW64_32KEY if wow32 else 0)
        root = self._hklm()
        try:
            handle, code = rrp_wire.open_key_answer(self._call(rrp_wire.OPEN_KEY, rrp_wire.open_key(root, subkey, access)))
        except Exception as error:  # noqa: BLE001
            raise self.client.rpc_failure(f"registry HKLM\\{subkey}", error) from None
        if not code:
            return handle
        if code == ERROR_FILE_NOT_FOUND or (wow32 and code == ERROR_ACCESS_DENIED):
            return None
        raise self.client.rpc_failure(f"registry HKLM\\{subkey}", _refused(code))

    def open_software(self, subkey: str):
        """A 32-bit program's SOFTWARE key: the native view, then (on 64-bit Windows) the 32-bit view."""
        return self.open(subkey) or (self.open(subkey, wow32=True) if self.wow64 else None)

    def close(self, handle) -> None:
        from impacket.dcerpc.v5 import rrp

        if handle is not None:
            try:
                rrp.hBaseRegCloseKey(self.dce, impacket_handle(handle))
            except Exception:  # noqa: BLE001 - closing a handle never decides anything
                pass

    def value(self, handle, name: str, size: int = 128) -> tuple[bool, object]:
        """(present, value) of one value of an open key; an empty string and an absent value differ."""
        if handle is None:
            return False, None
        for attempt in range(2):
            try:
                answer = rrp_wire.query_value_answer(
                    self._call(rrp_wire.QUERY_VALUE, rrp_wire.query_value(handle, name, size)))
            except Exception as error:  # noqa: BLE001
                raise self.client.rpc_failure(f"registry value {name}", error) from None
            code = answer["error"]
            if not code:
                return True, decode(answer["type"], answer["data"] or b"")
            if code == ERROR_FILE_NOT_FOUND:
                return False, None
            if code == ERROR_MORE_DATA and attempt == 0 and answer["size"] is not None:
                size = answer["size"]
                if size > MAX_VALUE_BYTES:  # never fetched: a megabyte of text is no setting SMS or EXIFS has
                    raise SmbError(f"registry value {name}: {size} bytes, more than the {MAX_VALUE_BYTES} any "
                                   "value the collection reads holds")
                continue
            raise self.client.rpc_failure(f"registry value {name}", _refused(code))
        raise SmbError(f"registry value {name}: it kept growing while it was read")

    def values(self, subkey: str, names, software: bool = False) -> dict:
        """{name: (present, value)} of one key, opened once; all absent when the key is. A key opened only to be
        read is not closed: the session's end closes it, and a close would cost a request."""
        handle = self._reader(subkey, software)
        found = self.many(handle, list(names)) if handle is not None else None
        return found if found is not None else {name: self.value(handle, name) for name in names}

    def many(self, handle, names: list[str]) -> dict | None:
        """{name: (True, value)} of several values in one BaseRegQueryMultipleValues (MS-RRP 3.1.5.26), or None
        when they must be asked one by one: one of them is missing (the call then fails as a whole), the
        values are larger than the collection reads, or the server does not take the call."""
        if len(names) < 2:
            return None
        size = 1024
        for dummy in range(2):
            try:
                answer = rrp_wire.query_multiple_answer(
                    self._call(rrp_wire.QUERY_MULTIPLE_VALUES, rrp_wire.query_multiple(handle, names, size)))
            except Exception as error:  # noqa: BLE001 - a fault: ask one by one, unless the connection is gone
                if isinstance(self.client.rpc_failure("registry values", error), Unreachable):
                    raise self.client.rpc_failure("registry values", error) from None
                return None
            if answer["error"] == ERROR_MORE_DATA and answer["total"] <= len(names) * MAX_VALUE_BYTES:
                size = answer["total"]
                continue
            if answer["error"] or answer["buffer"] is None or len(answer["entries"]) != len(names):
                return None
            data = answer["buffer"]
            return {name: (True, decode(kind, data[offset:offset + length]))
                    for name, (length, offset, kind) in zip(names, answer["entries"])}
        return None

    def written(self, subkey: str) -> str | None:
        """The key's LastWriteTime (None where the key is missing or the server gives none)."""
        handle = self._reader(subkey, False)
        return self._written(handle) if handle is not None else None

    def exists(self, subkey: str, software: bool = False) -> bool:
        return self._reader(subkey, software) is not None

    def _written(self, handle) -> str | None:
        """The key's LastWriteTime, or None where it cannot be had (the values read stand either way)."""
        try:
            return self.info(handle)["written"]
        except Unreachable:
            raise
        except SmbError:
            return None

    def counts(self, handle) -> tuple[int, int]:
        """(sub keys, values) of an open key."""
        info = self.info(handle)
        return info["subkeys"], info["values"]

    def info(self, handle) -> dict:
        """{subkeys, values, written} of an open key, by BaseRegQueryInfoKey with an empty class name that
        has its NUL (Samba refuses impacket's zero-length one as bad stub data); `written` is the key's
        LastWriteTime (UTC), None where the server gives 0. A server that still refuses the call is asked
        by enumeration instead: index 0 of each, where ERROR_NO_MORE_ITEMS means none."""
        from impacket.dcerpc.v5 import rrp

        request = rrp.BaseRegQueryInfoKey()
        request["hKey"], request["lpClassIn"] = impacket_handle(handle), "\x00"
        request.fields["lpClassIn"].fields["MaximumLength"] = 1024
        request.fields["lpClassIn"].fields["Data"].fields["Data"].fields["MaximumCount"] = 512
        try:
            info = self.dce.request(request)
            ticks = (info["lpftLastWriteTime"]["dwHighDateTime"] << 32) | info["lpftLastWriteTime"]["dwLowDateTime"]
            return {"subkeys": info["lpcSubKeys"], "values": info["lpcValues"], "written": _time(ticks)}
        except Exception as error:  # noqa: BLE001 - a fault or an error code: ask the other way
            if rpc_code(error) not in (RPC_X_BAD_STUB_DATA, NCA_OP_RNG_ERROR) and not _fault(error):
                raise self.client.rpc_failure("registry key information", error) from None
        return {"subkeys": self._any(rrp.hBaseRegEnumKey, handle), "values": self._any(rrp.hBaseRegEnumValue, handle),
                "written": None}

    def _any(self, enumerate_at, handle) -> int:
        """1 when the key has an item at index 0, 0 when it has none."""
        try:
            enumerate_at(self.dce, impacket_handle(handle), 0)
            return 1
        except Exception as error:  # noqa: BLE001
            if rpc_code(error) == ERROR_NO_MORE_ITEMS:
                return 0
            raise self.client.rpc_failure("registry enumeration", error) from None

    def set_string(self, subkey: str, name: str, value: str) -> None:
        """Write a REG_SZ value, creating the key when it is missing."""
        self._read.clear()
        from impacket.dcerpc.v5 import rrp

        try:
            handle = rrp.hBaseRegCreateKey(self.dce, impacket_handle(self._hklm()), subkey, samDesired=MAXIMUM_ALLOWED)["phkResult"]
        except Exception as error:  # noqa: BLE001
            raise self.client.rpc_failure(f"registry HKLM\\{subkey}", error) from None
        try:
            rrp.hBaseRegSetValue(self.dce, handle, name, REG_SZ, value + "\x00")
        except Exception as error:  # noqa: BLE001
            raise self.client.rpc_failure(f"registry HKLM\\{subkey}\\{name}", error) from None
        finally:
            self.close(handle)

    def delete_value(self, subkey: str, name: str) -> bool:
        """Delete one value; False when it (or its key) was not there."""
        self._read.clear()
        from impacket.dcerpc.v5 import rrp

        handle = self.open(subkey)
        if handle is None:
            return False
        try:
            rrp.hBaseRegDeleteValue(self.dce, impacket_handle(handle), name)
            return True
        except Exception as error:  # noqa: BLE001
            if rpc_code(error) == ERROR_FILE_NOT_FOUND:
                return False
            raise self.client.rpc_failure(f"registry HKLM\\{subkey}\\{name}", error) from None
        finally:
            self.close(handle)

    def delete_key(self, subkey: str) -> None:
        self._read.clear()
        from impacket.dcerpc.v5 import rrp

        parent, dummy, leaf = subkey.rpartition("\\")
        handle = self.open(parent)
        try:
            rrp.hBaseRegDeleteKey(self.dce, impacket_handle(handle), leaf)
        except Exception as error:  # noqa: BLE001
            if rpc_code(error) != ERROR_FILE_NOT_FOUND:
                raise self.client.rpc_failure(f"registry HKLM\\{subkey}", error) from None
        finally:
            self.close(handle)

    def shutdown(self, message: str, timeout: int, reboot: bool = True) -> None:
        """BaseInitiateSystemShutdown (opnum 24, which Windows 2000 has; the Ex form came with XP):
        applications are closed, the host restarts after timeout seconds."""
        from impacket.dcerpc.v5 import rrp

        from . import ndr

        request = ndr.shutdown_request()
        request["ServerName"] = rrp.NULL
        request.fields["lpMessage"].fields["Data"]["Data"] = message  # shown to whoever is logged on
        request["dwTimeout"], request["bForceAppsClosed"], request["bRebootAfterShutdown"] = timeout, 1, int(reboot)
        try:
            self.dce.request(request)
        except Exception as error:  # noqa: BLE001
            raise self.client.rpc_failure(f"the remote shutdown of {self.client.host} was refused", error) from None
