"""File times and attributes as NTFS keeps them, for both front ends of the host model.

A file entry stores its times as .NET's round-trip text (`2026-12-04T10:11:12.1234567Z`, what
`LastWriteTimeUtc.ToString('o')` prints), exact to the FILETIME's 100 ns, so a time set over SMB
reads back to the tick over SMB and over WinRM. Entries built from a fleet spec carry only
`modified`; their creation and change times default to it.

What changes which time (MS-FSA 2.1.4.17, and CopyFile's documented behaviour):
- writing data updates LastWrite and Change when the handle closes, unless the opener set
  LastWrite explicitly (SET_FILE_BASIC) after its last write: then its value stands;
- overwriting an existing file keeps its creation time;
- CopyFile gives the copy the source's LastWrite time and attributes, and a new creation time
  (unless it overwrote a file, whose creation time stays);
- any change of data, attributes or times moves the Change time, unless it is set explicitly.
"""

from __future__ import annotations

import datetime
import time

FILETIME_EPOCH = 116444736000000000  # 1601-01-01 to 1970-01-01 in 100 ns ticks
_1601 = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)

READONLY, HIDDEN, SYSTEM, DIRECTORY, ARCHIVE, NORMAL = 0x1, 0x2, 0x4, 0x10, 0x20, 0x80
SETTABLE = READONLY | HIDDEN | SYSTEM | ARCHIVE | 0x100 | 0x2000  # + TEMPORARY, NOT_CONTENT_INDEXED


def now() -> int:
    return FILETIME_EPOCH + time.time_ns() // 100


def from_epoch(seconds: float) -> int:
    return FILETIME_EPOCH + int(round(seconds * 10_000_000))


def to_epoch(filetime: int) -> float:
    return (filetime - FILETIME_EPOCH) / 10_000_000


def to_iso(filetime: int) -> str:
    when = _1601 + datetime.timedelta(microseconds=filetime // 10)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{filetime % 10_000_000:07d}Z"


def from_iso(text: str | None) -> int | None:
    """A FILETIME from the model's text (round-trip form, or whole seconds), None when absent or bad."""
    if not text:
        return None
    head, dot, fraction = text.rstrip("Z").partition(".")
    try:
        when = datetime.datetime.strptime(head[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    ticks = int((fraction + "0000000")[:7]) if dot and fraction.isdigit() else 0
    delta = when - _1601
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + ticks


def now_iso() -> str:
    return to_iso(now())


def times(entry: dict) -> dict:
    """{created, accessed, written, changed} FILETIMEs of a file entry (spec files: all the write time)."""
    written = from_iso(entry.get("modified")) or 0
    created = from_iso(entry.get("created")) or written
    changed = from_iso(entry.get("changed")) or written
    return {"created": created, "accessed": max(written, changed), "written": written, "changed": changed}


def attributes(entry: dict) -> int:
    value = entry.get("attributes")
    return ARCHIVE if value is None else int(value)
