"""Verdicts in a jsonfile fact cache, as AWX and ansible-core each lay it out (plugin_utils/factcache.py)."""

import json

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import factcache

VERDICT = {"status": "vulnerable", "checked_at": "2026-11-26T10:00:00+00:00"}


def test_the_verdict_goes_into_awxs_file_and_keeps_what_else_it_holds(tmp_path):
    (tmp_path / "p01-01").write_text(json.dumps({"ansible_distribution": "Windows"}))  # seeded by AWX
    factcache.write_verdict(str(tmp_path), "p01-01", VERDICT)
    assert json.loads((tmp_path / "p01-01").read_text()) == {"ansible_distribution": "Windows", "q317061": VERDICT}
    assert factcache.read_verdict(str(tmp_path), "p01-01") == VERDICT


def test_ansible_cores_own_layout_is_read_too(tmp_path):
    (tmp_path / "s1_p01-02").write_text(json.dumps({"__payload__": json.dumps({"q317061": VERDICT})}))
    assert factcache.read_verdict(str(tmp_path), "p01-02") == VERDICT
    assert factcache.read_verdict(str(tmp_path), "p01-03") is None
    (tmp_path / "p01-04").write_text("{not json")
    assert factcache.read_verdict(str(tmp_path), "p01-04") is None
