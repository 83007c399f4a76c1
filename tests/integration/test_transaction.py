"""q317061_dlls and q317061_probe by Windows' rules, on winlab twins that are as harsh as Windows
(issue "The DLL transaction and the probe, correct by Windows' rules"). The contract itself is
table-tested in tests/unit/plugin_utils/test_transaction.py."""

import hashlib
import json

import pytest

from test_remediate import dll_versions, remediate, report, services
from winlab.pe import build_dll

ONE = "defaults: {restart_seconds: 1}\nhosts: [{name: t-01}]\n"
BIN = "C:\\SMS\\bin\\i386"
WORK = "C:\\SMSFleet\\Q317061"
JOURNAL = f"{WORK}\\journal.json"
SMS = ["SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR"]


def put(lab, local, remote):
    lab.ansible("t-01", "-m", "ansible.windows.win_copy", "-a", json.dumps({"src": str(local), "dest": remote}),
                check=True)


def dll(tmp_path, version, name="Distmgr.dll", size=230800):
    path = tmp_path / f"{name}-{version}"
    path.write_bytes(build_dll("i386", version, size, name=name))
    return path


def dlls_task(lab, *extra, **args):
    module_args = {"state": "replaced", "bin_dir": BIN, "backup_dir": f"{WORK}\\backup", "journal": JOURNAL,
                   "services": SMS, "admin_console": "refuse"}
    module_args.update(args)
    return lab.ansible("t-01", "-m", "smsfleet.q317061.q317061_dlls", "-a", json.dumps(module_args), *extra)


def staged(path, remote_name):
    data = path.read_bytes()
    version = path.name.split("-", 1)[1]
    return {"name": remote_name, "source": f"{WORK}\\staged\\{path.name}", "version": version,
            "sha256": hashlib.sha256(data).hexdigest()}


def probe(lab, **args):
    run = lab.ansible("t-01", "-m", "smsfleet.q317061.q317061_probe", *(["-a", json.dumps(args)] if args else []), "-o")
    assert "SUCCESS" in run.stdout, run.stdout
    return json.loads(run.stdout.split("=>", 1)[1])["probe"]


def test_arguments_are_checked_by_ansible_basic_rules(lab_factory):
    lab = lab_factory(ONE)
    missing = dlls_task(lab, files=[{"name": "Distmgr.dll", "source": "C:\\x", "version": "2.00.1493.3240"}])
    assert "missing required arguments: sha256 found in files" in missing.stdout
    assert "state is replaced but all of the following are missing: files" in dlls_task(lab).stdout
    bad_bool = lab.ansible("t-01", "-m", "ansible.windows.win_copy", "-a", "src=/etc/hostname dest=C:\\x force=maybe")
    assert "The value 'maybe' is not a valid boolean" in bad_bool.stdout
    services_seen = [s["name"] for s in probe(lab, services="Winmgmt, EXIFS")["services"]]
    assert services_seen == ["Winmgmt", "EXIFS"]  # "a, b" is a list of two, as Ansible.Basic splits it
    assert lab.host_state("t-01")["files"].get("c:\\x") is None


def test_win_reg_stat_reads_dwords_unsigned_and_refuses_non_psdrive_paths(lab_factory):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, time_bias_minutes: -60"))
    key = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\TimeZoneInformation"
    run = lab.ansible("t-01", "-m", "ansible.windows.win_reg_stat", "-a", f"path={key} name=ActiveTimeBias")
    assert "value: 4294967236" in run.stdout and "REG_DWORD" in run.stdout
    long_form = lab.ansible("t-01", "-m", "ansible.windows.win_reg_stat", "-a",
                            "path=HKEY_LOCAL_MACHINE\\SYSTEM name=x")
    assert long_form.returncode != 0 and "is not a valid registry path" in long_form.stdout
    assert probe(lab)["time_bias_minutes"] == -60  # the probe reads the signed bias


def test_the_console_is_mmc_with_the_sms_snap_in_on_its_command_line(lab_factory, tmp_path):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, processes: ['\"C:\\\\WINNT\\\\system32\\\\mmc.exe\" "
                                                "\"C:\\\\WINNT\\\\system32\\\\services.msc\"']"))
    assert probe(lab)["sms"]["admin_console_running"] is False  # another snap-in is not the SMS console
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    assert "changed" in dlls_task(lab, files=[staged(new, "Distmgr.dll")]).stdout.lower()
    console = lab_factory(ONE.replace("name: t-01", "name: t-01, sms: {console_running: true}"))
    assert probe(console)["sms"]["admin_console_running"] is True
    put(console, new, f"{WORK}\\staged\\{new.name}")
    refused = dlls_task(console, files=[staged(new, "Distmgr.dll")])
    assert "SMS Administrator console is running (PID 1234)" in refused.stdout
    assert dll_versions(console.host_state("t-01"))["Distmgr.dll"] == "2.00.1493.3000"


def test_a_dll_that_cannot_be_read_is_an_error_not_a_guess(lab_factory):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, faults: {unreadable_files: [\"" + BIN.replace("\\", "\\\\")
                                  + "\\\\Distmgr.dll\"]}"))
    raw = probe(lab)
    assert raw["sms"]["dlls"]["Distmgr.dll"]["version"] is None
    assert any("being used by another process" in e for e in raw["errors"])
    run = lab.ansible("t-01", "-m", "smsfleet.q317061.q317061_facts")
    assert "status: unknown" in run.stdout and "q317061 probe could not read" in run.stdout + run.stderr


def test_log_tail_semantics(lab_factory):
    lines = [f"Cannot decompress package D:\\\\SMSPKG\\\\P{i:07d}.PCK to M:\\\\_S 1.TMP, CTool return code = 4" for i in range(3)]
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, sms: {logging: true}, distmgr_log: ["
                                  + ", ".join(f'"{line}"' for line in lines) + "]"))
    whole = probe(lab)["distmgr_log"]
    assert len(whole["lines"]) == 3 and whole["logging_enabled"] is True and whole["present"] is True
    line_length = len(lines[0].replace("\\\\", "\\")) + 2
    cut = probe(lab, log_tail_bytes=line_length + 10)["distmgr_log"]["lines"]
    assert cut == [lines[2].replace("\\\\", "\\")]  # the line cut by the offset is dropped, not half-read
    assert probe(lab, max_log_lines=0)["distmgr_log"]["lines"] == []


def test_one_transaction_per_host(lab_factory, tmp_path):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, faults: {locked_files: [\""
                                  + WORK.replace("\\", "\\\\") + "\\\\q317061.lock\"]}"))
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    busy = dlls_task(lab, files=[staged(new, "Distmgr.dll")])
    assert "the host is busy: another Q317061 transaction holds" in busy.stdout
    assert dll_versions(lab.host_state("t-01"))["Distmgr.dll"] == "2.00.1493.3000"


@pytest.mark.parametrize("journal, words", [
    ("{not json", "the transaction journal cannot be read"),
    (json.dumps({"phase": "replacing", "bin_dir": "C:\\Windows\\System32", "undo_dir": f"{WORK}\\undo",
                 "stopped": [], "replaced": ["kernel32.dll"]}), "names folders"),
    (json.dumps({"phase": "teleporting", "bin_dir": BIN, "undo_dir": f"{WORK}\\undo", "stopped": [],
                 "replaced": []}), "unknown phase 'teleporting'"),
])
def test_an_untrustworthy_journal_stops_the_module_and_changes_nothing(lab_factory, tmp_path, journal, words):
    lab = lab_factory(ONE)
    (tmp_path / "journal.json").write_text(journal)
    put(lab, tmp_path / "journal.json", JOURNAL)
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    before = lab.host_state("t-01")
    run = dlls_task(lab, files=[staged(new, "Distmgr.dll")])
    assert words in run.stdout and "nothing was changed" in run.stdout, run.stdout
    after = lab.host_state("t-01")
    assert dll_versions(after) == dll_versions(before) and services(after) == services(before)


def test_a_journal_caught_between_write_and_move_is_read_from_its_temporary_copy(lab_factory, tmp_path):
    lab = lab_factory(ONE)
    unfinished = lab.record_transaction("t-01", {"phase": "stopping", "bin_dir": BIN, "undo_dir": f"{WORK}\\undo",
                                                 "stopped": ["SMS_EXECUTIVE"], "replaced": [],
                                                 "started": "2026-11-21T09:00:00Z"})
    (tmp_path / "journal.json.tmp").write_text(json.dumps(unfinished))
    put(lab, tmp_path / "journal.json.tmp", JOURNAL + ".tmp")
    assert probe(lab)["transaction"]["phase"] == "stopping"
    run = dlls_task(lab, state="recovered")
    assert "recovered a transaction interrupted during phase 'stopping' (roll back)" in run.stdout + run.stderr


def test_never_a_downgrade_and_a_same_build_with_other_bytes_is_replaced(lab_factory, tmp_path):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, sms: {distmgr: 2.00.1493.3241}"))
    older = dll(tmp_path, "2.00.1493.3240")
    put(lab, older, f"{WORK}\\staged\\{older.name}")
    run = dlls_task(lab, files=[staged(older, "Distmgr.dll")])
    assert "changed: false" in run.stdout.lower() or "SUCCESS" in run.stdout, run.stdout
    assert dll_versions(lab.host_state("t-01"))["Distmgr.dll"] == "2.00.1493.3241"  # 3241 stays 3241
    same = dll(tmp_path, "2.00.1493.3241")  # the same build, other bytes than the host's
    put(lab, same, f"{WORK}\\staged\\{same.name}")
    run = dlls_task(lab, files=[staged(same, "Distmgr.dll")])
    assert "CHANGED" in run.stdout, run.stdout
    entry = lab.host_state("t-01")["files"]["c:\\sms\\bin\\i386\\distmgr.dll"]
    assert entry["sha256"] == hashlib.sha256(same.read_bytes()).hexdigest()


def test_the_first_backup_is_kept_across_later_transactions(lab_factory, bundle, tmp_path):
    lab = lab_factory(ONE)
    assert remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%").returncode == 0
    later = dll(tmp_path, "2.00.1493.3241")  # a later SP3 hotfix (Q318834) installed by the same transaction
    put(lab, later, f"{WORK}\\staged\\{later.name}")
    assert "CHANGED" in dlls_task(lab, files=[staged(later, "Distmgr.dll")], admin_console="close").stdout
    state = lab.host_state("t-01")
    assert state["files"][f"{WORK}\\backup\\distmgr.dll".lower()]["version"] == "2.00.1493.3000"
    manifest = json.loads("\n".join(state["files"][f"{WORK}\\backup\\manifest.json".lower()]["text"]))
    entry = next(f for f in manifest["files"] if f["name"] == "Distmgr.dll")
    assert (entry["version"], entry["installed_version"]) == ("2.00.1493.3000", "2.00.1493.3241")
    run = lab.playbook("playbooks/rollback.yml", "-e", f"q317061_report_dir={tmp_path / 'rb'}")
    assert run.returncode == 0, run.stdout[-3000:]
    assert set(dll_versions(lab.host_state("t-01")).values()) == {"2.00.1493.3000"}


def test_a_service_that_will_not_start_after_a_verified_copy_rolls_forward(lab_factory, bundle, tmp_path):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, faults: {start_fails: [SMS_SQL_MONITOR]}"))
    original = lab.host_state("t-01")
    run = remediate(lab, bundle, tmp_path / "r1", "-e", "q317061_serial=100%")
    assert run.returncode == 2
    assert "not every service started" in report(tmp_path / "r1")["t-01"]["change"]["summary"]
    state = lab.host_state("t-01")
    assert set(dll_versions(state).values()) == {"2.00.1493.3240"}  # kept: never copied back over running services
    assert services(state)["SMS_SQL_MONITOR"] == "stopped" and services(state)["SMS_EXECUTIVE"] == "running"
    lab.winlab("fault", "t-01", "start_fails", "x", "--clear")
    run = remediate(lab, bundle, tmp_path / "r2", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "phase 'restarting' (roll forward)" in run.stdout + run.stderr
    assert services(lab.host_state("t-01")) == services(original)


def test_check_mode_and_diff_show_the_plan_and_a_rolled_back_change_shows_none(lab_factory, tmp_path):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, faults: {hang_on_stop: [SMS_SQL_MONITOR]}"))
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    check = dlls_task(lab, "--check", "--diff", files=[staged(new, "Distmgr.dll")])
    assert "2.00.1493.3000" in check.stdout and "2.00.1493.3240" in check.stdout and "CHANGED" in check.stdout
    failed = dlls_task(lab, "--diff", files=[staged(new, "Distmgr.dll")], stop_timeout=1)
    assert "did not stop within 1 seconds" in failed.stdout and "\n+" not in failed.stdout
    assert dll_versions(lab.host_state("t-01"))["Distmgr.dll"] == "2.00.1493.3000"


def test_a_missing_dll_is_refused_never_conjured(lab_factory, tmp_path):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, sms: {distmgr: null}"))
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    run = dlls_task(lab, files=[staged(new, "Distmgr.dll")])
    assert "Distmgr.dll: it is missing from" in run.stdout and "nothing was changed" in run.stdout, run.stdout
    assert lab.host_state("t-01")["files"].get(f"{BIN}\\distmgr.dll".lower()) is None


def test_file_names_that_leave_their_folder_are_refused(lab_factory, tmp_path):
    lab = lab_factory(ONE)
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    run = dlls_task(lab, files=[staged(new, "..\\..\\WINNT\\system32\\Distmgr.dll")])
    assert "is not a plain file name; nothing was changed" in run.stdout, run.stdout
    (tmp_path / "journal.json").write_text(json.dumps({
        "phase": "replacing", "bin_dir": BIN, "undo_dir": f"{WORK}\\undo", "stopped": [],
        "replaced": ["..\\..\\WINNT\\system32\\kernel32.dll"]}))
    put(lab, tmp_path / "journal.json", JOURNAL)
    assert "not lists of service names and plain file names" in dlls_task(lab, state="recovered").stdout


@pytest.mark.parametrize("journal, words", [
    ("[]", "it is not a JSON object"),
    (json.dumps({"phase": "stopping", "bin_dir": BIN, "undo_dir": f"{WORK}\\undo", "stopped": "SMS_EXECUTIVE",
                 "replaced": []}), "not lists of service names"),
    (json.dumps({"phase": "stopping", "bin_dir": BIN, "undo_dir": None, "stopped": [], "replaced": []}),
     "not folder paths"),
])
def test_a_journal_of_the_wrong_shape_is_refused(lab_factory, tmp_path, journal, words):
    lab = lab_factory(ONE)
    (tmp_path / "journal.json").write_text(journal)
    put(lab, tmp_path / "journal.json", JOURNAL)
    before = services(lab.host_state("t-01"))
    run = dlls_task(lab, state="recovered")
    assert words in run.stdout and "FAILED" in run.stdout, run.stdout
    assert services(lab.host_state("t-01")) == before


def test_a_finished_journal_never_blocks_a_run_but_an_unfinished_one_stays_in_its_folders(lab_factory, tmp_path):
    lab = lab_factory(ONE)
    moved = {"phase": "done", "bin_dir": "E:\\OLDSMS\\bin\\i386", "undo_dir": f"{WORK}\\undo", "stopped": [],
             "replaced": ["Distmgr.dll"]}  # SMS was on E: when this finished
    (tmp_path / "journal.json").write_text(json.dumps(moved))
    put(lab, tmp_path / "journal.json", JOURNAL)
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    assert "CHANGED" in dlls_task(lab, files=[staged(new, "Distmgr.dll")]).stdout
    (tmp_path / "journal.json").write_text(json.dumps(dict(moved, phase="replacing")))
    put(lab, tmp_path / "journal.json", JOURNAL)
    assert "names folders" in dlls_task(lab, state="recovered").stdout


def test_a_run_that_recovered_and_then_rolled_back_reports_changed(lab_factory, tmp_path):
    lab = lab_factory(ONE.replace("name: t-01", "name: t-01, faults: {hang_on_stop: [SMS_SQL_MONITOR]}"))
    lab.winlab("fault", "t-01", "hang_on_stop", "x", "--clear")
    interrupted = lab.record_transaction("t-01", {"phase": "stopping", "bin_dir": BIN, "undo_dir": f"{WORK}\\undo",
                                                  "stopped": [], "replaced": [], "started": "2026-11-21T09:00:00Z"})
    (tmp_path / "journal.json").write_text(json.dumps(interrupted))
    put(lab, tmp_path / "journal.json", JOURNAL)
    lab.winlab("fault", "t-01", "hang_on_stop", "SMS_SQL_MONITOR")
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    run = lab.ansible("t-01", "-m", "smsfleet.q317061.q317061_dlls", "-o", "-a", json.dumps({
        "state": "replaced", "bin_dir": BIN, "backup_dir": f"{WORK}\\backup", "journal": JOURNAL, "services": SMS,
        "files": [staged(new, "Distmgr.dll")], "stop_timeout": 1}))
    result = json.loads(run.stdout.split("=>", 1)[1])
    assert "did not stop within 1 seconds" in result["msg"]
    assert result["recovered"] == {"phase": "stopping", "action": "roll_back"} and result["changed"] is True


def test_check_mode_creates_no_lock_file(lab_factory, tmp_path):
    lab = lab_factory(ONE)
    new = dll(tmp_path, "2.00.1493.3240")
    put(lab, new, f"{WORK}\\staged\\{new.name}")
    assert "CHANGED" in dlls_task(lab, "--check", files=[staged(new, "Distmgr.dll")]).stdout
    assert lab.host_state("t-01")["files"].get(f"{WORK}\\q317061.lock".lower()) is None
    assert "CHANGED" in dlls_task(lab, files=[staged(new, "Distmgr.dll")]).stdout
    assert lab.host_state("t-01")["files"].get(f"{WORK}\\q317061.lock".lower()) is not None


def test_rollback_of_an_original_recorded_without_its_hash_keeps_it(lab_factory, tmp_path):
    lab = lab_factory(ONE)
    manifest = {"files": [{"name": "Distmgr.dll", "version": "2.0.1493.3000", "installed_version": "2.00.1493.3240"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    put(lab, tmp_path / "manifest.json", f"{WORK}\\backup\\manifest.json")
    run = lab.ansible("t-01", "-m", "smsfleet.q317061.q317061_dlls", "-o", "-a", json.dumps({
        "state": "restored", "bin_dir": BIN, "backup_dir": f"{WORK}\\backup", "journal": JOURNAL}))
    assert "SUCCESS" in run.stdout and '"changed": false' in run.stdout, run.stdout  # already the original


def test_on_64_bit_windows_sms_keys_are_read_through_the_32_bit_view(lab_factory):
    lab = lab_factory("defaults: {restart_seconds: 1}\nhosts: [{name: t-01, os: windows2016}]\n")
    raw = probe(lab)
    assert raw["sms"]["installed"] is True and raw["sms"]["site_code"] == "LAB"
    assert raw["exifs"]["exchange_version"] == "6.0" and raw["distmgr_log"]["logging_enabled"] is not None
    registry = lab.host_state("t-01")["registry"]
    assert "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\SMS\\Identification" in registry
    native = lab.ansible("t-01", "-m", "ansible.windows.win_reg_stat", "-a",
                         "path=HKLM:\\SOFTWARE\\Microsoft\\SMS\\Identification")
    assert "exists: false" in native.stdout  # a 64-bit PowerShell's HKLM: drive does not show them
