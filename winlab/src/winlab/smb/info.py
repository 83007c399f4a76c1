"""File and volume information as Windows encodes it (MS-FSCC), shared by both SMB dialects.

Packed by hand: impacket's server structures for some of these are too short (Samba's `allinfo`
rejects a 36-byte basic information), and directory entries must be 8-byte aligned."""

from __future__ import annotations

import struct
import time

FILE_DEVICE_DISK, FILE_DEVICE_IS_MOUNTED = 7, 0x20
NTFS_FLAGS = 0x000700FF  # case-preserving, unicode, ACLs, compression, quotas...
SECTORS, SECTOR_BYTES = 8, 512  # 4 KiB clusters


def times(node, fallback: float | None = None) -> tuple[int, int, int, int]:
    """(creation, last access, last write, change) FILETIMEs of a node; folders: the fallback (the boot)."""
    return node.times(fallback if fallback is not None else time.time())


def basic(node, when: tuple) -> bytes:
    return struct.pack("<qqqqLL", *when, node.attributes, 0)  # 40 bytes


def standard(node, delete_pending: bool = False) -> bytes:
    size = 0 if node.is_dir else node.size
    return struct.pack("<qqLBBH", _allocation(size), size, 1, int(delete_pending), int(node.is_dir), 0)  # 24 bytes


def _allocation(size: int) -> int:
    cluster = SECTORS * SECTOR_BYTES
    return (size + cluster - 1) // cluster * cluster


def smb1_all(node, when: tuple) -> bytes:
    """SMB_QUERY_FILE_ALL_INFO (level 0x107)."""
    name = node.name.encode("utf-16le")
    return basic(node, when) + standard(node) + struct.pack("<LL", 0, len(name)) + name


def smb2_all(node, when: tuple) -> bytes:
    """FileAllInformation (class 18): basic, standard, internal, EA, access, position, mode, alignment, name."""
    name = ("\\" + node.name).encode("utf-16le")
    return (basic(node, when) + standard(node) + struct.pack("<qLLqLL", 0, 0, 0x001F01FF, 0, 0, 0)
            + struct.pack("<L", len(name)) + name)


def short_name(node) -> bytes:
    return struct.pack("<L", len(node.name[:12].upper().encode("utf-16le"))) + node.name[:12].upper().encode("utf-16le")


def stream(node) -> bytes:
    name = "::$DATA".encode("utf-16le")
    return struct.pack("<LLqq", 0, len(name), node.size, _allocation(node.size)) + name


def fs_full_size(size: int, free: int) -> bytes:
    cluster = SECTORS * SECTOR_BYTES
    return struct.pack("<qqqLL", size // cluster, free // cluster, free // cluster, SECTORS, SECTOR_BYTES)


def fs_size(size: int, free: int) -> bytes:
    cluster = SECTORS * SECTOR_BYTES
    return struct.pack("<qqLL", size // cluster, free // cluster, SECTORS, SECTOR_BYTES)


def fs_attribute() -> bytes:
    name = "NTFS".encode("utf-16le")
    return struct.pack("<LLL", NTFS_FLAGS, 255, len(name)) + name


def fs_device() -> bytes:
    return struct.pack("<LL", FILE_DEVICE_DISK, FILE_DEVICE_IS_MOUNTED)


def fs_volume(label: str, serial: int) -> bytes:
    encoded = label.encode("utf-16le")
    return struct.pack("<qLLBB", 0, serial, len(encoded), 0, 0) + encoded


def _entry(kind: str, node, index: int, when: tuple) -> bytes:
    name = node.name.encode("utf-16le")
    size, allocation = (0, 0) if node.is_dir else (node.size, _allocation(node.size))
    stamps = struct.pack("<qqqq", *when)
    if kind == "names":
        return struct.pack("<LLL", 0, index, len(name)) + name
    fixed = struct.pack("<LL", 0, index) + stamps + struct.pack("<qqLL", size, allocation, node.attributes, len(name))
    if kind == "directory":
        return fixed + name
    fixed += struct.pack("<L", 0)  # EaSize
    if kind == "full":
        return fixed + name
    if kind == "id_full":
        return fixed + struct.pack("<Lq", 0, index + 1) + name
    short = node.name.upper().encode("utf-16le")[:24] if node.name not in (".", "..") and len(node.name) > 12 else b""
    both = fixed + struct.pack("<BB", len(short), 0) + short.ljust(24, b"\x00")
    if kind == "both":
        return both + name
    return both + struct.pack("<Hq", 0, index + 1) + name  # id_both


def directory_entries(kind: str, nodes: list, max_bytes: int, start_index: int = 0,
                      fallback: float | None = None) -> tuple[bytes, int, int]:
    """Entries chained by NextEntryOffset, each but the last padded to 8 bytes, as many as fit max_bytes.
    Returns (data, how many, offset of the last entry)."""
    raws, used = [], 0
    for i, node in enumerate(nodes):
        raw = _entry(kind, node, start_index + i, times(node, fallback))
        if used + len(raw) > max_bytes:
            break
        raws.append(raw)
        used += len(raw) + (-len(raw) % 8)
    out, last = bytearray(), 0
    for i, raw in enumerate(raws):
        last = len(out)
        if i < len(raws) - 1:
            padded = raw + b"\x00" * (-len(raw) % 8)
            out += struct.pack("<L", len(padded)) + padded[4:]
        else:
            out += raw
    return bytes(out), len(raws), last


SMB1_FIND_LEVELS = {0x101: "directory", 0x102: "full", 0x103: "names", 0x104: "both", 0x105: "id_full", 0x106: "id_both"}
SMB2_FIND_CLASSES = {1: "directory", 2: "full", 3: "both", 12: "names", 37: "id_both", 38: "id_full"}
