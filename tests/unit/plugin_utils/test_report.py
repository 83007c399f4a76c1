import csv
import io
import json

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


def test_html_is_self_contained_and_escaped():
    page = rpt.to_html(rpt.build(_entries()))
    assert "<script>" not in page and "b&lt;script&gt;" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
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
