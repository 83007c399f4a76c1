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


class PeerWire(Wire):
    """A wire connected to one address, as impacket's NetBIOS session tells it."""

    def __init__(self, answers=(), address="10.1.2.3"):
        super().__init__(answers)
        self.address = address

    def get_remote_host(self):
        return self.address

    def get_socket(self):
        address = self.address

        class Socket:
            @staticmethod
            def getpeername():
                return (address, 445)
        return Socket()


@pytest.mark.parametrize("unicode", [True, False])
@pytest.mark.parametrize("signed", [True, False])
def test_a_tree_connect_is_framed_as_impacket_frames_it_and_gives_the_answers_tid(unicode, signed):
    reply = answer(0x75, struct.pack("<BBHH", 0xFF, 0, 0, 1), b"A:\x00", tid=0x0803)
    ours, theirs = server(unicode, signed), server(unicode, signed)
    ours._sess, theirs._sess = PeerWire([reply]), PeerWire([reply])
    theirs._SMB__remote_host = "10.1.2.3"  # impacket keeps the name it was given, and resolves it per tree
    assert smb1.tree_connect(ours, "ADMIN$") == 0x0803 == ours.tid
    assert theirs.tree_connect_andx("\\\\10.1.2.3\\ADMIN$") == 0x0803
    assert ours._sess.sent == theirs._sess.sent
    assert ours._SignSequenceNumber == theirs._SignSequenceNumber


def test_a_refused_tree_connect_raises_impacket_session_error_with_its_status():
    conn = server()
    conn._sess = PeerWire([answer(0x75, status=0xC0000022)])
    with pytest.raises(smb.SessionError) as raised:
        smb1.tree_connect(conn, "C$")
    assert raised.value.get_error_code() == 0xC0000022


WINREG = rpcrt.uuidtup_to_bin(("338CD001-2244-31F1-AAAA-900038001003", "1.0"))


def bind_ack(results=((0, 0),), address=b"\\PIPE\\winreg\x00", max_recv=4280, kind=pipes.MSRPC_BINDACK, auth=b""):
    body = pipes.BIND_ACK.pack(4280, max_recv, 0x12345, len(address)) + address
    body += b"\x00" * (-(16 + len(body)) % 4) + struct.pack("<BBH", len(results), 0, 0)
    body += b"".join(pipes.RESULT.pack(result, reason, rpcrt.uuidtup_to_bin(pipes.NDR)) for result, reason in results)
    return pipes.COMMON.pack(5, 0, kind, 3, 0x10, 16 + len(body) + len(auth), len(auth), 1) + body + auth


@pytest.mark.parametrize("address", [b"\\PIPE\\winreg\x00", b"\\PIPE\\ntsvcs\x00", b""])
def test_a_bind_is_the_pdu_impacket_sends_and_its_acceptance_leaves_impacket_s_state(address):
    ours, theirs = bound([bind_ack(address=address, max_recv=2048)]), rpcrt.DCERPC_v5(
        Transport([bind_ack(address=address, max_recv=2048)]))
    ours.bind(WINREG)
    theirs.bind(WINREG)
    assert ours._transport.sent == theirs._transport.sent and len(ours._transport.sent) == 1
    assert ours._DCERPC_v5__max_xmit_size == theirs._DCERPC_v5__max_xmit_size == 2048
    assert ours.transfer_syntax == theirs.transfer_syntax == rpcrt.uuidtup_to_bin(pipes.NDR)
    assert ours._DCERPC_v5__callid == theirs._DCERPC_v5__callid == 1  # a bind without auth keeps the call id


@pytest.mark.parametrize("ack, message", [
    (bind_ack(results=((2, 1),)), "abstract_syntax_not_supported"),  # a rejected context: impacket's words
    (pipes.COMMON.pack(5, 0, 13, 3, 0x10, 20, 0, 1) + struct.pack("<HH", 4, 0), "protocol_version_not_specified"),  # bind_nak
])
def test_a_bind_that_is_not_accepted_is_read_by_impacket_and_sends_nothing_more(ack, message):
    dce = bound([ack])
    with pytest.raises(rpcrt.DCERPCException, match=message):
        dce.bind(WINREG)
    assert len(dce._transport.sent) == 1


def test_only_a_plain_acceptance_of_the_one_context_is_read_by_struct():
    assert pipes.bind_accepted(bind_ack()) == (4280, rpcrt.uuidtup_to_bin(pipes.NDR))
    for other in (bind_ack(results=((0, 0), (0, 0))), bind_ack(auth=b"\x00" * 8), bind_ack()[:-1],
                  bind_ack(kind=15), bind_ack()[:20], bind_ack(results=((3, 0),))):
        assert pipes.bind_accepted(other) is None


def read_answer(data, status=0):
    words = struct.pack("<BBHHHHHHH8s", 0xFF, 0, 0, 0xFFFF, 0, 0, len(data), 60, 0, b"")
    return answer(0x2E, words, b"\x00" + data, status=status)  # data at 60: header, 12 words, count, a pad byte


@pytest.mark.parametrize("signed, large, asked", [(True, True, 16644), (False, True, 65000), (False, False, 16644)])
def test_a_file_read_is_the_request_impacket_sends_and_is_cut_by_its_offset(signed, large, asked):
    ours, theirs = server(signed=signed), server(signed=signed)
    for conn in (ours, theirs):
        conn._dialects_parameters = {"MaxBufferSize": 16644, "Capabilities": smb1.CAP_LARGE_READX if large else 0}
        conn._sess.answers.append(read_answer(b"MZ\x90\x00"))
    assert smb1.read(ours, 5, 0x4007, 4096, 70000) == b"MZ\x90\x00"
    assert theirs.read_andx(5, 0x4007, 4096, min(70000, asked)) == b"MZ\x90\x00"
    assert ours._sess.sent == theirs._sess.sent and struct.unpack_from("<H", ours._sess.sent[0], 33 + 10)[0] == asked


def test_a_read_at_the_end_of_a_file_is_empty_and_another_error_raises():
    conn = server(answers=[answer(0x2E, status=smb1.STATUS_END_OF_FILE), answer(0x2E, status=0xC0000022)])
    conn._dialects_parameters = {"MaxBufferSize": 16644, "Capabilities": 0}
    assert smb1.read(conn, 5, 0x4007, 0, 100) == b""
    with pytest.raises(smb.SessionError) as raised:
        smb1.read(conn, 5, 0x4007, 0, 100)
    assert raised.value.get_error_code() == 0xC0000022


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("size", [1, 4096, 61440])
def test_a_write_is_the_request_impacket_sends_and_its_count_is_the_servers(signed, size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    reply = answer(0x2F, struct.pack("<BBHHHHHH", 0xFF, 0, 0, size - 1, 0xFFFF, 0, 0, 0))
    ours, theirs = server(signed=signed, answers=[reply]), server(signed=signed, answers=[reply])
    assert smb1.write(ours, 5, 0x4007, data, 122880) == size - 1  # a short write is the server's count
    theirs.write_andx(5, 0x4007, data, 122880)
    assert ours._sess.sent == theirs._sess.sent and ours._sess.sent[0][63:] == data
    assert ours._SignSequenceNumber == theirs._SignSequenceNumber


def test_a_close_is_the_request_impacket_sends_and_an_error_raises():
    ours, theirs = server(answers=[answer(0x04)]), server(answers=[answer(0x04)])
    smb1.close(ours, 5, 0x4007)
    theirs.close(5, 0x4007)
    assert ours._sess.sent == theirs._sess.sent
    with pytest.raises(smb.SessionError) as raised:
        smb1.close(server(answers=[answer(0x04, status=0xC0000008)]), 5, 0x4007)
    assert raised.value.get_error_code() == 0xC0000008


def test_a_connection_lost_during_a_read_stays_a_lost_connection():
    from impacket import nmb

    from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client

    class Lost(Wire):
        def recv_packet(self, timeout=None):
            raise nmb.NetBIOSError("Error while reading from remote", 104)

    conn = server()
    conn._sess, conn._dialects_parameters = Lost(), {"MaxBufferSize": 16644, "Capabilities": 0}
    with pytest.raises(nmb.NetBIOSError) as raised:
        smb1.read(conn, 5, 0x4007, 0, 100)
    assert client._lost(raised.value) and client._status(raised.value) is None  # what makes the host unreachable
