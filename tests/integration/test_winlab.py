"""winlab itself: real WinRM clients, persistence, faults and spec validation."""

import base64
import hashlib
import json
import os
import subprocess
import time

import pefile
import pytest
import requests
import winrm
import yaml

from conftest import BIN

SMALL = """
groups:
  - name: h
    count: 2
    host: {sms: {site_code: P01}}
"""


def _endpoint(lab, name):
    inv = yaml.safe_load(lab.inventory.read_text())
    for group in inv["all"]["children"]["site_servers"]["children"].values():
        if name in group["hosts"]:
            v = group["hosts"][name]
            return f"http://{v['ansible_host']}:{v['ansible_port']}/wsman", v["ansible_user"], v["ansible_password"]
    raise KeyError(name)


def test_pywinrm_runs_a_command_with_streamed_stdin(lab_factory):
    lab = lab_factory(SMALL)
    url, user, password = _endpoint(lab, "h-01")
    protocol = winrm.Protocol(url, transport="basic", username=user, password=password)
    shell = protocol.open_shell()
    try:
        # An unknown command gets a clear non-zero answer, never a fake success.
        cid = protocol.run_command(shell, "cmd.exe", ["/c", "dir"])
        out, err, rc = protocol.get_command_output(shell, cid)
        assert rc != 0 and b"winlab does not emulate the command" in err
        # stdin is streamed in chunks; the command runs once stdin is closed.
        script = "(Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToFileTime()"
        args = ["-NoProfile", "-EncodedCommand", base64.b64encode(script.encode("utf-16-le")).decode()]
        cid = protocol.run_command(shell, "PowerShell", args, console_mode_stdin=False)
        protocol.send_command_input(shell, cid, b"ignored ", end=False)
        protocol.send_command_input(shell, cid, b"input", end=True)
        out, err, rc = protocol.get_command_output(shell, cid)
        assert rc == 0 and int(out) > 116444736000000000
    finally:
        protocol.close_shell(shell)


def test_wrong_credentials_get_401_and_nothing_runs(lab_factory):
    lab = lab_factory(SMALL)
    url, user, dummy = _endpoint(lab, "h-01")
    protocol = winrm.Protocol(url, transport="basic", username=user, password="nope")
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        protocol.open_shell()
    assert lab.stats()["h-01"]["shells"] == 0


def test_win_ping_setup_and_unknown_module(lab_factory):
    lab = lab_factory(SMALL)
    assert "pong" in lab.ansible("all", "-m", "ansible.windows.win_ping", check=True).stdout
    setup = lab.ansible("h-01", "-m", "ansible.windows.setup", check=True).stdout
    assert "Microsoft Windows 2000 Server" in setup
    unknown = lab.ansible("h-01", "-m", "ansible.windows.win_whoami")
    assert unknown.returncode != 0 and "winlab does not emulate ansible.windows.win_whoami" in unknown.stdout
    bad_arg = lab.ansible("h-01", "-m", "ansible.windows.win_ping", "-a", "nonsense=1")
    assert bad_arg.returncode != 0 and "Unsupported parameters" in bad_arg.stdout


def test_single_hosts_are_site_servers_and_audited(lab_factory, tmp_path):
    """Hosts under the spec's top-level `hosts:` must land in a group Ansible keeps (not 'ungrouped')."""
    lab = lab_factory("hosts: [{name: solo-1}, {name: solo-2, sms: {site_code: P02}}]\n")
    assert set(lab.hosts()["all"]["children"]["site_servers"]["hosts"]) == {"solo-1", "solo-2"}
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path}")
    assert run.returncode == 0, run.stdout
    assert {h["host"] for h in json.loads((tmp_path / "q317061-audit.json").read_text())["hosts"]} == {"solo-1", "solo-2"}


def test_a_rejected_fault_value_changes_nothing(lab_factory):
    lab = lab_factory(SMALL)
    bad = lab.winlab("fault", "h-01", "interrupt_transaction_at", "lunch", check=False)
    assert bad.returncode == 1 and "interrupt_transaction_at: must be one of" in bad.stderr
    assert lab.winlab("fault", "h-01", "hang_on_stop", "SMS_EXECUTIVE", check=False).returncode == 0
    assert lab.host_state("h-01")["faults"] == {"hang_on_stop": ["SMS_EXECUTIVE"]}


def test_state_survives_down_and_up(lab_factory):
    lab = lab_factory(SMALL)
    lab.winlab("fault", "h-01", "latency_ms", "5")
    lab.down()
    lab.up()
    assert lab.host_state("h-01")["faults"] == {"latency_ms": 5}
    assert "h-01" in lab.winlab("status").stdout


def test_distribute_reports_failures_on_the_ifs_drive(lab_factory):
    """Distribution Manager writes distmgr.log only while its tracing is on (SMS 2.0's default is off)."""
    lab = lab_factory(SMALL.replace("{sms: {site_code: P01}}", "{sms: {site_code: P01, logging: true}, "
                                    "time_bias_minutes: 300}") + "    overrides: {h-02: {sms: {logging: false}}}\n")
    out = lab.winlab("distribute").stdout
    assert "arrived on 0/2 site servers" in out and "decompression failed on IFS drive M:" in out
    log = lab.host_state("h-01")["files"]["c:\\sms\\logs\\distmgr.log"]["text"]
    failures = [line for line in log if "Cannot decompress package" in line and "to M:\\" in line]
    assert failures and "Eastern Standard Time><thread=" in failures[0]  # local time, with the zone's name
    assert lab.host_state("h-02")["files"]["c:\\sms\\logs\\distmgr.log"]["text"] == []


@pytest.mark.parametrize("spec, message", [
    ("groups: [{name: g, count: 1, host: {sms: {platform: x86}}}]", "host g-01: sms.platform: must be i386 or Alpha"),
    ("groups: [{name: g, count: 1, host: {exifs_drive_letter: MM}}]", "host g-01: exifs_drive_letter"),
    ("groups: [{name: g, count: 1, host: {faults: {meteor: true}}}]", "host g-01: faults.meteor: unknown fault kind"),
    ("hosts: [{name: a}, {name: a}]", "host a: name: duplicate host name"),
    ("hosts: [{name: a, drives: [{letter: CD, type: fixed, size: 2, free: 1}]}]", "host a: drives[0].letter: must be one"),
    ("hosts: [{name: a, exifs_boot_letter: '1'}]", "host a: exifs_boot_letter: must be one drive letter"),
    ("hosts: [{name: a, pasword: x}]", "host a: pasword: unknown field"),
    ("hosts: [{name: a, sms: {platfrom: i386}}]", "host a: sms.platfrom: unknown field"),
    ("hosts: [{name: a, drives: [{letter: C, type: fixed, size: 2, free: 1, lable: x}]}]", "host a: drives[0].lable"),
    ("hosts: [{name: a, faults: {latency_ms: -5}}]", "host a: faults.latency_ms: must not be negative"),
])
def test_spec_validation_names_host_and_field(tmp_path, spec, message):
    fleet = tmp_path / "bad.yml"
    fleet.write_text(spec)
    run = subprocess.run([BIN / "winlab", "--state-dir", str(tmp_path / "s"), "up", "--fleet", str(fleet)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1 and message in run.stderr


def test_https_with_the_lab_ca(lab_factory, monkeypatch):
    lab = lab_factory(SMALL, up_args=["--https"])
    ca = lab.state_dir / "tls" / "ca.pem"
    inv = lab.hosts()["all"]["vars"]
    assert inv["ansible_winrm_scheme"] == "https" and inv["ansible_winrm_server_cert_validation"] == "validate"
    assert inv["ansible_winrm_ca_trust_path"] == str(ca)
    for key in ("ca.key", "server.key"):  # private keys are never readable by others
        assert (lab.state_dir / "tls" / key).stat().st_mode & 0o077 == 0
    # Ansible validates each endpoint's certificate against the lab CA.
    assert lab.ansible("all", "-m", "ansible.windows.win_ping", check=True).stdout.count("pong") == 2
    url, user, password = _endpoint(lab, "h-01")
    url = url.replace("http://", "https://")
    trusted = winrm.Protocol(url, transport="basic", username=user, password=password, ca_trust_path=str(ca))
    trusted.close_shell(trusted.open_shell())
    # A client that does not trust the lab CA is refused, and nothing runs.
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    stranger = winrm.Protocol(url, transport="basic", username=user, password=password, ca_trust_path=None)
    with pytest.raises(requests.exceptions.SSLError):
        stranger.open_shell()
    # Plain HTTP to a TLS endpoint gets no WinRM answer either.
    plain = winrm.Protocol(url.replace("https://", "http://"), transport="basic", username=user, password=password)
    with pytest.raises((requests.exceptions.ConnectionError, winrm.exceptions.WinRMTransportError)):
        plain.open_shell()
    assert lab.stats()["h-01"]["shells"] == 2  # win_ping's and the trusted client's; none for the others
    # The CA survives down/up, so clients that trust it keep working.
    before = ca.read_bytes()
    lab.down()
    lab.winlab("up")
    assert ca.read_bytes() == before and lab.hosts()["all"]["vars"]["ansible_winrm_scheme"] == "https"
    assert "pong" in lab.ansible("h-02", "-m", "ansible.windows.win_ping", check=True).stdout


def test_put_and_fetch_round_trip(lab_factory, tmp_path):
    lab = lab_factory(SMALL)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(1_200_000))  # several put and fetch chunks
    copy = json.dumps({"src": str(payload), "dest": "C:\\Temp\\payload.bin"})
    first = lab.ansible("h-01", "-m", "ansible.windows.win_copy", "-a", copy, check=True)
    assert "CHANGED" in first.stdout
    again = lab.ansible("h-01", "-m", "ansible.windows.win_copy", "-a", copy, check=True)
    assert "SUCCESS" in again.stdout and "changed: false" in again.stdout  # same SHA-1: nothing sent
    back = tmp_path / "back"
    fetch = json.dumps({"src": "C:\\Temp\\payload.bin", "dest": f"{back}/", "flat": True})
    lab.ansible("h-01", "-m", "ansible.builtin.fetch", "-a", fetch, check=True)
    assert (back / "payload.bin").read_bytes() == payload.read_bytes()
    state = lab.host_state("h-01")
    assert not [k for k in state["files"] if "ansible-tmp" in k], "Ansible's temp folders are removed after each task"
    assert not [d for d in state.get("dirs", []) if "ansible-tmp" in d]
    entry = state["files"]["c:\\temp\\payload.bin"]
    assert entry["size"] == 1_200_000 and entry["sha1"] == hashlib.sha1(payload.read_bytes()).hexdigest()
    missing = lab.ansible("h-01", "-m", "ansible.builtin.fetch", "-a",
                          json.dumps({"src": "C:\\Temp\\nothing.bin", "dest": f"{back}/", "flat": True,
                                      "fail_on_missing": True}))
    assert missing.returncode != 0 and "does not exist" in missing.stdout


def _powershell(protocol, shell, script):
    """Run a script the way Ansible does (-EncodedCommand); returns (stdout, stderr, rc)."""
    args = ["-NoProfile", "-EncodedCommand", base64.b64encode(script.encode("utf-16-le")).decode()]
    return protocol.get_command_output(shell, protocol.run_command(shell, "PowerShell", args))


def _timed_command(lab, name):
    url, user, password = _endpoint(lab, name)
    protocol = winrm.Protocol(url, transport="basic", username=user, password=password)
    before = lab.stats()[name]
    start = time.monotonic()
    shell = protocol.open_shell()
    assert _powershell(protocol, shell, "whoami")[2] == 0
    protocol.close_shell(shell)
    elapsed = time.monotonic() - start
    after = lab.stats()[name]
    return {"elapsed": elapsed, "requests": after["requests"] - before["requests"],
            "bytes_in": after["bytes_in"] - before["bytes_in"]}


def test_slow_link_faults_delay_every_request(lab_factory):
    lab = lab_factory(SMALL)
    lab.winlab("fault", "h-01", "latency_ms", "250")
    slow = _timed_command(lab, "h-01")
    assert slow["requests"] >= 4 and slow["elapsed"] >= slow["requests"] * 2 * 0.25  # each request and reply waits
    lab.winlab("fault", "h-01", "latency_ms", "--clear")
    lab.winlab("fault", "h-01", "bandwidth_kbps", "16")  # 2 KiB/s
    narrow = _timed_command(lab, "h-01")
    assert narrow["elapsed"] >= narrow["bytes_in"] / 2048
    lab.winlab("fault", "h-01", "bandwidth_kbps", "--clear")
    assert _timed_command(lab, "h-02")["elapsed"] < slow["elapsed"] / 2  # the other host was never slowed


def test_connection_dropped_after_n_commands(lab_factory):
    lab = lab_factory(SMALL)
    lab.winlab("fault", "h-01", "drop_after_commands", "1")
    url, user, password = _endpoint(lab, "h-01")
    protocol = winrm.Protocol(url, transport="basic", username=user, password=password)
    shell = protocol.open_shell()
    out, dummy, rc = _powershell(protocol, shell, "whoami")
    assert rc == 0 and b"administrator" in out
    with pytest.raises((requests.exceptions.ConnectionError, winrm.exceptions.WinRMTransportError)):
        _powershell(protocol, shell, "whoami")
    assert "drop_after_commands" not in lab.host_state("h-01")["faults"]  # one drop, then the link is healthy
    fresh = winrm.Protocol(url, transport="basic", username=user, password=password)
    shell = fresh.open_shell()
    assert _powershell(fresh, shell, "whoami")[2] == 0


def test_restart_rereads_the_exifs_letter_only_at_boot(lab_factory):
    lab = lab_factory(SMALL.replace("{sms: {site_code: P01}}", "{sms: {site_code: P01}, restart_seconds: 4}"))
    blank = json.dumps({"path": "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters",
                        "name": "DriveLetter", "data": "", "type": "string"})
    lab.ansible("h-01", "-m", "ansible.windows.win_regedit", "-a", blank, check=True)
    assert "M" in [d["letter"] for d in lab.host_state("h-01")["drives"]]  # still mounted until a restart
    assert json.loads(lab.winlab("distribute", "--json").stdout)["hosts"]["h-01"]["arrived"] is False
    booted = lab.host_state("h-01")["boot_time"]
    start = time.monotonic()
    reboot = lab.ansible("h-01", "-m", "ansible.windows.win_reboot", check=True)
    assert "rebooted: true" in reboot.stdout and time.monotonic() - start >= 4
    state = lab.host_state("h-01")
    assert state["boot_time"] > booted and "M" not in [d["letter"] for d in state["drives"]]
    assert state["services"]["MSExchangeIS"]["state"] in ("startpending", "running")
    assert all(s["state"] == "running" for n, s in state["services"].items() if n.startswith("SMS_"))
    assert json.loads(lab.winlab("distribute", "--json").stdout)["hosts"]["h-01"]["arrived"] is True


def test_the_ifs_drive_comes_back_only_when_the_information_store_runs(lab_factory):
    """After a boot, EXIFS mounts its letter only once the Exchange Information Store has started: a check made
    before that sees no IFS drive whatever DriveLetter says."""
    lab = lab_factory(SMALL.replace("{sms: {site_code: P01}}", "{sms: {site_code: P01}, restart_seconds: 1, "
                                    "store_start_seconds: 6}"))
    url, user, password = _endpoint(lab, "h-01")
    protocol = winrm.Protocol(url, transport="basic", username=user, password=password)
    assert _powershell(protocol, protocol.open_shell(), "shutdown.exe /r /t 0")[2] == 0
    time.sleep(1.5)
    lab.wait_up()
    state = lab.host_state("h-01")
    assert state["services"]["MSExchangeIS"]["state"] == "startpending"
    assert "M" not in [d["letter"] for d in state["drives"]]  # DriveLetter is still M
    time.sleep(6)
    info = lab.ansible("h-01", "-m", "ansible.windows.win_service_info", "-a", "name=MSExchangeIS", check=True)
    assert "state: running" in info.stdout
    assert "M" in [d["letter"] for d in lab.host_state("h-01")["drives"]]


def test_restart_keeps_the_host_unreachable_for_its_restart_time(lab_factory):
    lab = lab_factory(SMALL.replace("{sms: {site_code: P01}}", "{sms: {site_code: P01}, restart_seconds: 30}"))
    url, user, password = _endpoint(lab, "h-01")
    protocol = winrm.Protocol(url, transport="basic", username=user, password=password)
    assert _powershell(protocol, protocol.open_shell(), "shutdown.exe /r /t 0")[2] == 0
    deadline = time.time() + 10
    while time.time() < deadline and lab.up_hosts()["h-01"]:
        time.sleep(0.2)
    assert lab.up_hosts() == {"h-01": False, "h-02": True}
    with pytest.raises((requests.exceptions.ConnectionError, winrm.exceptions.WinRMTransportError)):
        winrm.Protocol(url, transport="basic", username=user, password=password).open_shell()


@pytest.mark.parametrize("variant", ["good", "wrong-version", "wrong-platform", "truncated", "missing-file"])
def test_hotfix_bundle_variants(tmp_path, variant):
    root = tmp_path / variant
    subprocess.run([BIN / "winlab", "hotfix-bundle", str(root), "--variant", variant], check=True,
                   capture_output=True)
    assert (root / "Q317061.exe").is_file()
    machines = {"i386": pefile.MACHINE_TYPE["IMAGE_FILE_MACHINE_I386"], "Alpha": pefile.MACHINE_TYPE["IMAGE_FILE_MACHINE_ALPHA"]}
    kb_sizes = {("i386", "Baseutil.dll"): 526272, ("i386", "Distmgr.dll"): 230800,
                ("Alpha", "Baseutil.dll"): 810768, ("Alpha", "Distmgr.dll"): 359184}
    wrong = []
    for (platform, name), size in kb_sizes.items():
        path = root / platform / name
        if not path.exists():
            wrong.append(("missing", platform, name))
            continue
        data = path.read_bytes()
        if len(data) != size:
            wrong.append(("size", platform, name))
            continue
        pe = pefile.PE(data=data)
        info = pe.VS_FIXEDFILEINFO[0]
        version = f"{info.FileVersionMS >> 16}.{info.FileVersionMS & 0xFFFF:02d}.{info.FileVersionLS >> 16}.{info.FileVersionLS & 0xFFFF}"
        if pe.FILE_HEADER.Machine != machines[platform]:
            wrong.append(("machine", platform, name))
        if version != "2.00.1493.3240":
            wrong.append(("version", platform, name))
    expected = {"good": [], "wrong-version": [("version", "i386", "Distmgr.dll"), ("version", "Alpha", "Distmgr.dll")],
                "wrong-platform": [("machine", "i386", "Baseutil.dll")],
                "truncated": [("size", "i386", "Baseutil.dll"), ("size", "Alpha", "Baseutil.dll")],
                "missing-file": [("missing", "i386", "Distmgr.dll")]}[variant]
    assert sorted(wrong) == sorted(expected)


ENUMERATE = """<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">
<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate</a:Action>
<a:MessageID>uuid:0A1B2C3D-0000-0000-0000-000000000001</a:MessageID>
<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/Win32_Service</w:ResourceURI></s:Header>
<s:Body><n:Enumerate xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration"/></s:Body></s:Envelope>"""


@pytest.mark.parametrize("body, status, words", [
    (ENUMERATE, 500, ["ActionNotSupported", "winlab does not support the WS-Man action",
                      "enumeration/Enumerate", "uuid:0A1B2C3D-0000-0000-0000-000000000001"]),
    ("<s:Envelope", 400, ["SchemaValidationError", "malformed SOAP envelope"]),
])
def test_what_winlab_does_not_understand_gets_a_wsman_fault(lab_factory, body, status, words):
    lab = lab_factory(SMALL)
    url, user, password = _endpoint(lab, "h-01")
    reply = requests.post(url, data=body.encode(), auth=(user, password), timeout=10,
                          headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    assert reply.status_code == status
    for word in words:
        assert word in reply.text
    assert lab.stats()["h-01"]["commands"] == 0


def _model_host(spec_text):
    from winlab import fleet
    from winlab.host import Host
    spec = fleet.expand(yaml.safe_load(spec_text))[0]
    return Host(fleet.initial_state(spec, "127.0.0.1", 0, time.time()))


DLLS_ARGS = {"state": "replaced", "bin_dir": "C:\\SMS\\bin\\i386", "backup_dir": "C:\\W\\backup", "journal": "C:\\W\\journal.json",
             "services": ["SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR"], "admin_console": "close",
             "files": [{"name": "Distmgr.dll", "source": "C:\\SMS\\bin\\i386\\Distmgr.dll", "version": "2.00.1493.3240",
                        "sha256": "0" * 64}]}


@pytest.mark.parametrize("is_async", [False, True])
def test_a_dropped_shell_kills_the_module_unless_it_runs_async(is_async):
    """WinRM deletes the shell when the connection drops and kills what runs in it; an async job runs on."""
    from winlab import twins
    from winlab.host import ConnectionLost
    host = _model_host("hosts: [{name: a}]")
    entry = host.file("C:\\SMS\\bin\\i386\\Distmgr.dll")
    host.write_file("C:\\W\\new.dll", dict(entry, version="2.00.1493.3240", sha256="0" * 64))
    host.state["faults"]["drop_on_module"] = "smsfleet.q317061.q317061_dlls"
    args = dict(DLLS_ARGS, files=[dict(DLLS_ARGS["files"][0], source="C:\\W\\new.dll")])
    with pytest.raises(ConnectionLost):
        twins.run("smsfleet.q317061.q317061_dlls", host, args, is_async=is_async)
    journal = host.read_json("C:\\W\\journal.json")
    if is_async:  # the job finished; only its reply was lost
        assert journal["phase"] == "done" and host.service_state("SMS_EXECUTIVE") == "running"
    else:  # killed with the shell, SMS stopped, the journal unfinished for the next run
        assert journal["phase"] == "replacing" and host.service_state("SMS_EXECUTIVE") == "stopped"


def test_a_stop_cascades_to_running_dependents_only_through_the_journal():
    """ServiceController.Stop() would stop dependents unjournaled: the twin stops and journals each one first."""
    from winlab import twins
    host = _model_host("hosts: [{name: a}]")
    entry = host.file("C:\\SMS\\bin\\i386\\Distmgr.dll")
    host.write_file("C:\\W\\new.dll", dict(entry, version="2.00.1493.3240", sha256="0" * 64))
    args = dict(DLLS_ARGS, services=[], files=[dict(DLLS_ARGS["files"][0], source="C:\\W\\new.dll")])
    result = twins.run("smsfleet.q317061.q317061_dlls", host, args)
    assert not result.get("failed"), result
    # Only WMI was asked for; its running dependents (the SMS services) were stopped first, each journaled.
    assert result["stopped"][-1] == "Winmgmt" and set(result["stopped"][:-1]) >= {"SMS_EXECUTIVE"}
    assert host.service_state("SMS_EXECUTIVE") == "running"


def _staging_host(tmp_path):
    from winlab import fleet
    from winlab.host import Host
    from winlab.state import BlobStore
    spec = fleet.expand(yaml.safe_load("hosts: [{name: a}]"))[0]
    return Host(fleet.initial_state(spec, "127.0.0.1", 0, time.time()), blobs=BlobStore(tmp_path / "blobs"))


def test_put_file_needs_an_existing_folder_as_file_create_does(tmp_path):
    from winlab import psrun
    host = _staging_host(tmp_path)
    line = base64.b64encode(b"MZ payload") + b"\n"
    rc, dummy, err = psrun._put_file(host, "C:\\NoSuchFolder\\x.bin", line)
    assert rc == 1 and b"Could not find a part of the path" in err and host.file("C:\\NoSuchFolder\\x.bin") is None
    rc, out, dummy = psrun._put_file(host, host.temp_dir() + "\\x.bin", line)
    assert rc == 0 and json.loads(out)["sha1"] == hashlib.sha1(b"MZ payload").hexdigest()


def test_the_probe_reports_staged_hashes_and_the_temp_folder(tmp_path):
    from winlab import twins
    host = _staging_host(tmp_path)
    entry = host.file("C:\\SMS\\bin\\i386\\Distmgr.dll")
    host.write_file("C:\\W\\staged\\i386\\Distmgr.dll", dict(entry))
    host.write_file("C:\\W\\staged\\i386\\deeper\\other.dll", dict(entry))  # only staged\<platform>\<file> counts
    staging = twins.run("smsfleet.q317061.q317061_probe", host, {"work_dir": "C:\\W"})["probe"]["staging"]
    assert staging == {"temp_dir": host.temp_dir() + "\\", "files": {"C:\\W\\staged\\i386\\Distmgr.dll": entry["sha256"]}}


def test_the_transaction_expands_a_gzip_upload_and_refuses_a_damaged_one(tmp_path):
    import gzip
    from winlab import twins
    from winlab.content import meta_from_bytes
    from winlab.pe import build_dll
    host = _staging_host(tmp_path)
    new = build_dll("i386", "2.00.1493.3240", 230800, name="Distmgr")
    upload = host.temp_dir() + "\\q317061-0-Distmgr.dll.gz"
    files = [{"name": "Distmgr.dll", "source": "C:\\W\\staged\\i386\\Distmgr.dll", "upload": upload,
              "version": "2.00.1493.3240", "sha256": hashlib.sha256(new).hexdigest()}]
    host.write_file(upload, meta_from_bytes(host, gzip.compress(new)[:-20]))  # cut short on the way
    damaged = twins.run("smsfleet.q317061.q317061_dlls", host, dict(DLLS_ARGS, files=files))
    assert damaged["failed"] and "cannot be expanded" in damaged["msg"] and "nothing was changed" in damaged["msg"]
    assert host.file(upload) is None and host.service_state("SMS_EXECUTIVE") == "running"
    host.write_file(upload, meta_from_bytes(host, gzip.compress(new)))
    result = twins.run("smsfleet.q317061.q317061_dlls", host, dict(DLLS_ARGS, files=files))
    assert result["changed"] and host.file(upload) is None
    assert host.file("C:\\SMS\\bin\\i386\\Distmgr.dll")["sha256"] == hashlib.sha256(new).hexdigest()


def test_the_wait_for_the_transaction_is_emulated_as_the_action_writes_it(tmp_path):
    """The action's own wait script: a finished job's result is printed and its file removed; a job whose file
    predates the last boot died with it, and the wait says so at once."""
    from winlab import psrun
    from winlab.host import filetime
    from ansible_collections.smsfleet.q317061.plugins.action.q317061_dlls import _wait_script
    host = _staging_host(tmp_path)
    path = "C:\\Users\\Administrator\\.ansible_async\\j1"
    host.write_json(path, {"started": 1, "finished": 1, "changed": True})
    rc, out, dummy = psrun._plain_script(host, _wait_script(path, 15))
    reply = json.loads(out)
    assert rc == 0 and json.loads(reply["result"])["changed"] and reply["boot"] == filetime(host.state["boot_time"])
    assert host.file(path) is None
    host.write_json(path, {"started": 1, "finished": 0})
    host.state["boot_time"] = time.time() + 5  # booted after the job's file was last written
    start = time.monotonic()
    rc, out, dummy = psrun._plain_script(host, _wait_script(path, 15))
    assert time.monotonic() - start < 2 and json.loads(json.loads(out)["result"])["finished"] == 0
    assert host.file(path) is not None  # an unfinished job's file stays for the record
