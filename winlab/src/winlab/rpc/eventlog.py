"""\\PIPE\\eventlog (MS-EVEN): the host model's System log, read as Windows 2000 serves it.

The model keeps the events Windows writes around a boot (host.py, `log_event`): 6006 at a clean
shutdown, 6008 after an unexpected one, 6009 (the OS version) and 6005 ("The Event log service was
started") at every boot, then the Service Control Manager's 7036 for each service that starts.
Reads follow MS-EVEN 3.1.4.7: a sequential read goes on from where the handle's last read stopped
(backwards: newest first), copies as many whole records as fit, and answers
STATUS_BUFFER_TOO_SMALL with the size of the next record when none fits, STATUS_END_OF_FILE at
the end; the reply's buffer always has the size asked for (a conformant array of that size), so
a client pays on the wire for what it asks, not for what it gets. Other logs exist and are empty;
an unknown log name opens the Application log, as Windows does.
"""

import struct

from impacket.dcerpc.v5 import even
from impacket.dcerpc.v5.dtypes import RPC_UNICODE_STRING, ULONG, USHORT
from impacket.dcerpc.v5.ndr import NDRCALL, NDRPOINTER

from . import ndr_wire
from .engine import Interface


class EVENTLOG_HANDLE_W(NDRPOINTER):
    """MS-EVEN 2.2.7: `[handle, unique] wchar_t *`: a pointer to ONE wide character, which the server
    ignores (Windows' own client and Samba's send L'\\'). impacket types it as a whole string (LPWSTR),
    which cannot parse what those clients send."""
    referent = (("Data", USHORT),)


class ElfrOpenELW(NDRCALL):
    opnum = 7
    structure = (("UNCServerName", EVENTLOG_HANDLE_W), ("ModuleName", RPC_UNICODE_STRING),
                 ("RegModuleName", RPC_UNICODE_STRING), ("MajorVersion", ULONG), ("MinorVersion", ULONG))

STATUS_SUCCESS, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER = 0, 0xC0000008, 0xC000000D
STATUS_END_OF_FILE, STATUS_BUFFER_TOO_SMALL = 0xC0000011, 0xC0000023
SEQUENTIAL, SEEK, FORWARDS, BACKWARDS = 0x1, 0x2, 0x4, 0x8
MAX_BATCH_BUFF = 0x7FFFF
LOGS = ("system", "application", "security")


def _w(text: str) -> bytes:
    return (text + "\x00").encode("utf-16le")


def record_bytes(event: dict, computer: str) -> bytes:
    """One EVENTLOGRECORD (MS-EVEN 2.2.3): the fixed part, the names, the strings, padding, the length again."""
    names = _w(event.get("source", "EventLog")) + _w(computer)
    strings = b"".join(_w(s) for s in event.get("strings", []))
    offset = 56 + len(names)
    body = names + strings
    body += b"\x00" * (-(56 + len(body)) % 4)
    length = 56 + len(body) + 4
    head = struct.pack("<LLLLLLHHHHLLLLLL", length, 0x654C664C, event["n"], event["time"], event["time"],
                       event["id"], event.get("type", 4), len(event.get("strings", [])), 0, 0, 0, offset, 0, offset, 0,
                       offset + len(strings))
    return head + body + struct.pack("<L", length)


def _key(value) -> bytes:
    return value.getData() if hasattr(value, "getData") else bytes(value)


def _log(pipe, handle):
    return pipe.handles.get(_key(handle))


def _open(pipe, stub):
    request = ElfrOpenELW(stub)
    name = str(request["ModuleName"] or "").rstrip("\x00").lower()
    response = even.ElfrOpenELWResponse()
    log = name if name in LOGS else "application"
    response["LogHandle"] = pipe.new_handle({"log": log, "next": None})
    response["ErrorCode"] = STATUS_SUCCESS
    return response


def _events(pipe, log: str) -> list[dict]:
    with pipe.site.lock:
        return list(pipe.site.host.state.get("eventlog", [])) if log == "system" else []


def _read_answer(buffer: bytes, read: int, needed: int, status: int) -> bytes:
    """ElfrReadELW's answer: the [out, size_is(NumberOfBytesToRead)] buffer, NumberOfBytesRead,
    MinNumberOfBytesNeeded, the status (packed here: impacket's classes pack the buffer byte by byte)."""
    return ndr_wire.conformant_bytes(buffer) + struct.pack("<LLL", read, needed, status)


def _read(pipe, stub):
    request = even.ElfrReadELW(stub)
    held = _log(pipe, request["LogHandle"])
    size = min(int(request["NumberOfBytesToRead"]), MAX_BATCH_BUFF)
    if held is None:
        return _read_answer(b"\x00" * size, 0, 0, STATUS_INVALID_HANDLE)
    events = _events(pipe, held["log"])
    backwards = bool(request["ReadFlags"] & BACKWARDS) or not request["ReadFlags"] & FORWARDS
    ordered = list(reversed(events)) if backwards else events
    if request["ReadFlags"] & SEEK and not request["ReadFlags"] & SEQUENTIAL:
        start = next((i for i, e in enumerate(ordered) if e["n"] == request["RecordOffset"]), None)
        if start is None:
            return _read_answer(b"\x00" * size, 0, 0, STATUS_INVALID_PARAMETER)
    else:  # sequential: on from the record after the last one this handle read
        start = 0 if held["next"] is None else next(
            (i for i, e in enumerate(ordered) if (e["n"] < held["next"] if backwards else e["n"] > held["next"])),
            len(ordered))
    computer = pipe.site.computer_name
    out = b""
    for event in ordered[start:]:
        raw = record_bytes(event, computer)
        if len(out) + len(raw) > size:
            if not out:
                return _read_answer(b"\x00" * size, 0, len(raw), STATUS_BUFFER_TOO_SMALL)
            break
        out += raw
        held["next"] = event["n"]
    if not out:
        return _read_answer(b"\x00" * size, 0, 0, STATUS_END_OF_FILE)
    return _read_answer(out + b"\x00" * (size - len(out)), len(out), 0, STATUS_SUCCESS)


def _close(pipe, stub):
    request = even.ElfrCloseEL(stub)
    pipe.handles.pop(_key(request["LogHandle"]), None)
    response = even.ElfrCloseELResponse()
    response["LogHandle"] = b"\x00" * 20
    response["ErrorCode"] = STATUS_SUCCESS
    return response


def _count(pipe, stub):
    request = even.ElfrNumberOfRecords(stub)
    held = _log(pipe, request["LogHandle"])
    response = even.ElfrNumberOfRecordsResponse()
    response["NumberOfRecords"] = len(_events(pipe, held["log"])) if held else 0
    response["ErrorCode"] = STATUS_SUCCESS if held else STATUS_INVALID_HANDLE
    return response


def _oldest(pipe, stub):
    request = even.ElfrOldestRecord(stub)
    held = _log(pipe, request["LogHandle"])
    events = _events(pipe, held["log"]) if held else []
    response = even.ElfrOldestRecordResponse()
    response["OldestRecordNumber"] = events[0]["n"] if events else 0
    response["ErrorCode"] = STATUS_SUCCESS if held else STATUS_INVALID_HANDLE
    return response


EVENTLOG = Interface("eventlog", ("82273FDC-E32A-18C3-3F78-827929DC23EA", "0.0"), {
    2: _close, 4: _count, 5: _oldest, 7: _open, 10: _read,
})
