"""Changes that cannot be forged on the host (issue 21): the controller's own record decides what a rollback
restores and which journal a recovery follows; the work folder is SYSTEM and Administrators only; a run
with nothing to do writes nothing. Over both transports: every winlab host answers SMB too, which these
tests use as the local user who plants files would use the disk."""

import hashlib
import json

import pytest

from test_remediate import dll_versions, remediate, report, services
from winlab.pe import build_dll

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client, security

WORK, BIN = "C:\\SMSFleet\\Q317061", "C:\\SMS\\bin\\i386"
TWO = """
defaults: {restart_seconds: 1}
hosts:
  - {name: w-01}
  - {name: s-01, transport: smb}
"""
NAMES = ("w-01", "s-01")


def forged(seed: int) -> bytes:
    """Distmgr.dll 2.00.1493.3000 as the host has it, one byte different: same version, other bytes."""
    data = bytearray(build_dll("i386", "2.00.1493.3000", 230800, name="Distmgr.dll"))
    data[-1 - seed] ^= 0xFF
    return bytes(data)


def disk(lab, name) -> client.SmbClient:
    return client.SmbClient("127.0.0.1", lab.host_state(name)["smb_port"], "Administrator", "Lab-Passw0rd!").connect()


def rollback(lab, reports):
    return lab.playbook("playbooks/rollback.yml", "-e", f"q317061_report_dir={reports}", "-e", "q317061_serial=100%")


def test_a_backup_changed_on_the_host_after_the_change_is_refused_by_rollback(lab_factory, bundle, tmp_path):
    lab = lab_factory(TWO)
    assert remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%").returncode == 0
    planted = forged(1)  # same version, other bytes
    digest = hashlib.sha256(planted).hexdigest()
    for name in NAMES:  # the backup and its manifest, changed together so that they agree with each other
        session = disk(lab, name)
        session.write(f"{WORK}\\backup\\Distmgr.dll", planted, force=True)
        manifest = json.loads(session.read(f"{WORK}\\backup\\manifest.json")[0])
        for entry in manifest["files"]:
            if entry["name"] == "Distmgr.dll":
                entry["sha256"] = digest
        session.write(f"{WORK}\\backup\\manifest.json", json.dumps(manifest).encode(), force=True)
        session.close()
    before = {n: lab.host_state(n)["files"] for n in NAMES}
    run = rollback(lab, tmp_path / "rb")
    entries = report(tmp_path / "rb", "q317061-rollback")
    for name in NAMES:
        change = entries[name]["change"]
        assert "the backup or its manifest was changed on the host" in change["summary"], change
        assert change["outcome"] == "refused", change  # nothing changed: a person looks at the host
        assert lab.host_state(name)["files"] == before[name], name  # nothing restored, nothing else touched
        assert set(dll_versions(lab.host_state(name)).values()) == {"2.00.1493.3240"}
    assert run.returncode == 2


def test_a_journal_planted_on_the_host_is_never_recovered(lab_factory, bundle, tmp_path):
    lab = lab_factory(TWO)
    planted = {"phase": "replacing", "state": "replaced", "bin_dir": BIN, "undo_dir": f"{WORK}\\undo",
               "stopped": ["SMS_EXECUTIVE"], "replaced": ["Distmgr.dll"], "started": "2026-12-01T00:00:00Z", "id": "x"}
    evil = forged(2)
    for name in NAMES:
        session = disk(lab, name)
        session.makedirs(f"{WORK}\\undo")
        session.write(f"{WORK}\\undo\\Distmgr.dll", evil)
        session.write(f"{WORK}\\journal.json", json.dumps(planted).encode())
        session.close()
    before = {n: lab.host_state(n) for n in NAMES}
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%")
    entries = report(tmp_path / "r")
    for name in NAMES:
        state = lab.host_state(name)
        assert entries[name]["status"] == "unknown", entries[name]
        error = entries[name]["error"] or ""
        assert "was not recovered" in error and "the controller has no record of the transaction" in error, error
        assert dll_versions(state) == dll_versions(before[name]) and services(state) == services(before[name])
        assert hashlib.sha256(evil).hexdigest() not in {e.get("sha256") for e in state["files"].values()
                                                        if e["path"].lower().startswith(BIN.lower())}
    assert run.returncode == 2


def test_a_recovery_copies_back_only_undo_copies_the_record_knows(lab_factory, bundle, tmp_path):
    lab = lab_factory(TWO.replace("{name: w-01}", "{name: w-01, faults: {interrupt_transaction_at: verifying}}")
                      .replace("transport: smb}", "transport: smb, faults: {interrupt_transaction_at: verifying}}"))
    original = {n: lab.host_state(n) for n in NAMES}
    assert remediate(lab, bundle, tmp_path / "r1", "-e", "q317061_serial=100%").returncode == 2
    lab.wait_up()
    evil = forged(3)
    session = disk(lab, "w-01")
    session.write(f"{WORK}\\undo\\Distmgr.dll", evil, force=True)  # the undo copy swapped while the host was down
    session.close()
    run = remediate(lab, bundle, tmp_path / "r2", "-e", "q317061_serial=100%")
    entries = report(tmp_path / "r2")
    assert entries["w-01"]["status"] == "unknown" and "the undo copy of Distmgr.dll" in entries["w-01"]["error"]
    assert hashlib.sha256(evil).hexdigest() != lab.host_state("w-01")["files"][f"{BIN}\\distmgr.dll".lower()]["sha256"]
    assert entries["s-01"]["status"] == "fixed"  # its own, recorded transaction was recovered, then installed
    assert set(dll_versions(lab.host_state("s-01")).values()) == {"2.00.1493.3240"}
    assert services(lab.host_state("s-01")) == services(original["s-01"])
    assert run.returncode == 2


def test_the_work_folder_reads_back_as_system_and_administrators_only(lab_factory, bundle, tmp_path):
    lab = lab_factory(TWO)
    session = disk(lab, "s-01")  # an existing folder open to everyone (it inherits C:\\'s Everyone: Full Control)
    session.makedirs(WORK)
    assert not security.is_private(security.parse(session.security_descriptor(WORK)))
    session.close()
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "granted Everyone Full Control (inherited); inheritance on; it is now SYSTEM and Administrators only" in \
        " ".join((run.stdout + run.stderr).split())
    for name in NAMES:
        session = disk(lab, name)
        dacl = security.parse(session.security_descriptor(WORK))
        session.close()
        assert security.is_private(dacl), (name, security.describe(dacl))
        assert security.describe(dacl) == "SYSTEM Full Control, Administrators Full Control"


@pytest.mark.parametrize("transport", ["winrm", "smb"])
def test_audit_check_mode_and_a_rollback_of_a_fleet_never_remediated_leave_every_host_as_it_was(
        lab_factory, bundle, tmp_path, transport):
    lab = lab_factory(f"defaults: {{restart_seconds: 1, transport: {transport}}}\ngroups: [{{name: n, count: 2}}]\n")
    names = ("n-01", "n-02")
    before = {n: lab.host_state(n) for n in names}
    assert lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / 'a'}").returncode == 0
    assert remediate(lab, bundle, tmp_path / "c", check=True).returncode == 0
    run = rollback(lab, tmp_path / "rb")
    assert run.returncode == 0, run.stdout[-3000:]
    for name in names:
        after = lab.host_state(name)
        for field in ("files", "dirs", "registry", "services", "acls"):
            assert after.get(field) == before[name].get(field), (name, field)
