"""The work folder's security descriptor over SMB: SYSTEM and Administrators only, not inherited.

Windows 2000's root of C: grants Everyone Full Control, and a folder made under it inherits that:
any local user could plant a DLL or a journal there. The transaction sets a protected DACL (MS-DTYP
2.4.6 self-relative descriptor, SE_DACL_PROTECTED) with NT_TRANSACT_SET_SECURITY_DESC (MS-CIFS
2.2.7.3) or SMB2 SET_INFO (MS-SMB2 2.2.39, SMB2_0_INFO_SECURITY), and reads it back with
NT_TRANSACT_QUERY_SECURITY_DESC / QUERY_INFO to check it. The server applies a DACL to the folder
itself; files made in it afterwards inherit it (a server does not propagate it to what was already
inside: the controller's record covers those, plugin_utils/records.py).
"""

from __future__ import annotations

import struct

SYSTEM, ADMINISTRATORS, EVERYONE = "S-1-5-18", "S-1-5-32-544", "S-1-1-0"
NAMES = {SYSTEM: "SYSTEM", ADMINISTRATORS: "Administrators", EVERYONE: "Everyone", "S-1-5-32-545": "Users",
         "S-1-3-0": "CREATOR OWNER", "S-1-5-11": "Authenticated Users", "S-1-5-32-547": "Power Users"}
FULL_CONTROL = 0x001F01FF
OBJECT_INHERIT, CONTAINER_INHERIT, INHERITED = 0x01, 0x02, 0x10
ACCESS_ALLOWED = 0
DACL_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION = 0x4, 0x80000000
SE_DACL_PRESENT, SE_DACL_PROTECTED, SE_SELF_RELATIVE = 0x0004, 0x1000, 0x8000
READ_CONTROL, WRITE_DAC = 0x00020000, 0x00040000
PRIVATE = ((SYSTEM, FULL_CONTROL), (ADMINISTRATORS, FULL_CONTROL))


def sid_bytes(text: str) -> bytes:
    parts = text.split("-")
    revision, authority, subs = int(parts[1]), int(parts[2]), [int(p) for p in parts[3:]]
    return struct.pack("<BB", revision, len(subs)) + authority.to_bytes(6, "big") + struct.pack(f"<{len(subs)}L", *subs)


def sid_text(data: bytes, offset: int = 0) -> tuple[str, int]:
    """(S-1-..., its length) of the SID at offset."""
    revision, count = struct.unpack_from("<BB", data, offset)
    authority = int.from_bytes(data[offset + 2:offset + 8], "big")
    subs = struct.unpack_from(f"<{count}L", data, offset + 8)
    return "-".join(["S", str(revision), str(authority), *map(str, subs)]), 8 + 4 * count


def private_descriptor() -> bytes:
    """Self-relative, DACL only and protected: SYSTEM and Administrators Full Control, this folder, its
    subfolders and files."""
    aces = b""
    for sid, mask in PRIVATE:
        body = struct.pack("<L", mask) + sid_bytes(sid)
        aces += struct.pack("<BBH", ACCESS_ALLOWED, OBJECT_INHERIT | CONTAINER_INHERIT, 4 + len(body)) + body
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), len(PRIVATE), 0) + aces
    header = struct.pack("<BBHLLLL", 1, 0, SE_DACL_PRESENT | SE_DACL_PROTECTED | SE_SELF_RELATIVE, 0, 0, 0, 20)
    return header + acl


def parse(descriptor: bytes) -> dict:
    """{protected, aces: [(type, flags, mask, sid)]} of a self-relative descriptor's DACL (no DACL: None aces,
    which grants everyone everything)."""
    if len(descriptor) < 20:
        raise ValueError(f"a security descriptor of {len(descriptor)} bytes")
    control, dacl_at = struct.unpack_from("<H", descriptor, 2)[0], struct.unpack_from("<L", descriptor, 16)[0]
    out = {"protected": bool(control & SE_DACL_PROTECTED), "aces": None}
    if not control & SE_DACL_PRESENT or not dacl_at:
        return out
    count, offset, aces = struct.unpack_from("<H", descriptor, dacl_at + 4)[0], dacl_at + 8, []
    for _index in range(count):
        kind, flags, size = struct.unpack_from("<BBH", descriptor, offset)
        mask = struct.unpack_from("<L", descriptor, offset + 4)[0]
        aces.append((kind, flags, mask, sid_text(descriptor, offset + 8)[0]))
        offset += size
    out["aces"] = aces
    return out


def is_private(dacl: dict) -> bool:
    """Exactly SYSTEM and Administrators, Full Control, inherited by what is inside, and protected."""
    if not dacl.get("protected") or dacl.get("aces") is None:
        return False
    found = {(sid, mask) for kind, flags, mask, sid in dacl["aces"]
             if kind == ACCESS_ALLOWED and flags & (OBJECT_INHERIT | CONTAINER_INHERIT) == OBJECT_INHERIT | CONTAINER_INHERIT}
    return found == set(PRIVATE) and len(dacl["aces"]) == len(PRIVATE)


def describe(dacl: dict) -> str:
    """A DACL as an administrator reads one: 'Everyone Full Control (inherited), ...'."""
    if dacl.get("aces") is None:
        return "no DACL (everyone has full access)"
    parts = []
    for kind, flags, mask, sid in dacl["aces"]:
        who = NAMES.get(sid, sid)
        what = "Full Control" if mask == FULL_CONTROL else f"access 0x{mask:08X}"
        parts.append(f"{'deny ' if kind == 1 else ''}{who} {what}{' (inherited)' if flags & INHERITED else ''}")
    return ", ".join(parts) + ("" if dacl.get("protected") else "; inheritance on")
