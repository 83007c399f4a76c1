"""NDR 2.0 (little-endian, 32-bit) read and written with struct, for the answers winlab packs by hand
(winreg_wire.py, and the byte arrays of the event log and service enumeration answers): impacket's
NDR classes pack and unpack every element of an array on its own."""

from __future__ import annotations

import struct

FIRST_REFERENT = 0x00020000
U32 = struct.Struct("<L")


class Reader:
    def __init__(self, stub: bytes):
        self.stub, self.at = stub, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.at + size > len(self.stub):
            raise ValueError(f"the stub ends inside a field ({len(self.stub)} bytes, at {self.at} + {size})")
        out = self.stub[self.at:self.at + size]
        self.at += size
        return out

    def u32(self) -> int:
        self.at += -self.at % 4
        return U32.unpack(self.take(4))[0]

    def array_counts(self) -> tuple[int, int]:
        """A conformant varying array's (max count, actual count), the offset checked."""
        maximum, offset, actual = self.u32(), self.u32(), self.u32()
        if offset or actual > maximum:
            raise ValueError(f"a malformed array (max {maximum}, offset {offset}, count {actual})")
        return maximum, actual

    def counted(self, item_size: int) -> tuple[int, bytes]:
        """A conformant varying array: (its max count, its elements)."""
        maximum, actual = self.array_counts()
        return maximum, self.take(actual * item_size)

    def string(self) -> tuple[tuple, str | None]:
        """RPC_UNICODE_STRING: ((Length, MaximumLength, max count), the text with its NUL) or None when NULL."""
        self.at += -self.at % 4
        length, most = struct.unpack("<HH", self.take(4))
        if not self.u32():
            return (length, most, 0), None
        maximum, chars = self.counted(2)
        return (length, most, maximum), chars.decode("utf-16le", "replace")

    def pointer_u32(self) -> int | None:
        return self.u32() if self.u32() else None

    def pointer_bytes(self) -> tuple[int, bytes] | None:
        return self.counted(1) if self.u32() else None


class Writer:
    def __init__(self):
        self.data = bytearray()
        self.next_referent = FIRST_REFERENT

    def u32(self, value: int) -> None:
        self.data += b"\x00" * (-len(self.data) % 4) + U32.pack(value)

    def referent(self) -> None:
        self.u32(self.next_referent)
        self.next_referent += 4

    def pointer_u32(self, value: int | None) -> None:
        if value is None:
            self.u32(0)
        else:
            self.referent()
            self.u32(value)

    def pointer_bytes(self, data: bytes | None) -> None:
        if data is None:
            self.u32(0)
        else:
            self.referent()
            self.counted(data, len(data), len(data))

    def counted(self, elements: bytes, maximum: int, actual: int) -> None:
        self.u32(maximum)
        self.u32(0)
        self.u32(actual)
        self.data += elements

    def packed(self) -> bytes:
        return bytes(self.data)


def conformant_bytes(data: bytes) -> bytes:
    """An [out, size_is] byte array at the start of an answer: its count, the bytes, padding to 4."""
    return U32.pack(len(data)) + data + b"\x00" * (-len(data) % 4)
