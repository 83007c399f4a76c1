"""winlab's NT_CREATE_ANDX read and answered with struct (smb1.create_answer) gives byte for byte the reply
impacket's path (processRequest and winlab's nt_create handler) gives for the same request, on two identical
hosts: pipes found and not, files and folders found and not, an unknown tree, signed or not, Unicode or ASCII;
what it does not read (a chained AndX, another word count) it leaves to that path."""

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
    assert smb1.create_answer(servers[1], "c", request("\\winreg", IPC)) is None
