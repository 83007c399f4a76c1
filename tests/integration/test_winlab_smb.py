"""winlab's SMB front door, as the Windows 2000 servers it stands in for: impacket's client (SMBConnection,
rrp, scmr, srvs, lsad) for every call, each fault, wrong credentials; and Samba's own tools (smbclient,
rpcclient, net rpc), which nobody here wrote, as the independent check. One host model behind SMB and WinRM."""

import calendar
import hashlib
import io
import json
import re
import shutil
import subprocess
import time

import pefile
import pytest
from impacket.dcerpc.v5 import lsad, rrp, scmr, srvs, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smbconnection import SMB2_DIALECT_002, SMB_DIALECT, SessionError, SMBConnection

FLEET = """
defaults: {restart_seconds: 2, sms: {logging: true}}
hosts:
  - {name: w2k}
  - {name: w16, os: windows2016, transport: smb}
  - {name: console, sms: {console_running: true}}
"""
PASSWORD = "Lab-Passw0rd!"
DLL = "\\SMS\\bin\\i386\\Distmgr.dll"
NT1 = "--option=client min protocol=NT1"
# A Windows 2000 member server offers no SMB signing (security mode 0x03); Samba's tools insist on it for
# IPC$ unless told otherwise, as they would with the real servers.
IPC_SIGNING = "--option=client ipc signing=auto"


@pytest.fixture
def lab(lab_factory):
    return lab_factory(FLEET)


def port(lab, name):
    return lab.host_state(name)["smb_port"]


def connect(lab, name, password=PASSWORD, dialect=SMB_DIALECT):
    conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port(lab, name), preferredDialect=dialect, timeout=10)
    conn.login("Administrator", password)
    return conn


def pipe(conn, name, uuid):
    dce = transport.SMBTransport("127.0.0.1", 445, f"\\{name}", smb_connection=conn).get_dce_rpc()
    dce.connect()
    dce.bind(uuid)
    return dce


def read(conn, share, path):
    out = io.BytesIO()
    conn.getFile(share, path, out.write)
    return out.getvalue()


def samba(tool, lab, name, *args, nt1=True):
    assert shutil.which(tool), f"Samba's {tool} is needed: make setup installs it (as root)"
    base = {"smbclient": [tool, f"//127.0.0.1/{args[0]}", "-p", str(port(lab, name))],
            "rpcclient": [tool, "-p", str(port(lab, name)), "127.0.0.1"],
            "net": [tool, "rpc", *args[0].split(), "-S", "127.0.0.1", "-p", str(port(lab, name))]}[tool]
    rest = list(args[1:]) if tool in ("smbclient", "net") else list(args)
    command = base + ["-U", f"Administrator%{PASSWORD}", IPC_SIGNING] + ([NT1] if nt1 else []) + rest
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_smb1_only_ntlm_checked_and_wrong_passwords_get_nothing(lab):
    conn = connect(lab, "w2k")
    assert conn.getDialect() == SMB_DIALECT
    with pytest.raises(SessionError) as error:
        connect(lab, "w2k", password="wrong")
    assert "STATUS_LOGON_FAILURE" in str(error.value)
    with pytest.raises(Exception) as error:  # a Windows 2000 host does not speak SMB2
        SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port(lab, "w2k"), preferredDialect=SMB2_DIALECT_002,
                      timeout=10).login("Administrator", PASSWORD)
    assert "STATUS_NOT_SUPPORTED" in str(error.value)
    assert lab.stats()["w2k"]["smb"]["auth_failures"] >= 1
    # Samba: wrong password refused, SMB2 refused, NT1 accepted.
    refused = subprocess.run(["rpcclient", "-p", str(port(lab, "w2k")), "-U", "Administrator%bad", NT1, "-c", "srvinfo",
                              "127.0.0.1"], capture_output=True, text=True, check=False)
    assert "NT_STATUS_LOGON_FAILURE" in refused.stdout + refused.stderr
    assert samba("smbclient", lab, "w2k", "C$", "-c", "ls", nt1=False).returncode != 0


def test_the_windows2016_host_offers_smb2(lab):
    conn = connect(lab, "w16", dialect=SMB2_DIALECT_002)
    assert conn.getDialect() == SMB2_DIALECT_002
    data = read(conn, "C$", DLL)
    assert hashlib.sha256(data).hexdigest() == lab.host_state("w16")["files"]["c:\\sms\\bin\\i386\\distmgr.dll"]["sha256"]
    listing = samba("smbclient", lab, "w16", "C$", "-c", "cd SMS\\bin\\i386; ls", nt1=False)
    assert "Distmgr.dll" in listing.stdout, listing.stdout + listing.stderr


def test_shares_files_and_real_pe_dlls(lab, tmp_path):
    conn = connect(lab, "w2k")
    assert {s["shi1_netname"].rstrip("\x00") for s in conn.listShares()} == {"IPC$", "ADMIN$", "C$", "D$"}
    names = {f.get_longname() for f in conn.listPath("C$", "\\SMS\\bin\\i386\\*")}
    assert {"Baseutil.dll", "Distmgr.dll"} <= names
    data = read(conn, "C$", DLL)
    entry = lab.host_state("w2k")["files"]["c:\\sms\\bin\\i386\\distmgr.dll"]
    assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    pe = pefile.PE(data=data)
    fixed = pe.VS_FIXEDFILEINFO[0]
    assert (fixed.FileVersionLS >> 16, fixed.FileVersionLS & 0xFFFF) == (1493, 3000)
    # Samba sees the same bytes.
    run = samba("smbclient", lab, "w2k", "C$", "-c", f"get {DLL} {tmp_path / 'd.dll'}")
    assert run.returncode == 0 and (tmp_path / "d.dll").read_bytes() == data, run.stderr


def test_one_host_model_behind_smb_and_winrm(lab, tmp_path):
    conn = connect(lab, "w2k")
    conn.createDirectory("C$", "\\Temp")
    conn.putFile("C$", "\\Temp\\from-smb.txt", io.BytesIO(b"written over SMB").read)
    seen = lab.ansible("w2k", "-m", "ansible.windows.slurp", "-a", json.dumps({"src": "C:\\Temp\\from-smb.txt"}),
                       check=True)
    assert "d3JpdHRlbiBvdmVyIFNNQg==" in seen.stdout  # base64 of the bytes
    (tmp_path / "from-winrm.txt").write_text("written over WinRM")
    lab.ansible("w2k", "-m", "ansible.windows.win_copy", "-a",
                json.dumps({"src": str(tmp_path / "from-winrm.txt"), "dest": "C:\\Temp\\from-winrm.txt"}), check=True)
    assert read(conn, "C$", "\\Temp\\from-winrm.txt") == b"written over WinRM"
    conn.deleteFile("C$", "\\Temp\\from-smb.txt")
    assert "c:\\temp\\from-smb.txt" not in lab.host_state("w2k")["files"]
    smbclient = samba("smbclient", lab, "w2k", "C$", "-c", "cd Temp; put /etc/hostname h.txt; allinfo h.txt; del h.txt")
    assert smbclient.returncode == 0 and "stream: [::$DATA]" in smbclient.stdout, smbclient.stdout + smbclient.stderr


def test_dlls_in_use_and_a_full_disk(lab):
    conn = connect(lab, "w2k")
    with pytest.raises(SessionError) as error:  # SMS and WMI run: the DLL is in use
        conn.putFile("C$", DLL, io.BytesIO(b"MZ new").read)
    assert "STATUS_SHARING_VIOLATION" in str(error.value)
    console = connect(lab, "console")
    dce = pipe(console, "svcctl", scmr.MSRPC_UUID_SCMR)  # stop SMS and WMI: the console alone still holds it
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    for name in ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR", "Winmgmt"):
        scmr.hRControlService(dce, scmr.hROpenServiceW(dce, scm, name)["lpServiceHandle"], scmr.SERVICE_CONTROL_STOP)
    with pytest.raises(SessionError) as error:
        console.putFile("C$", DLL, io.BytesIO(b"MZ new").read)
    assert "STATUS_SHARING_VIOLATION" in str(error.value)
    lab.winlab("fault", "w2k", "system_drive_full")
    with pytest.raises(SessionError) as error:
        conn.putFile("C$", "\\big.bin", io.BytesIO(b"x" * 70000).read)
    assert "STATUS_DISK_FULL" in str(error.value)
    smbclient = samba("smbclient", lab, "w2k", "C$", "-c", f"put /etc/services {DLL}")
    assert "NT_STATUS_SHARING_VIOLATION" in smbclient.stdout + smbclient.stderr


def test_winreg_values_keys_and_the_remote_restart(lab):
    conn = connect(lab, "w2k")
    dce = pipe(conn, "winreg", rrp.MSRPC_UUID_RRP)
    hklm = rrp.hOpenLocalMachine(dce)["phKey"]
    ident = rrp.hBaseRegOpenKey(dce, hklm, "SOFTWARE\\Microsoft\\SMS\\Identification")["phkResult"]
    assert rrp.hBaseRegQueryValue(dce, ident, "Site Code")[1] == "LAB\x00"
    created = rrp.hBaseRegCreateKey(dce, hklm, "SOFTWARE\\smsfleet\\Q317061")["phkResult"]
    rrp.hBaseRegSetValue(dce, created, "OriginalDriveLetter", rrp.REG_SZ, "M")
    assert lab.host_state("w2k")["registry"]["HKLM\\SOFTWARE\\smsfleet\\Q317061"] == {"OriginalDriveLetter": "M"}
    assert rrp.hBaseRegEnumValue(dce, created, 0)["lpValueNameOut"] == "OriginalDriveLetter\x00"
    rrp.hBaseRegDeleteValue(dce, created, "OriginalDriveLetter")
    assert rrp.hBaseRegEnumKey(dce, rrp.hBaseRegOpenKey(dce, hklm, "SOFTWARE")["phkResult"], 0)["lpNameOut"]
    with pytest.raises(DCERPCException) as error:
        rrp.hBaseRegOpenKey(dce, hklm, "SOFTWARE\\NoSuchVendor")
    assert "ERROR_FILE_NOT_FOUND" in str(error.value)
    # Blank DriveLetter, then restart remotely: the host is unreachable for a while, then boots without M:.
    params = rrp.hBaseRegOpenKey(dce, hklm, "SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters")["phkResult"]
    rrp.hBaseRegSetValue(dce, params, "DriveLetter", rrp.REG_SZ, "")
    booted = lab.host_state("w2k")["boot_time"]
    assert "M" in [d["letter"] for d in lab.host_state("w2k")["drives"]]  # still mounted until the restart
    # Samba's net rpc asks for a restart in 20 seconds (its default); abort it, as an administrator may.
    shutdown = samba("net", lab, "w2k", "shutdown -r", "-C", "Q317061")
    assert "Shutdown of remote machine succeeded" in shutdown.stdout, shutdown.stdout + shutdown.stderr
    assert lab.host_state("w2k")["restart_at"] is not None
    aborted = samba("net", lab, "w2k", "abortshutdown")
    assert lab.host_state("w2k")["restart_at"] is None, aborted.stdout + aborted.stderr
    restart(dce, 0)  # BaseInitiateSystemShutdown, opnum 24, as the collection sends it
    deadline = time.time() + 10
    while time.time() < deadline and lab.up_hosts()["w2k"]:
        time.sleep(0.2)
    assert lab.up_hosts()["w2k"] is False
    with pytest.raises(Exception):
        connect(lab, "w2k")
    lab.wait_up()
    time.sleep(2.5)  # the Information Store starts after the boot
    state = lab.host_state("w2k")
    assert state["boot_time"] > booted and "M" not in [d["letter"] for d in state["drives"]]
    stats = pipe(connect(lab, "w2k"), "srvsvc", srvs.MSRPC_UUID_SRVS)
    # The Server service starts after the boot (and after the Event log service): its statistics begin then.
    start = srvs.hNetrServerStatisticsGet(stats, "LanmanServer", 0, 0)["InfoStruct"]["sts0_start"]
    assert start == int(state["server_started"]) and state["boot_time"] < start < state["boot_time"] + 60


def restart(dce, timeout: int) -> None:
    from winlab.rpc.winreg import BaseInitiateSystemShutdown  # impacket has no class for opnum 24
    request = BaseInitiateSystemShutdown()
    request["ServerName"], request["lpMessage"] = rrp.NULL, rrp.NULL
    request["dwTimeout"], request["bForceAppsClosed"], request["bRebootAfterShutdown"] = timeout, 1, 1
    dce.request(request)


def test_svcctl_by_windows_rules(lab):
    dce = pipe(connect(lab, "w2k"), "svcctl", scmr.MSRPC_UUID_SCMR)
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]

    def service(name):
        return scmr.hROpenServiceW(dce, scm, name)["lpServiceHandle"]

    wmi = service("Winmgmt")
    assert scmr.hRQueryServiceStatus(dce, wmi)["lpServiceStatus"]["dwCurrentState"] == scmr.SERVICE_RUNNING
    with pytest.raises(DCERPCException) as error:  # SMS services depend on WMI and run
        scmr.hRControlService(dce, wmi, scmr.SERVICE_CONTROL_STOP)
    assert "ERROR_DEPENDENT_SERVICES_RUNNING" in str(error.value)
    dependents = scmr.hREnumDependentServicesW(dce, wmi, scmr.SERVICE_ACTIVE, 4096)
    assert dependents["lpServicesReturned"] == 3
    config = scmr.hRQueryServiceConfigW(dce, service("SMS_EXECUTIVE"))["lpServiceConfig"]
    assert config["lpDependencies"].rstrip("\x00") == "Winmgmt"
    # Q199816: while Site Component Manager runs, it restarts SMS_EXECUTIVE after a stop.
    executive = service("SMS_EXECUTIVE")
    scmr.hRControlService(dce, executive, scmr.SERVICE_CONTROL_STOP)
    assert scmr.hRQueryServiceStatus(dce, executive)["lpServiceStatus"]["dwCurrentState"] == scmr.SERVICE_RUNNING
    # Stopped first, it stays stopped; a StopPending service cannot be started.
    scmr.hRControlService(dce, service("SMS_SITE_COMPONENT_MANAGER"), scmr.SERVICE_CONTROL_STOP)
    lab.winlab("fault", "w2k", "hang_on_stop", "SMS_EXECUTIVE")
    scmr.hRControlService(dce, executive, scmr.SERVICE_CONTROL_STOP)
    assert scmr.hRQueryServiceStatus(dce, executive)["lpServiceStatus"]["dwCurrentState"] == scmr.SERVICE_STOP_PENDING
    with pytest.raises(DCERPCException) as error:
        scmr.hRStartServiceW(dce, executive)
    assert "ERROR_SERVICE_ALREADY_RUNNING" in str(error.value)
    assert lab.host_state("w2k")["services"]["SMS_EXECUTIVE"]["state"] == "stoppending"
    lab.winlab("fault", "w2k", "hang_on_stop", "x", "--clear")
    scmr.hRStartServiceW(dce, executive)
    assert lab.host_state("w2k")["services"]["SMS_EXECUTIVE"]["state"] == "running"
    status = samba("net", lab, "w2k", "service status SMS_SQL_MONITOR")
    assert "SMS_SQL_MONITOR service is running" in status.stdout, status.stdout + status.stderr


def test_srvsvc_and_lsarpc(lab):
    conn = connect(lab, "w2k")
    dce = pipe(conn, "srvsvc", srvs.MSRPC_UUID_SRVS)
    info = srvs.hNetrServerGetInfo(dce, 101)["InfoStruct"]["ServerInfo101"]
    assert (info["sv101_name"], info["sv101_version_major"]) == ("W2K\x00", 5)
    disks = [d["Disk"] for d in srvs.hNetrServerDiskEnum(dce, 0)["DiskInfoStruct"]["Buffer"]]
    assert disks == ["C:\x00", "D:\x00", "M:\x00", "\x00"]  # the trailing empty entry, as Windows sends it
    lsa = pipe(conn, "lsarpc", lsad.MSRPC_UUID_LSAD)
    policy = lsad.hLsarOpenPolicy2(lsa)["PolicyHandle"]
    account = lsad.hLsarQueryInformationPolicy2(lsa, policy, lsad.POLICY_INFORMATION_CLASS.PolicyAccountDomainInformation)
    assert account["PolicyInformation"]["PolicyAccountDomainInfo"]["DomainName"] == "W2K"
    rpc = samba("rpcclient", lab, "w2k", "-c", "srvinfo; netshareenumall; netdiskenum; lsaquery")
    assert rpc.returncode == 0 and "netname: ADMIN$" in rpc.stdout and "Domain Name: LAB" in rpc.stdout, rpc.stdout


def test_unknown_calls_get_the_fault_windows_gives(lab):
    conn = connect(lab, "w2k")
    dce = pipe(conn, "svcctl", scmr.MSRPC_UUID_SCMR)
    request = scmr.RGetServiceDisplayNameW()  # opnum 20: not served here
    request["hSCManager"] = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    request["lpServiceName"], request["lpcchBuffer"] = "Winmgmt\x00", 100
    with pytest.raises(DCERPCException) as error:
        dce.request(request)
    assert "nca_s_op_rng_error" in str(error.value)
    assert scmr.hROpenSCManagerW(dce)["lpScHandle"]  # the pipe and the connection live on
    with pytest.raises(SessionError):  # no such pipe
        transport.SMBTransport("127.0.0.1", 0, "\\nosuchpipe", smb_connection=conn).get_dce_rpc().connect()


def test_samba_net_rpc_registry(lab):
    key = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"
    got = samba("net", lab, "w2k", "registry getvalue", key, "DriveLetter")
    assert 'Value      = "M"' in got.stdout, got.stdout + got.stderr
    samba("net", lab, "w2k", "registry setvalue", key, "DriveLetter", "sz", "")
    assert lab.host_state("w2k")["registry"][key]["DriveLetter"] == ""
    listing = samba("net", lab, "w2k", "registry enumerate", key)
    assert "Valuename  = DriveLetter" in listing.stdout


def test_link_faults_and_stats_on_smb(lab):
    conn = connect(lab, "w2k")
    before = lab.stats()["w2k"]["smb"]
    read(conn, "C$", DLL)
    after = lab.stats()["w2k"]["smb"]
    assert after["requests"] > before["requests"] and after["bytes_out"] - before["bytes_out"] > 226848
    # drop_after_commands: the second command runs, its connection drops before the reply.
    lab.winlab("fault", "w2k", "drop_after_commands", "1")
    conn.listPath("C$", "\\*")
    with pytest.raises(Exception):
        conn.listPath("C$", "\\*")
    assert "drop_after_commands" not in lab.host_state("w2k")["faults"]
    fresh = connect(lab, "w2k")
    lab.winlab("fault", "w2k", "latency_ms", "200")
    start = time.monotonic()
    fresh.listPath("C$", "\\*")
    assert time.monotonic() - start >= 0.4  # the request and the reply each wait
    lab.winlab("fault", "w2k", "latency_ms", "--clear")
    lab.winlab("fault", "w2k", "restart_never_returns")
    restart(pipe(fresh, "winreg", rrp.MSRPC_UUID_RRP), 0)
    time.sleep(2)
    with pytest.raises(Exception):
        connect(lab, "w2k")
    assert lab.up_hosts()["w2k"] is False


def test_inventory_for_the_smb_transport(lab):
    hosts = lab.hosts()["all"]["children"]["site_servers"]["hosts"]
    assert hosts["w16"]["ansible_connection"] == "smsfleet.q317061.smb"
    assert hosts["w16"]["ansible_port"] == port(lab, "w16")
    assert "ansible_connection" not in hosts["w2k"]  # the fleet's default transport: winrm


@pytest.mark.parametrize("spec, words", [
    ("hosts: [{name: a, os: windows95}]", "host a: os: must be one of windowsnt4, windows2000, windows2003, windows2016"),
    ("hosts: [{name: a, transport: telnet}]", "host a: transport: must be winrm or smb"),
])
def test_os_and_transport_are_validated(tmp_path, spec, words):
    from conftest import BIN
    (tmp_path / "f.yml").write_text(spec)
    run = subprocess.run([BIN / "winlab", "--state-dir", str(tmp_path / "s"), "up", "--fleet", str(tmp_path / "f.yml")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1 and words in run.stderr


def test_the_32_bit_registry_view_by_windows_version(lab):
    def open_ident(name, access):
        dce = pipe(connect(lab, name), "winreg", rrp.MSRPC_UUID_RRP)
        hklm = rrp.hOpenLocalMachine(dce)["phKey"]
        return rrp.hBaseRegOpenKey(dce, hklm, "SOFTWARE\\Microsoft\\SMS\\Identification", samDesired=access)
    with pytest.raises(DCERPCException) as error:  # Windows 2000 knows no WOW64: the flag is a right never granted
        open_ident("w2k", rrp.MAXIMUM_ALLOWED | 0x0200)
    assert error.value.get_error_code() == 5  # ERROR_ACCESS_DENIED
    assert open_ident("w2k", rrp.MAXIMUM_ALLOWED)["ErrorCode"] == 0
    assert open_ident("w16", rrp.MAXIMUM_ALLOWED | 0x0200)["ErrorCode"] == 0  # x64: SMS is in WOW6432Node
    with pytest.raises(DCERPCException) as error:
        open_ident("w16", rrp.MAXIMUM_ALLOWED)
    assert error.value.get_error_code() == 2  # ERROR_FILE_NOT_FOUND


def test_samba_clients_read_the_registry_disks_event_log_and_files_as_windows_serves_them(lab, tmp_path):
    """rpcclient and smbclient -m NT1, which nobody here wrote, against a winlab host: registry values read
    together (BaseRegQueryMultipleValues), the disks, the System event log, a file and its times."""
    values = samba("rpcclient", lab, "w2k", "-c",
                   'querymultiplevalues "SOFTWARE\\Microsoft\\SMS\\Identification" "Installation Directory" '
                   '"Site Code" "Site Type"')
    assert values.returncode == 0, values.stdout + values.stderr
    for line in ("Installation Directory: REG_SZ: C:\\SMS", "Site Code: REG_SZ: LAB", "Site Type: REG_DWORD: 0x00000001"):
        assert line in values.stdout, values.stdout
    missing = samba("rpcclient", lab, "w2k", "-c", 'querymultiplevalues "SOFTWARE\\Microsoft\\SMS\\Identification" Nope')
    assert "WERR_FILE_NOT_FOUND" in missing.stdout + missing.stderr
    disks = samba("rpcclient", lab, "w2k", "-d", "10", "-c", "netdiskenum")  # prints what Samba's own NDR parsed
    parsed = re.findall(r"disk\s+: '([^']*)'", disks.stdout + disks.stderr)
    assert disks.returncode == 0 and parsed == ["C:", "D:", "M:", ""], parsed  # with the trailing empty entry
    events = samba("rpcclient", lab, "w2k", "-c", "eventlog_numrecord System; eventlog_oldestrecord System")
    count = len(lab.host_state("w2k")["eventlog"])
    assert f"number of records: {count}" in events.stdout and "oldest entry: 1" in events.stdout, events.stdout
    listing = samba("smbclient", lab, "w2k", "C$", "-m", "NT1", "-c", f"allinfo {DLL}")
    assert listing.returncode == 0 and "write_time:" in listing.stdout, listing.stdout + listing.stderr
    from winlab import filetimes
    entry = lab.host_state("w2k")["files"]["c:\\sms\\bin\\i386\\distmgr.dll"]
    shown = " ".join(re.search(r"write_time:\s+(.+?) UTC", listing.stdout).group(1).split())
    # smbclient shows whole seconds, rounded up from a fraction (Samba's NTTIME conversion), never cut
    epoch = filetimes.to_epoch(filetimes.from_iso(entry["modified"]))
    assert int(epoch) <= calendar.timegm(time.strptime(shown, "%a %b %d %H:%M:%S %Y")) <= int(epoch) + 1, \
        (shown, entry["modified"])


def test_a_pipe_transaction_must_name_the_pipe_as_windows_and_samba_require(lab):
    """TransactNmPipe names \\PIPE\\ in the session's encoding (MS-CIFS 2.2.5.6): impacket's own names it in ASCII on
    a Unicode session, which Samba refuses with STATUS_NOT_SUPPORTED; winlab refuses it the same way, so a client
    that only works against winlab cannot pass here. The collection's own transaction is one request per call."""
    from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import smb1

    conn = connect(lab, "w2k")
    tid = conn.connectTree("IPC$")
    fid = conn.openFile(tid, "\\winreg")
    from impacket import smb
    from impacket.dcerpc.v5 import rpcrt
    from impacket.uuid import uuidtup_to_bin

    item = rpcrt.CtxItem()
    item["AbstractSyntax"], item["ContextID"], item["TransItems"] = rrp.MSRPC_UUID_RRP, 0, 1
    item["TransferSyntax"] = uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0"))  # NDR
    request = rpcrt.MSRPCBind()
    request.addCtxItem(item)
    header = rpcrt.MSRPCHeader()
    header["type"], header["pduData"], header["call_id"] = rpcrt.MSRPC_BIND, request.getData(), 1
    bind = header.get_packet()
    with pytest.raises(smb.SessionError) as error:  # SMB1's own error class, not SMBConnection's
        conn.getSMBServer().TransactNamedPipe(tid, fid, bind)
    assert "STATUS_NOT_SUPPORTED" in str(error.value)
    before = lab.stats()["w2k"]["smb"]["requests"]
    answer = smb1.transact_pipe(conn.getSMBServer(), tid, fid, bind)
    assert answer[2] == 12 and lab.stats()["w2k"]["smb"]["requests"] == before + 1  # a bind_ack, in one request
    conn.close()
