"""The System event log (MS-EVEN, \\PIPE\\eventlog) of one host: when it last booted.

Why this source for the boot time, and not the server statistics (MS-SRVS NetrServerStatisticsGet,
`sts0_start`): that is when the Server service started or its statistics were last cleared, so it
moves when an administrator restarts the Server service on a host that never rebooted; a boot time
that moves moves the log-evidence cut-off (classification) and makes a restart look done when none
happened. Windows NT 4.0 SP4 and later write event 6005 ("The Event log service was started",
source EventLog) into the System log at every boot and at no other time (KB196452), so the newest
6005 is the last boot, give or take the seconds the Event log service takes to start.

The log is read newest first by record number: ElfrNumberOfRecords and ElfrOldestRecord give the
newest record; each read seeks (SEEK_READ | BACKWARDS) to the record before the last one seen,
rather than reading sequentially, because Samba's sequential backwards read starts at the oldest
record. Reads are small (READ_BYTES): Windows answers with a buffer of the size asked, whatever
it holds, and a busy server's boot can lie a few hundred records back (MAX_READS reads at most).
"""

from __future__ import annotations

import struct

from .client import SmbError, Unreachable

EVENT_LOG_STARTED = 6005
SEEK_READ, BACKWARDS_READ = 0x2, 0x8
READ_BYTES, MAX_READS = 4096, 64  # a read's answer fits one RPC fragment (4,280 bytes)
STATUS_BUFFER_TOO_SMALL, STATUS_END_OF_FILE = 0xC0000023, 0xC0000011
HEADER = struct.Struct("<LLLLLLHHHHLLLLLL")  # EVENTLOGRECORD up to its strings (MS-EVEN 2.2.3), 56 bytes


def records(buffer: bytes) -> list[dict]:
    """{number, time, id, source} of each EVENTLOGRECORD in a read's buffer."""
    out, offset = [], 0
    while offset + HEADER.size <= len(buffer):
        length, signature, number, generated, _written, event_id = HEADER.unpack_from(buffer, offset)[:6]
        if length < HEADER.size or signature != 0x654C664C or offset + length > len(buffer):
            break  # not a record: the rest of the buffer is padding
        name = buffer[offset + HEADER.size:offset + length]
        end = next((i for i in range(0, len(name) - 1, 2) if name[i:i + 2] == b"\x00\x00"), len(name))
        out.append({"number": number, "time": generated, "id": event_id & 0xFFFF,
                    "source": name[:end].decode("utf-16le", "replace")})
        offset += length
    return out


def _read(dce, handle, record: int) -> list[dict]:
    from impacket.dcerpc.v5 import even

    from .pipes import byte_array_answer

    size = READ_BYTES
    for dummy in range(2):
        request = even.ElfrReadELW()
        request["LogHandle"], request["ReadFlags"] = handle, SEEK_READ | BACKWARDS_READ
        request["RecordOffset"], request["NumberOfBytesToRead"] = record, size
        buffer, rest = byte_array_answer(dce, request)
        if len(rest) != 12:
            raise ValueError(f"a malformed ElfrReadELW answer ({len(rest)} bytes after the buffer)")
        read, needed, status = struct.unpack("<LLL", rest)  # NumberOfBytesRead, MinNumberOfBytesNeeded, status
        if status == 0:
            return records(buffer[:read])
        if status == STATUS_END_OF_FILE:
            return []
        if status != STATUS_BUFFER_TOO_SMALL:
            raise even.DCERPCSessionError(error_code=status)
        size = needed  # one record bigger than READ_BYTES
    return []


def last_boot(client) -> int:
    """Seconds since 1970 (UTC) of the newest boot event, or SmbError saying why there is none."""
    from impacket.dcerpc.v5 import even
    from impacket.dcerpc.v5.dtypes import NULL

    dce = client.pipe("eventlog", even.MSRPC_UUID_EVEN)
    try:
        handle = even.hElfrOpenELW(dce, "System", NULL)["LogHandle"]
    except Exception as error:  # noqa: BLE001
        raise client.failure(f"the System event log of {client.host} cannot be opened", error) from None
    try:
        count = even.hElfrNumberOfRecords(dce, handle)["NumberOfRecords"]
        oldest = even.hElfrOldestRecordNumber(dce, handle)["OldestRecordNumber"]
        record = oldest + count - 1
        for dummy in range(MAX_READS):
            if not count or record < oldest:
                break
            found = _read(dce, handle, record)
            if not found:
                break
            for event in found:
                if event["id"] == EVENT_LOG_STARTED and event["source"].lower() == "eventlog":
                    return event["time"]
            record = min(e["number"] for e in found) - 1
        raise SmbError(f"the System event log of {client.host} holds no boot event (6005, EventLog) in its "
                       f"newest records")
    except (SmbError, Unreachable):
        raise
    except Exception as error:  # noqa: BLE001
        raise client.failure(f"the System event log of {client.host}", error) from None
    # The log handle is not closed: the session's end closes it, and a close would cost a request.
