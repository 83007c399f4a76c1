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

FRAGMENT = 4280  # the fragment size impacket binds with (max_xmit_frag = max_recv_frag): a read never needs more
PIPE_ACCESS = 0x0012019F  # FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | EA and attributes | READ_CONTROL | SYNCHRONIZE
FILE_SHARE_READ_WRITE = 0x3


def transport_class():
    """The DCE/RPC transport class, built on impacket's base only when a pipe is first used."""
    from impacket.dcerpc.v5 import transport

    class PipeTransport(transport.DCERPCTransport):
        def __init__(self, client, name: str):
            super().__init__(client.host, int(client.port))
            self.client, self.name = client, name
            self.tid = self.fid = None
            self.pending: bytes | None = None  # the last fragment of a call, sent with the read of its answer

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
            if self.pending is not None:
                request, self.pending = self.pending, None
                return self.client.pipe_transact(self.tid, self.fid, request)
            return self.client.pipe_read(self.tid, self.fid, FRAGMENT)

        def get_smb_connection(self):
            return self.client.conn

    return PipeTransport
