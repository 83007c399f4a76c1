"""winlab's NT_CREATE_ANDX, WRITE_ANDX and CLOSE read and answered with struct (smb1.answer_by_hand) give byte for
byte the replies impacket's path (processRequest and winlab's handlers) gives for the same requests, on two
identical hosts: pipes found and not, files and folders found and not, an unknown tree, writes and closes of
open and unknown FIDs, signed or not, Unicode or ASCII; what they do not read (a chained AndX, another word
count, data outside the message) they leave to that path."""

import struct
import time

import pytest
from impacket import smb

from winlab import fleet
from winlab.server import EmulatedHost
from winlab.smb import smb1
from winlab.smb.server import Site, WinlabSMB
from winlab.state import StateDir

UID = 2049
IPC, ADMIN, C_DRIVE, NO_TREE = 1, 2, 3, 9
BASE_FLAGS2 = smb.SMB.FLAGS2_EXTENDED_SECURITY | smb.SMB.FLAGS2_NT_STATUS | smb.SMB.FLAGS2_LONG_NAMES


@pytest.fixture(name="servers")
def fixture_servers(tmp_path):
    """Two SMB servers of two hosts built from the same state: one answers by impacket's path, one by hand."""
    spec = fleet.expand({"hosts": [{"name": "w2k"}]})[0]
    state = fleet.initial_state(spec, "127.0.0.1", 0, time.time())
    out = []
    for side in ("theirs", "ours"):
        store = StateDir(tmp_path / side)
        emulated = EmulatedHost(dict(state, faults={}), store, "127.0.0.1")
        out.append(WinlabSMB(("127.0.0.1", 0), Site(emulated)))
    yield out
    for server in out:
        server.server_close()


def connect(server, signed):
    server.addConnection("c", "127.0.0.1", 1)
    conn = server.getConnectionData("c", checkStatus=False)
    conn.update(Authenticated=True, Uid=UID, SignatureEnabled=signed, SigningSessionKey=bytes(range(16)),
                SigningChallengeResponse=bytes(range(24)), SignSequenceNumber=5)
    conn["ConnectedShares"] = {IPC: {"shareName": "IPC$"}, ADMIN: {"shareName": "ADMIN$"},
                               C_DRIVE: {"shareName": "C$"}}
    conn["OpenedFiles"] = {}
    return conn


def request(name, tid, unicode=True, options=0x40, andx=0xFF, flags=0x16):
    """An NT_CREATE_ANDX as impacket's client frames it (MS-CIFS 2.2.4.64.1)."""
    packet = smb.NewSMBPacket()
    packet["Flags1"] = smb.SMB.FLAGS1_PATHCASELESS
    packet["Flags2"] = BASE_FLAGS2 | (smb.SMB.FLAGS2_UNICODE if unicode else 0)
    packet["Tid"], packet["Pid"], packet["Uid"], packet["Mid"] = tid, 0xFEFF, UID, 77
    command = smb.SMBCommand(smb.SMB.SMB_COM_NT_CREATE_ANDX)
    command["Parameters"] = smb.SMBNtCreateAndX_Parameters()
    command["Data"] = smb.SMBNtCreateAndX_Data(flags=packet["Flags2"])
    encoded = name.encode("utf-16le" if unicode else "latin-1")
    params = command["Parameters"]
    params["FileNameLength"], params["CreateFlags"], params["AccessMask"] = len(encoded), flags, 0x120089
    params["ShareAccess"], params["Disposition"], params["CreateOptions"] = 7, 1, options
    command["Data"]["FileName"] = encoded
    if unicode:
        command["Data"]["Pad"] = 0
    packet.addCommand(command)
    raw = packet.getData()
    return raw if andx == 0xFF else raw[:33] + bytes([andx]) + raw[34:]


CASES = {
    "a pipe": ("\\winreg", IPC, 0x40),
    "a pipe that is not there": ("\\nosuchpipe", IPC, 0x40),
    "a folder": ("\\system32", ADMIN, 0x1),
    "a file": ("\\SMS\\bin\\i386\\Baseutil.dll", C_DRIVE, 0x40),
    "a folder of a drive": ("\\SMS\\bin", C_DRIVE, 0x1),
    "a file opened as a folder": ("\\SMS\\logs\\distmgr.log", C_DRIVE, 0x1),
    "a file that is not there": ("\\nothing.dll", ADMIN, 0x40),
    "a path whose folder is not there": ("\\nowhere\\nothing.dll", ADMIN, 0x40),
    "an open on IPC$ that is no pipe name": ("", IPC, 0x40),
    "a tree never connected": ("\\winreg", NO_TREE, 0x40),
}


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("unicode", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_every_reply_is_the_one_impackets_path_frames(servers, signed, unicode, case):
    name, tid, options = CASES[case]
    theirs_server, ours_server = servers
    raw = request(name, tid, unicode, options)
    their_conn, our_conn = connect(theirs_server, signed), connect(ours_server, signed)
    theirs = [reply.getData() for reply in theirs_server.processRequest("c", raw)]
    ours = smb1.create_answer(ours_server, "c", raw)
    assert ours == theirs
    assert our_conn["SignSequenceNumber"] == their_conn["SignSequenceNumber"] == (7 if signed else 5)
    assert sorted(our_conn["OpenedFiles"]) == sorted(their_conn["OpenedFiles"])


def test_a_file_found_is_opened_with_its_size_from_the_host_model(servers):
    conn = connect(servers[1], False)
    reply = smb1.create_answer(servers[1], "c", request("\\SMS\\bin\\i386\\Baseutil.dll", C_DRIVE))[0]
    words = smb1.NT_CREATED_WORDS.unpack_from(reply, 33)
    assert struct.unpack_from("<L", reply, 5)[0] == 0 and words[4] in conn["OpenedFiles"]
    assert words[12] == conn["OpenedFiles"][words[4]]["Handle"].node.size > 0  # the end of file


def test_a_request_is_read_as_impacket_reads_it():
    raw = request("\\SMS\\bin\\i386\\Baseutil.dll", C_DRIVE)
    parsed = smb1.parse_create(raw)
    assert (parsed.name, parsed.tid, parsed.access, parsed.share_access, parsed.options, parsed.flags) == (
        "\\SMS\\bin\\i386\\Baseutil.dll", C_DRIVE, 0x120089, 7, 0x40, 0x16)


@pytest.mark.parametrize("raw", [
    request("\\winreg", IPC, andx=0x2E),  # an open chained to a read: impacket's path
    request("\\winreg", IPC)[:32] + b"\x17" + request("\\winreg", IPC)[33:],  # another word count
    b"\xfeSMB" + request("\\winreg", IPC)[4:],  # not SMB1
    request("\\winreg", IPC)[:-2],  # the name's NUL cut off
])
def test_what_it_does_not_read_goes_to_impackets_path(servers, raw):
    connect(servers[1], False)
    assert smb1.parse_create(raw) is None
    assert smb1.create_answer(servers[1], "c", raw) is None


def test_a_session_not_logged_on_goes_to_impackets_path(servers):
    conn = connect(servers[1], False)
    conn["Authenticated"] = False
    assert smb1.answer_by_hand(servers[1], "c", request("\\winreg", IPC)) is None


def write_request(fid, data, offset=0, tid=C_DRIVE, andx=0xFF):
    """A WRITE_ANDX as impacket's write_andx frames it."""
    packet = smb.NewSMBPacket()
    packet["Flags2"] = BASE_FLAGS2 | smb.SMB.FLAGS2_UNICODE
    packet["Tid"], packet["Pid"], packet["Uid"], packet["Mid"] = tid, 0xFEFF, UID, 78
    command = smb.SMBCommand(smb.SMB.SMB_COM_WRITE_ANDX)
    packet.addCommand(command)
    command["Parameters"] = smb.SMBWriteAndX_Parameters()
    command["Parameters"]["Fid"], command["Parameters"]["Offset"] = fid, offset
    command["Parameters"]["WriteMode"], command["Parameters"]["Remaining"] = 8, len(data)
    command["Parameters"]["DataLength"], command["Parameters"]["DataOffset"] = len(data), len(packet)
    command["Data"] = data
    raw = packet.getData()
    return raw if andx == 0xFF else raw[:33] + bytes([andx]) + raw[34:]


def close_request(fid, tid=C_DRIVE):
    packet = smb.NewSMBPacket()
    packet["Flags2"] = BASE_FLAGS2 | smb.SMB.FLAGS2_UNICODE
    packet["Tid"], packet["Pid"], packet["Uid"], packet["Mid"] = tid, 0xFEFF, UID, 79
    command = smb.SMBCommand(smb.SMB.SMB_COM_CLOSE)
    command["Parameters"] = smb.SMBClose_Parameters()
    command["Parameters"]["FID"] = fid
    packet.addCommand(command)
    return packet.getData()


def opened(server, name, access=0x12019F, share_access=0):
    """The FID of `name` opened for writing on C$ (by hand: the same on both paths, tested above)."""
    raw = bytearray(request(name, C_DRIVE))
    struct.pack_into("<L", raw, 33 + 15, access)
    struct.pack_into("<L", raw, 33 + 31, share_access)
    reply = smb1.create_answer(server, "c", bytes(raw))[0]
    assert struct.unpack_from("<L", reply, 5)[0] == 0
    return smb1.NT_CREATED_WORDS.unpack_from(reply, 33)[4]


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("what", ["a write into a file", "a write past its end", "a write to an unknown FID",
                                  "a close", "a close of an unknown FID", "a close twice"])
def test_every_write_and_close_reply_is_the_one_impackets_path_frames(servers, signed, what):
    replies = []
    for server, run in zip(servers, (lambda srv, raw: [r.getData() for r in srv.processRequest("c", raw)],
                                     lambda srv, raw: smb1.answer_by_hand(srv, "c", raw))):
        conn = connect(server, signed)
        fid = opened(server, "\\SMS\\logs\\distmgr.log")
        raws = {"a write into a file": [write_request(fid, b"x" * 5000, 10)],
                "a write past its end": [write_request(fid, b"y" * 61440, 1 << 20)],
                "a write to an unknown FID": [write_request(fid + 7, b"z")],
                "a close": [close_request(fid)],
                "a close of an unknown FID": [close_request(fid + 7)],
                "a close twice": [close_request(fid), close_request(fid)]}[what]
        replies.append(([run(server, raw) for raw in raws], conn["SignSequenceNumber"], sorted(conn["OpenedFiles"])))
        node = server.site.host.file("C:\\SMS\\logs\\distmgr.log")
        replies[-1] += (node.get("size"),)
    assert replies[0] == replies[1]
    requests = 1 + (what == "a close twice")  # after the open: each signed reply takes two sequence numbers
    assert replies[1][1] == (5 + 2 * (1 + requests) if signed else 5)
    statuses = [struct.unpack_from("<L", reply[0], 5)[0] for reply in replies[1][0]]
    assert statuses == {"a write to an unknown FID": [0xC0000008], "a close of an unknown FID": [0xC0000008],
                        "a close twice": [0, 0xC0000008]}.get(what, [0])


@pytest.mark.parametrize("raw", [
    write_request(0x4001, b"data", andx=0x04),  # a write chained to a close
    write_request(0x4001, b"data")[:-2],  # data past the message's end
    close_request(0x4001)[:32] + b"\x02" + close_request(0x4001)[33:],  # another word count
])
def test_writes_and_closes_it_does_not_read_go_to_impackets_path(servers, raw):
    connect(servers[1], False)
    assert smb1.answer_by_hand(servers[1], "c", raw) is None


def read_request(fid, offset, count, long=True):
    """A READ_ANDX with 12 words (impacket's client) or 10 (the short form)."""
    packet = smb.NewSMBPacket()
    packet["Flags2"] = BASE_FLAGS2 | smb.SMB.FLAGS2_UNICODE
    packet["Tid"], packet["Pid"], packet["Uid"], packet["Mid"] = C_DRIVE, 0xFEFF, UID, 80
    command = smb.SMBCommand(smb.SMB.SMB_COM_READ_ANDX)
    command["Parameters"] = smb.SMBReadAndX_Parameters() if long else smb.SMBReadAndX_Parameters2()
    command["Parameters"]["Fid"], command["Parameters"]["Offset"] = fid, offset
    command["Parameters"]["MaxCount"] = count
    packet.addCommand(command)
    return packet.getData()


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("what, offset, count, long", [
    ("the start of a file", 0, 4096, True), ("more than a reply holds", 0, 65535, True),
    ("past the file's end", 1 << 30, 100, True), ("the short form", 2, 64, False),
    ("an unknown FID", 0, 10, True)])
def test_every_read_reply_is_the_one_impackets_path_frames(servers, signed, what, offset, count, long):
    replies = []
    for server, run in zip(servers, (lambda srv, raw: [r.getData() for r in srv.processRequest("c", raw)],
                                     lambda srv, raw: smb1.answer_by_hand(srv, "c", raw))):
        conn = connect(server, signed)
        fid = opened(server, "\\SMS\\bin\\i386\\Baseutil.dll", access=0x120089, share_access=7)
        replies.append((run(server, read_request(fid + 7 if what == "an unknown FID" else fid, offset, count, long)),
                        conn["SignSequenceNumber"]))
    assert replies[0] == replies[1]
    status = struct.unpack_from("<L", replies[1][0][0], 5)[0]
    assert status == (0xC0000008 if what == "an unknown FID" else 0)
    if what == "the start of a file":
        assert replies[1][0][0][59:61] == b"MZ"  # a DLL's first bytes, at the offset the reply names


class ReadPipe:
    def __init__(self, parts):
        self.parts = list(parts)

    def read(self, count):
        data = self.parts.pop(0)[:count] if self.parts else b""
        return data, bool(self.parts)


@pytest.mark.parametrize("parts", [[b"first", b"second"], [b"only"], []])
def test_a_pipe_read_reply_is_the_one_impackets_path_frames(servers, parts):
    replies = []
    for server, run in zip(servers, (lambda srv, raw: [r.getData() for r in srv.processRequest("c", raw)],
                                     lambda srv, raw: smb1.answer_by_hand(srv, "c", raw))):
        conn = connect(server, True)
        conn["OpenedFiles"][0x4100] = {"FileHandle": smb1.PIPE, "Pipe": ReadPipe(parts), "FileName": "\\winreg"}
        replies.append(run(server, read_request(0x4100, 0, 4280)))
    assert replies[0] == replies[1]
    status = struct.unpack_from("<L", replies[1][0], 5)[0]
    assert status == {2: 0x80000005, 1: 0, 0: 0xC00000D9}[len(parts)]  # more data, all of it, the pipe empty


def test_the_reply_words_are_laid_out_as_impackets_response_classes():
    """Both paths now share the packed words, so each layout is held against impacket's own class here."""
    created = smb.SMBNtCreateAndXResponse_Parameters()
    values = {"OplockLevel": 1, "Fid": 0x4007, "CreateAction": 1, "CreateTime": 11, "LastAccessTime": 12,
              "LastWriteTime": 13, "LastChangeTime": 14, "FileAttributes": 0x20, "AllocationSize": 4096,
              "EndOfFile": 4000, "FileType": 2, "IPCState": 0x05FF, "IsDirectory": 1}
    for key, value in values.items():
        created[key] = value
    assert smb1.NT_CREATED_WORDS.pack(0xFF, 0, 0, *values.values()) == created.getData()
    read = smb.SMBReadAndXResponse_Parameters()
    read["Remaining"], read["DataCount"], read["DataOffset"], read["DataCount_Hi"] = 0xFFFF, 300, 59, 0
    assert smb1.READ_REPLY_WORDS.pack(0xFF, 0, 0, 0xFFFF, 0, 0, 300, 59, 0, b"") == read.getData()
    assert smb1.READ_DATA_AT == 32 + 1 + len(read.getData()) + 2 == 59
    written = smb.SMBWriteAndXResponse_Parameters()
    written["Count"], written["Available"] = 5000, 0xFFFF
    assert smb1.WRITTEN_WORDS.pack(0xFF, 0, 0, 5000, 0xFFFF, 0) == written.getData()


@pytest.mark.parametrize("raw", [write_request(0x4001, b"data"), close_request(0x4001), read_request(0x4001, 0, 10),
                                 request("\\winreg", IPC)])
def test_no_request_of_a_session_not_logged_on_is_answered_by_hand(servers, raw):
    conn = connect(servers[1], False)
    conn["Authenticated"] = False
    assert smb1.answer_by_hand(servers[1], "c", raw) is None
