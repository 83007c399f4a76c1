import csv
import io
import json
import pathlib

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import report as rpt
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import classify
from probe_factory import probe


def _entries():
    vulnerable = classify(probe()).as_dict() | {"site": {"code": "P01", "type": "primary"}}
    fixed = classify(probe(dll_version="2.00.1493.3240")).as_dict() | {"site": {"code": "P02", "type": "primary"}}
    return [rpt.host_entry("b<script>", fixed), rpt.host_entry("a", vulnerable),
            rpt.host_entry("c", None, error="ntlm: the specified credentials were rejected", unreachable=True),
            rpt.host_entry("d", None, error="probe crashed")]


def test_summary_counts_and_order():
    report = rpt.build(_entries())
    s = report["summary"]
    assert s["hosts"] == 4
    assert {k: v for k, v in s["by_status"].items() if v} == {"vulnerable": 1, "fixed": 1, "unreachable": 1, "unknown": 1}
    assert [e["host"] for e in report["hosts"]] == ["a", "d", "c", "b<script>"]  # worst first
    assert s["by_site"]["P01"]["vulnerable"] == 1 and s["by_site"]["(none)"]["hosts"] == 2


def test_unreachable_and_failed_hosts_carry_their_error():
    report = rpt.build(_entries())
    c = next(e for e in report["hosts"] if e["host"] == "c")
    assert c["status"] == "unreachable" and "rejected" in c["reasons"][0] and c["error"]


def test_csv_has_one_row_per_host_and_json_round_trips():
    report = rpt.build(_entries())
    rows = list(csv.DictReader(io.StringIO(rpt.to_csv(report))))
    assert [r["host"] for r in rows] == [e["host"] for e in report["hosts"]]
    assert rows[0]["remedies"] == "hotfix workaround"
    assert json.loads(rpt.to_json(report)) == report


def test_log_evidence_is_in_the_json_and_the_csv_as_docs_audit_promises():
    off = classify(probe(distmgr_log__logging_enabled=False)).as_dict()
    report = rpt.build([rpt.host_entry("off", off), rpt.host_entry("gone", None, error="x", unreachable=True)])
    rows = {e["host"]: e for e in json.loads(rpt.to_json(report))["hosts"]}
    assert rows["off"]["log_evidence"] == "logging_off" and rows["gone"]["log_evidence"] is None
    assert [r["log_evidence"] for r in csv.DictReader(io.StringIO(rpt.to_csv(report)))] == ["logging_off", ""]


def test_html_is_self_contained_and_escaped():
    page = rpt.to_html(rpt.build(_entries()))
    assert "b<script>" not in page and "b&lt;script&gt;" in page
    assert page.count("<script") == 1  # the report's own filter script, inline
    assert "http://" not in page and "https://" not in page and "<link" not in page and " src=" not in page
    assert page.count('class="host"') == 4


_FACTS = classify(probe()).as_dict() | {"checked_at": "2026-11-20T08:00:00+00:00"}
_OLD = classify(probe(dll_version="2.00.1493.3240")).as_dict() | {"checked_at": "2026-11-01T08:00:00+00:00"}


@pytest.mark.parametrize("registered, cached, status, source, words", [
    ({"ansible_facts": {"q317061": _FACTS}}, _OLD, "vulnerable", "probe", None),  # this run wins over the cache
    ({"unreachable": True, "msg": "timed out"}, _OLD, "unreachable", "probe", "timed out"),  # never a stale verdict
    ({"failed": True, "msg": "Access is denied"}, _OLD, "unknown", "probe", "Access is denied"),
    ({"skipped": True, "changed": False}, _OLD, "fixed", "cache", None),  # q317061_report_from_cache
    (None, _OLD, "fixed", "cache", None),  # not targeted in this run
    ({"skipped": True}, None, "unknown", "probe", "none in the fact cache"),
    (None, None, "unknown", "probe", "none in the fact cache"),
])
def test_entry_from_this_run_or_the_fact_cache(registered, cached, status, source, words):
    entry = rpt.entry_from_hostvars("h", registered, cached)
    assert (entry["status"], entry["source"]) == (status, source)
    if words:
        assert words in entry["reasons"][0]
    if source == "cache":
        assert entry["checked_at"] == "2026-11-01T08:00:00+00:00"
        assert "from the fact cache" in rpt.to_html(rpt.build([entry]))


@pytest.mark.parametrize("registered, facts, since, status, source", [
    (None, _FACTS, "2026-11-20T08:00:00+00:00", "vulnerable", "probe"),  # checked in this run's first second
    (None, _FACTS, "2026-11-20T07:59:00+00:00", "vulnerable", "probe"),
    (None, _OLD, "2026-11-20T07:59:00+00:00", "fixed", "cache"),  # loaded from the fact cache, not probed now
    (None, _FACTS | {"checked_at": "not a time"}, "2026-11-20T07:59:00+00:00", "vulnerable", "cache"),
    ({"failed": True, "q317061_unreachable": True, "msg": "connection refused"}, _FACTS,  # the audit's rescue
     "2026-11-20T07:59:00+00:00", "unreachable", "probe"),
    ({"failed": True, "msg": "Access is denied"}, _OLD, "2026-11-20T07:59:00+00:00", "unknown", "probe"),
])
def test_the_audit_reads_this_runs_verdicts_from_the_facts(registered, facts, since, status, source):
    """audit.yml registers only the hosts that could not be checked: the others' facts are this run's
    verdicts when checked since the run started, the fact cache's when older."""
    entry = rpt.entry_from_hostvars("h", registered, facts, fresh_since=since)
    assert (entry["status"], entry["source"]) == (status, source)
    if registered:
        assert registered["msg"] in entry["reasons"][0] and entry["error"] == registered["msg"]


@pytest.mark.parametrize("value, shown", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("p01-01", "p01-01"), ("2.00.1493.3240", "2.00.1493.3240"), (None, ""),
])
def test_csv_cells_never_start_a_formula(value, shown):
    assert rpt.cell(value) == shown


def test_hostile_host_data_is_text_in_every_format():
    hostile = classify(probe(computer_name="X")).as_dict() | {
        "site": {"code": "=cmd|' /C calc'!A0", "type": "primary"},
        "reasons": ["evil \x1b[31mred\x1b[0m <img src=x onerror=alert(1)>"]}
    report = rpt.build([rpt.host_entry("+host\x07", hostile)])
    rows = list(csv.DictReader(io.StringIO(rpt.to_csv(report))))
    assert rows[0]["host"] == "'+host\\x07" and rows[0]["site"].startswith("'=cmd")
    assert "\x1b" not in rpt.to_csv(report) and "\\x1b[31mred" in rows[0]["reasons"]
    page = rpt.to_html(report)
    assert "\x1b" not in page and "\x07" not in page and "<img" not in page and "&lt;img src=x" in page
    assert "\x1b" not in " ".join(rpt.summary_lines(report))
    assert json.loads(rpt.to_json(report))["hosts"][0]["host"] == "+host\x07"  # JSON keeps the data, escaped


def test_check_mode_is_labelled_in_every_format_and_named_apart():
    report = rpt.build(_entries(), title="KB Q317061 remediation (check mode: nothing was changed)", check_mode=True)
    assert json.loads(rpt.to_json(report))["check_mode"] is True
    assert {r["run_mode"] for r in csv.DictReader(io.StringIO(rpt.to_csv(report)))} == {"check"}
    assert "Check mode: this is a prediction; nothing was changed on any host." in rpt.to_html(report)
    assert rpt.summary_lines(report)[0].startswith("CHECK MODE, nothing was changed")
    assert rpt.basename("q317061-remediation", True) == "q317061-remediation-check"
    assert rpt.basename("q317061-remediation", False) == "q317061-remediation"


def test_problems_decide_the_exit_code_and_name_every_host_with_why():
    assert rpt.problems(rpt.build([])) == [rpt.NO_TARGETS]
    entries = _entries()
    assert rpt.problems(rpt.build(entries)) == [
        "2 host(s) could not be checked: c (ntlm: the specified credentials were rejected), d (probe crashed)"]
    down = [rpt.host_entry(h, None, error="timed out", unreachable=True) for h in ("x", "y")]
    assert rpt.problems(rpt.build(down)) == ["no host could be checked: x (timed out), y (timed out)"]
    failed = rpt.host_entry("z", classify(probe()).as_dict(), change={"outcome": "failed", "summary": "boom"})
    assert rpt.problems(rpt.build([failed])) == ["1 host(s) failed or were not attempted: z (boom)"]
    unknown = rpt.host_entry("u", classify(probe(distmgr_version="000")).as_dict())
    assert unknown["status"] == "unknown"  # checked, but what decides the verdict could not be read
    assert rpt.problems(rpt.build([unknown])) == [
        f"1 host(s) are unknown (their Q317061 status could not be read): u ({unknown['reasons'][0]})"]
    refused = rpt.host_entry("r", classify(probe()).as_dict(), change={"outcome": "refused", "summary": "quit it"})
    assert rpt.problems(rpt.build([refused])) == ["1 host(s) need a person (refused before any change): r (quit it)"]
    assert rpt.problems(rpt.build([rpt.host_entry("ok", classify(probe()).as_dict())])) == []


def test_a_long_list_of_problem_hosts_is_cut_and_says_how_many_more():
    down = [rpt.host_entry(f"h{i:03d}", None, error="x" * 500, unreachable=True) for i in range(60)]
    line = rpt.problems(rpt.build(down + [rpt.host_entry("ok", classify(probe()).as_dict())]))[0]
    assert line.startswith("60 host(s) could not be checked: h000 (") and line.endswith(", and 10 more")
    assert "h049" in line and "h050" not in line and "x" * 200 not in line


def test_owa_warning_names_the_hosts():
    fixed_blank = classify(probe(dll_version="2.00.1493.3240", exifs__drive_letter="")).as_dict()
    report = rpt.build([rpt.host_entry("p04-01", fixed_blank), rpt.host_entry("p02-01", classify(probe()).as_dict())])
    assert report["summary"]["owa_at_risk"] == ["p04-01"]
    assert any("Outlook Web Access" in n and n.endswith(": p04-01") for n in report["notes"])
    assert any("p04-01" in line for line in rpt.summary_lines(report))


def test_a_replacement_template_is_used(tmp_path):
    (tmp_path / "mine.html.j2").write_text("<p>{{ report.summary.hosts }} hosts {{ report.hosts[0].host }}</p>")
    assert rpt.to_html(rpt.build(_entries()), tmp_path / "mine.html.j2") == "<p>4 hosts a</p>"


def test_write_set_writes_three_files_and_destination_checks(tmp_path):
    paths = rpt.write_set(rpt.build(_entries()), str(tmp_path / "r"), "x")
    assert sorted(paths) == ["csv", "html", "json"] and all(pathlib.Path(p).is_file() for p in paths.values())
    assert not [p for p in (tmp_path / "r").iterdir() if p.name.startswith(".")]
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "cannot write reports to" in rpt.check_destination(str(blocker / "sub"), None)[0]
    assert "is not a file" in rpt.check_destination(str(tmp_path), str(tmp_path / "none.j2"))[0]
    assert rpt.check_destination(str(tmp_path / "new"), None) == []


def test_a_template_that_cannot_render_is_refused_before_the_run_and_costs_only_the_html(tmp_path):
    broken = tmp_path / "broken.html.j2"
    broken.write_text("<p>{{ report.title | no_such_filter }}</p>")
    late = tmp_path / "late.html.j2"  # renders the sample, fails on a field only some real reports lack
    late.write_text("{% for h in report.hosts %}{{ 1 // (h.host | length - 1) }}{% endfor %}")  # a one-letter name
    problem = rpt.check_destination(str(tmp_path / "r"), str(broken))
    assert len(problem) == 1 and "cannot render a report" in problem[0] and "no_such_filter" in problem[0], problem
    assert rpt.check_destination(str(tmp_path / "r"), str(late)) == []
    report = rpt.build([rpt.host_entry("x", None, error="down", unreachable=True)])  # no change record at all
    with pytest.raises(rpt.ReportError, match="the HTML report could not be rendered") as error:
        rpt.write_set(report, str(tmp_path / "r"), "q", str(late))
    assert "q.json" in str(error.value) and "q.csv" in str(error.value)
    assert json.loads((tmp_path / "r" / "q.json").read_text())["hosts"][0]["host"] == "x"
    assert not (tmp_path / "r" / "q.html").exists()
