"""\\PIPE\\svcctl (MS-SCMR) on the host model's services, with Windows' rules: a stop is refused while
dependents run (1051, the status still filled), a stopped service cannot be stopped (1062), a
StopPending one neither stopped again (1061) nor started (1056), a service that hangs stays
StopPending, Site Component Manager restarts stopped SMS services on its next poll (Q199816)."""

import struct

from impacket.dcerpc.v5 import scmr
from impacket.dcerpc.v5.dtypes import NULL

from ..host import HostError
from . import ndr_wire
from .engine import Interface

STATES = {"stopped": 1, "startpending": 2, "stoppending": 3, "running": 4, "paused": 7}
START_TYPES = {"auto": 2, "manual": 3, "demand": 3, "disabled": 4}
ERROR_INSUFFICIENT_BUFFER, ERROR_MORE_DATA = 122, 234
ERROR_INVALID_HANDLE, ERROR_DEPENDENT_SERVICES_RUNNING, ERROR_INVALID_SERVICE_CONTROL = 6, 1051, 1052
ERROR_SERVICE_ALREADY_RUNNING, ERROR_SERVICE_DOES_NOT_EXIST = 1056, 1060
ERROR_SERVICE_CANNOT_ACCEPT_CTRL, ERROR_SERVICE_NOT_ACTIVE, ERROR_PROCESS_ABORTED = 1061, 1062, 1067
OWN_PROCESS = 0x10


def _svc(pipe, handle):
    """The service a handle was opened for (its name as the model spells it), or None."""
    held = pipe.handles.get(handle)
    return held[1] if isinstance(held, tuple) and held[0] == "service" else None


def _status(host, name, out) -> None:
    state = STATES.get(host.service_state(name) or "stopped", 1)
    out["dwServiceType"], out["dwCurrentState"] = OWN_PROCESS, state
    out["dwControlsAccepted"] = 0x5 if state == 4 else 0  # STOP | SHUTDOWN while running
    out["dwWin32ExitCode"], out["dwServiceSpecificExitCode"] = 0, 0
    out["dwCheckPoint"], out["dwWaitHint"] = (1, 3000) if state in (2, 3) else (0, 0)


def _open_scm(pipe, stub):
    scmr.ROpenSCManagerW(stub)
    response = scmr.ROpenSCManagerWResponse()
    response["lpScHandle"] = pipe.new_handle(("scm", None))
    response["ErrorCode"] = 0
    return response


def _open_service(pipe, stub):
    request = scmr.ROpenServiceW(stub)
    response = scmr.ROpenServiceWResponse()
    with pipe.site.lock:
        name = pipe.site.host.service_name(request["lpServiceName"].rstrip("\x00"))
    if name is None:
        response["lpServiceHandle"], response["ErrorCode"] = b"\x00" * 20, ERROR_SERVICE_DOES_NOT_EXIST
    else:
        response["lpServiceHandle"], response["ErrorCode"] = pipe.new_handle(("service", name)), 0
    return response


def _query_status(pipe, stub):
    request = scmr.RQueryServiceStatus(stub)
    response = scmr.RQueryServiceStatusResponse()
    name = _svc(pipe, request["hService"])
    with pipe.site.lock:
        pipe.site.host.tick()  # time passes between polls: Site Component Manager may restart what stopped
        _status(pipe.site.host, name or "", response["lpServiceStatus"])
        pipe.site.save()
    response["ErrorCode"] = 0 if name else ERROR_INVALID_HANDLE
    return response


def _control(pipe, stub):
    request = scmr.RControlService(stub)
    response = scmr.RControlServiceResponse()
    name, control = _svc(pipe, request["hService"]), request["dwControl"]
    with pipe.site.lock:
        host = pipe.site.host
        error = 0
        if name is None:
            error = ERROR_INVALID_HANDLE
        elif control == 1:  # SERVICE_CONTROL_STOP
            state = host.service_state(name)
            if state == "stopped":
                error = ERROR_SERVICE_NOT_ACTIVE
            elif state in ("stoppending", "startpending"):  # a pending service accepts no stop
                error = ERROR_SERVICE_CANNOT_ACCEPT_CTRL
            elif host.dependents(name):
                error = ERROR_DEPENDENT_SERVICES_RUNNING
            else:
                try:
                    host.stop_service(name)
                except HostError:
                    pass  # it accepted the stop and hangs in StopPending: the status says so
        elif control != 4:  # INTERROGATE only reports
            error = ERROR_INVALID_SERVICE_CONTROL
        _status(host, name or "", response["lpServiceStatus"])
        pipe.site.save()
    response["ErrorCode"] = error
    return response


def _start(pipe, stub):
    request = scmr.RStartServiceW(stub)
    response = scmr.RStartServiceWResponse()
    name = _svc(pipe, request["hService"])
    with pipe.site.lock:
        host = pipe.site.host
        if name is None:
            response["ErrorCode"] = ERROR_INVALID_HANDLE
        elif host.service_state(name) in ("running", "stoppending", "startpending"):
            response["ErrorCode"] = ERROR_SERVICE_ALREADY_RUNNING
        else:
            try:
                host.start_service(name)
                response["ErrorCode"] = 0
            except HostError:
                response["ErrorCode"] = ERROR_PROCESS_ABORTED
        pipe.site.save()
    return response


def _enum_buffer(host, names: list[str]) -> bytes:
    """Self-relative ENUM_SERVICE_STATUSW array: 36 bytes per entry, then the UTF-16 names."""
    fixed, strings, base = b"", b"", 36 * len(names)
    for name in names:
        service = host.state["services"][name]
        encoded = (name + "\x00").encode("utf-16le")
        display = (service.get("display_name", name) + "\x00").encode("utf-16le")
        fixed += struct.pack("<LL", base + len(strings), base + len(strings) + len(encoded))
        strings += encoded + display
        state = STATES.get(service["state"], 1)
        fixed += struct.pack("<7L", OWN_PROCESS, state, 0x5 if state == 4 else 0, 0, 0, 0, 0)
    return fixed + strings


def _wanted(host, names, state_filter: int) -> list[str]:
    active = {n for n in names if host.service_state(n) != "stopped"}
    return [n for n in names if state_filter == 3 or (n in active) == (state_filter == 1)]


def _dependents_of(host, name: str) -> list[str]:
    """Every service that depends on name, directly or not (as EnumDependentServices reports them)."""
    found, todo = [], [name]
    while todo:
        for dependent in host.dependents(todo.pop(), running_only=False):
            if dependent not in found:
                found.append(dependent)
                todo.append(dependent)
    return found


def _enum_reply(buf: bytes, cb: int, count: int, resume: bool | None = None) -> bytes:
    """The answer of an enumeration: the buffer is [size_is(cbBufSize)], exactly cb bytes (too small ->
    ERROR_MORE_DATA and the size needed), then pcbBytesNeeded, lpServicesReturned, lpResumeIndex (for
    REnumServicesStatusW: 0, NULL when the request's was), the error. Packed here: impacket's classes pack
    the buffer byte by byte."""
    fits = cb >= len(buf)
    out = ndr_wire.conformant_bytes((buf if fits else b"").ljust(cb, b"\x00"))
    out += struct.pack("<LL", 0 if fits else len(buf), count if fits else 0)
    if resume is not None:
        out += struct.pack("<LL", ndr_wire.FIRST_REFERENT, 0) if resume else b"\x00\x00\x00\x00"
    return out + struct.pack("<L", 0 if fits else ERROR_MORE_DATA)


def _enum_dependents(pipe, stub):
    request = scmr.REnumDependentServicesW(stub)
    with pipe.site.lock:
        host = pipe.site.host
        names = _wanted(host, _dependents_of(host, _svc(pipe, request["hService"]) or ""), request["dwServiceState"])
        buf = _enum_buffer(host, names)
    return _enum_reply(buf, request["cbBufSize"], len(names))


def _enum_services(pipe, stub):
    request = scmr.REnumServicesStatusW(stub)
    with pipe.site.lock:
        host = pipe.site.host
        names = _wanted(host, sorted(host.state["services"], key=str.lower), request["dwServiceState"])
        buf = _enum_buffer(host, names)
    return _enum_reply(buf, request["cbBufSize"], len(names),
                       resume=request.fields["lpResumeIndex"].fields["ReferentID"] != 0)


def _query_config(pipe, stub):
    request = scmr.RQueryServiceConfigW(stub)
    response = scmr.RQueryServiceConfigWResponse()
    name = _svc(pipe, request["hService"])
    with pipe.site.lock:
        service = pipe.site.host.state["services"].get(name or "", {})
        path = service.get("path") or f"{pipe.site.windows_dir}\\system32\\{(name or 'svc').lower()}.exe"
        dependencies = "/".join(service.get("depends_on", []))  # the SCM sends the NUL-separated list '/'-joined
        display = service.get("display_name", name or "")
    config = response["lpServiceConfig"]
    config["dwServiceType"], config["dwStartType"] = OWN_PROCESS, START_TYPES.get(service.get("start_mode", "auto"), 2)
    config["dwErrorControl"], config["dwTagId"] = 1, 0
    strings = [path, "", dependencies, "LocalSystem", display]
    needed = 36 + sum(2 * (len(s) + 1) for s in strings)
    if name is None or request["cbBufSize"] < needed:
        for field in ("lpBinaryPathName", "lpLoadOrderGroup", "lpDependencies", "lpServiceStartName", "lpDisplayName"):
            config[field] = NULL
        response["pcbBytesNeeded"] = needed
        response["ErrorCode"] = ERROR_INVALID_HANDLE if name is None else ERROR_INSUFFICIENT_BUFFER
        return response
    for field, value in zip(("lpBinaryPathName", "lpLoadOrderGroup", "lpDependencies", "lpServiceStartName",
                             "lpDisplayName"), strings):
        config[field] = value + "\x00"
    response["pcbBytesNeeded"], response["ErrorCode"] = needed, 0
    return response


def _close(pipe, stub):
    request = scmr.RCloseServiceHandle(stub)
    pipe.handles.pop(request["hSCObject"], None)
    response = scmr.RCloseServiceHandleResponse()
    response["hSCObject"], response["ErrorCode"] = b"\x00" * 20, 0
    return response


SVCCTL = Interface("svcctl", ("367ABB81-9844-35F1-AD32-98F038001003", "2.0"), {
    0: _close, 1: _control, 6: _query_status, 13: _enum_dependents, 14: _enum_services, 15: _open_scm,
    16: _open_service, 17: _query_config, 19: _start,
})
