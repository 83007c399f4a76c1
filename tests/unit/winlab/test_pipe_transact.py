"""winlab's hand-framed TransactNmPipe (pipe_transact.py) answers byte for byte what impacket's own path
(processRequest, smbTransaction, winlab's transact_pipe hook) answers for the same request on the same
connection, signed or not, Unicode or ASCII, for every outcome of the pipe; what it does not take it
leaves to that path."""

import copy
import struct
import types

import pytest
from impacket import smb

from winlab.smb import pipe_transact, smb1
from winlab.smb.server import OS, WinlabSMB

FID, UID = 0x4001, 2049
BASE_FLAGS2 = smb.SMB.FLAGS2_EXTENDED_SECURITY | smb.SMB.FLAGS2_NT_STATUS | smb.SMB.FLAGS2_LONG_NAMES


class Pipe:
    """An open pipe that answers what it is told to (or raises), and keeps what it was written."""

    def __init__(self, out=b"", more=False, fails=False):
        self.out, self.more, self.fails, self.seen = out, more, fails, []

    def transact(self, data, max_data):
        self.seen.append((data, max_data))
        if self.fails:
            raise ValueError("the stub cannot be unpacked")
        return self.out[:max_data], self.more or len(self.out) > max_data


def request(unicode=True, data=b"\x05\x00\x00\x03" + b"\x10" * 40, name=None, function=0x26, total=None,
            max_data=4280, reply=False):
    """A TransactNmPipe as a client frames it (MS-CIFS 2.2.4.33.1): the name after a pad byte on a
    Unicode session, the data aligned to 4."""
    packet = smb.NewSMBPacket()
    packet["Flags1"] = smb.SMB.FLAGS1_PATHCASELESS | (smb.SMB.FLAGS1_REPLY if reply else 0)
    packet["Flags2"] = BASE_FLAGS2 | (smb.SMB.FLAGS2_UNICODE if unicode else 0)
    packet["Tid"], packet["Pid"], packet["Uid"], packet["Mid"] = 1, 0xFEFF, UID, 77
    if name is None:
        name = "\\PIPE\\\x00".encode("utf-16le") if unicode else b"\\PIPE\\\x00"
    pad = b"\x00" if unicode else b""
    offset = 67 + len(pad) + len(name)
    align = b"\x00" * ((4 - offset % 4) % 4)
    offset += len(align)
    command = smb.SMBCommand(smb.SMB.SMB_COM_TRANSACTION)
    params = smb.SMBTransaction_Parameters()
    params["Setup"] = struct.pack("<HH", function, FID)
    params["TotalParameterCount"], params["ParameterCount"], params["ParameterOffset"] = 0, 0, offset
    params["TotalDataCount"] = len(data) if total is None else total
    params["DataCount"], params["DataOffset"], params["MaxDataCount"] = len(data), offset, max_data
    command["Parameters"], command["Data"] = params, pad + name + align + data
    packet.addCommand(command)
    return packet.getData()


@pytest.fixture(name="server", scope="module")
def fixture_server():
    site = types.SimpleNamespace(computer_name="W2K", native_os="Windows 5.0", workgroup="LAB",
                                 profile=OS["windows2000"])
    server = WinlabSMB(("127.0.0.1", 0), site)
    yield server
    server.server_close()


def connection(server, signed, pipe):
    server.addConnection("c", "127.0.0.1", 1)
    conn = server.getConnectionData("c", checkStatus=False)
    conn.update(Authenticated=True, Uid=UID, SignatureEnabled=signed, SigningSessionKey=bytes(range(16)),
                SigningChallengeResponse=bytes(range(24)), SignSequenceNumber=5)
    conn["OpenedFiles"] = {FID: {"FileHandle": smb1.PIPE, "Pipe": pipe, "FileName": "\\winreg"}}
    return conn


def both(server, raw, signed, pipe):
    """(impacket's reply, ours, their sequence numbers after) from the same connection state."""
    conn = connection(server, signed, pipe)
    saved = copy.copy(conn)
    theirs = server.processRequest("c", raw)
    assert len(theirs) == 1
    theirs, their_sequence = theirs[0].getData(), conn["SignSequenceNumber"]
    conn.clear()
    conn.update(saved)
    ours = pipe_transact.answer(server, "c", raw, smb1.PIPE)
    return theirs, ours, (their_sequence, conn["SignSequenceNumber"])


OUTCOMES = {
    "answer": Pipe(b"\x05\x00\x02\x03" + bytes(range(200))),
    "answer that does not fit": Pipe(bytes(range(256)) * 20, more=True),
    "pipe empty": Pipe(b""),
    "stub the pipe cannot take": Pipe(fails=True),
}


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("unicode", [True, False])
@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_reply_is_the_one_impackets_path_frames(server, signed, unicode, outcome):
    pipe = OUTCOMES[outcome]
    raw = request(unicode, max_data=1024)
    theirs, ours, (their_sequence, our_sequence) = both(server, raw, signed, pipe)
    assert ours == theirs
    assert our_sequence == their_sequence == (7 if signed else 5)
    assert pipe.seen[-1] == pipe.seen[-2] == (raw[-44:], 1024)  # both ran the pipe with the same data


def test_an_unknown_fid_is_an_invalid_handle_on_both_paths(server):
    raw = request()
    conn = connection(server, False, Pipe(b"x"))
    conn["OpenedFiles"] = {}
    theirs = server.processRequest("c", raw)[0].getData()
    assert pipe_transact.answer(server, "c", raw, smb1.PIPE) == theirs
    assert struct.unpack_from("<L", theirs, 5)[0] == 0xC0000008  # STATUS_INVALID_HANDLE


@pytest.mark.parametrize("case", ["ascii name on a unicode session", "another function", "partial data",
                                  "a reply", "offset past the message"])
def test_what_the_hand_framed_path_does_not_take_goes_to_impackets(server, case):
    raw = {"ascii name on a unicode session": request(name=b"\\PIPE\\\x00"),
           "another function": request(function=0x53),
           "partial data": request(total=400),
           "a reply": request(reply=True),
           "offset past the message": request()[:-8]}[case]
    connection(server, False, Pipe(b"x"))
    assert pipe_transact.parse(raw) is None
    assert pipe_transact.answer(server, "c", raw, smb1.PIPE) is None


def test_a_session_not_logged_on_goes_to_impackets_path(server):
    conn = connection(server, False, Pipe(b"x"))
    conn["Authenticated"] = False
    assert pipe_transact.answer(server, "c", request(), smb1.PIPE) is None
