"""audit.yml against the winlab demo fleet: every host gets the status its spec intends."""

import csv
import json

from PIL import Image

import browser
from conftest import DEMO, ROOT
from winlab import fleet


UNKNOWN_P05_07 = "1 host(s) are unknown (their Q317061 status could not be read): p05-07 (Distmgr.dll is missing"


def _expectations():
    return {h["name"]: h["expect"] for h in fleet.load(DEMO)}


def test_audit_classifies_every_demo_host_as_the_fleet_intends(demo_lab, tmp_path):
    reports = tmp_path / "reports"
    before = {name: demo_lab.host_state(name) for name in _expectations()}
    sessions = {n: s["smb"]["connections"] for n, s in demo_lab.stats().items()}  # `winlab up` knocks once
    run = demo_lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={reports}")
    # p05-07 is unknown (its Distmgr.dll is missing): the run says so by name, and fails (docs/remediation.md)
    assert run.returncode == 2 and UNKNOWN_P05_07 in run.stdout, run.stdout + run.stderr

    report = json.loads((reports / "q317061-audit.json").read_text())
    got = {h["host"]: h for h in report["hosts"]}
    for name, expect in _expectations().items():
        entry = got[name]
        assert (entry["status"], entry["exposure"], entry["remedies"]) == (
            expect["status"], expect["exposure"], expect["remedies"]), (name, entry["reasons"])
    assert report["summary"]["hosts"] == len(got) == len(_expectations())

    # One module execution per WinRM host, one SMB session per smb host, and nothing changed on any host.
    stats = demo_lab.stats()
    over_smb = {h["name"] for h in fleet.load(DEMO) if h.get("transport") == "smb"}
    assert over_smb and {stats[n]["commands"] for n in stats if n not in over_smb} == {1}
    assert {(stats[n]["commands"], stats[n]["smb"]["connections"] - sessions[n]) for n in over_smb} == {(0, 1)}
    for name, state in before.items():
        after = demo_lab.host_state(name)
        assert after["registry"] == state["registry"] and after["files"] == state["files"]
        assert after["services"] == state["services"]

    rows = list(csv.DictReader((reports / "q317061-audit.csv").open()))
    assert {r["host"]: r["status"] for r in rows} == {n: e["status"] for n, e in _expectations().items()}
    html = (reports / "q317061-audit.html").read_text()
    assert "Lab-Passw0rd" not in html and "Lab-Passw0rd" not in json.dumps(report)
    vulnerable = sum(e["status"] == "vulnerable" for e in _expectations().values())
    assert f"{len(_expectations())} hosts: vulnerable {vulnerable}" in run.stdout


def test_an_audited_host_costs_the_round_trips_of_a_win_ping(demo_lab, tmp_path):
    """The probe's exec payload fits one WinRM Send (ansible-core sends stdin in 200,000-byte chunks), so an audit
    costs each WinRM host exactly the HTTP requests of a win_ping: a probe that grows past it costs every host of a
    fleet one more round trip (docs/benchmarks.md)."""
    winrm = sorted(h["name"] for h in fleet.load(DEMO) if h.get("transport") != "smb")

    def requests():
        stats = demo_lab.stats()
        return {name: stats[name]["requests"] for name in winrm}

    start = requests()
    ping = demo_lab.ansible(",".join(winrm), "-m", "ansible.windows.win_ping")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    pinged = requests()
    audit = demo_lab.playbook("playbooks/audit.yml", "--limit", ",".join(winrm) + ",localhost",
                              "-e", f"q317061_report_dir={tmp_path}")
    assert audit.returncode == 2 and UNKNOWN_P05_07 in audit.stdout, audit.stdout + audit.stderr
    audited = requests()
    per_ping = {name: pinged[name] - start[name] for name in winrm}
    assert min(per_ping.values()) > 0
    assert {name: audited[name] - pinged[name] for name in winrm} == per_ping


def test_html_report_in_a_real_browser(demo_lab, tmp_path):
    """Chromium renders the self-contained report: counts, sites, every host, badges in their colours; a person
    can filter by status and site and search by host name, and the page loads nothing from anywhere."""
    from ansible_collections.smsfleet.q317061.plugins.plugin_utils.report import STATUS_COLOURS
    reports = tmp_path / "reports"
    run = demo_lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={reports}")
    assert run.returncode == 2 and UNKNOWN_P05_07 in run.stdout, run.stdout + run.stderr
    path = reports / "q317061-audit.html"
    report = json.loads((reports / "q317061-audit.json").read_text())
    hosts = report["hosts"]
    shot = ROOT / "tests" / "output" / "screenshots" / "q317061-audit.png"  # kept for people to look at
    shot.parent.mkdir(parents=True, exist_ok=True)
    with browser.page(path) as tab:
        text = browser.text_nodes(tab)
        joined = " | ".join(text)
        assert tab.title() == text[0] == "KB Q317061 fleet audit"
        for status, count in report["summary"]["by_status"].items():  # each card: the count, then its badge
            assert f"{count} | {status}" in joined, status
        for site in {h["site"] for h in hosts if h["site"]}:
            assert site in text
        for entry in hosts:
            assert entry["host"] in text and f"Evidence for {entry['host']}" in text
        assert "Lab-Passw0rd!" not in joined
        assert any("Outlook Web Access" in t and "p02-04" in t for t in text)  # the OWA note names its hosts
        tab.screenshot(path=str(shot))

        # Filters: untick every status but fixed; then one site; then search by host name.
        assert sorted(browser.visible_hosts(tab)) == sorted(h["host"] for h in hosts)
        for status in report["summary"]["by_status"]:
            if report["summary"]["by_status"][status] and status != "fixed":
                tab.uncheck(f"#status-filter input[value={status}]")
        assert sorted(browser.visible_hosts(tab)) == sorted(h["host"] for h in hosts if h["status"] == "fixed")
        tab.select_option("#site", "P02")
        assert sorted(browser.visible_hosts(tab)) == sorted(
            h["host"] for h in hosts if h["status"] == "fixed" and h["site"] == "P02")
        assert tab.inner_text("#shown").startswith(f"{len(browser.visible_hosts(tab))} of {len(_expectations())} hosts shown")
        for status in report["summary"]["by_status"]:
            if report["summary"]["by_status"][status]:
                tab.check(f"#status-filter input[value={status}]")
        tab.select_option("#site", "")
        tab.fill("#search", "P05-0")
        assert sorted(browser.visible_hosts(tab)) == [f"p05-0{i}" for i in range(1, 9)]
        assert tab.requests == [path.as_uri()], "the report must not load anything"

    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1600)
    colours = {colour for dummy, colour in image.getcolors(maxcolors=1 << 20)}
    for status, count in report["summary"]["by_status"].items():
        wanted = tuple(int(STATUS_COLOURS[status][i:i + 2], 16) for i in (1, 3, 5))
        assert wanted in colours, f"no {status} badge painted in {STATUS_COLOURS[status]}"


def test_audit_in_check_mode_still_reports_and_changes_nothing(demo_lab, tmp_path):
    run = demo_lab.playbook("playbooks/audit.yml", "--check", "-e", f"q317061_report_dir={tmp_path}")
    assert run.returncode == 2 and UNKNOWN_P05_07 in run.stdout, run.stdout + run.stderr
    assert json.loads((tmp_path / "q317061-audit.json").read_text())["summary"]["hosts"] == len(_expectations())


def _site_fleet(count: int, overrides: str = "{}") -> str:
    """A fleet of `count` vulnerable P01 site servers named site-01..; overrides by host name (YAML)."""
    return f"groups: [{{name: site, count: {count}, host: {{sms: {{site_code: P01}}}}, overrides: {overrides}}}]"


def test_unreachable_and_wrong_credentials_appear_in_the_report(lab_factory, tmp_path):
    lab = lab_factory(fleet_text=_site_fleet(3))
    lab.set_hostvars("site", "site-02", ansible_password="wrong")
    lab.set_hostvars("site", "site-03", ansible_port=1)  # nothing listens there
    run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path}")
    # The others are still audited and reported; the run fails naming the hosts it could not check.
    assert run.returncode == 2, run.stdout + run.stderr
    shown = " ".join(run.stdout.split())  # the final message may be wrapped
    assert "2 host(s) could not be checked: site-02 (" in shown and "), site-03 (" in shown, shown[-2000:]
    got = {h["host"]: h for h in json.loads((tmp_path / "q317061-audit.json").read_text())["hosts"]}
    assert got["site-01"]["status"] == "vulnerable"
    assert got["site-02"]["status"] == "unreachable" and "credentials were rejected" in got["site-02"]["error"]
    assert got["site-03"]["status"] == "unreachable" and got["site-03"]["error"]
    assert lab.stats()["site-02"]["auth_failures"] >= 1 and lab.stats()["site-02"]["commands"] == 0


def test_fact_cache_keeps_verdicts_and_reports_without_contacting_hosts(lab_factory, tmp_path):
    lab = lab_factory(fleet_text=_site_fleet(2, "{site-02: {sms: {baseutil: 2.00.1493.3240, distmgr: 2.00.1493.3240}}}"))
    lab.env.update(ANSIBLE_CACHE_PLUGIN="jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "cache"))

    def audit(out, *extra, rc=0):
        run = lab.playbook("playbooks/audit.yml", "-e", f"q317061_report_dir={tmp_path / out}", *extra)
        assert run.returncode == rc, run.stdout + run.stderr
        return {h["host"]: h for h in json.loads((tmp_path / out / "q317061-audit.json").read_text())["hosts"]}

    probed = audit("probed")
    assert {n: h["status"] for n, h in probed.items()} == {"site-01": "vulnerable", "site-02": "fixed"}
    assert {h["source"] for h in probed.values()} == {"probe"}
    commands = sum(s["commands"] for s in lab.stats().values())

    cached = audit("cached", "-e", "q317061_report_from_cache=true")
    assert sum(s["commands"] for s in lab.stats().values()) == commands  # no host was contacted
    for name, entry in cached.items():
        assert entry["source"] == "cache" and entry["checked_at"] == probed[name]["checked_at"]
        assert (entry["status"], entry["remedies"], entry["reasons"]) == (
            probed[name]["status"], probed[name]["remedies"], probed[name]["reasons"])
    html = (tmp_path / "cached" / "q317061-audit.html").read_text()
    assert "from the fact cache, not probed in this run" in html

    # A host that is down now is reported unreachable, not with its old cached verdict.
    lab.down()
    down = audit("down", rc=2)
    assert {h["status"] for h in down.values()} == {"unreachable"}
    # A host the cache has never seen has no verdict to fall back to.
    lab.set_hostvars("site", "site-03", ansible_port=1)
    unseen = audit("unseen", "-e", "q317061_report_from_cache=true", rc=2)  # a host without a verdict fails the run
    assert unseen["site-03"]["status"] == "unknown" and "none in the fact cache" in unseen["site-03"]["reasons"][0]
    assert unseen["site-01"]["status"] == "vulnerable"


def test_ad_hoc_facts_module(demo_lab):
    run = demo_lab.ansible("p03-01", "-m", "smsfleet.q317061.q317061_facts")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "status: vulnerable" in run.stdout and "Q313839" in run.stdout
