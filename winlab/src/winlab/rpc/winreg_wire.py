"""The registry calls an audit repeats, read and answered with struct (MS-RRP over NDR 2.0): the requests
of BaseRegOpenKey (opnum 15), BaseRegQueryValue (17) and BaseRegQueryMultipleValues (29), and their
answers.

winlab serves every emulated host from one Python process; impacket's NDR classes, which unpack and
pack each UTF-16 character and each value byte on its own, cost it more than everything else an
audit asks of a host. The layout is impacket's and Samba's (conformant varying arrays, an embedded
pointer's referent after its structure, depth first, 4-aligned), with Windows' referent ids
(0x00020000 and up) and zero padding; tests/unit/winlab/test_winreg_wire.py holds each answer
against the one impacket packs, and each request as impacket packs it. A request that ends inside
a field is a ValueError, which the RPC engine answers as Windows does (rpc_x_bad_stub_data).
"""

from __future__ import annotations

import struct

from .ndr_wire import U32, Reader, Writer

HANDLE_SIZE = 20


def open_key_request(stub: bytes) -> dict:
    """{handle, subkey (with its NUL, '' for NULL), access}."""
    request = Reader(stub)
    handle = request.take(HANDLE_SIZE)
    dummy, subkey = request.string()
    dummy_options, access = request.u32(), request.u32()
    return {"handle": handle, "subkey": subkey or "", "access": access}


def open_key_answer(handle: bytes, error: int) -> bytes:
    return handle + U32.pack(error)


def query_value_request(stub: bytes) -> dict:
    """{handle, name, has_data (lpData not NULL), asked (lpcbData, 0 when NULL)}."""
    request = Reader(stub)
    handle = request.take(HANDLE_SIZE)
    dummy, name = request.string()
    request.pointer_u32()  # lpType
    data = request.pointer_bytes()
    asked = request.pointer_u32()
    return {"handle": handle, "name": name or "", "has_data": data is not None, "asked": asked or 0}


def query_value_answer(kind: int | None, data: bytes | None, size: int | None, error: int) -> bytes:
    """lpType, lpData, lpcbData and lpcbLen (`size` both; None: all four NULL), the error."""
    answer = Writer()
    answer.pointer_u32(kind)
    answer.pointer_bytes(data)
    answer.pointer_u32(size)
    answer.pointer_u32(size)
    answer.u32(error)
    return answer.packed()


def query_multiple_request(stub: bytes) -> dict:
    """{handle, names: [(the string's counts, the name with its NUL or None)], room (ldwTotsize when a
    buffer came, else 0)}."""
    request = Reader(stub)
    handle = request.take(HANDLE_SIZE)
    named = []
    for dummy in range(request.array_counts()[1]):  # the RVALENTs
        named.append(request.u32())
        request.take(12)  # ve_valuelen, ve_valueptr, ve_type: nothing the server reads
    names = [request.string() if referent else ((0, 0, 0), None) for referent in named]
    request.u32()  # num_vals
    buffer = request.pointer_bytes()
    total = request.u32()
    return {"handle": handle, "names": names, "room": total if buffer is not None else 0}


def query_multiple_answer(names: list, entries: list[tuple[int, int, int]], buffer: bytes | None, total: int,
                          error: int) -> bytes:
    """val_listOut (each name echoed as it came, with (length, offset, type)), lpvalueBuf, ldwTotsize, error."""
    answer = Writer()
    answer.counted(b"", len(entries), len(entries))
    for (dummy, name), (length, offset, kind) in zip(names, entries):
        if name is None:
            answer.u32(0)
        else:
            answer.referent()
        answer.data += struct.pack("<LLL", length, offset, kind)
    for (counts, name) in names:
        if name is None:
            continue
        length, most, maximum = counts
        answer.data += b"\x00" * (-len(answer.data) % 4) + struct.pack("<HH", length, most)
        answer.referent()
        chars = name.encode("utf-16le")
        answer.counted(chars, maximum, len(chars) // 2)
    answer.pointer_bytes(buffer)
    answer.u32(total)
    answer.u32(error)
    return answer.packed()
