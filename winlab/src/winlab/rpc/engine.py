"""Connection-oriented DCE/RPC PDUs on one open pipe (MS-RPCE): bind and alter-context, request
reassembly, response fragmentation, faults. Message mode: each read returns at most one PDU,
as a Windows named pipe in message mode does."""

from __future__ import annotations

import logging
import os
import struct
from collections import deque

from impacket.uuid import bin_to_string, uuidtup_to_bin

log = logging.getLogger(__name__)

NDR32 = uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0"))
PFC_FIRST, PFC_LAST, PFC_DID_NOT_EXECUTE, PFC_OBJECT_UUID = 0x01, 0x02, 0x20, 0x80
REQUEST, RESPONSE, FAULT, BIND, BIND_ACK, ALTER, ALTER_RESP, AUTH3 = 0, 2, 3, 11, 12, 14, 15, 16
NCA_OP_RNG_ERROR = 0x1C010002   # unknown opnum
NCA_UNK_IF = 0x1C010003         # unknown presentation context
NCA_PROTO_ERROR = 0x1C01000B
RPC_X_BAD_STUB_DATA = 0x000006F7  # Windows' answer to a stub it cannot unpack
MAX_XMIT = 4280  # Windows 2000's fragment size


class Interface:
    def __init__(self, name: str, uuid_ver: tuple, opnums: dict):
        self.name, self.abstract, self.opnums = name, uuidtup_to_bin(uuid_ver), opnums


def _header(ptype: int, flags: int, frag_len: int, call_id: int) -> bytes:
    return struct.pack("<BBBBLHHL", 5, 0, ptype, flags, 0x10, frag_len, 0, call_id)


class RpcPipe:
    """One open pipe (one fid). `site` is what the handlers act on (host model, lock, names)."""

    def __init__(self, name: str, interfaces: list[Interface], site):
        self.name, self.site = name, site
        self.interfaces = {i.abstract: i for i in interfaces}
        self.inbuf = b""
        self.outq: deque[bytes] = deque()
        self.partial_out = b""
        self.contexts: dict[int, Interface] = {}
        self.frags: dict[int, list] = {}
        self.handles: dict[bytes, object] = {}
        self.max_xmit = MAX_XMIT
        self.assoc_group = 0
        self.calls = 0

    # -- the byte side (SMB writes and reads) -------------------------------------
    def write(self, data: bytes) -> None:
        self.inbuf += data
        while len(self.inbuf) >= 16:
            frag_len = struct.unpack_from("<H", self.inbuf, 8)[0]
            if frag_len < 16:
                self.inbuf = b""
                self.outq.append(self._fault(0, 0, NCA_PROTO_ERROR))
                return
            if len(self.inbuf) < frag_len:
                return
            pdu, self.inbuf = self.inbuf[:frag_len], self.inbuf[frag_len:]
            self._pdu(pdu)

    def read(self, maxlen: int) -> tuple[bytes, bool]:
        """(data, more): more means the PDU did not fit and the rest waits (STATUS_BUFFER_OVERFLOW)."""
        if not self.partial_out:
            if not self.outq:
                return b"", False
            self.partial_out = self.outq.popleft()
        data, self.partial_out = self.partial_out[:maxlen], self.partial_out[maxlen:]
        return data, bool(self.partial_out)

    def transact(self, data: bytes, maxlen: int) -> tuple[bytes, bool]:
        self.write(data)
        return self.read(maxlen)

    def new_handle(self, obj) -> bytes:
        handle = b"\x00\x00\x00\x00" + os.urandom(16)
        self.handles[handle] = obj
        return handle

    # -- PDUs ---------------------------------------------------------------------
    def _pdu(self, pdu: bytes) -> None:
        dummy_ver, dummy_minor, ptype, flags, dummy_drep, dummy_len, auth_len, call_id = struct.unpack_from(
            "<BBBBLHHL", pdu)
        if ptype in (BIND, ALTER):
            self._bind(pdu, ptype, call_id)
        elif ptype == REQUEST:
            self._request(pdu, flags, auth_len, call_id)
        elif ptype != AUTH3:
            self.outq.append(self._fault(call_id, 0, NCA_PROTO_ERROR))

    def _bind(self, pdu: bytes, ptype: int, call_id: int) -> None:
        max_tfrag, max_rfrag, assoc = struct.unpack_from("<HHL", pdu, 16)
        count, offset, results = pdu[24], 28, b""
        for dummy in range(count):
            ctx_id, n_transfer = struct.unpack_from("<HB", pdu, offset)
            abstract = pdu[offset + 4:offset + 24]
            transfer = [pdu[offset + 24 + 20 * i:offset + 44 + 20 * i] for i in range(n_transfer)]
            offset += 24 + 20 * n_transfer
            interface = self.interfaces.get(abstract)
            if interface is not None and NDR32 in transfer:
                self.contexts[ctx_id] = interface
                results += struct.pack("<HH", 0, 0) + NDR32
            else:  # Windows 2000 knows neither NDR64 nor bind-time feature negotiation
                log.info("%s: bind to %s refused", self.name, bin_to_string(abstract))
                results += struct.pack("<HH", 2, 1 if interface is None else 2) + b"\x00" * 20
        self.max_xmit = min(max_tfrag, max_rfrag, MAX_XMIT)
        if ptype == BIND:
            self.assoc_group = assoc or (0x10000 | (os.getpid() & 0xFFFF))
            secondary = ("\\PIPE\\" + self.name).encode("ascii") + b"\x00"
        else:
            secondary = b""
        body = struct.pack("<HHL", self.max_xmit, self.max_xmit, self.assoc_group)
        body += struct.pack("<H", len(secondary)) + secondary
        body += b"\x00" * ((4 - (16 + len(body)) % 4) % 4)
        body += struct.pack("<BBH", count, 0, 0) + results
        self.outq.append(_header(BIND_ACK if ptype == BIND else ALTER_RESP, PFC_FIRST | PFC_LAST, 16 + len(body),
                                 call_id) + body)

    def _request(self, pdu: bytes, flags: int, auth_len: int, call_id: int) -> None:
        dummy_hint, ctx_id, opnum = struct.unpack_from("<LHH", pdu, 16)
        start = 24 + (16 if flags & PFC_OBJECT_UUID else 0)
        stub = pdu[start:len(pdu) - (auth_len + 8 if auth_len else 0)]
        if flags & PFC_FIRST:
            self.frags[call_id] = [ctx_id, opnum, bytearray(stub)]
        elif call_id in self.frags:
            self.frags[call_id][2] += stub
        else:
            self.outq.append(self._fault(call_id, ctx_id, NCA_PROTO_ERROR))
            return
        if not flags & PFC_LAST:
            return
        ctx_id, opnum, whole = self.frags.pop(call_id)
        interface = self.contexts.get(ctx_id)
        if interface is None:
            self.outq.append(self._fault(call_id, ctx_id, NCA_UNK_IF))
            return
        handler = interface.opnums.get(opnum)
        if handler is None:
            self.outq.append(self._fault(call_id, ctx_id, NCA_OP_RNG_ERROR, did_not_execute=True))
            return
        self.calls += 1
        self.site.rpc_call(interface.name, opnum)  # fault drop_on_rpc: the call runs, its reply is lost
        try:
            response = handler(self, bytes(whole))
            data = response.getData() if hasattr(response, "getData") else response
        except Exception:  # noqa: BLE001 - any failure is the client's bad stub to Windows, never a dropped pipe
            log.exception("%s %s opnum %d failed", self.name, interface.name, opnum)
            self.outq.append(self._fault(call_id, ctx_id, RPC_X_BAD_STUB_DATA))
            return
        self._respond(call_id, ctx_id, data)

    def _respond(self, call_id: int, ctx_id: int, stub: bytes) -> None:
        room, pos = (self.max_xmit - 24) & ~7, 0
        while True:
            chunk = stub[pos:pos + room]
            flags = (PFC_FIRST if pos == 0 else 0) | (PFC_LAST if pos + len(chunk) >= len(stub) else 0)
            head = _header(RESPONSE, flags, 24 + len(chunk), call_id)
            self.outq.append(head + struct.pack("<LHBB", len(stub) - pos, ctx_id, 0, 0) + chunk)
            pos += len(chunk)
            if flags & PFC_LAST:
                return

    @staticmethod
    def _fault(call_id: int, ctx_id: int, status: int, did_not_execute: bool = False) -> bytes:
        flags = PFC_FIRST | PFC_LAST | (PFC_DID_NOT_EXECUTE if did_not_execute else 0)
        body = struct.pack("<LHBB", 0, ctx_id, 0, 0) + struct.pack("<LL", status, 0)
        return _header(FAULT, flags, 16 + len(body), call_id) + body
