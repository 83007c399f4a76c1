"""Two NDR stubs compared as the same message: impacket's referent ids are random and its pad bytes a
debugging pattern, where the collection and winlab give Windows' referent ids and zero padding."""

import struct

FIRST_REFERENT = 0x00020000
MARK = 0x7FFF0000  # what impacket's referent ids are made (ndr.random.randint patched), to be found again
PAD_BYTES = {0xAA, 0xAB, 0xBF, 0xCC, 0xCA, 0xDD, 0xCB, 0xEE, 0xEF, 0xBC, 0xBB}


def mark_referents(monkeypatch) -> None:
    from impacket.dcerpc.v5 import ndr

    monkeypatch.setattr(ndr.random, "randint", lambda low, high: MARK)


def same_but_referents_and_padding(ours: bytes, theirs: bytes) -> bool:
    """Equal, but where impacket has a marked referent id ours has the next of Windows' (0x00020000, +4,
    ...), and where impacket has a pad byte ours may have 0."""
    if len(ours) != len(theirs) or len(ours) % 4:
        return False
    referent = FIRST_REFERENT
    for at in range(0, len(ours), 4):
        mine, their = ours[at:at + 4], theirs[at:at + 4]
        if struct.unpack("<L", their)[0] == MARK:
            if struct.unpack("<L", mine)[0] != referent:
                return False
            referent += 4
        elif any(a != b and not (a == 0 and b in PAD_BYTES) for a, b in zip(mine, their)):
            return False
    return True


def set_handle(field, handle: bytes) -> None:
    """An impacket RPC_HKEY (a structure, not a 20-byte blob like other context handles) set to `handle`."""
    field["context_handle_attributes"] = struct.unpack("<L", handle[:4])[0]
    field["context_handle_uuid"] = handle[4:]


def query_multiple_request(handle: bytes, names: list[str], size: int, null_buffer: bool = False):
    """impacket's BaseRegQueryMultipleValues as its client packs one (ve_valuelen the name's characters)."""
    from impacket.dcerpc.v5 import rrp

    request = rrp.BaseRegQueryMultipleValues()
    set_handle(request["hKey"], handle)
    for name in names:
        entry = rrp.RVALENT()
        entry["ve_valuename"] = name + "\x00"
        entry["ve_valuelen"] = len(entry["ve_valuename"])
        entry["ve_valueptr"] = entry["ve_type"] = 0
        request["val_listIn"].append(entry)
    request["num_vals"], request["ldwTotsize"] = len(names), size
    request["lpvalueBuf"] = rrp.NULL if null_buffer else list(b" " * size)
    return request
