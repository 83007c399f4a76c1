"""DCE/RPC over a named pipe of the session's one IPC$ tree, one SMB request per call.

impacket's SMBTransport connects a tree of its own for every pipe (and disconnects it again), asks
for an oplock on the pipe, and sends each call as two SMB requests: a WRITE_ANDX of the request,
then a READ_ANDX of the answer. Windows' own RPC runtime sends a call as one TransactNmPipe
(SMB_COM_TRANSACTION, setup 0x26; over SMB2 an IOCTL with FSCTL_PIPE_TRANSCEIVE: MS-CIFS
2.2.5.6, MS-SMB2 3.2.4.20.3), which writes the request and returns the answer's first fragment in
one round trip. So here: all pipes share one IPC$ tree, each is opened once without an oplock,
the last (or only) fragment of a call goes out as TransactNmPipe, earlier fragments of a long
request as writes, later fragments of a long answer as reads. The byte count per call stays the
same; the requests per host fall by about half (docs/benchmarks.md).
"""

from __future__ import annotations

import struct

FRAGMENT = 4280  # the fragment size impacket binds with (max_xmit_frag = max_recv_frag): a read never needs more
PIPE_ACCESS = 0x0012019F  # FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | EA and attributes | READ_CONTROL | SYNCHRONIZE
FILE_SHARE_READ_WRITE = 0x3
# C706 12.6: the request PDU's header (version 5.0, type, flags, data representation, fragment and auth
# lengths, call id, allocation hint, context id, operation number); a response's first 24 bytes are alike
REQUEST = struct.Struct("<BBBBLHHLLHH")
MSRPC_REQUEST, MSRPC_RESPONSE = 0, 2
PFC_FIRST_FRAG, PFC_LAST_FRAG, PFC_OBJECT_UUID = 0x01, 0x02, 0x80
DATA_REPRESENTATION = 0x10  # little-endian integers, ASCII characters, IEEE floating point
HEADER_SIZE = 24
# C706 12.6.4.3: the bind PDU after its 16-byte common header (version, type, flags, representation, fragment and
# auth lengths, call id): fragment sizes, association group, one presentation context (its id, one transfer
# syntax); the abstract and transfer syntaxes (20 bytes each: UUID and version) follow
COMMON = struct.Struct("<BBBBLHHL")
BIND = struct.Struct("<HHLBBHHBB")
BIND_ACK = struct.Struct("<HHLH")  # 12.6.4.4: fragment sizes, association group, secondary address length
RESULT = struct.Struct("<HH20s")  # a presentation context's result, reason and transfer syntax
MSRPC_BIND, MSRPC_BINDACK = 11, 12
NDR = ("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0")


def transport_class():
    """The DCE/RPC transport class, built on impacket's base only when a pipe is first used."""
    from impacket.dcerpc.v5 import transport

    class PipeTransport(transport.DCERPCTransport):
        def __init__(self, client, name: str):
            super().__init__(client.host, int(client.port))
            self.client, self.name = client, name
            self.tid = self.fid = None
            self.pending: bytes | None = None  # the last fragment of a call, sent with the read of its answer
            self.unread: bytes | None = None

        def get_dce_rpc(self):
            return dce_class()(self)

        def connect(self):
            self.tid = self.client.tree("IPC$")
            self.fid = self.client.open_pipe(self.tid, self.name)
            return 1

        def disconnect(self):
            # The pipe closes with the session; a CLOSE here would cost a request and decide nothing.
            self.fid = None

        def send(self, data, forceWriteAndx=0, forceRecv=0):  # pylint: disable=invalid-name  # impacket's names
            if self.pending is not None:  # a fragment before this one: written, no answer to it yet
                self.client.pipe_write(self.tid, self.fid, self.pending)
            self.pending = data
            if forceWriteAndx and not forceRecv:  # a fragment that is not the last gets no answer
                self.client.pipe_write(self.tid, self.fid, self.pending)
                self.pending = None

        def recv(self, forceRecv=0, count=0):  # pylint: disable=invalid-name
            if self.unread is not None:  # an answer PipeDCE looked at and leaves to impacket's parser
                data, self.unread = self.unread, None
                return data
            if self.pending is not None:
                request, self.pending = self.pending, None
                return self.client.pipe_transact(self.tid, self.fid, request)
            return self.client.pipe_read(self.tid, self.fid, FRAGMENT)

        def get_smb_connection(self):
            return self.client.conn

    return PipeTransport


def byte_array_answer(dce, request) -> tuple[bytes, bytes]:
    """One call whose answer starts with a conformant byte array (ElfrReadELW, REnumServicesStatusW): the
    array's bytes, and the rest of the answer after it (its other [out] values, the status last). impacket
    unpacks such an array one NDR element per byte, which cost more CPU than the rest of an audit's calls
    together; its request packing is kept. A malformed answer is a ValueError."""
    dce.call(request.opnum, request)
    stub = dce.recv()
    count = struct.unpack_from("<L", stub, 0)[0] if len(stub) >= 4 else None
    if count is None or 4 + count > len(stub):
        raise ValueError(f"a malformed answer to opnum {request.opnum} ({len(stub)} bytes)")
    end = 4 + count + (-count % 4)  # the next value is aligned to 4 bytes (NDR)
    return stub[4:4 + count], stub[end:]


def bind_accepted(answer: bytes) -> tuple[int, bytes] | None:
    """(the server's receive fragment size, the accepted transfer syntax) of a bind_ack that accepts the one
    context bound, without authentication; None for any other answer."""
    if len(answer) < COMMON.size + BIND_ACK.size or answer[2] != MSRPC_BINDACK or answer[3] & PFC_OBJECT_UUID:
        return None
    dummy, dummy, dummy, dummy, dummy, length, auth_length, dummy = COMMON.unpack_from(answer)
    dummy, max_recv, dummy, address = BIND_ACK.unpack_from(answer, COMMON.size)
    at = COMMON.size + BIND_ACK.size + address
    at += -at % 4  # the results are aligned to 4 bytes from the PDU's start
    if length != len(answer) or auth_length or at + 4 + RESULT.size != len(answer) or answer[at] != 1:
        return None
    result, dummy, syntax = RESULT.unpack_from(answer, at + 4)
    return (max_recv, syntax) if result == 0 else None


def dce_class():
    """impacket's DCE/RPC client with the common call framed by struct (see PipeDCE)."""
    from impacket.dcerpc.v5 import rpcrt

    class PipeDCE(rpcrt.DCERPC_v5):
        """A bind and a call without authentication (the pipes ride the signed SMB session), an object UUID or fragments
        goes out as one PDU packed here, and a whole unfragmented response is cut here; everything else (a
        fault, fragments, an authenticated bind) is impacket's own code. impacket packs and parses these
        headers with its generic Structure class, which cost more CPU per audit than the rest of the call
        (docs/benchmarks.md)."""

        def bind(self, iface_uuid, alter=0, bogus_binds=0, transfer_syntax=NDR):
            """The bind of one presentation context without authentication, as impacket sends it (the same call
            id, which impacket does not advance for such a bind); an acceptance of it is read here, anything
            else (a rejection, a fault, more contexts, an authentication trailer) by impacket's own bind."""
            from impacket.uuid import uuidtup_to_bin

            # pylint: disable=protected-access  # impacket's own state of this client, set as impacket sets it
            if alter or bogus_binds or self._DCERPC_v5__auth_level != rpcrt.RPC_C_AUTHN_LEVEL_NONE:
                return super().bind(iface_uuid, alter, bogus_binds, transfer_syntax)
            body = BIND.pack(FRAGMENT, FRAGMENT, 0, 1, 0, 0, self._ctx, 1, 0) + iface_uuid + uuidtup_to_bin(transfer_syntax)
            self._transport.send(COMMON.pack(5, 0, MSRPC_BIND, PFC_FIRST_FRAG | PFC_LAST_FRAG, DATA_REPRESENTATION,
                                             COMMON.size + len(body), 0, self._DCERPC_v5__callid) + body)
            answer = self._transport.recv()
            accepted = bind_accepted(answer)
            if accepted is None:  # impacket reads it (its errors, its state); what it would send goes nowhere
                self._transport.unread = answer
                send, self._transport.send = self._transport.send, lambda *args, **kwargs: None
                try:
                    return super().bind(iface_uuid, alter, bogus_binds, transfer_syntax)
                finally:
                    self._transport.send = send
            self._DCERPC_v5__max_xmit_size, self.transfer_syntax = accepted
            return None

        def call(self, function, body, uuid=None):
            stub = body.getData() if hasattr(body, "getData") else body
            # pylint: disable=protected-access  # impacket's own state of this client, read as impacket reads it
            if (uuid is not None or self._max_user_frag or len(stub) + 128 > self._DCERPC_v5__max_xmit_size
                    or self._DCERPC_v5__auth_level != rpcrt.RPC_C_AUTHN_LEVEL_NONE):
                return super().call(function, stub, uuid)
            call_id = self._DCERPC_v5__callid
            self._transport.send(REQUEST.pack(5, 0, MSRPC_REQUEST, PFC_FIRST_FRAG | PFC_LAST_FRAG, DATA_REPRESENTATION,
                                              HEADER_SIZE + len(stub), 0, call_id, len(stub), self._ctx, function) + stub)
            self._DCERPC_v5__callid = call_id + 1
            return None

        def recv(self):
            answer = b""
            while True:
                data = self._transport.recv(1 if answer else 0, count=HEADER_SIZE)
                if (len(data) < HEADER_SIZE or data[2] != MSRPC_RESPONSE or data[3] & PFC_OBJECT_UUID
                        or data[10:12] != b"\x00\x00" or struct.unpack_from("<H", data, 8)[0] != len(data)):
                    self._transport.unread = data
                    return answer + super().recv()
                answer += data[HEADER_SIZE:]
                if data[3] & PFC_LAST_FRAG:
                    return answer

    return PipeDCE
