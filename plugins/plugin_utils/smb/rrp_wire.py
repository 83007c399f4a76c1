"""The audit's three registry calls packed and unpacked with struct (MS-RRP over NDR 2.0, little-endian):
BaseRegOpenKey (opnum 15), BaseRegQueryValue (17) and BaseRegQueryMultipleValues (29).

They are 18 of an audit's 25 RPC calls. impacket packs and unpacks each NDR element on its own
(every UTF-16 character of a key name, every byte of a value buffer, an `eval` per field), which
cost two thirds of the probe's CPU (docs/benchmarks.md). The layout here is the one impacket and
Samba exchange (conformant varying arrays; an embedded pointer's referent after its structure,
depth first; every referent 4-aligned), with Windows' own referent ids (0x00020000 and up, where
impacket draws random ones); tests/unit/plugin_utils/test_rrp_wire.py holds each message against
impacket's classes, and the Samba suite against smbd. Everything else stays impacket's.

Handles are the 20 raw bytes of the context handle. A malformed answer is a ValueError.
"""

from __future__ import annotations

import struct

OPEN_KEY, QUERY_VALUE, QUERY_MULTIPLE_VALUES = 15, 17, 29
FIRST_REFERENT = 0x00020000
HANDLE_SIZE = 20
U32 = struct.Struct("<L")


class Writer:
    """An NDR stub being packed: 4-aligned integers, referent ids in order."""

    def __init__(self):
        self.data = bytearray()
        self.next_referent = FIRST_REFERENT

    def align(self) -> None:
        self.data += b"\x00" * (-len(self.data) % 4)

    def u32(self, value: int) -> None:
        self.align()
        self.data += U32.pack(value)

    def referent(self) -> None:
        self.u32(self.next_referent)
        self.next_referent += 4

    def counted(self, chars: bytes, count: int) -> None:
        """A conformant varying array's referent: max count, offset 0, actual count, the elements."""
        self.align()
        self.data += struct.pack("<LLL", count, 0, count) + chars

    def string_head(self, text: str) -> bytes:
        """RPC_UNICODE_STRING's Length and MaximumLength (bytes, the NUL counted) and its Buffer pointer;
        the characters (its deferred referent) are returned for the caller to place."""
        chars = (text + "\x00").encode("utf-16le")
        self.align()
        self.data += struct.pack("<HH", len(chars), len(chars))
        self.referent()
        return chars

    def string(self, text: str) -> None:
        chars = self.string_head(text)
        self.counted(chars, len(chars) // 2)

    def pointer_u32(self, value: int) -> None:
        self.referent()
        self.u32(value)

    def packed(self) -> bytes:
        return bytes(self.data)


class Reader:
    """An NDR stub being unpacked; any read past its end is a ValueError."""

    def __init__(self, stub: bytes):
        self.stub, self.at = stub, 0

    def align(self) -> None:
        self.at += -self.at % 4

    def take(self, size: int) -> bytes:
        if size < 0 or self.at + size > len(self.stub):
            raise ValueError(f"a registry answer of {len(self.stub)} bytes ends inside it (at {self.at} + {size})")
        out = self.stub[self.at:self.at + size]
        self.at += size
        return out

    def u32(self) -> int:
        self.align()
        return U32.unpack(self.take(4))[0]

    def array_count(self) -> int:
        """A conformant varying array's actual count (its max count and offset checked, not used)."""
        maximum, offset, actual = self.u32(), self.u32(), self.u32()
        if offset or actual > maximum:
            raise ValueError(f"a malformed registry array (max {maximum}, offset {offset}, count {actual})")
        return actual

    def counted(self, item_size: int) -> bytes:
        """A conformant varying array's elements."""
        return self.take(self.array_count() * item_size)

    def pointer_u32(self) -> int | None:
        return self.u32() if self.u32() else None

    def pointer_bytes(self) -> bytes | None:
        return self.counted(1) if self.u32() else None

    def string(self) -> None:
        """Skip an RPC_UNICODE_STRING with its characters (the server's echo of a name sent)."""
        self.align()
        self.take(4)
        if self.u32():
            self.counted(2)

    def end(self) -> int:
        """The status, last: after it at most alignment padding (zeros, as impacket would ignore), never data."""
        code = self.u32()
        rest = self.stub[self.at:]
        if len(rest) > 7 or rest.strip(b"\x00"):
            raise ValueError(f"{len(rest)} bytes after a registry answer's status")
        return code


def _handle(handle: bytes) -> bytes:
    if len(handle) != HANDLE_SIZE:
        raise ValueError(f"a registry handle is {HANDLE_SIZE} bytes, not {len(handle)}")
    return handle


def open_key(handle: bytes, subkey: str, access: int) -> bytes:
    """BaseRegOpenKey (MS-RRP 3.1.5.15): hKey, lpSubKey, dwOptions 0, samDesired."""
    out = Writer()
    out.data += _handle(handle)
    out.string(subkey)
    out.u32(0)
    out.u32(access)
    return out.packed()


def open_key_answer(stub: bytes) -> tuple[bytes, int]:
    """(phkResult, the Win32 error)."""
    answer = Reader(stub)
    handle = answer.take(HANDLE_SIZE)
    return handle, answer.end()


def query_value(handle: bytes, name: str, size: int) -> bytes:
    """BaseRegQueryValue (3.1.5.17) with a buffer of `size` bytes: lpType, lpData (size spaces, as impacket
    sends them), lpcbData and lpcbLen all `size`."""
    out = Writer()
    out.data += _handle(handle)
    out.string(name)
    out.pointer_u32(0)
    out.referent()
    out.counted(b" " * size, size)
    out.pointer_u32(size)
    out.pointer_u32(size)
    return out.packed()


def query_value_answer(stub: bytes) -> dict:
    """{type, data, size (lpcbData: what the value needs), error}; a NULL pointer gives None."""
    answer = Reader(stub)
    kind, data, size, dummy_len = answer.pointer_u32(), answer.pointer_bytes(), answer.pointer_u32(), answer.pointer_u32()
    return {"type": kind, "data": data, "size": size, "error": answer.end()}


def query_multiple(handle: bytes, names: list[str], size: int) -> bytes:
    """BaseRegQueryMultipleValues (3.1.5.26): the names as RVALENTs (ve_valuelen the name's characters with
    its NUL, as impacket sends it), num_vals, a buffer of `size` spaces, ldwTotsize."""
    out = Writer()
    out.data += _handle(handle)
    out.counted(b"", len(names))  # the array's counts; its elements follow
    for name in names:
        out.referent()
        out.data += struct.pack("<LLL", len(name) + 1, 0, 0)
    for name in names:
        chars = out.string_head(name)
        out.counted(chars, len(chars) // 2)
    out.u32(len(names))
    out.referent()
    out.counted(b" " * size, size)
    out.u32(size)
    return out.packed()


def query_multiple_answer(stub: bytes) -> dict:
    """{entries: [(length, offset, type)] in the order asked, buffer (None when NULL), total (ldwTotsize:
    what the values need), error}."""
    answer = Reader(stub)
    entries, named = [], []
    for dummy in range(answer.array_count()):  # the RVALENTs
        named.append(answer.u32())
        entries.append((answer.u32(), answer.u32(), answer.u32()))
    for referent in named:
        if referent:
            answer.string()
    buffer = answer.pointer_bytes()
    total = answer.u32()
    return {"entries": entries, "buffer": buffer, "total": total, "error": answer.end()}
