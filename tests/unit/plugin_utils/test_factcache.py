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


def test_plain_facts_carry_no_data_tags_into_the_fact_cache(tmp_path):
    """What an action copies from its arguments is tagged (inventory origin, template trust); a fact cache stores
    and decodes every tag at each read of the host's variables. plain_facts leaves plain values, same content."""
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    from ansible.plugins.loader import cache_loader
    from ansible.template import trust_as_template
    from ansible._internal._datatag._tags import Origin  # the tag an inventory value carries

    origin = Origin(path="/inventory.yml", line_num=6)
    tagged = {"q317061_plan": {"work_dir": trust_as_template(origin.tag("C:\\SMSFleet")),
                               "revision": origin.tag(4200), "services": [origin.tag("SMS_EXECUTIVE")]}}
    assert AnsibleTagHelper.tags(tagged["q317061_plan"]["revision"])  # the premise: these carry tags

    result = factcache.plain_facts({"changed": False, "ansible_facts": tagged})
    plan = result["ansible_facts"]["q317061_plan"]
    assert plan == {"work_dir": "C:\\SMSFleet", "revision": 4200, "services": ["SMS_EXECUTIVE"]}
    assert [type(plan["work_dir"]), type(plan["revision"]), type(plan["services"][0])] == [str, int, str]
    assert not any(AnsibleTagHelper.tags(v) for v in (plan["work_dir"], plan["revision"], plan["services"][0]))

    cache = cache_loader.get("jsonfile", _uri=str(tmp_path))
    cache.set("tagged", tagged)
    cache.set("plain", result["ansible_facts"])
    stored = {name: (tmp_path / f"s1_{name}").read_text() for name in ("tagged", "plain")}
    assert "__ansible_type" in stored["tagged"] and "__ansible_type" not in stored["plain"]
    assert cache.get("plain") == result["ansible_facts"]


def test_a_result_without_facts_is_left_as_it_is():
    result = {"failed": True, "msg": "no"}
    assert factcache.plain_facts(result) is result and result == {"failed": True, "msg": "no"}
