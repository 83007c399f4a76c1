"""winlab as strict as Windows 2000 where Windows is strict (issue 20): share access between sessions,
oplocks granted and broken, delete and rename while another session holds a file, attribute rules,
SET_FILE_BASIC, pass-through levels only where the OS has them, the negotiate profile and status
codes, a restarting host refusing TCP, sts0_start moving without a boot. Each rule is asked of the
server with raw requests (tests/integration/smb1_raw.py), not through the collection's client."""

import json
import socket
import struct
import threading
import time

import pytest
from impacket import smb
from impacket.dcerpc.v5 import srvs, transport
from impacket.smbconnection import SessionError

import smb1_raw as raw

FLEET = """
defaults: {restart_seconds: 2, oplock_break_seconds: 3, sms: {logging: true}}
hosts:
  - {name: w2k}
  - {name: nt4, os: windowsnt4}
  - {name: signs, smb_signing_enabled: true}
  - {name: requires, smb_signing_required: true}
"""
SHARING_VIOLATION, ACCESS_DENIED, CANNOT_DELETE, DELETE_PENDING = 0xC0000043, 0xC0000022, 0xC0000121, 0xC0000056
OBJECT_NAME_NOT_FOUND, INVALID_LEVEL, SMB_BAD_UID = 0xC0000034, 0xC0000148, 0x005B0002


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from conftest import Lab
    root = tmp_path_factory.mktemp("rules")
    (root / "fleet.yml").write_text(FLEET)
    lab = Lab(root / "state", root / "fleet.yml")
    lab.up()
    yield lab
    lab.down()


def port(lab, name):
    return lab.host_state(name)["smb_port"]


def put(conn, path: str, data: bytes = b"x" * 100) -> None:
    tid = conn.connectTree("C$")
    fid, dummy = raw.nt_create(conn, tid, path, raw.GENERIC_READ | raw.GENERIC_WRITE, 0, raw.OVERWRITE_IF)
    conn.writeFile(tid, fid, data)
    conn.closeFile(tid, fid)


def expect_status(code, call, *args, **kwargs):
    with pytest.raises((SessionError, smb.SessionError)) as error:
        call(*args, **kwargs)
    assert raw.status_of(error.value) == code, hex(raw.status_of(error.value))


def test_share_access_is_enforced_between_sessions_and_a_violation_is_retried_for_a_second(lab):
    a, b = raw.connect(port(lab, "w2k")), raw.connect(port(lab, "w2k"))
    put(a, "\\share.txt")
    ta, tb = a.connectTree("C$"), b.connectTree("C$")
    fid, dummy = raw.nt_create(a, ta, "\\share.txt", raw.GENERIC_READ | raw.GENERIC_WRITE, raw.SHARE_READ)
    started = time.monotonic()
    expect_status(SHARING_VIOLATION, raw.nt_create, b, tb, "\\share.txt", raw.GENERIC_WRITE, raw.SHARE_ALL)
    assert time.monotonic() - started >= 0.9  # Windows tries again for about a second before it answers
    # b may read beside a writer only if it shares writing itself; a shares reading.
    expect_status(SHARING_VIOLATION, raw.nt_create, b, tb, "\\share.txt", raw.GENERIC_READ, raw.SHARE_READ)
    other, dummy = raw.nt_create(b, tb, "\\share.txt", raw.GENERIC_READ, raw.SHARE_ALL)
    b.closeFile(tb, other)
    attributes_only, dummy = raw.nt_create(b, tb, "\\share.txt", 0x80, 0)  # attribute opens never conflict
    b.closeFile(tb, attributes_only)
    a.closeFile(ta, fid)
    writer, dummy = raw.nt_create(b, tb, "\\share.txt", raw.GENERIC_WRITE, 0)
    b.closeFile(tb, writer)


def test_a_batch_oplock_is_broken_for_another_opener_who_waits_for_the_holder(lab):
    holder, other = raw.connect(port(lab, "w2k")), raw.connect(port(lab, "w2k"))
    put(holder, "\\oplock.txt")
    th, to = holder.connectTree("C$"), other.connectTree("C$")
    fid, level = raw.nt_create(holder, th, "\\oplock.txt", raw.GENERIC_READ, raw.SHARE_ALL, flags=raw.BATCH)
    assert level == 2  # the only open of the file gets the batch oplock it asked for
    times = {}

    def second():
        started = time.monotonic()
        times["fid"], times["level"] = raw.nt_create(other, to, "\\oplock.txt", raw.GENERIC_READ, raw.SHARE_ALL)
        times["waited"] = time.monotonic() - started
    opener = threading.Thread(target=second)
    opener.start()
    message = raw.oplock_break(holder)  # the break comes to the holder, unsigned, MID 0xFFFF
    assert (message["fid"], message["type"], message["level"], message["mid"]) == (fid, 0x02, 1, 0xFFFF)
    opener.join(10)
    # Nobody answered: the opener waited the host's OplockBreakWait (3 s here, 35 s by default), then got in.
    assert 2.5 < times["waited"] < 6, times
    # impacket's own client takes a break for the answer to its next request: the harsh truth.
    fid2, level = raw.nt_create(holder, th, "\\oplock.txt", raw.GENERIC_READ, raw.SHARE_ALL, flags=raw.BATCH)
    assert level in (0, 3)  # others have it open now: no batch oplock again
    for conn, tid, f in ((holder, th, fid), (holder, th, fid2), (other, to, times["fid"])):
        conn.closeFile(tid, f)

    # An answered break lets the opener in at once.
    fid, level = raw.nt_create(holder, th, "\\oplock.txt", raw.GENERIC_READ, raw.SHARE_ALL, flags=raw.BATCH)
    assert level == 2
    opener = threading.Thread(target=second)
    opener.start()
    message = raw.oplock_break(holder)
    raw.acknowledge(holder, th, message["fid"], message["level"])
    opener.join(10)
    assert times["waited"] < 1.5 and lab.stats()["w2k"]["smb"]["oplock_breaks"] >= 2, times


def test_level_ii_oplocks_are_shared_by_readers_and_broken_by_a_write(lab):
    first, second, writer = (raw.connect(port(lab, "w2k")) for dummy in range(3))
    put(first, "\\level2.txt")
    t1, t2, tw = (c.connectTree("C$") for c in (first, second, writer))
    f1, level = raw.nt_create(first, t1, "\\level2.txt", raw.GENERIC_READ, raw.SHARE_ALL, flags=raw.BATCH)
    assert level == 2
    got = {}
    opener = threading.Thread(target=lambda: got.update(zip(("fid", "level"), raw.nt_create(
        second, t2, "\\level2.txt", raw.GENERIC_READ, raw.SHARE_ALL, flags=raw.BATCH))))
    opener.start()
    message = raw.oplock_break(first)
    assert message["level"] == 1  # batch to level II for a reader
    raw.acknowledge(first, t1, f1, 1)
    opener.join(10)
    assert got["level"] == 3  # the second reader shares level II
    fw, dummy = raw.nt_create(writer, tw, "\\level2.txt", raw.GENERIC_WRITE, raw.SHARE_ALL)
    writer.writeFile(tw, fw, b"changed")
    for conn in (first, second):  # a write breaks every level II holder to none, and nobody waits for them
        assert raw.oplock_break(conn)["level"] == 0
    for conn, tid, fid in ((first, t1, f1), (second, t2, got["fid"]), (writer, tw, fw)):
        conn.closeFile(tid, fid)


def test_delete_and_rename_while_another_session_holds_the_file(lab):
    holder, other, third = (raw.connect(port(lab, "w2k")) for dummy in range(3))
    put(holder, "\\held.txt")
    th, to, t3 = (c.connectTree("C$") for c in (holder, other, third))
    fid, dummy = raw.nt_create(holder, th, "\\held.txt", raw.GENERIC_READ, raw.SHARE_READ | raw.SHARE_WRITE)
    expect_status(SHARING_VIOLATION, other.deleteFile, "C$", "\\held.txt")
    expect_status(SHARING_VIOLATION, other.rename, "C$", "\\held.txt", "\\moved.txt")
    holder.closeFile(th, fid)
    fid, dummy = raw.nt_create(holder, th, "\\held.txt", raw.GENERIC_READ, raw.SHARE_ALL)
    other.rename("C$", "\\held.txt", "\\moved.txt")  # the open shares delete: it follows the file
    # SMB_COM_DELETE opens sharing nothing (MS-CIFS <256>): a reader that shares delete still stops it.
    expect_status(SHARING_VIOLATION, other.deleteFile, "C$", "\\moved.txt")
    doomed, dummy = raw.nt_create(other, to, "\\moved.txt", raw.DELETE | 0x80, raw.SHARE_ALL,
                                  options=raw.NON_DIRECTORY | raw.DELETE_ON_CLOSE)
    other.closeFile(to, doomed)
    expect_status(DELETE_PENDING, raw.nt_create, third, t3, "\\moved.txt", raw.GENERIC_READ, raw.SHARE_ALL)
    holder.closeFile(th, fid)  # the last handle: now the name goes
    expect_status(OBJECT_NAME_NOT_FOUND, raw.nt_create, third, t3, "\\moved.txt", raw.GENERIC_READ, raw.SHARE_ALL)


def test_readonly_hidden_and_system_files_as_ntfs_keeps_them(lab, tmp_path):
    conn = raw.connect(port(lab, "w2k"))
    tid = conn.connectTree("C$")
    put(conn, "\\attr.txt")

    def set_attributes(value):
        fid, dummy = raw.nt_create(conn, tid, "\\attr.txt", 0x100, raw.SHARE_ALL)  # FILE_WRITE_ATTRIBUTES
        server = conn.getSMBServer()
        server.send_trans2(tid, 0x08, b"\x00", struct.pack("<HHH", fid, 0x101, 0), struct.pack("<qqqqLL", 0, 0, 0, 0,
                                                                                               value, 0))
        assert raw.reply_status(server.recvSMB()) == 0
        conn.closeFile(tid, fid)

    set_attributes(0x2 | 0x4)  # hidden, system
    expect_status(ACCESS_DENIED, raw.nt_create, conn, tid, "\\attr.txt", raw.GENERIC_WRITE, 0, raw.OVERWRITE_IF)
    fid, dummy = raw.nt_create(conn, tid, "\\attr.txt", raw.GENERIC_WRITE, 0, raw.OVERWRITE_IF, attributes=0x6)
    conn.closeFile(tid, fid)
    assert lab.host_state("w2k")["files"]["c:\\attr.txt"]["attributes"] == 0x26  # what was asked, plus ARCHIVE
    set_attributes(0x1)  # read-only (and nothing else: the settable bits are replaced)
    expect_status(ACCESS_DENIED, raw.nt_create, conn, tid, "\\attr.txt", raw.GENERIC_WRITE, raw.SHARE_ALL)
    expect_status(CANNOT_DELETE, conn.deleteFile, "C$", "\\attr.txt")
    set_attributes(0x80)  # NORMAL clears them all
    conn.deleteFile("C$", "\\attr.txt")


def test_set_file_basic_sets_the_times_and_a_set_write_time_outlives_the_handles_writes(lab):
    conn = raw.connect(port(lab, "w2k"))
    tid = conn.connectTree("C$")
    when = 125000000000000000  # 1997-02-09, long before anything here was written
    fid, dummy = raw.nt_create(conn, tid, "\\times.txt", raw.GENERIC_READ | raw.GENERIC_WRITE, 0, raw.OVERWRITE_IF)
    server = conn.getSMBServer()
    server.send_trans2(tid, 0x08, b"\x00", struct.pack("<HHH", fid, 0x101, 0),
                       struct.pack("<qqqqLL", 0, 0, when, 0, 0, 0))
    assert raw.reply_status(server.recvSMB()) == 0
    conn.writeFile(tid, fid, b"written after the time was set")
    conn.closeFile(tid, fid)
    entry = lab.host_state("w2k")["files"]["c:\\times.txt"]
    assert entry["modified"] == "1997-02-09T22:13:20.0000000Z", entry  # what WinRM's probe reports too
    fid, dummy = raw.nt_create(conn, tid, "\\times.txt", raw.GENERIC_READ, raw.SHARE_ALL)
    basic = conn.getSMBServer().query_file_info(tid, fid, 0x101)
    assert struct.unpack_from("<q", basic, 16)[0] == when
    conn.closeFile(tid, fid)


def test_nt4_has_no_pass_through_levels_and_no_extended_security(lab):
    conn = raw.connect(port(lab, "nt4"))
    params = conn.getSMBServer()._dialects_parameters  # pylint: disable=protected-access
    assert not params["Capabilities"] & 0x2000 and not params["Capabilities"] & 0x80000000, hex(params["Capabilities"])
    tid = conn.connectTree("C$")
    assert raw.trans2_query_fs(conn, tid, 0x3EF)[0] == INVALID_LEVEL  # FileFsFullSizeInformation: Windows 2000's
    status, data = raw.trans2_query_fs(conn, tid, 0x103)  # SMB_QUERY_FS_SIZE_INFO: NT 4.0 has it
    assert status == 0 and struct.unpack_from("<qqLL", data)[1] * 4096 == 3 * 2**30
    w2k = raw.connect(port(lab, "w2k"))
    assert raw.trans2_query_fs(w2k, w2k.connectTree("C$"), 0x3EF)[0] == 0


def test_the_negotiate_profile_and_status_codes_of_windows_2000(lab):
    conn = raw.connect(port(lab, "w2k"))
    params = conn.getSMBServer()._dialects_parameters  # pylint: disable=protected-access
    assert (hex(params["Capabilities"]), params["SecurityMode"], params["MaxMpxCount"], params["MaxBufferSize"]) == (
        "0x8000f3fd", 0x03, 50, 16644)  # a member server: signing neither enabled nor required
    assert raw.connect(port(lab, "signs")).getSMBServer()._dialects_parameters["SecurityMode"] == 0x07
    assert raw.connect(port(lab, "requires")).getSMBServer()._dialects_parameters["SecurityMode"] == 0x0F
    server = conn.getSMBServer()
    assert (server.get_server_os(), server.get_server_lanman()) == ("Windows 5.0", "Windows 2000 LAN Manager")
    uid = conn.getSMBServer()._uid  # pylint: disable=protected-access
    first = raw.request(conn, smb.SMB.SMB_COM_LOGOFF_ANDX, uid=uid, parameters=struct.pack("<BBH", 0xFF, 0, 0))
    assert raw.reply_status(first) == 0
    again = raw.request(conn, smb.SMB.SMB_COM_LOGOFF_ANDX, uid=0, parameters=struct.pack("<BBH", 0xFF, 0, 0))
    assert raw.reply_status(again) == SMB_BAD_UID  # not STATUS_ACCESS_DENIED, impacket's stock answer
    assert lab.stats()["w2k"]["smb"]["bad_uid"] >= 1


def test_a_restarting_host_refuses_tcp_and_its_port_answers_again(lab):
    address = ("127.0.0.1", port(lab, "w2k"))
    socket.create_connection(address, timeout=5).close()
    from winlab.rpc.winreg import BaseInitiateSystemShutdown
    from impacket.dcerpc.v5 import rrp
    conn = raw.connect(port(lab, "w2k"))
    dce = transport.SMBTransport("127.0.0.1", 445, "\\winreg", smb_connection=conn).get_dce_rpc()
    dce.connect()
    dce.bind(rrp.MSRPC_UUID_RRP)
    request = BaseInitiateSystemShutdown()
    request["ServerName"], request["lpMessage"] = rrp.NULL, rrp.NULL
    request["dwTimeout"], request["bForceAppsClosed"], request["bRebootAfterShutdown"] = 0, 1, 1
    dce.request(request)
    refused, deadline = False, time.time() + 10
    while time.time() < deadline and not refused:
        try:
            socket.create_connection(address, timeout=2).close()
            time.sleep(0.1)
        except ConnectionRefusedError:
            refused = True  # nothing listens while it boots: no TCP handshake, no negotiate read
    assert refused
    lab.wait_up()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            raw.connect(port(lab, "w2k")).logoff()
            break
        except OSError:
            time.sleep(0.3)
    else:
        raise AssertionError("the host's SMB port did not answer again")


def test_sts0_start_moves_with_the_server_service_and_the_event_log_keeps_the_boot(lab):
    from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client, eventlog

    def statistics():
        conn = raw.connect(port(lab, "w2k"))
        dce = transport.SMBTransport("127.0.0.1", 445, "\\srvsvc", smb_connection=conn).get_dce_rpc()
        dce.connect()
        dce.bind(srvs.MSRPC_UUID_SRVS)
        return srvs.hNetrServerStatisticsGet(dce, "LanmanServer", 0, 0)["InfoStruct"]["sts0_start"]

    def last_boot():
        session = client.SmbClient("127.0.0.1", port(lab, "w2k"), "Administrator", "Lab-Passw0rd!").connect()
        try:
            return eventlog.last_boot(session)
        finally:
            session.close()

    boot, start = last_boot(), statistics()
    state = lab.host_state("w2k")
    assert abs(boot - state["boot_time"]) <= state["eventlog_start_seconds"] + 1
    held = raw.connect(port(lab, "w2k"))
    time.sleep(1.1)  # sts0_start counts whole seconds
    lab.winlab("fault", "w2k", "server_service_restarted")
    with pytest.raises(Exception):  # a restarted Server service ends every session
        held.listPath("C$", "\\*")
    moved = statistics()
    assert moved != start and abs(moved - time.time()) < 5, (start, moved)
    lab.winlab("fault", "w2k", "statistics_cleared")
    assert last_boot() == boot  # the boot did not move, only the statistics did
    assert json.loads(lab.winlab("status", "--json").stdout)[0]["up"]
