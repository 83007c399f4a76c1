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


def test_an_unknown_host_fails_the_audit_and_the_remediation_by_name_over_both_transports(
        lab_factory, bundle, tmp_path):
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


def test_a_report_template_that_cannot_render_stops_the_run_before_any_host_changes(lab_factory, bundle, tmp_path):
    lab = lab_factory(TWO)
    template = tmp_path / "mine.html.j2"
    template.write_text("<h1>{{ report.title | no_such_filter }}</h1>")
    before = {n: lab.host_state(n)["files"] for n in ("u-01", "u-02")}
    run = remediate(lab, bundle, tmp_path / "r", "-e", f"q317061_report_template={template}")
    assert run.returncode != 0
    assert "q317061_report_template" in run.stdout and "cannot render a report" in run.stdout, run.stdout[-2000:]
    assert "no host was touched" in run.stdout
    for name, files in before.items():
        assert lab.host_state(name)["files"] == files, name


def set_registry(lab, values: dict) -> None:
    """Registry values the fleet spec cannot express (a REG_MULTI_SZ DriveLetter, a megabyte of text), set in the
    hosts' saved state while the lab is down."""
    lab.winlab("down")
    for name, (key, value_name, value) in values.items():
        path = lab.state_dir / "hosts" / f"{name}.json"
        state = json.loads(path.read_text())
        state["registry"][key][value_name] = value
        path.write_text(json.dumps(state))
    lab.winlab("up", "--fleet", str(lab.fleet))


PARAMETERS = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"


def test_values_of_an_unexpected_type_or_size_make_the_host_unknown_by_name_over_both_transports(
        lab_factory, bundle, tmp_path):
    lab = lab_factory("""
defaults: {restart_seconds: 1}
hosts:
  - {name: m-01}
  - {name: m-02, transport: smb}
  - {name: b-01}
  - {name: b-02, transport: smb}
""")
    huge = "M" + " " * (1024 * 1024)
    set_registry(lab, {"m-01": (PARAMETERS, "DriveLetter", ["M", "N"]), "m-02": (PARAMETERS, "DriveLetter", ["M", "N"]),
                       "b-01": (PARAMETERS, "DriveLetter", huge), "b-02": (PARAMETERS, "DriveLetter", huge)})
    audit = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}")
    assert "Traceback" not in audit.stdout + audit.stderr and "has no attribute" not in audit.stdout + audit.stderr
    entries = report(tmp_path / "a", "q317061-audit")
    for name in ("m-01", "m-02", "b-01", "b-02"):
        assert entries[name]["status"] == "unknown", (name, entries[name])
        assert "DriveLetter" in " ".join(entries[name]["reasons"]), (name, entries[name]["reasons"])
    assert entries["m-01"]["reasons"] == entries["m-02"]["reasons"]  # the same verdict over either transport
    assert "a list of 2 (REG_MULTI_SZ" in entries["m-02"]["reasons"][0]
    assert all("more than" in " ".join(entries[n]["reasons"]) for n in ("b-01", "b-02"))
    assert audit.returncode == 2 and "4 host(s) are unknown" in audit.stdout
    assert (tmp_path / "a" / "q317061-audit.json").stat().st_size < 200_000  # the megabyte is nowhere in the report
    before = {n: lab.host_state(n)["registry"] for n in entries}
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_allow_workaround=true")
    assert run.returncode == 2
    for name in entries:  # planned for a person: no record of a list or of a megabyte, nothing changed
        assert lab.host_state(name)["registry"] == before[name], name


def test_a_recovered_transaction_is_reported_as_a_change_not_as_left_untouched(lab_factory, bundle, tmp_path):
    lab = lab_factory("defaults: {restart_seconds: 1}\nhosts: [{name: r-01}]\n")
    lab.winlab("fault", "r-01", "interrupt_transaction_at", "restarting")  # the new DLLs verified, then a crash
    first = remediate(lab, bundle, tmp_path / "r1")
    assert first.returncode == 2
    lab.wait_up()
    run = remediate(lab, bundle, tmp_path / "r2")
    entry = report(tmp_path / "r2")["r-01"]
    assert entry["status"] == "fixed", entry
    assert entry["change"]["outcome"] == "changed" and entry["change"]["changed"], entry["change"]
    assert "recovered a transaction interrupted during phase restarting (roll forward)" in entry["change"]["summary"]
    assert "this run: changed 1" in run.stdout and run.returncode == 0, run.stdout[-2000:]


def test_over_smb_a_blanked_letter_not_restarted_yet_is_pending_reboot_even_with_an_admin_share(
        lab_factory, bundle, tmp_path):
    """The IFS drive with an administrative share stays mounted until the restart the workaround needs: the
    EXIFS Parameters key written since the last boot says so over smb, as the DOS device target does over
    WinRM. Where smb cannot read the IFS drive's free space, the predicted drive is unknown, not a guess."""
    lab = lab_factory("""
defaults:
  restart_seconds: 1
  sms: {baseutil: "2.00.1493.4000", distmgr: "2.00.1493.4000", full_version: "2.00.1493.4000"}
hosts:
  - {name: w-01}
  - {name: w-02, transport: smb, exifs_admin_share: true}
  - {name: w-03, transport: smb}
""")
    audit = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}")
    entries = report(tmp_path / "a", "q317061-audit")
    assert entries["w-03"]["status"] == "vulnerable" and entries["w-03"]["predicted_decompression_drive"] is None, \
        entries["w-03"]
    assert entries["w-01"]["predicted_decompression_drive"] == entries["w-02"]["predicted_decompression_drive"] == "M"
    assert audit.returncode == 0, audit.stdout[-2000:]
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_allow_workaround=true", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    entries = report(tmp_path / "r")
    assert {n: e["status"] for n, e in entries.items()} == {n: "pending_reboot" for n in entries}, entries
    run = remediate(lab, bundle, tmp_path / "r2", "-e", "q317061_allow_workaround=true", "-e", "q317061_reboot=true",
                    "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    assert {n: e["status"] for n, e in report(tmp_path / "r2").items()} == {n: "mitigated" for n in entries}


def test_a_work_folder_the_hotfix_cannot_use_is_refused_per_host_before_any_change(lab_factory, bundle, tmp_path):
    """On the IFS drive the backups would vanish with it; on a drive the host lacks nothing could be kept:
    each host is refused by name before anything changes, over both transports, and the run fails."""
    lab = lab_factory(TWO)
    before = {n: lab.host_state(n)["files"] for n in ("u-01", "u-02")}
    for work_dir, words in (("M:\\SMSFleet", "is on the Exchange IFS drive M:"),
                            ("Z:\\SMSFleet", "Z:, a drive this host does not have")):
        run = remediate(lab, bundle, tmp_path / work_dir[0], "-e", f"q317061_work_dir={work_dir}")
        entries = report(tmp_path / work_dir[0])
        for name in ("u-01", "u-02"):
            change = entries[name]["change"]
            assert change["outcome"] == "refused" and words in change["summary"], (name, change)
            assert lab.host_state(name)["files"] == before[name], name
        assert run.returncode == 2, run.stdout[-2000:]
        assert "2 host(s) need a person (refused before any change): u-01 (manual action needed: the work folder" \
            in run.stdout, run.stdout[-2000:]
