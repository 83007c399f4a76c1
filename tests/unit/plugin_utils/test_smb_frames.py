"""The SMB1 and DCE/RPC messages the collection frames with struct (smb1_frames.py, smb1.py, pipes.py) are
byte for byte the ones impacket frames for the same request (impacket is the other implementation here),
signed with the same sequence numbers, and the answers are cut as impacket's parser cuts them."""

import struct

import pytest
from impacket import smb
from impacket.dcerpc.v5 import rpcrt, scmr

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import pipes, services, smb1, smb1_frames

KEY, RESPONSE = bytes(range(16)), bytes(range(24))


class Wire:
    """A NetBIOS session that keeps what is sent and answers from a list."""

    def __init__(self, answers=()):
        self.sent, self.answers = [], list(answers)

    def send_packet(self, data):
        self.sent.append(bytes(data))

    def recv_packet(self, timeout=None):
        class Packet:
            def __init__(self, raw):
                self.raw = raw

            def get_trailer(self):
                return self.raw
        return Packet(self.answers.pop(0))


def server(unicode=True, signed=False, answers=()):
    """impacket's SMB client object in the state a logged-on session leaves it, on a fake wire."""
    conn = smb.SMB.__new__(smb.SMB)
    flags2 = smb.SMB.FLAGS2_EXTENDED_SECURITY | smb.SMB.FLAGS2_NT_STATUS | smb.SMB.FLAGS2_LONG_NAMES
    conn.set_flags(flags1=smb.SMB.FLAGS1_PATHCASELESS | smb.SMB.FLAGS1_CANONICALIZED_PATHS,
                   flags2=flags2 | (smb.SMB.FLAGS2_UNICODE if unicode else 0))
    conn._uid, conn._sess, conn._SMB__timeout = 2049, Wire(answers), 60
    conn._SignatureEnabled, conn._SignatureVerificationEnabled = signed, False
    conn._SigningSessionKey, conn._SigningChallengeResponse, conn._SignSequenceNumber = KEY, RESPONSE, 2
    conn._dialects_parameters = {"MaxBufferSize": 16644}
    return conn


def answer(command, words=b"", data=b"", status=0, tid=1):
    header = smb1_frames.HEADER.pack(b"\xffSMB", command, status, 0x98, 0xC807, 0, b"\x00" * 8, 0, tid, 0, 2049, 0)
    return header + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data


@pytest.mark.parametrize("unicode", [True, False])
@pytest.mark.parametrize("signed", [True, False])
def test_an_nt_create_is_framed_as_impacket_frames_it(unicode, signed):
    ours, theirs = server(unicode, signed), server(unicode, signed)
    reply = answer(0xA2, struct.pack("<BBHBHLqqqqLqqHHB", 0xFF, 0, 0, 0, 0x4007, 1, 11, 12, 13, 14, 0x20, 4096, 522320,
                                     0, 0, 0) + b"\x00" * 16)
    ours._sess.answers.append(reply)
    fid, info = smb1.create_info(ours, 5, "\\SMS\\bin\\i386\\Baseutil.dll", 0x120089, 7, 1, 0x40, 0)

    command = smb.SMBCommand(smb.SMB.SMB_COM_NT_CREATE_ANDX)
    command["Parameters"] = smb.SMBNtCreateAndX_Parameters()
    command["Data"] = smb.SMBNtCreateAndX_Data(flags=theirs.get_flags()[1])
    name = "\\SMS\\bin\\i386\\Baseutil.dll".encode("utf-16le" if unicode else "latin-1")
    params = command["Parameters"]
    params["FileNameLength"], params["CreateFlags"], params["AccessMask"] = len(name), 0x10, 0x120089
    params["FileAttributes"], params["ShareAccess"], params["Disposition"] = 0, 7, 1
    params["CreateOptions"], params["Impersonation"], params["SecurityFlags"] = 0x40, 2, 0
    command["Data"]["FileName"] = name
    if unicode:
        command["Data"]["Pad"] = 0
    packet = smb.NewSMBPacket()
    packet["Tid"] = 5
    packet.addCommand(command)
    theirs.sendSMB(packet)

    assert ours._sess.sent == theirs._sess.sent
    assert ours._SignSequenceNumber == theirs._SignSequenceNumber == (4 if signed else 2)
    assert fid == 0x4007 and info == {"size": 522320, "creation": 11, "last_write": 13, "change": 14,
                                      "attributes": 0x20, "is_dir": False}


def test_a_trans2_query_is_framed_as_impacket_frames_it_and_its_data_cut_by_offset():
    ours, theirs = server(), server()
    data = b"FSDATA!!"
    words = struct.pack("<HHHHHHHHHBB", 0, len(data), 0, 0, 56, 0, len(data), 60, 0, 0, 0)
    ours._sess.answers.append(answer(0x32, words, b"\x00" * (60 - 35 - len(words)) + data))
    assert smb1.fs_info(ours, 9, 0x105) == data
    theirs.send_trans2(9, smb.SMB.TRANS2_QUERY_FS_INFORMATION, b"\x00", struct.pack("<H", 0x105), b"")
    assert ours._sess.sent == theirs._sess.sent


def test_a_trans2_set_with_data_is_padded_as_impacket_pads_it():
    ours, theirs = server(), server()
    words = struct.pack("<HHHHHHHHHBB", 2, 0, 0, 2, 56, 0, 0, 0, 0, 0, 0)
    ours._sess.answers.append(answer(0x32, words, b"\x00\x00\x00"))
    smb1.set_basic(ours, 9, 0x4007, (1, 2, 3, 4), 0x20)
    theirs.send_trans2(9, smb1.TRANS2_SET_FILE_INFORMATION, b"\x00", struct.pack("<HHH", 0x4007, 0x101, 0),
                       struct.pack("<qqqqLL", 1, 2, 3, 4, 0x20, 0))
    assert ours._sess.sent == theirs._sess.sent


def test_an_error_status_raises_impacket_session_error_with_it():
    conn = server(answers=[answer(0xA2, status=0xC0000034)])
    with pytest.raises(smb.SessionError) as raised:
        smb1.create_info(conn, 5, "\\missing", 0x120089, 7, 1, 0x40)
    assert raised.value.get_error_code() == 0xC0000034


def test_an_oplock_break_before_the_answer_is_released_and_skipped():
    words = struct.pack("<HHHHHHHHHBB", 0, 4, 0, 0, 56, 0, 4, 56, 0, 0, 0)
    brk = smb1_frames.HEADER.pack(b"\xffSMB", 0x24, 0, 0, 0, 0, b"\x00" * 8, 0, 1, 0, 0, 0xFFFF)
    brk += bytes([8]) + struct.pack("<BBHHBBLHH", 0xFF, 0, 0, 0x4007, 2, 0, 0, 0, 0) + b"\x00\x00"
    conn = server(answers=[brk, answer(0x25, words, b"\x00" + b"PIPE")])
    assert smb1.transact_pipe(conn, 1, 0x4001, b"request") == b"PIPE"
    release = conn._sess.sent[1]
    assert release[4] == 0x24 and struct.unpack_from("<H", release, 33 + 4)[0] == 0x4007  # the FID broken


def test_a_pipe_transaction_names_pipe_in_the_sessions_encoding():
    for unicode, name in ((True, "\\PIPE\\\x00".encode("utf-16le")), (False, b"\\PIPE\\\x00")):
        words = struct.pack("<HHHHHHHHHBB", 0, 0, 0, 0, 56, 0, 0, 56, 0, 0, 0)
        conn = server(unicode, answers=[answer(0x25, words)])
        assert smb1.transact_pipe(conn, 1, 0x4001, b"stub") == b""
        sent = conn._sess.sent[0]
        setup = struct.unpack_from("<HH", sent, 33 + 28)
        assert setup == (0x26, 0x4001) and name in sent and sent.endswith(b"stub")
        data_offset = struct.unpack_from("<H", sent, 33 + 24)[0]
        assert sent[data_offset:] == b"stub" and data_offset % 4 == 0


class Transport:
    def __init__(self, answers):
        self.sent, self.answers, self.unread = [], list(answers), None

    def send(self, data, forceWriteAndx=0, forceRecv=0):
        self.sent.append(data)

    def recv(self, forceRecv=0, count=0):
        if self.unread is not None:
            data, self.unread = self.unread, None
            return data
        return self.answers.pop(0)


def bound(answers=()):
    dce = pipes.dce_class()(Transport(answers))
    dce._DCERPC_v5__max_xmit_size = 4280
    return dce


def response(stub, flags=pipes.PFC_FIRST_FRAG | pipes.PFC_LAST_FRAG, call_id=1, kind=pipes.MSRPC_RESPONSE):
    return pipes.REQUEST.pack(5, 0, kind, flags, 0x10, 24 + len(stub), 0, call_id, len(stub), 0, 0) + stub


def test_a_call_is_the_request_pdu_impacket_sends():
    ours, theirs = bound(), rpcrt.DCERPC_v5(Transport([]))
    theirs._DCERPC_v5__max_xmit_size = 4280  # what the bind agreed
    request = scmr.ROpenSCManagerW()
    request["lpMachineName"], request["lpDatabaseName"] = "DUMMY\x00", "ServicesActive\x00"
    request["dwDesiredAccess"] = 0xF003F
    ours.call(request.opnum, request)
    ours.call(request.opnum, request)
    rpcrt.DCERPC_v5.call(theirs, request.opnum, request)
    rpcrt.DCERPC_v5.call(theirs, request.opnum, request)
    assert ours._transport.sent == theirs._transport.sent  # call ids 1 and 2, the same bytes


def test_fragments_are_joined_and_a_fault_is_impacket_s_exception():
    dce = bound([response(b"one-", flags=pipes.PFC_FIRST_FRAG), response(b"two", flags=pipes.PFC_LAST_FRAG)])
    assert dce.recv() == b"one-two"
    fault = bound([pipes.REQUEST.pack(5, 0, 3, 3, 0x10, 32, 0, 1, 0, 0, 0) + struct.pack("<LL", 0x1C010002, 0)])
    with pytest.raises(rpcrt.DCERPCException, match="nca_s_op_rng_error"):
        fault.recv()


def test_a_byte_array_answer_is_cut_at_its_aligned_end():
    stub = struct.pack("<L", 5) + b"hello" + b"\x00" * 3 + struct.pack("<LLLLL", 9, 2, 0x20000, 7, 234)
    request = scmr.REnumServicesStatusW()
    request["hSCManager"] = b"\x00" * 20
    buffer, rest = pipes.byte_array_answer(bound([response(stub)]), request)
    assert buffer == b"hello" and services.parse_enum_rest(rest) == (9, 2, 7, 234)
    assert services.parse_enum_rest(struct.pack("<LLLL", 9, 2, 0, 0)) == (9, 2, None, 0)
    with pytest.raises(ValueError, match="malformed"):
        pipes.byte_array_answer(bound([response(struct.pack("<L", 99) + b"short")]), request)
    with pytest.raises(ValueError, match="malformed"):
        services.parse_enum_rest(b"\x00" * 12)
