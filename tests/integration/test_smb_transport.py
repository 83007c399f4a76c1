"""The smb transport (issue "Reach the real site servers"): the same audit, remediation, rollback and
faults as over WinRM, against winlab hosts reached the way Windows 2000 servers are reached (SMB and
the Windows RPC interfaces, no agent). Assertions are the WinRM tests' own: old or new DLLs, never a
mix; SMS services as before; a re-run completes."""

import hashlib
import json
import pathlib
import subprocess
import sys

import yaml

from test_remediate import WORKAROUND_FLEET, dll_times, dll_versions, host_changes, remediate, report, services
from winlab.content import text_bytes

SMB_FLEET = """
defaults: {restart_seconds: 1, transport: smb}
groups:
  - name: s
    count: 3
    overrides:
      s-02: {os: windows2016}
      s-03:
        sms: {install_dir: "D:\\\\SMS", platform: Alpha}
"""
BIN = "C:\\SMS\\bin\\i386"
BIN_DIR, ROOT = pathlib.Path(sys.executable).parent, pathlib.Path(__file__).resolve().parents[2]
WORK = "C:\\SMSFleet\\Q317061"


def host_file(lab, name, path) -> bytes | None:
    """A file's bytes on an emulated host (text lines, or content written over SMB or WinRM)."""
    entry = lab.host_state(name)["files"].get(path.lower())
    if entry is None:
        return None
    if "text" in entry:
        return text_bytes(entry["text"])
    return (lab.state_dir / "blobs" / entry["blob"]).read_bytes()


def smb_inventory(lab, names=None) -> str:
    """The lab's inventory with the named hosts (default: all) switched to the smb transport."""
    inventory = lab.hosts()
    for group in inventory["all"]["children"]["site_servers"]["children"].values():
        for name, hostvars in (group.get("hosts") or {}).items():
            if names is None or name in names:
                hostvars.update(ansible_connection="smsfleet.q317061.smb", ansible_port=lab.host_state(name)["smb_port"])
    path = lab.state_dir / "inventory-smb.yml"
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def test_remediation_over_smb_check_mode_idempotence_and_rollback(lab_factory, bundle, tmp_path):
    lab = lab_factory(SMB_FLEET)
    names = ["s-01", "s-02", "s-03"]
    original = {n: lab.host_state(n) for n in names}
    for attempt in range(2):  # check mode twice: plans, reports, changes nothing
        run = remediate(lab, bundle, tmp_path / f"check{attempt}", "-e", "q317061_serial=100%", check=True)
        assert run.returncode == 0, run.stdout[-3000:]
        for n in names:
            assert lab.host_state(n)["files"] == original[n]["files"], n
    run = remediate(lab, bundle, tmp_path / "r1", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    entries = report(tmp_path / "r1")
    for n in names:
        state = lab.host_state(n)
        assert set(dll_versions(state).values()) == {"2.00.1493.3240"}, n
        assert services(state) == services(original[n]), n
        assert entries[n]["status"] == "fixed" and entries[n]["change"]["outcome"] == "changed", entries[n]
        journal = json.loads(host_file(lab, n, f"{WORK}\\journal.json"))
        assert (journal["transport"], journal["phase"]) == ("smb", "done"), journal
    assert lab.stats()["s-02"]["smb"]["requests"] > 0 and lab.stats()["s-02"]["commands"] == 0  # no WinRM at all
    run = remediate(lab, bundle, tmp_path / "r2", "-e", "q317061_serial=100%")
    assert run.returncode == 0 and set(host_changes(run).values()) == {0}, run.stdout[-3000:]
    run = lab.playbook("playbooks/rollback.yml", "-e", "q317061_serial=100%", "-e", f"q317061_report_dir={tmp_path / 'rb'}")
    assert run.returncode == 0, run.stdout[-3000:]
    for n in names:
        state = lab.host_state(n)
        assert dll_versions(state) == dll_versions(original[n]) and services(state) == services(original[n]), n
        assert dll_times(state) == dll_times(original[n]), n  # as Copy-Item leaves them over WinRM


FAULT_FLEET = """
defaults: {restart_seconds: 1, transport: smb}
groups:
  - name: f
    count: 7
    overrides:
      f-01: {faults: {hang_on_stop: [SMS_EXECUTIVE]}}
      f-02: {sms: {console_running: true}}
      f-03: {faults: {locked_files: ["C:\\\\SMS\\\\bin\\\\i386\\\\Distmgr.dll"]}}
      f-04: {faults: {drop_transaction_at: replacing}}
      f-05: {faults: {interrupt_transaction_at: replacing}}
      f-06: {faults: {system_drive_full: true}}
"""


def test_faults_over_smb_leave_hosts_consistent_and_a_rerun_completes(lab_factory, bundle, tmp_path):
    lab = lab_factory(FAULT_FLEET)
    names = [f"f-0{i}" for i in range(1, 8)]
    original = {n: lab.host_state(n) for n in names}
    # A real wait for the hung service (the SCM is polled until the timeout), kept short here.
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%", "-e", "q317061_max_fail_percentage=100",
                    "-e", "q317061_service_stop_timeout=5")
    assert run.returncode == 2
    entries = report(tmp_path / "r")
    for n in names:
        state = lab.host_state(n)
        assert len(set(dll_versions(state).values())) == 1, (n, dll_versions(state))  # old or new, never a mix
        if n != "f-01":  # its SMS_EXECUTIVE hangs in StopPending until a human ends it
            assert services(state) == services(original[n]), (n, services(state))
    assert "did not stop within" in entries["f-01"]["change"]["summary"]
    assert "still in use after the SMS services and WMI stopped" in entries["f-02"]["change"]["summary"]
    assert "Distmgr.dll is still in use" in entries["f-03"]["change"]["summary"]  # a backup agent looks like the console
    assert "STATUS_DISK_FULL" in entries["f-06"]["change"]["summary"]
    for n, outcome in (("f-02", "refused"), ("f-03", "refused"), ("f-06", "failed")):  # a program holds a DLL:
        assert entries[n]["status"] == "vulnerable" and entries[n]["change"]["outcome"] == outcome, n  # a person acts
    # f-04: the session dropped in the middle; the action reconnected and rolled back by the journal at once.
    assert "after reconnecting, the journal was recovered (roll back)" in entries["f-04"]["change"]["summary"]
    assert entries["f-04"]["status"] == "vulnerable" and set(dll_versions(lab.host_state("f-04")).values()) == {
        "2.00.1493.3000"}
    assert entries["f-07"]["status"] == "fixed"
    # f-05: the host crashed mid-transaction and booted with its services running; the action reconnected
    # once it was back and rolled the journal back (services stopped again, originals copied, restarted).
    assert entries["f-05"]["change"]["outcome"] == "failed"
    assert "after reconnecting, the journal was recovered (roll back)" in entries["f-05"]["change"]["summary"]
    assert set(dll_versions(lab.host_state("f-05")).values()) == {"2.00.1493.3000"}

    for n, kind, value in (("f-01", "hang_on_stop", "SMS_EXECUTIVE"), ("f-03", "locked_files", f"{BIN}\\Distmgr.dll"),
                           ("f-06", "system_drive_full", None)):
        lab.winlab("fault", n, kind, *([value] if value else []), "--clear")
    lab.winlab("fault", "f-02", "locked_files", "x", "--clear")
    state = lab.host_state("f-02")
    state["processes"] = []  # the console was quit by hand
    (lab.state_dir / "hosts" / "f-02.json").write_text(json.dumps(state))
    lab.winlab("down")
    lab.winlab("up", "--fleet", str(lab.fleet), "--transport", "smb")
    run = remediate(lab, bundle, tmp_path / "r2", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    # f-01's rollback could not finish while its service hung: this run recovers it first.
    assert "recovered a transaction interrupted during phase 'rollback_failed' (roll back)" in run.stdout + run.stderr
    for n in names:
        state = lab.host_state(n)
        assert set(dll_versions(state).values()) == {"2.00.1493.3240"}, n
        assert services(state) == services(original[n]), n


KILLER = """
import json, os, sys
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client, dlls
params = json.loads(sys.argv[1])
session = client.SmbClient("127.0.0.1", {port}, "Administrator", "Lab-Passw0rd!").connect()
tx = dlls.Transaction(session, params)
write = tx.write_journal
def write_then_die(journal):
    write(journal)
    if journal["phase"] == "replacing" and journal["replaced"]:
        os._exit(9)  # the controller is killed: no rollback, no goodbye, the TCP connection just closes
tx.write_journal = write_then_die
tx.run()
"""


def test_a_controller_killed_mid_transaction_is_recovered_by_the_next_run(lab_factory, bundle, tmp_path):
    lab = lab_factory("defaults: {restart_seconds: 1, transport: smb}\nhosts: [{name: k-01}]\n")
    original = lab.host_state("k-01")
    files = []
    for name in ("Baseutil.dll", "Distmgr.dll"):
        local = bundle / "i386" / name
        files.append({"name": name, "local": str(local), "source": f"{WORK}\\staged\\{name}",
                      "version": "2.00.1493.3240", "sha256": hashlib.sha256(local.read_bytes()).hexdigest()})
    params = {"state": "replaced", "bin_dir": BIN, "backup_dir": f"{WORK}\\backup", "journal": f"{WORK}\\journal.json",
              "files": files, "services": ["SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR"],
              "wmi_service": "Winmgmt", "admin_console": "refuse", "stop_timeout": 30}
    # The killed controller wrote its record before the change, as the action plugin does (plugin_utils/records.py).
    before = {n: {"version": "2.00.1493.3000", "sha256": original["files"][f"c:\\sms\\bin\\i386\\{n.lower()}"]["sha256"]}
              for n in ("Baseutil.dll", "Distmgr.dll")}
    params["transaction_id"] = lab.record_transaction("k-01", {"state": "replaced"}, before)["id"]
    script = KILLER.format(port=lab.host_state("k-01")["smb_port"])
    killed = subprocess.run([sys.executable, "-c", script, json.dumps(params)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert killed.returncode == 9, killed.stderr
    state = lab.host_state("k-01")
    assert services(state)["SMS_EXECUTIVE"] == "stopped"  # left as the killed controller left it
    assert json.loads(host_file(lab, "k-01", f"{WORK}\\journal.json"))["phase"] == "replacing"
    audit = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}")
    assert report(tmp_path / "a", "q317061-audit")["k-01"]["status"] == "unknown", audit.stdout[-2000:]
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "recovered a transaction interrupted during phase 'replacing' (roll back)" in run.stdout + run.stderr
    state = lab.host_state("k-01")
    assert set(dll_versions(state).values()) == {"2.00.1493.3240"} and services(state) == services(original)


def test_bad_credentials_missing_pipes_and_denied_shares_are_reported_by_name(lab_factory, tmp_path):
    lab = lab_factory("""
defaults: {restart_seconds: 1, transport: smb}
groups:
  - name: b
    count: 3
    overrides:
      b-02: {faults: {stopped_pipes: [winreg]}}
      b-03: {faults: {denied_shares: [C$]}}
""")
    before = {n: lab.host_state(n)["files"] for n in ("b-01", "b-02", "b-03")}
    inventory = lab.hosts()
    inventory["all"]["children"]["site_servers"]["children"]["b"]["hosts"]["b-01"]["ansible_password"] = "Not-The-Passw0rd-7"
    lab.inventory.write_text(yaml.safe_dump(inventory))
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}")
    assert run.returncode == 2
    entries = report(tmp_path / "a", "q317061-audit")
    assert entries["b-01"]["status"] == "unreachable" and "STATUS_LOGON_FAILURE" in entries["b-01"]["error"]
    assert entries["b-02"]["status"] == "unknown", json.dumps(entries["b-02"], indent=1)
    assert any("winreg pipe" in r for r in entries["b-02"]["reasons"]), json.dumps(entries["b-02"], indent=1)
    assert entries["b-03"]["status"] == "unknown"
    assert any("administrative share" in r and "C$" in r for r in entries["b-03"]["reasons"]), entries["b-03"]
    for n, files in before.items():
        assert lab.host_state(n)["files"] == files, n
    assert "Not-The-Passw0rd-7" not in json.dumps(entries) + run.stdout  # no secrets in reports or output


WORKAROUND = WORKAROUND_FLEET.replace("  restart_seconds: 1\n", "  restart_seconds: 1\n  transport: smb\n")


def test_workaround_restart_and_rollback_over_smb(lab_factory, bundle, tmp_path):
    lab = lab_factory(WORKAROUND)
    policy = ["-e", "q317061_allow_workaround=true", "-e", "q317061_reboot=true", "-e", "q317061_serial=100%"]
    boots = {n: lab.host_state(n)["boot_time"] for n in ("w-01", "w-02")}
    run = remediate(lab, bundle, tmp_path / "r", *policy)
    assert run.returncode == 0, run.stdout[-3000:]
    params = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"
    for n in ("w-01", "w-02"):
        state = lab.host_state(n)
        assert report(tmp_path / "r")[n]["status"] == "mitigated"
        assert state["boot_time"] != boots[n]  # restarted through the remote registry's shutdown call
        assert state["registry"][params]["DriveLetter"] == ""
        assert not [d for d in state["drives"] if "BackOfficeStorage" in (d.get("target") or "")]
    run = remediate(lab, bundle, tmp_path / "r2", *policy)
    assert set(host_changes(run).values()) == {0}, run.stdout[-3000:]
    run = lab.playbook("playbooks/rollback.yml", "-e", "q317061_serial=100%", "-e", "q317061_reboot=true",
                       "-e", f"q317061_report_dir={tmp_path / 'rb'}")
    assert run.returncode == 0, run.stdout[-3000:]
    assert lab.host_state("w-01")["registry"][params]["DriveLetter"] == "M"
    assert "DriveLetter" not in lab.host_state("w-02")["registry"][params]
    assert "HKLM\\SOFTWARE\\smsfleet\\Q317061" not in lab.host_state("w-01")["registry"]


def test_a_restart_that_never_returns_over_smb(lab_factory, bundle, tmp_path):
    lab = lab_factory(WORKAROUND.replace("transport: smb", "transport: smb\n  faults: {restart_never_returns: true}"))
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_allow_workaround=true", "-e", "q317061_reboot=true",
                    "-e", "q317061_serial=100%", "-e", "q317061_max_fail_percentage=100",
                    "-e", "q317061_reboot_timeout=10")
    assert run.returncode != 0
    entries = report(tmp_path / "r")
    for n in ("w-01", "w-02"):
        assert entries[n]["change"]["outcome"] == "failed" and entries[n]["status"] == "unreachable", entries[n]
        assert "did not come back within 10 seconds" in entries[n]["change"]["summary"]


def test_one_run_over_a_mixed_inventory_and_recovery_across_transports(lab_factory, bundle, tmp_path):
    lab = lab_factory("""
defaults: {restart_seconds: 1}
groups:
  - name: m
    count: 2
    overrides:
      m-02: {transport: smb}
""")
    # m-01 crashes over WinRM in the middle of its transaction (the PowerShell module's journal) ...
    lab.winlab("fault", "m-01", "interrupt_transaction_at", "replacing")
    run = remediate(lab, bundle, tmp_path / "r1", "-e", "q317061_serial=100%", "-e", "q317061_max_fail_percentage=100")
    entries = report(tmp_path / "r1")
    assert entries["m-02"]["status"] == "fixed" and entries["m-01"]["change"]["outcome"] == "failed"
    lab.wait_up()
    # ... and the smb transport recovers it from that journal, then finishes the job.
    run = lab.playbook("-i", smb_inventory(lab), "playbooks/remediate.yml", "-e", f"q317061_hotfix_source={bundle}",
                       "-e", f"q317061_report_dir={tmp_path / 'r2'}", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-6000:]
    assert "recovered a transaction interrupted during phase 'replacing' (roll back)" in run.stdout + run.stderr, \
        run.stdout[-6000:]
    assert {e["status"] for e in report(tmp_path / "r2").values()} == {"fixed"}


def test_the_connection_copies_files_and_refuses_to_run_commands(lab_factory, tmp_path):
    lab = lab_factory("defaults: {transport: smb}\nhosts: [{name: c-01}]\n")
    refused = lab.ansible("c-01", "-m", "ansible.windows.win_ping")
    assert refused.returncode != 0
    assert "runs no commands or modules" in refused.stdout + refused.stderr
    assert "q317061_facts" in refused.stdout + refused.stderr
    (tmp_path / "note.txt").write_bytes(b"copied over C$\r\n")
    script = f"""
import sys
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader, init_plugin_loader
init_plugin_loader()
conn = connection_loader.get("smsfleet.q317061.smb", PlayContext())
conn.set_options(direct={{"remote_addr": "127.0.0.1", "port": {lab.host_state('c-01')['smb_port']},
                         "remote_user": "LAB\\\\Administrator", "password": "Lab-Passw0rd!"}})
conn.put_file("{tmp_path / 'note.txt'}", "C:\\\\Temp\\\\note.txt")
conn.fetch_file("C:\\\\Temp\\\\note.txt", "{tmp_path / 'back.txt'}")
conn.close()
"""
    lab.winlab("fault", "c-01", "latency_ms", "0")  # keeps the host's state file current
    state = lab.host_state("c-01")
    state.setdefault("dirs", []).append("C:\\Temp")
    (lab.state_dir / "hosts" / "c-01.json").write_text(json.dumps(state))
    lab.winlab("down")
    lab.winlab("up", "--fleet", str(lab.fleet))
    copied = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=lab.env, timeout=120,
                            check=False)
    assert copied.returncode == 0, copied.stderr
    assert (tmp_path / "back.txt").read_bytes() == b"copied over C$\r\n"


def test_an_audit_over_smb_is_one_session_and_few_bytes_per_host(lab_factory, tmp_path):
    lab = lab_factory("defaults: {transport: smb}\ngroups: [{name: a, count: 3}]\n")
    # As AWX runs it: a fact cache kept between jobs. "fresh" is a new job's container: an empty home (no hash cache
    # of the controller's own), but the fact cache of the jobs before, which carries the DLLs' hashes.
    env = dict(lab.env, ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile",
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "facts"))
    for label in ("cold", "warm", "fresh"):
        home = tmp_path / ("home-fresh" if label == "fresh" else "home")
        lab.env = dict(env, HOME=str(home), ANSIBLE_HOME=str(home / ".ansible"))
        before = lab.stats()
        run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / label}")
        assert run.returncode == 0, run.stdout[-3000:]
        after = lab.stats()
        for n in ("a-01", "a-02", "a-03"):
            smb = {k: after[n]["smb"][k] - before[n]["smb"][k] for k in ("connections", "bytes_in", "bytes_out")}
            assert smb["connections"] == 1, (n, smb)  # one SMB session per host, like one module execution
            if label != "cold":  # the DLLs' hashes are known: only headers and version resources are read
                assert smb["bytes_in"] + smb["bytes_out"] < 64 * 1024, (n, smb)
                # The request budget (docs/benchmarks.md, "the smb audit's floor"): each RPC call one
                # TransactNmPipe, one service enumeration, registry values read together, no closes that decide
                # nothing. Pinned so it cannot creep back.
                requests = after[n]["smb"]["requests"] - before[n]["smb"]["requests"]
                kinds = {k: v - before[n]["smb_commands"].get(k, 0) for k, v in after[n]["smb_commands"].items()}
                assert requests <= 60, (n, requests, kinds)
                assert kinds.get("WRITE_ANDX", 0) == 0 and kinds.get("TREE_DISCONNECT", 0) == 0, kinds


def test_two_remediations_of_the_same_host_at_once_never_both_change_it(lab_factory, bundle, tmp_path):
    """Share access between sessions is real now: whichever run's transaction comes second meets the other's
    lock (q317061.lock, opened sharing nothing) and changes nothing; what each reports is what it did."""
    lab = lab_factory("defaults: {restart_seconds: 1, transport: smb, faults: {latency_ms: 25}}\nhosts: [{name: t-01}]\n")
    runs = {label: subprocess.Popen([str(BIN_DIR / "ansible-playbook"), "-i", str(lab.inventory), "remediate.yml",
                                     "-e", f"q317061_hotfix_source={bundle}", "-e", f"q317061_report_dir={tmp_path / label}"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=lab.env, cwd=ROOT)
            for label in ("a", "b")}
    out = {label: run.communicate(timeout=600)[0] for label, run in runs.items()}
    changes = {label: report(tmp_path / label)["t-01"]["change"] or {} for label in runs}
    outcomes = {label: c.get("outcome") for label, c in changes.items()}
    assert sorted(outcomes.values()) in (["changed", "refused"], ["changed", "manual"]), (
        changes, out["a"][-2000:], out["b"][-2000:])
    # The second meets the lock in its transaction (refused: nothing changed, a person or a later run) or already in
    # its first probe's recovery (it cannot be checked: planned for a person). Never "changed", never "failed".
    loser = next(label for label, outcome in outcomes.items() if outcome != "changed")
    assert runs[loser].returncode != 0 and "busy" in changes[loser]["summary"], changes[loser]
    assert "original DLLs are in place" not in json.dumps(changes[loser])  # it did nothing, and says so
    state = lab.host_state("t-01")
    assert set(dll_versions(state).values()) == {"2.00.1493.3240"} and set(services(state).values()) == {"running"}
    assert json.loads(host_file(lab, "t-01", f"{WORK}\\journal.json"))["phase"] == "done"


def test_a_half_open_connection_mid_transaction_is_recovered_once_the_host_lets_go(lab_factory, bundle, tmp_path):
    """The session stops answering in the middle (a broken path: no reset, no close). The action notices by the
    operation timeout, reconnects, finds the lock still held by its lost session until the host gives it up
    (half_open_seconds), then recovers by the journal: SMS is not left stopped."""
    lab = lab_factory("""
defaults: {restart_seconds: 1, transport: smb, half_open_seconds: 8, faults: {half_open_transaction_at: replacing}}
hosts: [{name: h-01}]
""")
    original = lab.host_state("h-01")
    run = remediate(lab, bundle, tmp_path / "r", "-e", "ansible_smb_operation_timeout=4")
    entry = report(tmp_path / "r")["h-01"]
    assert run.returncode == 2 and entry["change"]["outcome"] == "failed", run.stdout[-3000:]
    assert "after reconnecting, the journal was recovered (roll back)" in entry["change"]["summary"], entry["change"]
    state = lab.host_state("h-01")
    assert set(dll_versions(state).values()) == {"2.00.1493.3000"} and services(state) == services(original)
    run = remediate(lab, bundle, tmp_path / "r2")
    assert run.returncode == 0 and report(tmp_path / "r2")["h-01"]["status"] == "fixed", run.stdout[-3000:]


def test_a_connection_dropped_during_a_service_control_call_is_recovered_not_a_crash(lab_factory, bundle, tmp_path):
    """The stop of a service runs on the host and its reply never comes (issue 22): impacket raises a
    NetBIOSError whose error code cannot be read. It is a lost connection: the action reconnects and
    recovers by the journal, so SMS is not left stopped with the new DLLs."""
    lab = lab_factory("defaults: {restart_seconds: 1, transport: smb, faults: {drop_on_rpc: svcctl.1}}\n"
                      "hosts: [{name: d-01}]\n")
    original = lab.host_state("d-01")
    run = remediate(lab, bundle, tmp_path / "r")
    change = report(tmp_path / "r")["d-01"]["change"]
    assert "has no attribute" not in run.stdout + run.stderr, run.stdout[-3000:]
    assert "after reconnecting, the journal was recovered (roll back)" in change["summary"], change
    state = lab.host_state("d-01")
    assert set(dll_versions(state).values()) == {"2.00.1493.3000"} and services(state) == services(original)


def test_one_open_console_over_smb_needs_a_person_and_stops_no_later_wave(lab_factory, bundle, tmp_path):
    """The demo fleet over smb: p01-04's SMS Administrator console holds Baseutil.dll, which the smb transport
    cannot close. Its transaction refuses (everything as it was, a person must quit the console); that is no wave
    failure, so every later wave still runs (issue 22)."""
    from conftest import DEMO
    lab = lab_factory(fleet_path=DEMO, up_args=("--transport", "smb"))
    run = remediate(lab, bundle, tmp_path / "r")
    entries = report(tmp_path / "r")
    outcomes = {n: (e["change"] or {}).get("outcome") for n, e in entries.items()}
    assert "not_attempted" not in outcomes.values(), outcomes
    assert outcomes["p01-04"] == "refused" and "quit it" in entries["p01-04"]["change"]["summary"], entries["p01-04"]
    assert set(dll_versions(lab.host_state("p01-04")).values()) == {"2.00.1493.3000"}
    assert run.returncode == 2 and "need a person (refused before any change): p01-04 (" in run.stdout
    later = [n for n, outcome in outcomes.items() if outcome == "changed" and n > "p01-04"]
    assert len(later) > 10, outcomes  # the waves after the console host's ran


def test_the_account_may_come_from_the_command_line_as_an_awx_machine_credential_gives_it(lab_factory, tmp_path):
    """AWX's Machine credential gives `-u` and the password at the prompt, not inventory variables: the pre-check
    and the connection take the account from there; a malformed smb boolean is still refused before any host."""
    lab = lab_factory("defaults: {transport: smb}\nhosts: [{name: m-01}]\n")
    inventory = lab.hosts()
    for group in inventory["all"]["children"]["site_servers"]["children"].values():
        for hostvars in group["hosts"].values():
            hostvars.pop("ansible_user"), hostvars.pop("ansible_password")
    lab.inventory.write_text(yaml.safe_dump(inventory))
    password = json.dumps({"ansible_password": "Lab-Passw0rd!"})  # what the prompt answer becomes
    run = lab.playbook("playbooks/audit.yml", "-u", "Administrator", "-e", password,
                       "-e", f"q317061_report_dir={tmp_path / 'a'}")
    assert run.returncode == 0, run.stdout[-3000:]
    assert report(tmp_path / "a", "q317061-audit")["m-01"]["status"] != "unreachable"
    before = lab.stats()["m-01"]["smb"]["connections"]
    refused = lab.playbook("playbooks/audit.yml", "-u", "Administrator", "-e", password, "-e",
                           "ansible_smb_require_signing=maybe", "-e", f"q317061_report_dir={tmp_path / 'b'}")
    assert refused.returncode != 0 and "ansible_smb_require_signing: must be true or false" in refused.stdout
    assert lab.stats()["m-01"]["smb"]["connections"] == before, refused.stdout  # the refused run touched no host


def test_the_smb_credential_types_environment_is_checked_first_and_ranks_below_the_inventory(lab_factory, tmp_path):
    """AWX's smb credential type injects ANSIBLE_SMB_* variables: a malformed one is refused before any host, and a
    host's own inventory setting wins over it (an NT 4.0 group keeps its own logon while the credential sets the
    fleet's)."""
    lab = lab_factory("defaults: {transport: smb}\ngroups: [{name: e, count: 2}]\n")
    base = dict(lab.env)
    lab.env = dict(base, ANSIBLE_SMB_REQUIRE_SIGNING="maybe")
    before = lab.stats()["e-01"]["smb"]["connections"]
    refused = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}")
    assert refused.returncode != 0 and "ansible_smb_require_signing: must be true or false (got 'maybe')" in refused.stdout
    assert lab.stats()["e-01"]["smb"]["connections"] == before  # refused before any host
    lab.set_hostvars("e", "e-02", ansible_smb_require_signing=False)
    lab.env = dict(base, ANSIBLE_SMB_REQUIRE_SIGNING="True")  # as AWX renders the credential's boolean
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'b'}")
    entries = report(tmp_path / "b", "q317061-audit")
    assert entries["e-01"]["status"] == "unreachable" and "does not offer SMB signing" in run.stdout  # the credential
    assert entries["e-02"]["status"] not in ("unreachable", "unknown")  # its own inventory value wins
    lab.env = base
