"""audit.yml against the winlab demo fleet: every host gets the status its spec intends."""

import csv
import json

import yaml

from conftest import DEMO


def _expectations():
    from winlab import fleet
    return {h["name"]: h["expect"] for h in fleet.load(DEMO)}


def test_audit_classifies_every_demo_host_as_the_fleet_intends(demo_lab, tmp_path):
    reports = tmp_path / "reports"
    before = {name: demo_lab.host_state(name) for name in _expectations()}
    run = demo_lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={reports}")
    assert run.returncode == 0, run.stdout + run.stderr

    report = json.loads((reports / "q317061-audit.json").read_text())
    got = {h["host"]: h for h in report["hosts"]}
    for name, expect in _expectations().items():
        entry = got[name]
        assert (entry["status"], entry["exposure"], entry["remedies"]) == (
            expect["status"], expect["exposure"], expect["remedies"]), (name, entry["reasons"])
    assert report["summary"]["hosts"] == len(got) == 43

    # One module execution per host, and nothing changed on any host.
    stats = demo_lab.stats()
    assert {s["commands"] for s in stats.values()} == {1}
    for name, state in before.items():
        after = demo_lab.host_state(name)
        assert after["registry"] == state["registry"] and after["files"] == state["files"]
        assert after["services"] == state["services"]

    rows = list(csv.DictReader((reports / "q317061-audit.csv").open()))
    assert {r["host"]: r["status"] for r in rows} == {n: e["status"] for n, e in _expectations().items()}
    html = (reports / "q317061-audit.html").read_text()
    assert "Lab-Passw0rd" not in html and "Lab-Passw0rd" not in json.dumps(report)
    assert "43 hosts: vulnerable 22" in run.stdout


def test_audit_in_check_mode_still_reports_and_changes_nothing(demo_lab, tmp_path):
    run = demo_lab.playbook("playbooks/audit.yml", "--check", "-e", f"q317061_report_dir={tmp_path}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads((tmp_path / "q317061-audit.json").read_text())["summary"]["hosts"] == 43


def test_unreachable_and_wrong_credentials_appear_in_the_report(lab_factory, tmp_path):
    lab = lab_factory(fleet_text="""
groups:
  - name: site
    count: 3
    host: {sms: {site_code: P01}}
""")
    inventory = yaml.safe_load(lab.inventory.read_text())
    hosts = inventory["all"]["children"]["site_servers"]["children"]["site"]["hosts"]
    hosts["site-02"]["ansible_password"] = "wrong"
    hosts["site-03"]["ansible_port"] = 1  # nothing listens there
    lab.inventory.write_text(yaml.safe_dump(inventory))
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path}")
    assert run.returncode == 0, run.stdout + run.stderr
    got = {h["host"]: h for h in json.loads((tmp_path / "q317061-audit.json").read_text())["hosts"]}
    assert got["site-01"]["status"] == "vulnerable"
    assert got["site-02"]["status"] == "unreachable" and "credentials were rejected" in got["site-02"]["error"]
    assert got["site-03"]["status"] == "unreachable" and got["site-03"]["error"]
    assert lab.stats()["site-02"]["auth_failures"] >= 1 and lab.stats()["site-02"]["commands"] == 0


def test_ad_hoc_facts_module(demo_lab):
    run = demo_lab.ansible("p03-01", "-m", "smsfleet.q317061.q317061_facts")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "status: vulnerable" in run.stdout and "Q313839" in run.stdout
