"""The q317061_report action: a host remediation never reached still gets a truthful change record."""

import json
from unittest import mock

from ansible_collections.smsfleet.q317061.plugins.action.q317061_report import ActionModule
from probe_factory import probe

PLAN = {"action": "hotfix", "reason": "Baseutil.dll and Distmgr.dll are older than the Q317061 build"}
VERDICT = {"status": "vulnerable", "exposure": "affected_now", "reasons": ["old DLLs"], "probe": probe()}
AUDITED = {"changed": False, "ansible_facts": {"q317061": VERDICT}}


def _report(tmp_path, hostvars, **args):
    base = {"hosts": sorted(hostvars), "dest": str(tmp_path), "basename": "r", "result_var": ["q317061_before"],
            "change_var": "q317061_change"}
    task = mock.MagicMock(args=dict(base, **args), check_mode=False, async_val=0,
                          action="smsfleet.q317061.q317061_report")
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    action.run(task_vars={"hostvars": hostvars})
    return {h["host"]: h["change"] for h in json.loads((tmp_path / "r.json").read_text())["hosts"]}


def test_a_planned_host_without_a_change_record_was_not_attempted(tmp_path):
    hostvars = {
        "reached": {"q317061_before": AUDITED, "ansible_facts": {"q317061_plan": PLAN},
                    "q317061_change": {"action": "hotfix", "outcome": "changed", "changed": True, "summary": "done",
                                       "before": None, "after": None}},
        "never": {"q317061_before": AUDITED, "ansible_facts": {"q317061_plan": PLAN}},
    }
    changes = _report(tmp_path, hostvars)
    assert changes["reached"]["outcome"] == "changed"
    assert changes["never"]["outcome"] == "not_attempted" and "rollout stopped" in changes["never"]["summary"]


def test_the_preflight_refusal_is_the_reason_given(tmp_path):
    hostvars = {"h1": {"q317061_before": AUDITED, "ansible_facts": {"q317061_plan": PLAN}}}
    changes = _report(tmp_path, hostvars, refused="hotfix bundle /b refused:\n- i386/Distmgr.dll: SHA-256 is x")
    assert changes["h1"]["outcome"] == "not_attempted"
    assert "pre-flight refused the run (hotfix bundle /b refused:)" in changes["h1"]["summary"]


def test_an_unreachable_host_keeps_no_facts_and_is_planned_for_a_human(tmp_path):
    """Ansible drops the facts of an unreachable result, plan included: the report plans it from the error."""
    hostvars = {"h1": {"q317061_before": {"unreachable": True, "msg": "basic: the specified credentials were rejected"},
                       "ansible_facts": {}}}
    change = _report(tmp_path, hostvars)["h1"]
    assert change["outcome"] == "manual" and "credentials were rejected" in change["summary"]
