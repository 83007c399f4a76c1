import csv
import io
import json

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
