"""The server service (MS-SRVS, \\PIPE\\srvsvc): disks and the computer's name; and the last boot.

The boot time comes from the System event log (eventlog.py), not from NetrServerStatisticsGet's
`sts0_start`, which is when the Server service started or its statistics were last cleared: it
moves without a boot.
"""

from __future__ import annotations

import datetime

from . import eventlog


def _dce(client):
    from impacket.dcerpc.v5 import srvs

    return client.pipe("srvsvc", srvs.MSRPC_UUID_SRVS)


def boot_epoch(client) -> int:
    return eventlog.last_boot(client)


def boot_time(client) -> str:
    """The boot as the probe reports it (UTC, ISO 8601)."""
    when = datetime.datetime.fromtimestamp(boot_epoch(client), tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def disks(client) -> list[str]:
    """Drive letters the server lists (NetrServerDiskEnum): every mounted letter, CD-ROMs included."""
    from impacket.dcerpc.v5 import srvs

    try:
        reply = srvs.hNetrServerDiskEnum(_dce(client), 0)
    except Exception as error:  # noqa: BLE001
        raise client.rpc_failure("disk enumeration", error) from None
    letters = []
    for entry in reply["DiskInfoStruct"]["Buffer"]:
        disk = str(entry["Disk"]).rstrip("\x00")
        if len(disk) >= 2 and disk[1] == ":" and disk[0].isalpha():
            letters.append(disk[0].upper())
    return sorted(set(letters))


def computer_name(client) -> str | None:
    from impacket.dcerpc.v5 import srvs

    try:
        return str(srvs.hNetrServerGetInfo(_dce(client), 100)["InfoStruct"]["ServerInfo100"]["sv100_name"]).rstrip("\x00")
    except Exception as error:  # noqa: BLE001
        raise client.rpc_failure("server info", error) from None
