"""File and folder DACLs as NTFS keeps them, for both front ends (SMB security descriptors, the twins' Set-Acl).

A path has an explicit DACL (state["acls"][path.lower()] = {protected, aces}) or inherits one: the
inheritable ACEs of its nearest ancestor with an explicit DACL, marked inherited. The root of every
drive has Windows 2000's default, Everyone Full Control for the folder, its subfolders and files
(which is why a folder made under C:\\ is open to every local user unless its DACL is set).
An ACE is [sid, mask, flags] (flags: OBJECT_INHERIT 0x1, CONTAINER_INHERIT 0x2, INHERITED 0x10).
"""

from __future__ import annotations

import struct

EVERYONE, SYSTEM, ADMINISTRATORS = "S-1-1-0", "S-1-5-18", "S-1-5-32-544"
FULL_CONTROL = 0x001F01FF
OBJECT_INHERIT, CONTAINER_INHERIT, INHERITED = 0x01, 0x02, 0x10
ROOT = {"protected": False, "aces": [[EVERYONE, FULL_CONTROL, OBJECT_INHERIT | CONTAINER_INHERIT]]}
PRIVATE = {"protected": True, "aces": [[SYSTEM, FULL_CONTROL, OBJECT_INHERIT | CONTAINER_INHERIT],
                                       [ADMINISTRATORS, FULL_CONTROL, OBJECT_INHERIT | CONTAINER_INHERIT]]}
DACL_SECURITY_INFORMATION, PROTECTED_DACL, UNPROTECTED_DACL = 0x4, 0x80000000, 0x20000000
SE_DACL_PRESENT, SE_DACL_PROTECTED, SE_SELF_RELATIVE = 0x0004, 0x1000, 0x8000


def _key(path: str) -> str:
    return path.rstrip("\\").lower()


def _parent(path: str) -> str | None:
    head = path.rstrip("\\")
    return head.rsplit("\\", 1)[0] if "\\" in head else None


def effective(state: dict, path: str) -> dict:
    """The DACL the path has: its own, or what it inherits."""
    explicit = (state.get("acls") or {}).get(_key(path))
    if explicit is not None and explicit["protected"]:
        return explicit
    parent = _parent(path)
    source = ROOT if parent is None else effective(state, parent)
    inherited = [[sid, mask, (flags & (OBJECT_INHERIT | CONTAINER_INHERIT)) | INHERITED]
                 for sid, mask, flags in source["aces"] if flags & (OBJECT_INHERIT | CONTAINER_INHERIT)]
    if parent is None and explicit is None:
        return {"protected": False, "aces": [list(a) for a in ROOT["aces"]]}  # the drive's root: its own
    return {"protected": False, "aces": [list(a) for a in (explicit or {}).get("aces", [])] + inherited}


def set_dacl(state: dict, path: str, dacl: dict) -> None:
    state.setdefault("acls", {})[_key(path)] = {"protected": bool(dacl["protected"]),
                                                "aces": [list(a) for a in dacl["aces"]]}


def forget(state: dict, path: str) -> None:
    """A deleted file or folder takes its DACL with it."""
    (state.get("acls") or {}).pop(_key(path), None)


def _sid_bytes(text: str) -> bytes:
    parts = text.split("-")
    subs = [int(p) for p in parts[3:]]
    return struct.pack("<BB", int(parts[1]), len(subs)) + int(parts[2]).to_bytes(6, "big") + struct.pack(
        f"<{len(subs)}L", *subs)


def _sid_text(data: bytes, offset: int) -> str:
    revision, count = struct.unpack_from("<BB", data, offset)
    subs = struct.unpack_from(f"<{count}L", data, offset + 8)
    return "-".join(["S", str(revision), str(int.from_bytes(data[offset + 2:offset + 8], "big")), *map(str, subs)])


def descriptor(dacl: dict, owner: str = ADMINISTRATORS, information: int = DACL_SECURITY_INFORMATION) -> bytes:
    """A self-relative security descriptor (MS-DTYP 2.4.6) with what `information` asks for: owner (0x1), DACL (0x4)."""
    control = SE_SELF_RELATIVE
    body, owner_at, dacl_at = b"", 0, 0
    if information & DACL_SECURITY_INFORMATION:
        aces = b""
        for sid, mask, flags in dacl["aces"]:
            ace = struct.pack("<L", mask) + _sid_bytes(sid)
            aces += struct.pack("<BBH", 0, flags, 4 + len(ace)) + ace
        dacl_at, control = 20, control | SE_DACL_PRESENT | (SE_DACL_PROTECTED if dacl["protected"] else 0)
        body += struct.pack("<BBHHH", 2, 0, 8 + len(aces), len(dacl["aces"]), 0) + aces
    if information & 0x1:
        owner_at = 20 + len(body)
        body += _sid_bytes(owner)
    return struct.pack("<BBHLLLL", 1, 0, control, owner_at, 0, 0, dacl_at) + body


def from_descriptor(data: bytes, information: int, current: dict) -> dict | None:
    """The DACL a SET_SECURITY_DESC with this descriptor leaves: None if it carries none to set."""
    if not information & DACL_SECURITY_INFORMATION or len(data) < 20:
        return None
    control, dacl_at = struct.unpack_from("<H", data, 2)[0], struct.unpack_from("<L", data, 16)[0]
    if not control & SE_DACL_PRESENT or not dacl_at:
        return {"protected": False, "aces": [[EVERYONE, FULL_CONTROL, OBJECT_INHERIT | CONTAINER_INHERIT]]}
    count, offset, aces = struct.unpack_from("<H", data, dacl_at + 4)[0], dacl_at + 8, []
    for _ in range(count):
        kind, flags, size = struct.unpack_from("<BBH", data, offset)
        if kind == 0:  # allowed ACEs only in this model; what a DACL set here needs
            aces.append([_sid_text(data, offset + 8), struct.unpack_from("<L", data, offset + 4)[0], flags])
        offset += size
    protected = bool(control & SE_DACL_PROTECTED) or bool(information & PROTECTED_DACL)
    if information & UNPROTECTED_DACL:
        protected = False
    return {"protected": protected, "aces": aces}
