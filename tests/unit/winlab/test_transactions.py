"""winlab's hand-framed transactions (transactions.py) answer byte for byte what impacket's own path
(processRequest, smbTransaction and smbTransaction2, winlab's hooks) answers for the same request on the
same connection, signed or not, Unicode or ASCII: every outcome of a pipe, and every shape of a
TRANSACTION2 answer (parameters, data, both, more data than one reply holds, an error); what it does
not take it leaves to that path."""

import copy
import struct
import types

import pytest
from impacket import smb

from winlab.smb import smb1, transactions
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
    ours = transactions.answer(server, "c", raw, smb1.PIPE, smb1.TRANS2)
    return theirs, ours[0], (their_sequence, conn["SignSequenceNumber"])


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
    assert transactions.answer(server, "c", raw, smb1.PIPE, smb1.TRANS2) == [theirs]
    assert struct.unpack_from("<L", theirs, 5)[0] == 0xC0000008  # STATUS_INVALID_HANDLE


@pytest.mark.parametrize("case", ["ascii name on a unicode session", "another function", "partial data",
                                  "a reply", "offset past the message", "not an SMB1 message"])
def test_what_the_hand_framed_path_does_not_take_goes_to_impackets(server, case):
    raw = {"ascii name on a unicode session": request(name=b"\\PIPE\\\x00"),
           "another function": request(function=0x53),
           "partial data": request(total=400),
           "a reply": request(reply=True),
           "offset past the message": request()[:-8],
           "not an SMB1 message": b"\x00" + request()[1:]}[case]  # what the UID and signature checks skip
    connection(server, False, Pipe(b"x"))
    assert transactions.parse(raw) is None
    assert transactions.answer(server, "c", raw, smb1.PIPE, smb1.TRANS2) is None


def test_a_session_not_logged_on_goes_to_impackets_path(server):
    conn = connection(server, False, Pipe(b"x"))
    conn["Authenticated"] = False
    assert transactions.answer(server, "c", request(), smb1.PIPE, smb1.TRANS2) is None


QUERY_PATH = b"\x07\x01\x00\x00\x00\x00" + "\\SMS\x00".encode("utf-16le")


def trans2_request(unicode=True, parameters=QUERY_PATH,
                   data=b"", sub=0x05, max_data=16000):
    """A TRANSACTION2 as impacket's client frames it (send_trans2): the parameters aligned to 4, then the data."""
    packet = smb.NewSMBPacket()
    packet["Flags1"] = smb.SMB.FLAGS1_PATHCASELESS
    packet["Flags2"] = BASE_FLAGS2 | (smb.SMB.FLAGS2_UNICODE if unicode else 0)
    packet["Tid"], packet["Pid"], packet["Uid"], packet["Mid"] = 5, 0xFEFF, UID, 78
    command = smb.SMBCommand(smb.SMB.SMB_COM_TRANSACTION2)
    params = smb.SMBTransaction2_Parameters()
    params["Setup"], params["MaxDataCount"] = struct.pack("<H", sub), max_data
    pad = b"\x00" * ((4 - (32 + 1 + 30 + 2) % 4) % 4)
    offset = 32 + 1 + 30 + 2 + len(pad)
    params["TotalParameterCount"] = params["ParameterCount"] = len(parameters)
    params["ParameterOffset"] = offset
    params["TotalDataCount"] = params["DataCount"] = len(data)
    params["DataOffset"] = offset + len(parameters) if data else 0
    command["Parameters"], command["Data"] = params, pad + parameters + data
    packet.addCommand(command)
    return packet.getData()


ANSWERS = {
    "an error": (b"", b"", b"", 0xC0000034),
    "parameters and data": (b"", b"\x00\x00", bytes(range(100)), 0),
    "data only": (b"", b"", bytes(range(40)), 0),
    "more data than one reply holds": (b"", b"\x00\x00", bytes(range(250)) * 3, 0),
    "impacket structures": (b"", "find first", "find next", 0),
}


def structure(kind):
    """What find_first gives: its parameters as an impacket Structure, not bytes."""
    out = smb.SMBFindFirst2Response_Parameters() if kind == "find first" else smb.SMBFindNext2Response_Parameters()
    if kind == "find first":
        out["SID"] = 9
    out["SearchCount"], out["EndOfSearch"], out["EaErrorOffset"], out["LastNameOffset"] = 1, 1, 0, 0
    return out


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("unicode", [True, False])
@pytest.mark.parametrize("shape", list(ANSWERS))
def test_every_transaction2_reply_is_the_one_impackets_path_frames(server, signed, unicode, shape):
    seen = []

    def handler(conn_id, srv, packet, parameters, data, max_data):
        seen.append((packet["Flags2"], packet["Tid"], parameters, data, max_data))
        setup, params, out, status = ANSWERS[shape]
        return setup, structure(params) if params == "find first" else params, structure(out) if out == "find next" \
            else out, status

    server.hookTransaction2(0x05, handler)
    try:
        raw = trans2_request(unicode, data=b"\x01\x02", max_data=300)
        conn = connection(server, signed, Pipe())
        saved = copy.copy(conn)
        theirs = [reply.getData() for reply in server.processRequest("c", raw)]
        their_sequence = conn["SignSequenceNumber"]
        conn.clear()
        conn.update(saved)
        ours = transactions.answer(server, "c", raw, smb1.PIPE, {0x05: handler})
    finally:
        server.hookTransaction2(0x05, smb1.TRANS2[0x05])
    assert ours == theirs
    assert len(ours) == (3 if shape == "more data than one reply holds" else 1)
    assert conn["SignSequenceNumber"] == their_sequence
    assert seen[0] == seen[1] and seen[0][1:] == (5, QUERY_PATH, b"\x01\x02", 300)


def test_a_transaction2_sub_command_winlab_does_not_serve_goes_to_impackets_path(server):
    connection(server, False, Pipe())
    assert transactions.answer(server, "c", trans2_request(sub=0x0D), smb1.PIPE, smb1.TRANS2) is None
