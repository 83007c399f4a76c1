"""Every outcome true (issue 22): the exit code, the final message and the report say what happened to
each host, over both transports, and everything a run will need is checked before the first host
changes. docs/remediation.md, "When a run fails", states the rules these tests hold the collection to."""

import json

from test_remediate import dll_versions, remediate, report, services

BIN = "C:\\SMS\\bin\\i386"
TWO = """
defaults: {restart_seconds: 1}
groups:
  - name: u
    count: 2
    overrides:
      u-02: {transport: smb}
"""


def test_an_unknown_host_fails_the_audit_and_the_remediation_by_name_over_both_transports(lab_factory, bundle,
                                                                                           tmp_path):
    lab = lab_factory(TWO)
    for name in ("u-01", "u-02"):  # a backup agent holds Distmgr.dll without sharing: its version cannot be read
        lab.winlab("fault", name, "unreadable_files", f"{BIN}\\Distmgr.dll")
    audit = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}")
    entries = report(tmp_path / "a", "q317061-audit")
    assert {entries[n]["status"] for n in ("u-01", "u-02")} == {"unknown"}, json.dumps(entries, indent=1)[:3000]
    assert audit.returncode == 2, audit.stdout[-2000:]
    assert "2 host(s) are unknown (their Q317061 status could not be read): u-01 (" in audit.stdout
    assert ", u-02 (" in audit.stdout
    before = {n: lab.host_state(n)["files"] for n in ("u-01", "u-02")}
    run = remediate(lab, bundle, tmp_path / "r")
    assert run.returncode == 2 and "2 host(s) are unknown" in run.stdout, run.stdout[-2000:]
    for name, files in before.items():
        assert lab.host_state(name)["files"] == files, name  # planned for a person, never changed


def test_smb_timeouts_beyond_a_day_are_refused_before_any_host(lab_factory, tmp_path):
    lab = lab_factory("defaults: {transport: smb}\nhosts: [{name: t-01}]\n")
    before = lab.stats()["t-01"]["smb"]["requests"]
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}",
                       "-e", "ansible_smb_operation_timeout=1000000000000")
    assert run.returncode != 0
    assert "ansible_smb_operation_timeout: must be a whole number of seconds from 1 to 86400" in run.stdout, \
        run.stdout[-2000:]
    assert not (tmp_path / "a" / "q317061-audit.json").exists()  # refused before anything ran
    assert lab.stats()["t-01"]["smb"]["requests"] == before


def test_a_work_folder_on_a_drive_the_host_does_not_have_is_no_journal_and_no_unknown(lab_factory, tmp_path):
    lab = lab_factory(TWO)
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}",
                       "-e", "q317061_work_dir=Z:\\SMSFleet")
    entries = report(tmp_path / "a", "q317061-audit")
    assert entries["u-01"]["status"] == entries["u-02"]["status"] == "vulnerable", run.stdout[-2000:]
    assert run.returncode == 0, run.stdout[-2000:]
    assert services(lab.host_state("u-02")) and set(dll_versions(lab.host_state("u-02")).values()) == {
        "2.00.1493.3000"}
