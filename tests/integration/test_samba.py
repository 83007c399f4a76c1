"""The smb transport against Samba's smbd (issue 20): a server nobody here wrote, from the same
specifications. The probe, the DLL transaction (replace, recover an interrupted journal, restore)
and the workaround with its rollback run against it; expected results are written per server.

What Samba answers differently from Windows 2000, and what these tests therefore expect (also in
docs/transports.md):
- svcctl has only Samba's own services (Spooler, NETLOGON, RemoteRegistry, WINS): no SMS service
  or WMI exists, so the transaction stops and starts nothing, and the probe lists no services;
- `Windows NT\\CurrentVersion` is synthesized (CurrentVersion 6.1, no CurrentBuildNumber): the
  probe's os_version is None;
- NetrServerStatisticsGet is refused (nca_s_op_rng_error): the boot time comes from the System
  event log (eventlog.py), which Samba serves;
- NetrServerDiskEnum lists C: only, whatever the shares;
- BaseRegQueryInfoKey with impacket's zero-length class name is refused as bad stub data (the
  client sends an empty name with its NUL);
- a sequential backwards event log read starts at the oldest record (the client seeks);
- SMB_COM_DELETE is refused while any other open of the file exists (as Windows does too).
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml
from impacket import smb
from impacket.dcerpc.v5 import rrp, srvs

import smb1_raw as raw
from transaction_params import dll_params as transaction_params
from samba import BOOT, PASSWORD, USER, Samba
from ansible_collections.smsfleet.q317061.plugins.plugin_utils import exifs as workaround
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import dlls, eventlog, exifs, probe, registry

BIN, WORK = "C:\\SMS\\bin\\i386", "C:\\SMSFleet\\Q317061"


@pytest.fixture
def samba(tmp_path):
    server = Samba(tmp_path / "samba").start()
    yield server
    server.stop()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mtimes(samba) -> dict:
    return {n: os.stat(samba.path(f"{BIN}\\{n}")).st_mtime_ns for n in ("Baseutil.dll", "Distmgr.dll")}


def test_the_probe_reads_a_samba_site_server(samba):
    session = samba.client()
    found = probe.probe(session)
    session.close()
    assert found["errors"] == [], found["errors"]
    assert found["computer_name"] == "SITE01"
    assert found["os_version"] is None  # Samba synthesizes CurrentVersion 6.1 and has no CurrentBuildNumber
    assert found["boot_time"] == time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(BOOT))  # from event 6005
    assert found["services"] == []  # no SMS service, no WMI: Samba's svcctl has only its own
    sms = found["sms"]
    assert (sms["install_dir"], sms["site_code"], sms["site_type"], sms["platform"]) == ("C:\\SMS", "SAM", "primary",
                                                                                         "i386")
    versions = {n: d["version"] for n, d in sms["dlls"].items()}
    assert versions == {"Baseutil.dll": "2.00.1493.3000", "Distmgr.dll": "2.00.1493.3000"}
    for name, dll in sms["dlls"].items():
        assert dll["sha256"] == hashlib.sha256(samba.path(f"{BIN}\\{name}").read_bytes()).hexdigest()
    assert (found["exifs"]["drive_letter"], found["exifs"]["exchange_version"]) == ("M", "6.0")
    assert [d["letter"] for d in found["drives"]] == ["C"]  # Samba's NetrServerDiskEnum always says C: only
    assert found["drives"][0]["type"] == "fixed" and found["drives"][0]["free"] > 0


def test_the_dll_transaction_replaces_and_restores_on_samba_and_keeps_the_originals_times(samba, bundle):
    original = {n: samba.path(f"{BIN}\\{n}").read_bytes() for n in ("Baseutil.dll", "Distmgr.dll")}
    times = mtimes(samba)
    session = samba.client()
    result = dlls.Transaction(session, transaction_params(bundle)).run()
    assert result["changed"] and result["stopped"] == [], result  # nothing to stop: Samba has no SMS services
    for name in original:
        assert samba.path(f"{BIN}\\{name}").read_bytes() == (bundle / "i386" / name).read_bytes()
        backup = samba.path(f"{WORK}\\backup\\{name}")
        assert backup.read_bytes() == original[name] and os.stat(backup).st_mtime_ns == times[name]
    journal = json.loads(samba.path(f"{WORK}\\journal.json").read_text())
    assert (journal["phase"], journal["transport"]) == ("done", "smb")
    again = dlls.Transaction(session, transaction_params(bundle)).run()
    assert not again["changed"]  # idempotent
    # What the controller recorded of that change (plugin_utils/records.py): the rollback trusts only those bytes.
    expect = {"transactions": {}, "originals": {n: sha(data) for n, data in original.items()},
              "installed": {n: sha((bundle / "i386" / n).read_bytes()) for n in original}}
    result = dlls.Transaction(session, dict(transaction_params(bundle, "restored"), expect=expect)).run()
    assert result["changed"], result
    for name in original:  # the original bytes and their times, as Copy-Item leaves them over WinRM
        assert samba.path(f"{BIN}\\{name}").read_bytes() == original[name]
    assert mtimes(samba) == times
    session.close()


def test_an_interrupted_journal_is_recovered_on_samba(samba, bundle):
    """A crash between the copy and its verification: Distmgr.dll is the new one, the journal says replacing."""
    original, times = samba.path(f"{BIN}\\Distmgr.dll").read_bytes(), mtimes(samba)
    undo = samba.path(f"{WORK}\\undo")
    undo.mkdir(parents=True)
    (undo / "Distmgr.dll").write_bytes(original)
    os.utime(undo / "Distmgr.dll", ns=(times["Distmgr.dll"], times["Distmgr.dll"]))
    samba.path(f"{BIN}\\Distmgr.dll").write_bytes((bundle / "i386" / "Distmgr.dll").read_bytes())
    samba.path(f"{WORK}\\journal.json").write_text(json.dumps({
        "phase": "replacing", "state": "replaced", "bin_dir": BIN, "undo_dir": f"{WORK}\\undo", "stopped": [],
        "replaced": ["Distmgr.dll"], "before": {}, "after": {}, "error": None, "started": "2026-12-01T00:00:00+00:00",
        "transport": "smb", "id": "t-samba-1"}))
    session = samba.client()
    assert probe.probe(session)["transaction"]["phase"] == "replacing"
    expect = {"transactions": {"t-samba-1": {"Distmgr.dll": sha(original)}}, "originals": {}, "installed": {}}
    result = dlls.Transaction(session, {"state": "recovered", "journal": f"{WORK}\\journal.json", "bin_dir": BIN,
                                        "expect": expect}).run()
    session.close()
    assert result["recovered"] == {"phase": "replacing", "action": "roll_back"} and result["changed"], result
    assert samba.path(f"{BIN}\\Distmgr.dll").read_bytes() == original and mtimes(samba) == times
    assert json.loads(samba.path(f"{WORK}\\journal.json").read_text())["phase"] == "rolled_back"


def test_one_transaction_per_host_and_a_second_opener_cannot_break_it_on_samba(samba, bundle):
    session = samba.client()
    first = dlls.Transaction(session, transaction_params(bundle))
    session.makedirs(WORK)
    first.lock()  # the lock, opened sharing nothing, held by this session
    other = raw.connect(samba.port, PASSWORD)
    tid = other.connectTree("C$")
    started = time.monotonic()
    with pytest.raises(smb.SessionError) as error:
        raw.nt_create(other, tid, "\\SMSFleet\\Q317061\\q317061.lock", raw.GENERIC_READ | raw.GENERIC_WRITE, flags=raw.BATCH)
    assert raw.status_of(error.value) == 0xC0000043
    assert time.monotonic() - started < 5  # refused after Samba's deferral (~1 s), not a 35 s oplock break
    second = samba.client()
    with pytest.raises(dlls.Busy):
        dlls.Transaction(second, transaction_params(bundle)).run()
    second.close()
    assert session.read(f"{BIN}\\Distmgr.dll")[0][:2] == b"MZ"  # the holder's session goes on
    first.unlock()
    session.close()


def test_the_workaround_and_its_rollback_on_samba(samba):
    session = samba.client()
    hidden = exifs.run(session, "hidden")
    assert hidden["changed"] and hidden["recorded"], hidden
    values = registry.Registry(session)
    assert values.values("SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters", ["DriveLetter"]) == {
        "DriveLetter": (True, "")}
    assert not exifs.run(session, "hidden")["changed"]  # idempotent
    restored = exifs.run(session, "restored")
    assert restored["changed"] and restored["drive_letter_changed"], restored
    assert values.values("SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters", ["DriveLetter"]) == {
        "DriveLetter": (True, "M")}
    assert not values.exists(workaround.RECORD_KEY)  # the record forgotten, its key deleted: the empty-key test worked
    session.close()


def test_what_samba_answers_differently_from_windows_2000(samba):
    session = samba.client()
    with pytest.raises(Exception) as error:  # Samba does not implement the server statistics
        srvs.hNetrServerStatisticsGet(session.pipe("srvsvc", srvs.MSRPC_UUID_SRVS), "LanmanServer\x00", 0, 0)
    assert "nca_s_op_rng_error" in str(error.value)
    reg = registry.Registry(session)
    handle = reg.open("SOFTWARE\\Microsoft\\SMS\\Identification")
    with pytest.raises(Exception) as error:  # impacket's own request: a zero-length class name
        rrp.hBaseRegQueryInfoKey(reg.dce, registry.impacket_handle(handle))
    assert "bad_stub_data" in str(error.value)
    assert reg.counts(handle) == (0, 3)  # the client's request (an empty name with its NUL) works
    assert reg.info(handle)["written"] is None  # Samba keeps no key LastWriteTime (0): the probe says unknown
    reg.close(handle)
    windows = reg.values("SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", ["CurrentVersion", "CurrentBuildNumber"])
    assert windows == {"CurrentVersion": (True, "6.1"), "CurrentBuildNumber": (False, None)}
    assert eventlog.last_boot(session) == BOOT  # the seek reads newest first even where a sequential read would not
    session.close()


def test_the_facts_module_over_the_connection_plugin_against_samba(samba, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"site01": {
        "ansible_host": "127.0.0.1", "ansible_port": samba.port, "ansible_connection": "smsfleet.q317061.smb",
        "ansible_user": f"LAB\\{USER}", "ansible_password": PASSWORD}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "none.cfg"), ANSIBLE_NOCOLOR="1", HOME=str(tmp_path))
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "-i", str(inventory), "site01",
                          "-m", "smsfleet.q317061.q317061_facts"], capture_output=True, text=True, env=env, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    facts = yaml.safe_load(run.stdout.split("=>", 1)[1])["ansible_facts"]["q317061"]
    assert (facts["status"], facts["transport"], facts["exposure"]) == ("vulnerable", "smb", "latent"), facts
    assert facts["remedies"][0] == "hotfix" and facts["probe"]["errors"] == [], facts
    assert PASSWORD not in run.stdout + run.stderr


@pytest.mark.parametrize("setting, signed", [("auto", True), ("mandatory", True), ("disabled", False)])
def test_sessions_are_signed_whenever_samba_offers_it_and_every_answer_checks_out(tmp_path, setting, signed):
    """Samba signs with its own code: a session our client signs and verifies against it is signed by the
    specification, not by impacket agreeing with itself."""
    server = Samba(tmp_path / "samba", signing=setting).start()
    try:
        session = server.client()
        assert session.security == {"signed": signed, "authentication": "NTLMv2", "dialect": "smb1"}
        found = probe.probe(session)  # registry, event log, files and the DLLs' bytes, every answer verified
        session.close()
        assert found["errors"] == [] and found["sms"]["dlls"]["Distmgr.dll"]["version"] == "2.00.1493.3000"
    finally:
        server.stop()


def test_the_work_folder_dacl_set_over_smb_reads_back_in_samba_as_system_and_administrators_only(samba):
    """The security descriptor the transaction sets (NT_TRANSACT_SET_SECURITY_DESC) is stored and served by
    Samba's own code (acl_xattr); its smbcacls reads it back as an administrator would."""
    from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import security

    session = samba.client()
    session.makedirs(WORK)
    tx = dlls.Transaction(session, {"journal": f"{WORK}\\journal.json", "state": "replaced"})
    assert tx.private_work_dir() == "fixed" and tx.result["warnings"]  # it existed, open to more than SYSTEM/Admins
    assert tx.private_work_dir() == "kept"
    dacl = security.parse(session.security_descriptor(WORK))
    session.close()
    assert security.is_private(dacl), security.describe(dacl)
    shown = subprocess.run(["smbclient", "//127.0.0.1/C$", "-p", str(samba.port), "-U", f"{USER}%{PASSWORD}", "-m", "NT1",
                            "--option=client min protocol=NT1", "-c", "cd SMSFleet; showacls; ls Q317061"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    sids = sorted(re.findall(r"SID: (S-[0-9-]+)", shown.stdout.split("Num ACEs")[1].split("Owner SID")[0]))
    assert sids == ["S-1-5-18", "S-1-5-32-544"], shown.stdout  # SYSTEM and Administrators, nothing else
    assert "SEC_DESC_DACL_PROTECTED" in shown.stdout, shown.stdout  # not inherited from C:\\
