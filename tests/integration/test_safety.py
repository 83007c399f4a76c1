"""The safety promises (issue "Safety promises that hold"), each tried the way an adversarial tester did:
crashes mid-transaction, hosts that cannot be checked, a bundle swapped mid-run, variables that could
delete registry keys, failed probes and stale caches, bad input, runs that check nothing, and reports."""

import csv
import hashlib
import json
import subprocess
import threading

import pytest

from conftest import BIN, ROOT
from test_remediate import dll_versions, remediate, report, services
from winlab.bundle import write_bundle

THREE = "defaults: {restart_seconds: 1}\ngroups: [{name: s, count: 3}]\n"
IDENT = "HKLM\\SOFTWARE\\Microsoft\\SMS\\Identification"
RECORD = "HKLM\\SOFTWARE\\smsfleet\\Q317061"


def commands(lab):
    return sum(s["commands"] for s in lab.stats().values())


@pytest.mark.parametrize("phase", ["verifying", "restarting"])
def test_a_crash_late_in_the_transaction_is_never_reported_fixed_and_is_recovered(lab_factory, bundle, tmp_path, phase):
    """Before: the new DLLs verified, SMS and WMI stopped, the host reported fixed and nothing restarted them."""
    lab = lab_factory(THREE.replace("count: 3", "count: 1, host: {faults: {interrupt_transaction_at: " + phase + "}}"))
    original = lab.host_state("s-01")
    run = remediate(lab, bundle, tmp_path / "r1", "-e", "q317061_serial=100%")
    assert run.returncode == 2  # the transaction's process died with the host
    lab.wait_up()
    # The audit sees the unfinished journal: never `fixed`, whatever the DLL versions say.
    audit = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}")
    entry = report(tmp_path / "a", "q317061-audit")["s-01"]
    assert entry["status"] == "unknown" and f"unfinished DLL transaction (phase {phase}" in entry["reasons"][0], audit.stdout
    # The next run recovers it first (roll forward after a verified copy, roll back before), then finishes.
    run = remediate(lab, bundle, tmp_path / "r2", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    action = "roll forward" if phase == "restarting" else "roll back"
    assert f"recovered a transaction interrupted during phase '{phase}' ({action})" in run.stdout + run.stderr
    state = lab.host_state("s-01")
    assert set(dll_versions(state).values()) == {"2.00.1493.3240"} and services(state) == services(original)
    assert report(tmp_path / "r2")["s-01"]["status"] == "fixed"


def test_rollback_recovers_an_unfinished_transaction_first(lab_factory, bundle, tmp_path):
    lab = lab_factory(THREE.replace("count: 3", "count: 1, host: {faults: {interrupt_transaction_at: replacing}}"))
    original = lab.host_state("s-01")
    remediate(lab, bundle, tmp_path / "r1", "-e", "q317061_serial=100%")
    lab.wait_up()
    run = lab.playbook("playbooks/rollback.yml", "-e", f"q317061_report_dir={tmp_path / 'rb'}")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "recovered a transaction interrupted during phase 'replacing' (roll back)" in run.stdout + run.stderr
    state = lab.host_state("s-01")
    assert dll_versions(state) == dll_versions(original) and services(state) == services(original)
    assert report(tmp_path / "rb", "q317061-rollback")["s-01"]["status"] == "vulnerable"


@pytest.mark.parametrize("trouble", ["wrong_password", "unreachable", "probe_drop"])
def test_one_host_that_cannot_be_checked_never_stops_the_others(lab_factory, bundle, tmp_path, trouble):
    lab = lab_factory(THREE)
    if trouble == "wrong_password":
        lab.set_hostvars("s", "s-02", ansible_password="wrong")
    elif trouble == "unreachable":
        lab.set_hostvars("s", "s-02", ansible_port=1)
    else:
        lab.winlab("fault", "s-02", "drop_on_module", "smsfleet.q317061.q317061_probe")
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%")
    assert run.returncode == 2
    assert "1 host(s) could not be checked: s-02 (" in run.stdout
    entries = report(tmp_path / "r")
    assert {n: entries[n]["status"] for n in ("s-01", "s-03")} == {"s-01": "fixed", "s-03": "fixed"}
    assert entries["s-02"]["status"] in ("unreachable", "unknown") and entries["s-02"]["error"]
    assert entries["s-02"]["change"]["outcome"] == "manual"


def test_a_plan_left_in_a_fact_cache_never_sends_an_unchecked_host_into_a_wave(lab_factory, bundle, tmp_path):
    """With a fact cache, the plans of an earlier run are in the hosts' facts when a run starts. A host whose probe
    fails in this run gets this run's plan (manual, for a human): it is never changed on an old verdict."""
    lab = lab_factory(THREE)
    lab.env.update(ANSIBLE_CACHE_PLUGIN="jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "cache"))
    planned = remediate(lab, bundle, tmp_path / "plan", "-e", "q317061_serial=100%", check=True)
    assert planned.returncode == 0, planned.stdout + planned.stderr  # every host planned hotfix, and cached
    before = lab.host_state("s-02")
    lab.winlab("fault", "s-02", "drop_on_module", "smsfleet.q317061.q317061_probe")
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%")
    assert run.returncode == 2 and "1 host(s) could not be checked: s-02 (" in run.stdout
    entries = report(tmp_path / "r")
    assert {n: entries[n]["status"] for n in ("s-01", "s-03")} == {"s-01": "fixed", "s-03": "fixed"}
    assert entries["s-02"]["change"]["outcome"] == "manual" and entries["s-02"]["error"]
    assert dll_versions(lab.host_state("s-02")) == dll_versions(before)
    assert services(lab.host_state("s-02")) == services(before)


def test_the_installed_bytes_are_the_checked_bytes(lab_factory, tmp_path):
    """A bundle file swapped after the pre-flight (same size, same version) never reaches a host."""
    lab = lab_factory(THREE.replace("count: 3", "count: 2, host: {faults: {latency_ms: 300}}"))
    write_bundle(tmp_path / "bundle")
    dll = tmp_path / "bundle" / "i386" / "Distmgr.dll"
    checked = dll.read_bytes()
    args = [BIN / "ansible-playbook", "-i", str(lab.inventory), "remediate.yml", "-e",
            f"q317061_hotfix_source={tmp_path / 'bundle'}", "-e", f"q317061_report_dir={tmp_path / 'r'}"]
    swapped = threading.Event()
    with subprocess.Popen(args, cwd=ROOT, env=lab.env, stdout=subprocess.PIPE, text=True) as proc:
        out = []
        for line in proc.stdout:
            out.append(line)
            if "PLAY [Remediate in waves]" in line and not swapped.is_set():
                dll.write_bytes(checked[:-16] + b"tampered-bytes!!")  # pefile still reads 2.00.1493.3240
                swapped.set()
    assert swapped.is_set() and proc.returncode == 0, "".join(out)[-3000:]
    for name in ("s-01", "s-02"):
        entry = lab.host_state(name)["files"]["c:\\sms\\bin\\i386\\distmgr.dll"]
        assert entry["sha256"] == hashlib.sha256(checked).hexdigest(), name


def test_the_host_refuses_staged_files_that_are_not_the_bundles(lab_factory, tmp_path):
    lab = lab_factory(THREE.replace("count: 3", "count: 1"))
    args = json.dumps({"state": "replaced", "bin_dir": "C:\\SMS\\bin\\i386", "backup_dir": "C:\\W\\backup",
                       "journal": "C:\\W\\journal.json", "services": ["SMS_EXECUTIVE"],
                       "files": [{"name": "Distmgr.dll", "source": "C:\\SMS\\bin\\i386\\Baseutil.dll",
                                  "version": "2.00.1493.3000", "sha256": "0" * 64}]})
    before = lab.host_state("s-01")["files"]["c:\\sms\\bin\\i386\\distmgr.dll"]
    run = lab.ansible("s-01", "-m", "smsfleet.q317061.q317061_dlls", "-a", args)
    assert run.returncode != 0 and "expected 2.00.1493.3000 with " + "0" * 64 in run.stdout, run.stdout
    assert lab.host_state("s-01")["files"]["c:\\sms\\bin\\i386\\distmgr.dll"] == before


def test_no_variable_can_point_rollback_at_another_key(lab_factory, tmp_path):
    lab = lab_factory(THREE.replace("count: 3", "count: 1"))
    run = lab.playbook("playbooks/rollback.yml", "-e", f"q317061_record_key=HKLM:\\{IDENT[5:]}",
                       "-e", f"q317061_report_dir={tmp_path}")
    assert run.returncode == 2 and "q317061_record_key: no longer accepted" in run.stdout
    assert lab.host_state("s-01")["registry"][IDENT]["Site Code"] == "LAB" and commands(lab) == 0


def test_rollback_deletes_only_the_values_the_workaround_wrote(lab_factory, bundle, tmp_path):
    lab = lab_factory("defaults: {restart_seconds: 1, sms: {baseutil: 2.00.1493.4000, distmgr: 2.00.1493.4000}}\n"
                      "groups: [{name: s, count: 1}]\n")
    policy = ["-e", "q317061_allow_workaround=true", "-e", "q317061_serial=100%"]
    assert remediate(lab, bundle, tmp_path / "r", *policy).returncode == 0
    other = json.dumps({"path": f"HKLM:\\{RECORD[5:]}", "name": "SomebodyElses", "data": "keep me", "type": "string"})
    lab.ansible("s-01", "-m", "ansible.windows.win_regedit", "-a", other, check=True)
    run = lab.playbook("playbooks/rollback.yml", "-e", "q317061_rollback_reboot=false", "-e",
                       f"q317061_report_dir={tmp_path / 'rb'}")
    assert run.returncode == 0, run.stdout[-3000:]
    registry = lab.host_state("s-01")["registry"]
    assert registry[RECORD] == {"SomebodyElses": "keep me"}
    assert registry["HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"]["DriveLetter"] == "M"


def test_a_failed_probe_is_reported_with_its_error_not_an_old_cached_verdict(lab_factory, tmp_path):
    lab = lab_factory(THREE.replace("count: 3", "count: 2"))
    lab.env.update(ANSIBLE_CACHE_PLUGIN="jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "cache"))
    assert lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}").returncode == 0
    lab.winlab("fault", "s-02", "drop_on_module", "smsfleet.q317061.q317061_probe")
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'b'}")
    assert run.returncode == 2 and "could not be checked: s-02" in run.stdout
    entry = report(tmp_path / "b", "q317061-audit")["s-02"]
    assert entry["source"] == "probe" and entry["status"] in ("unreachable", "unknown") and entry["error"]
    assert report(tmp_path / "a", "q317061-audit")["s-02"]["status"] == "vulnerable"  # what the cache holds


BAD_VALUES = [
    ("q317061_serial=abc", "q317061_serial: must be"),
    ("q317061_serial=1000000000000", "q317061_serial: must be"),
    ("q317061_serial=0", "q317061_serial: must be"),
    ("q317061_serial=-1", "q317061_serial: must be"),
    ("q317061_max_fail_percentage=-1", "q317061_max_fail_percentage: must be"),
    ("q317061_sp4_hrp_revision=0", "q317061_sp4_hrp_revision: must be"),
    ("q317061_work_dir=relative\\path", "q317061_work_dir: must be"),
    ("q317061_service_stop_timeout=0", "q317061_service_stop_timeout: must be"),
    ("q317061_reboot_timeout=forever", "q317061_reboot_timeout: must be"),
    ("q317061_report_basename=../x", "q317061_report_basename: must be"),
    ("q317061_report_dir=/proc/forbidden", "q317061_report_dir: cannot write reports to /proc/forbidden"),
    ("q317061_strategy=fast", "q317061_strategy: must be one of auto, hotfix, workaround, audit (got 'fast')"),
    ('{"q317061_work_dir": "C:\\\\SMSFleet\\\\nul.txt"}', "'nul.txt' is a DOS device name"),
    ('{"q317061_work_dir": "C:\\\\SMSFleet\\\\\\u202eexe.txt"}', "U+202E is an invisible or control character"),
    ('{"q317061_targets": "\\u0000"}', "q317061_targets: must be an Ansible host pattern"),
    ('{"q317061_targets": []}', "q317061_targets: must be an Ansible host pattern such as all, site_servers or "
                                "'p01:&primary' (got []; it names no host or group)"),
    ("q317061_targets=:::", "(got ':::'; it names no host or group)"),
]


@pytest.mark.parametrize("value, words", BAD_VALUES, ids=[v[0] for v in BAD_VALUES])
def test_bad_input_is_refused_before_any_host_is_touched(lab_factory, bundle, tmp_path, value, words):
    lab = lab_factory(THREE.replace("count: 3", "count: 2"))
    run = lab.playbook("remediate.yml", "-e", f"q317061_hotfix_source={bundle}", "-e", f"q317061_report_dir={tmp_path}",
                       "-e", value)
    assert run.returncode != 0 and words in run.stdout, run.stdout[-2000:]
    assert "no host was touched" in run.stdout and "Finalization" not in run.stdout + run.stderr
    assert commands(lab) == 0  # not one WinRM command reached a host


def test_a_survey_style_serial_text_works(lab_factory, bundle, tmp_path):
    """`1,25%,100%` typed into a text field crashed ansible-core; it is the documented default's text form."""
    lab = lab_factory(THREE)
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=1,25%,100%", "-e", "q317061_sp4_hrp_revision=")
    assert run.returncode == 0, run.stdout[-3000:]
    assert {e["status"] for e in report(tmp_path / "r").values()} == {"fixed"}


@pytest.mark.parametrize("case", ["empty_inventory", "no_match", "all_unreachable"])
def test_a_run_that_checked_nothing_fails_and_still_writes_the_report(lab_factory, bundle, tmp_path, case):
    lab = lab_factory(THREE.replace("count: 3", "count: 2"))
    inventory = lab.inventory
    extra = []
    if case == "empty_inventory":
        inventory = tmp_path / "empty.yml"
        inventory.write_text("all: {}\n")
    elif case == "no_match":
        extra = ["-e", "q317061_targets=nosuchgroup"]
    else:
        lab.down()
    for playbook, name in (("playbooks/audit.yml", "q317061-audit"), ("remediate.yml", "q317061-remediation")):
        run = subprocess.run([BIN / "ansible-playbook", "-i", str(inventory), playbook, "-e",
                              f"q317061_hotfix_source={bundle}", "-e", f"q317061_report_dir={tmp_path / case}", *extra],
                             capture_output=True, text=True, env=lab.env, cwd=ROOT, timeout=600, check=False)
        assert run.returncode != 0, (playbook, run.stdout[-2000:])
        data = json.loads((tmp_path / case / f"{name}.json").read_text())
        if case == "all_unreachable":
            assert "no host could be checked: s-01 (" in run.stdout and "), s-02 (" in " ".join(run.stdout.split())
            assert {h["status"] for h in data["hosts"]} == {"unreachable"}
        else:
            assert "no host is targeted" in run.stdout and data["hosts"] == []
            assert "No host was targeted" in data["notes"][0]


def test_a_limit_never_skips_the_report_or_hides_a_failure(lab_factory, bundle, tmp_path):
    """AWX passes a Limit with --limit; localhost is then outside it."""
    lab = lab_factory(THREE.replace("count: 3", "count: 3, overrides: {s-02: {faults: {hang_on_stop: [SMS_EXECUTIVE]}}}"))
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%", "--limit", "s-02:s-03")
    assert run.returncode == 2 and "failed or were not attempted: s-02 (" in run.stdout
    entries = report(tmp_path / "r")
    assert set(entries) == {"s-02", "s-03"} and entries["s-02"]["change"]["outcome"] == "failed"
    assert dll_versions(lab.host_state("s-01"))["Distmgr.dll"] == "2.00.1493.3000"  # outside the limit


def test_check_mode_reports_are_labelled_and_never_replace_a_real_one(lab_factory, bundle, tmp_path):
    lab = lab_factory(THREE.replace("count: 3", "count: 2"))
    (lab.state_dir / "host_vars").mkdir()
    (lab.state_dir / "host_vars" / "s-02.yml").write_text("q317061_hotfix_method: installer\n")
    real = remediate(lab, bundle, tmp_path, "-e", "q317061_serial=100%", "-e", "q317061_strategy=audit")
    assert real.returncode == 0
    before = (tmp_path / "q317061-remediation.json").read_text()
    check = remediate(lab, bundle, tmp_path, "-e", "q317061_serial=100%", check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    assert (tmp_path / "q317061-remediation.json").read_text() == before  # the real report is untouched
    data = json.loads((tmp_path / "q317061-remediation-check.json").read_text())
    assert data["check_mode"] is True and "check mode" in data["title"]
    assert {r["run_mode"] for r in csv.DictReader((tmp_path / "q317061-remediation-check.csv").open())} == {"check"}
    assert "nothing was changed on any host" in (tmp_path / "q317061-remediation-check.html").read_text()
    outcomes = {h["host"]: h["change"] for h in data["hosts"]}
    assert outcomes["s-02"]["outcome"] == "changed" and "installer method" in outcomes["s-02"]["summary"]
    assert outcomes["s-01"]["outcome"] == "changed"
    assert "CHECK MODE, nothing was changed" in check.stdout
    assert set(dll_versions(lab.host_state("s-02")).values()) == {"2.00.1493.3000"}


def test_rollback_refuses_to_downgrade_what_was_installed_since(lab_factory, bundle, tmp_path):
    """SP4 (or the SP4 HRP) installed after the hotfix: putting the SP3 originals back would downgrade it."""
    lab = lab_factory(THREE.replace("count: 3", "count: 2"))
    assert remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%").returncode == 0
    lab.winlab("upgrade", "s-01", "2.00.1493.4000")
    run = lab.playbook("playbooks/rollback.yml", "-e", "q317061_serial=100%", "-e", "q317061_max_fail_percentage=100",
                       "-e", f"q317061_report_dir={tmp_path / 'rb'}")
    assert run.returncode == 2
    entries = report(tmp_path / "rb", "q317061-rollback")
    assert entries["s-01"]["change"]["outcome"] == "failed"
    assert "rollback refused" in entries["s-01"]["change"]["summary"] and "would downgrade" in entries["s-01"]["change"]["summary"]
    assert set(dll_versions(lab.host_state("s-01")).values()) == {"2.00.1493.4000"}  # untouched
    assert set(dll_versions(lab.host_state("s-02")).values()) == {"2.00.1493.3000"}  # rolled back
