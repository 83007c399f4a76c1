"""The service control manager (MS-SCMR, \\PIPE\\svcctl) of one host, with Windows' rules.

States use .NET's names (running, stopped, stoppending, ...), as q317061_probe.ps1 reports them.
A stop is the SCM's own: refused while dependents run (1051), so callers stop dependents first,
each journaled; a service still starting accepts no stop (1061) and is waited out. Every stop and
start waits within one deadline.
"""

from __future__ import annotations

import struct
import time

from .client import SmbError, rpc_code

STATES = {1: "stopped", 2: "startpending", 3: "stoppending", 4: "running", 5: "continuepending",
          6: "pausepending", 7: "paused"}
SERVICE_ACTIVE, SERVICE_STATE_ALL = 1, 3
SERVICE_FILE_SYSTEM_DRIVER, SERVICE_WIN32 = 0x2, 0x30  # EXIFS is a file-system driver; SMS, WMI, IIS, the Store Win32
ENUM_BYTES = 4096  # one fragment; a server with more (Windows 2000: about 10 KB) is asked for the rest, sized
SERVICE_CONTROL_STOP, SERVICE_CONTROL_CONTINUE = 1, 3
ERROR_MORE_DATA, ERROR_SERVICE_DOES_NOT_EXIST = 234, 1060
ERROR_SERVICE_CANNOT_ACCEPT_CTRL, ERROR_SERVICE_NOT_ACTIVE, ERROR_SERVICE_ALREADY_RUNNING = 1061, 1062, 1056
ERROR_DEPENDENT_SERVICES_RUNNING = 1051
PENDING = ("startpending", "continuepending", "pausepending")
POLL_SECONDS = 0.5


def parse_enum(buffer: bytes, count: int) -> list[tuple[str, str]]:
    """(name, state) from a self-relative ENUM_SERVICE_STATUSW array (36 bytes per entry)."""
    out = []
    for i in range(count):
        name_at, _display_at, _kind, state = struct.unpack_from("<LLLL", buffer, i * 36)
        end = name_at
        while end + 1 < len(buffer) and buffer[end:end + 2] != b"\x00\x00":
            end += 2
        out.append((buffer[name_at:end].decode("utf-16le", "replace"), STATES.get(state, "unknown")))
    return out


def parse_enum_rest(rest: bytes) -> tuple[int, int, int | None, int]:
    """REnumServicesStatusW's [out] values after the buffer (MS-SCMR 3.1.4.14): bytes needed, services
    returned, the resume index (None: a null pointer, so no value follows it), the status."""
    if len(rest) not in (16, 20):
        raise ValueError(f"a malformed REnumServicesStatusW answer ({len(rest)} bytes after the buffer)")
    needed, returned, referent = struct.unpack_from("<LLL", rest)
    if not referent:
        return needed, returned, None, struct.unpack_from("<L", rest, 12)[0]
    resume, status = struct.unpack_from("<LL", rest, 12)
    return needed, returned, resume, status


class Services:
    def __init__(self, client):
        self.client = client
        self._scm = None
        self._handles: dict[str, object] = {}

    @property
    def dce(self):
        from impacket.dcerpc.v5 import scmr

        return self.client.pipe("svcctl", scmr.MSRPC_UUID_SCMR)

    def _manager(self):
        from impacket.dcerpc.v5 import scmr

        if self._scm is None:
            self._scm = scmr.hROpenSCManagerW(self.dce)["lpScHandle"]
        return self._scm

    def states(self) -> dict[str, str]:
        """{name (lower case): state} of every Win32 service and file-system driver, by one
        REnumServicesStatusW (continued from its resume index when the buffer was too small), instead of an
        open and a status query per service."""
        from impacket.dcerpc.v5 import scmr

        from .pipes import byte_array_answer

        out, resume, size = {}, 0, ENUM_BYTES
        try:
            manager = self._manager()
            for dummy in range(8):
                request = scmr.REnumServicesStatusW()
                request["hSCManager"], request["dwServiceType"] = manager, SERVICE_WIN32 | SERVICE_FILE_SYSTEM_DRIVER
                request["dwServiceState"], request["cbBufSize"], request["lpResumeIndex"] = SERVICE_STATE_ALL, size, resume
                buffer, rest = byte_array_answer(self.dce, request)
                needed, returned, resume, status = parse_enum_rest(rest)
                if status not in (0, ERROR_MORE_DATA):
                    raise scmr.DCERPCSessionError(error_code=status)
                out.update((name.lower(), state) for name, state in parse_enum(buffer, returned))
                if status == 0:
                    return out
                resume, size = resume or 0, needed  # what the rest needs
        except Exception as error:  # noqa: BLE001
            raise self.client.rpc_failure("service enumeration", error) from None
        raise SmbError("service enumeration: the list kept growing while it was read")

    def handle(self, name: str):
        """An open handle to the service, or None when there is no such service."""
        from impacket.dcerpc.v5 import scmr

        key = name.lower()
        if key not in self._handles:
            try:
                self._handles[key] = scmr.hROpenServiceW(self.dce, self._manager(), name + "\x00")["lpServiceHandle"]
            except Exception as error:  # noqa: BLE001
                if rpc_code(error) == ERROR_SERVICE_DOES_NOT_EXIST:
                    self._handles[key] = None
                else:
                    raise self.client.rpc_failure(f"service {name}", error) from None
        return self._handles[key]

    def state(self, name: str) -> str | None:
        from impacket.dcerpc.v5 import scmr

        handle = self.handle(name)
        if handle is None:
            return None
        try:
            status = scmr.hRQueryServiceStatus(self.dce, handle)["lpServiceStatus"]["dwCurrentState"]
        except Exception as error:  # noqa: BLE001
            raise self.client.rpc_failure(f"service {name}", error) from None
        return STATES.get(status, "unknown")

    def dependents(self, name: str, active_only: bool = True) -> list[tuple[str, str]]:
        """Every service that depends on name, directly or not: [(name, state)], as EnumDependentServices
        lists them (dependents of dependents first). Asked with an empty buffer first: most services have none."""
        from impacket.dcerpc.v5 import scmr

        handle = self.handle(name)
        if handle is None:
            return []
        wanted, size = SERVICE_ACTIVE if active_only else SERVICE_STATE_ALL, 0
        for attempt in range(2):
            try:
                reply = scmr.hREnumDependentServicesW(self.dce, handle, wanted, size)
                return parse_enum(b"".join(reply["lpServices"]), reply["lpServicesReturned"])
            except Exception as error:  # noqa: BLE001
                if rpc_code(error) == ERROR_MORE_DATA and attempt == 0:
                    size = error.get_packet()["pcbBytesNeeded"]
                    continue
                raise self.client.rpc_failure(f"dependents of {name}", error) from None
        return []

    def _wait(self, name: str, until, deadline: float) -> str | None:
        state = self.state(name)
        while not until(state) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            state = self.state(name)
        return state

    def stop(self, name: str, timeout: float) -> None:
        """Stop one service whose dependents are already stopped, within timeout seconds."""
        from impacket.dcerpc.v5 import scmr

        deadline = time.monotonic() + timeout
        state = self._wait(name, lambda s: s not in PENDING, deadline)  # a starting service accepts no stop
        if state in (None, "stopped"):
            return
        if state != "stoppending":
            try:
                scmr.hRControlService(self.dce, self.handle(name), SERVICE_CONTROL_STOP)
            except Exception as error:  # noqa: BLE001
                code = rpc_code(error)
                if code == ERROR_DEPENDENT_SERVICES_RUNNING:
                    raise SmbError(f"Service '{name}' cannot be stopped: services that depend on it run") from None
                if code not in (ERROR_SERVICE_NOT_ACTIVE, ERROR_SERVICE_CANNOT_ACCEPT_CTRL):
                    raise self.client.rpc_failure(f"Service '{name}' cannot be stopped", error) from None
        state = self._wait(name, lambda s: s in (None, "stopped"), deadline)
        if state not in (None, "stopped"):
            raise SmbError(f"Service '{name}' did not stop within {timeout:g} seconds (it is {state})")

    def start(self, name: str, timeout: float) -> None:
        """Start (or continue) one service and wait until it runs, within timeout seconds."""
        from impacket.dcerpc.v5 import scmr

        deadline = time.monotonic() + timeout
        handle = self.handle(name)
        if handle is None:
            raise SmbError(f"Service '{name}' does not exist")
        state = self._wait(name, lambda s: s not in ("stoppending", "pausepending"), deadline)
        try:
            if state == "paused":
                scmr.hRControlService(self.dce, handle, SERVICE_CONTROL_CONTINUE)
            elif state == "stopped":
                scmr.hRStartServiceW(self.dce, handle)
        except Exception as error:  # noqa: BLE001
            if rpc_code(error) != ERROR_SERVICE_ALREADY_RUNNING:
                state = self.state(name)
                raise self.client.rpc_failure(f"Service '{name}' did not start (it is {state})", error) from None
        state = self._wait(name, lambda s: s not in ("startpending", "continuepending"), deadline)
        if state != "running":
            raise SmbError(f"Service '{name}' did not start within {timeout:g} seconds (it is {state})")
