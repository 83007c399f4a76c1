"""remediate.yml and rollback.yml against winlab fleets: outcomes, idempotence, check mode, rollback,
pre-flight refusals and faults (docs/remediation.md)."""

import json
import re

import pytest

from winlab.bundle import write_bundle

SMS = ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR", "Winmgmt")


def dll_versions(state):
    return {e["path"].rsplit("\\", 1)[1]: e.get("version") for k, e in state["files"].items()
            if re.search(r"\\bin\\(i386|alpha)\\[^\\]+\.dll$", k)}


def dll_times(state):
    """name -> (LastWrite FILETIME, attributes) of the SMS DLLs: what a rollback must leave as it found."""
    from winlab import filetimes
    return {e["path"].rsplit("\\", 1)[1]: (filetimes.from_iso(e.get("modified")), filetimes.attributes(e))
            for k, e in state["files"].items() if re.search(r"\\bin\\(i386|alpha)\\[^\\]+\.dll$", k)}


def services(state):
    return {n: s["state"] for n, s in state["services"].items() if n in SMS}


def host_changes(run):
    """host -> changed count from PLAY RECAP (localhost writes the report, so it is left out)."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", run.stdout, re.M)
            if m.group(1) != "localhost"}


def remediate(lab, bundle, reports, *extra, check=False):
    args = ["remediate.yml", "-e", f"q317061_hotfix_source={bundle}", "-e", f"q317061_report_dir={reports}", *extra]
    return lab.playbook(*args, *(["--check"] if check else []))


def report(reports, name="q317061-remediation"):
    return {e["host"]: e for e in json.loads((reports / f"{name}.json").read_text())["hosts"]}


def test_demo_fleet_end_to_end(demo_lab, bundle, tmp_path):
    names = sorted(p.stem for p in (demo_lab.state_dir / "hosts").glob("*.json"))
    original = {n: demo_lab.host_state(n) for n in names}

    # Check mode: plans and reports, changes nothing on any host. p05-07 is unknown (Distmgr.dll missing): every run
    # names it and fails, as an operator (or an AWX workflow) must see (docs/remediation.md, "When a run fails").
    unknown = "1 host(s) are unknown (their Q317061 status could not be read): p05-07 ("
    run = remediate(demo_lab, bundle, tmp_path / "check", check=True)
    assert run.returncode == 2 and unknown in run.stdout, run.stdout[-3000:]
    for n in names:
        now = demo_lab.host_state(n)
        assert (dll_versions(now), now["registry"], services(now)) == (
            dll_versions(original[n]), original[n]["registry"], services(original[n])), n

    # The real run: every vulnerable host the policy lets us fix ends fixed; the rest say what a human must do.
    run = remediate(demo_lab, bundle, tmp_path / "r1")
    assert run.returncode == 2 and unknown in run.stdout, run.stdout[-3000:]
    assert "failed or were not attempted" not in run.stdout  # the only problem is the one that was there before
    entries = report(tmp_path / "r1")
    for n in names:
        expect = original[n]["expect"]
        entry = entries[n]
        if expect["status"] in ("fixed", "mitigated", "not_applicable"):
            assert entry["change"]["outcome"] == "unchanged" and entry["status"] == expect["status"], n
            assert dll_versions(demo_lab.host_state(n)) == dll_versions(original[n]), n
        elif "hotfix" in expect["remedies"]:
            assert entry["status"] == "fixed" and entry["change"]["outcome"] == "changed", (n, entry)
            assert set(dll_versions(demo_lab.host_state(n)).values()) == {"2.00.1493.3240"}, n
            assert services(demo_lab.host_state(n)) == services(original[n]), n
        else:  # SP4, non-English, SP2, unknown: the workaround is not allowed by default
            assert entry["change"]["outcome"] == "manual", (n, entry)
            assert "manual action needed" in entry["change"]["summary"], n
    manual = sum(entries[n]["change"]["outcome"] == "manual" for n in names)
    assert manual >= 8 and f"manual action needed {manual}" in run.stdout  # w01-03 (SP4, over smb) among them

    # Distribution now succeeds wherever the host is fixed or mitigated.
    arrived = json.loads(demo_lab.winlab("distribute", "--json").stdout)["hosts"]
    for n, entry in report(tmp_path / "r1").items():
        if entry["status"] in ("fixed", "mitigated"):
            assert arrived[n]["arrived"] is True, (n, arrived[n])

    # A second run changes nothing.
    run = remediate(demo_lab, bundle, tmp_path / "r2")
    assert run.returncode == 2 and unknown in run.stdout
    assert set(host_changes(run).values()) == {0}, run.stdout[-3000:]

    # Rollback returns every host to its original DLL versions; a second rollback changes nothing.
    run = demo_lab.playbook("playbooks/rollback.yml")
    assert run.returncode == 2 and unknown in run.stdout, run.stdout[-3000:]
    for n in names:
        assert dll_versions(demo_lab.host_state(n)) == dll_versions(original[n]), n
        assert dll_times(demo_lab.host_state(n)) == dll_times(original[n]), n  # the originals' times too
        assert services(demo_lab.host_state(n)) == services(original[n]), n
    run = demo_lab.playbook("playbooks/rollback.yml")
    assert set(host_changes(run).values()) == {0}


WORKAROUND_FLEET = """
defaults:
  restart_seconds: 1
  sms: {baseutil: "2.00.1493.4000", distmgr: "2.00.1493.4000", full_version: "2.00.1493.4000"}
groups:
  - name: w
    count: 2
    overrides:
      w-02: {exifs_drive_letter: null}
"""


def test_workaround_with_restart_and_rollback(lab_factory, bundle, tmp_path):
    lab = lab_factory(WORKAROUND_FLEET)
    policy = ["-e", "q317061_allow_workaround=true", "-e", "q317061_reboot=true", "-e", "q317061_serial=100%"]
    run = remediate(lab, bundle, tmp_path / "r", *policy)
    assert run.returncode == 0, run.stdout[-3000:]
    shown = " ".join((run.stdout + run.stderr).split())  # warnings may be wrapped
    for name in ("w-01", "w-02"):  # one warning per host: ansible-core shows a repeated text once
        assert f"{name}: the Q317061 workaround hides the Exchange IFS drive; Outlook Web Access may stop working" \
            in shown, name
    entries = report(tmp_path / "r")
    for n in ("w-01", "w-02"):
        state = lab.host_state(n)
        assert entries[n]["status"] == "mitigated", entries[n]
        assert not [d for d in state["drives"] if "BackOfficeStorage" in (d.get("target") or "")]
        assert state["registry"]["HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"]["DriveLetter"] == ""
    assert json.loads(lab.winlab("distribute", "--json").stdout)["hosts"]["w-01"]["arrived"] is True
    run = remediate(lab, bundle, tmp_path / "r2", *policy)
    assert set(host_changes(run).values()) == {0}

    run = lab.playbook("playbooks/rollback.yml", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    params = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"
    assert lab.host_state("w-01")["registry"][params]["DriveLetter"] == "M"
    assert "DriveLetter" not in lab.host_state("w-02")["registry"][params]  # it was absent before
    assert any(d["letter"] == "M" for d in lab.host_state("w-01")["drives"])


def test_workaround_without_restart_leaves_pending_reboot(lab_factory, bundle, tmp_path):
    lab = lab_factory(WORKAROUND_FLEET)
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_allow_workaround=true", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    assert {e["status"] for e in report(tmp_path / "r").values()} == {"pending_reboot"}


@pytest.mark.parametrize("variant, words", [
    ("wrong-version", "i386/Distmgr.dll: FileVersion is 2.00.1493.3197"),
    ("wrong-platform", "i386/Baseutil.dll: PE machine type is Alpha, expected i386"),
    ("truncated", "i386/Baseutil.dll: size is 263,136 bytes"),
    ("missing-file", "i386/Distmgr.dll: missing"),
])
def test_bad_bundle_stops_the_run_before_any_change(lab_factory, tmp_path, variant, words):
    lab = lab_factory("groups: [{name: b, count: 2}]\n")
    write_bundle(tmp_path / "bad", variant=variant)
    before = {n: lab.host_state(n) for n in ("b-01", "b-02")}
    run = remediate(lab, tmp_path / "bad", tmp_path / "r")
    assert run.returncode == 2
    assert words in run.stdout and "No host was changed." in run.stdout
    assert re.search(r"PLAY \[Remediate in waves\] \*+\nskipping: no hosts matched", run.stdout)
    for n, state in before.items():
        assert lab.host_state(n)["files"] == state["files"], n
    # Every host is still in the report, with why it was not attempted, and the run says so.
    entries = report(tmp_path / "r")
    for n in before:
        assert entries[n]["change"]["outcome"] == "not_attempted", entries[n]
        assert "pre-flight refused the run" in entries[n]["change"]["summary"]
    shown = " ".join(run.stdout.split())
    assert "2 host(s) failed or were not attempted: b-01 (planned" in shown and "), b-02 (planned" in shown


def test_malformed_policy_stops_the_run_before_any_change(lab_factory, bundle, tmp_path):
    lab = lab_factory("groups: [{name: b, count: 2}]\n")
    before = lab.host_state("b-01")["files"]
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_strategy=fast")
    assert run.returncode != 0
    assert "q317061_strategy: must be one of auto, hotfix, workaround, audit (got 'fast')" in run.stdout
    assert lab.host_state("b-01")["files"] == before


FAULT_FLEET = """
defaults: {restart_seconds: 1}
groups:
  - name: f
    count: 7
    overrides:
      f-01: {faults: {hang_on_stop: [SMS_EXECUTIVE]}}
      f-02: {sms: {console_running: true}}
      f-03: {faults: {locked_files: ["C:\\\\SMS\\\\bin\\\\i386\\\\Distmgr.dll"]}}
      f-04: {faults: {drop_on_module: smsfleet.q317061.q317061_dlls}}
      f-05: {faults: {interrupt_transaction_at: replacing}}
      f-06: {faults: {system_drive_full: true}}
"""
FAULTS = {"f-01": ("hang_on_stop", "SMS_EXECUTIVE"), "f-03": ("locked_files", "C:\\SMS\\bin\\i386\\Distmgr.dll"),
          "f-06": ("system_drive_full", None)}


def test_faults_leave_hosts_consistent_and_a_rerun_completes(lab_factory, bundle, tmp_path):
    lab = lab_factory(FAULT_FLEET)
    names = [f"f-0{i}" for i in range(1, 8)]
    original = {n: lab.host_state(n) for n in names}
    (lab.state_dir / "host_vars").mkdir()
    (lab.state_dir / "host_vars" / "f-02.yml").write_text("q317061_admin_console: refuse\n")

    # Default waves: the canary (f-01) fails, so the rollout stops and nobody else is touched.
    run = remediate(lab, bundle, tmp_path / "canary")
    assert run.returncode == 2
    outcomes = {n: e["change"]["outcome"] for n, e in report(tmp_path / "canary").items()}
    assert outcomes["f-01"] == "failed" and {outcomes[n] for n in names[1:]} == {"not_attempted"}, run.stdout[-6000:]
    assert dll_versions(lab.host_state("f-02")) == dll_versions(original["f-02"])
    # A hung service stays StopPending, as on Windows: it cannot be started until its process ends.
    assert services(lab.host_state("f-01"))["SMS_EXECUTIVE"] == "stoppending"
    assert "did not stop within" in report(tmp_path / "canary")["f-01"]["change"]["summary"]

    # Everyone in one wave, failures allowed: each fault leaves its host consistent.
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%", "-e", "q317061_max_fail_percentage=100")
    assert run.returncode == 2
    entries = report(tmp_path / "r")
    for n in names:
        state = lab.host_state(n)
        versions = set(dll_versions(state).values())
        assert len(versions) == 1, (n, versions)  # old or new, never a mix
        if n != "f-01":  # f-01's SMS_EXECUTIVE is hung in StopPending until a human ends it
            assert services(state) == services(original[n]), (n, services(state))
    # f-01: the unfinished rollback is found, but cannot finish while the service hangs: reported, never fixed.
    assert entries["f-01"]["status"] == "unknown" and "could not be recovered" in entries["f-01"]["error"]
    assert "SMS Administrator console is running" in entries["f-02"]["change"]["summary"]
    assert "being used by another process" in entries["f-03"]["change"]["summary"]
    assert "not enough space on the disk" in entries["f-06"]["change"]["summary"]
    for n, outcome in (("f-02", "refused"), ("f-03", "refused"), ("f-06", "failed")):  # console, DLL in use: a
        assert entries[n]["status"] == "vulnerable" and entries[n]["change"]["outcome"] == outcome, n  # person acts
    # f-04: the connection dropped, but the transaction ran in its own process and finished.
    assert entries["f-04"]["change"]["outcome"] == "failed" and entries["f-04"]["status"] == "fixed"
    assert "connection dropped" in entries["f-04"]["change"]["summary"]
    assert entries["f-07"]["status"] == "fixed"
    # f-05: the host crashed mid-transaction and rebooted with its services auto-started; the journal is unfinished.
    f05 = lab.host_state("f-05")
    assert set(dll_versions(f05).values()) == {"2.00.1493.3000"} and services(f05)["SMS_EXECUTIVE"] == "running"
    assert entries["f-05"]["change"]["outcome"] == "failed" and entries["f-05"]["status"] in ("unknown", "unreachable")

    # Clear the faults (the hung process ends, the console is quit by hand), re-run: everything completes.
    for n, (kind, value) in FAULTS.items():
        lab.winlab("fault", n, kind, *([value] if value else []), "--clear")
    lab.winlab("fault", "f-02", "locked_files", "x", "--clear")
    lab.wait_up()
    (lab.state_dir / "host_vars" / "f-02.yml").write_text("q317061_admin_console: close\n")
    run = remediate(lab, bundle, tmp_path / "r2", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "recovered a transaction interrupted during phase 'replacing' (roll back)" in run.stdout + run.stderr
    for n in names:
        state = lab.host_state(n)
        assert set(dll_versions(state).values()) == {"2.00.1493.3240"}, n
        assert services(state) == services(original[n]), n
    assert {e["status"] for e in report(tmp_path / "r2").values()} == {"fixed"}


def test_restart_that_never_returns(lab_factory, bundle, tmp_path):
    lab = lab_factory(WORKAROUND_FLEET.replace("restart_seconds: 1", "restart_seconds: 1\n  faults: "
                                               "{restart_never_returns: true}"))
    policy = ["-e", "q317061_allow_workaround=true", "-e", "q317061_reboot=true", "-e", "q317061_serial=100%",
              "-e", "q317061_max_fail_percentage=100", "-e", "q317061_reboot_timeout=15"]
    run = remediate(lab, bundle, tmp_path / "r", *policy)
    assert run.returncode != 0
    entries = report(tmp_path / "r")
    assert entries["w-01"]["change"]["outcome"] == "failed"
    assert entries["w-01"]["status"] == "unreachable"
    for n in ("w-01", "w-02"):
        lab.winlab("fault", n, "restart_never_returns", "--clear")
    lab.wait_up()
    run = remediate(lab, bundle, tmp_path / "r2", *policy)
    assert run.returncode == 0, run.stdout[-3000:]
    assert {e["status"] for e in report(tmp_path / "r2").values()} == {"mitigated"}


@pytest.fixture
def bundle_server(tmp_path, bundle):
    """The lab bundle as a zip on an HTTPS server whose certificate the lab CA signed."""
    import functools
    import hashlib
    import http.server
    import shutil
    import threading

    from winlab.tls import LabCA

    root = tmp_path / "www"
    root.mkdir()
    shutil.make_archive(str(root / "Q317061"), "zip", root_dir=bundle.parent, base_dir=bundle.name)
    tls = LabCA(tmp_path / "tls-state")
    tls.ensure("127.0.0.1")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"https://127.0.0.1:{server.server_address[1]}/Q317061.zip", "ca": str(tls.ca_pem),
           "sha256": hashlib.sha256((root / "Q317061.zip").read_bytes()).hexdigest()}
    server.shutdown()


def test_a_bundle_from_an_https_url_pinned_by_its_sha256(lab_factory, bundle_server, tmp_path):
    lab = lab_factory("defaults: {restart_seconds: 1}\ngroups: [{name: u, count: 2}]\n")
    source = ["-e", f"q317061_hotfix_source={bundle_server['url']}", "-e", f"q317061_hotfix_ca_path={bundle_server['ca']}",
              "-e", f"q317061_report_dir={tmp_path / 'r'}", "-e", "q317061_serial=100%"]
    wrong = lab.playbook("remediate.yml", *source, "-e", f"q317061_hotfix_archive_sha256={'0' * 64}")
    assert wrong.returncode == 2 and "not the pinned" in wrong.stdout and "No host was changed." in wrong.stdout
    assert "fatal: [u-01 -> localhost]" not in wrong.stdout  # the refusal is the controller's, not a host's
    assert {e["change"]["outcome"] for e in report(tmp_path / "r").values()} == {"not_attempted"}
    assert dll_versions(lab.host_state("u-01"))["Distmgr.dll"] == "2.00.1493.3000"
    untrusted = lab.playbook("remediate.yml", *source[:2], "-e", f"q317061_report_dir={tmp_path / 'r0'}",
                             "-e", f"q317061_hotfix_archive_sha256={bundle_server['sha256']}")
    assert untrusted.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stdout  # no CA, no download
    run = lab.playbook("remediate.yml", *source, "-e", f"q317061_hotfix_archive_sha256={bundle_server['sha256']}")
    assert run.returncode == 0, run.stdout[-3000:]
    assert {e["status"] for e in report(tmp_path / "r").values()} == {"fixed"}
