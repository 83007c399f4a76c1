"""The q317061_facts action plugin: one probe execution, classification on the controller."""

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure

from ansible_collections.smsfleet.q317061.plugins.action.q317061_facts import DLLS, PROBE, ActionModule
from probe_factory import probe


def _action(args, probe_result, check_mode=False):
    task = mock.MagicMock(args=args, async_val=0, check_mode=check_mode, action="smsfleet.q317061.q317061_facts")
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    action._execute_module = mock.MagicMock(
        side_effect=probe_result if isinstance(probe_result, list) else lambda **kw: probe_result)
    return action


UNFINISHED = {"journal": "C:\\SMSFleet\\Q317061\\journal.json", "present": True, "readable": True,
              "phase": "replacing", "started": "2026-11-21T09:00:00Z", "stopped": ["SMS_EXECUTIVE"],
              "replaced": ["Baseutil.dll"]}


def test_runs_the_probe_once_and_returns_classified_facts():
    action = _action({}, {"changed": False, "probe": probe()})
    result = action.run(task_vars={})
    action._execute_module.assert_called_once_with(
        module_name=PROBE, module_args={"log_tail_bytes": 262144, "work_dir": "C:\\SMSFleet\\Q317061"}, task_vars={})
    facts = result["ansible_facts"]["q317061"]
    assert result["changed"] is False and not result.get("failed")
    assert facts["status"] == "vulnerable" and facts["exposure"] == "affected_now"
    assert facts["remedies"] == ["hotfix", "workaround"]
    assert facts["predicted_decompression_drive"] == "M"
    assert any("Q317061" in reason for reason in facts["reasons"])
    assert facts["site"] == {"code": "P01", "type": "primary", "parent": None}
    assert facts["probe"] == probe() and facts["checked_at"].endswith("+00:00")


@pytest.mark.parametrize("args, policy", [
    ({}, {"sp4_hrp_revision": None, "later_service_packs_fixed": True}),
    ({"sp4_hrp_revision": "4200", "later_service_packs_fixed": "no"},
     {"sp4_hrp_revision": 4200, "later_service_packs_fixed": False}),
    ({"sp4_hrp_revision": "", "later_service_packs_fixed": ""},  # unanswered AWX survey fields are unset
     {"sp4_hrp_revision": None, "later_service_packs_fixed": True}),
])
def test_policy_arguments_are_coerced_and_recorded(args, policy):
    facts = _action(args, {"probe": probe()}).run(task_vars={})["ansible_facts"]["q317061"]
    assert facts["policy"] == policy


def test_sp4_hrp_revision_changes_the_verdict_for_sp4_builds():
    sp4 = probe(dll_version="2.00.1493.4200", sms__full_version="2.00.1493.4000")
    without = _action({}, {"probe": sp4}).run(task_vars={})["ansible_facts"]["q317061"]
    with_hrp = _action({"sp4_hrp_revision": 4200}, {"probe": sp4}).run(task_vars={})["ansible_facts"]["q317061"]
    assert without["status"] != "fixed" and with_hrp["status"] == "fixed"


@pytest.mark.parametrize("args, words", [
    ({"sp4_hrp_revision": "soon"}, "q317061_sp4_hrp_revision: must be an SP4 revision from 4001 to 4999"),
    ({"sp4_hrp_revision": 0}, "q317061_sp4_hrp_revision"),
    ({"work_dir": "..\\x"}, "q317061_work_dir: must be an absolute Windows folder"),
    ({"nonsense": 1}, "Invalid options"),
])
def test_bad_arguments_fail_before_the_probe_runs(args, words):
    action = _action(args, {"probe": probe()})
    try:
        result = action.run(task_vars={})
    except AnsibleActionFail as error:
        result = {"failed": True, "msg": str(error)}
    assert result["failed"] and words in result["msg"]
    action._execute_module.assert_not_called()


@pytest.mark.parametrize("probe_result, words", [
    ({"failed": True, "msg": "Access is denied"}, "q317061 probe failed: Access is denied"),
    ({"changed": False}, "no probe result"),
])
def test_a_failed_probe_is_a_clear_failure_without_facts(probe_result, words):
    result = _action({}, probe_result).run(task_vars={})
    assert result["failed"] and words in result["msg"] and "ansible_facts" not in result


def test_what_the_probe_could_not_read_becomes_a_warning():
    raw = probe(errors=["distmgr.log: Access is denied"])
    result = _action({}, {"probe": raw}).run(task_vars={})
    assert result["warnings"] == ["q317061 probe could not read: distmgr.log: Access is denied"]
    assert result["ansible_facts"]["q317061"]["status"] == "vulnerable"


def test_recover_recovers_an_unfinished_transaction_then_probes_again():
    first = {"probe": probe(dll_version="2.00.1493.3240", transaction=UNFINISHED)}
    recovered = {"changed": True, "recovered": {"phase": "replacing", "action": "roll_back"},
                 "warnings": ["recovered a transaction interrupted during phase 'replacing' (roll back)"]}
    after = {"probe": probe()}
    action = _action({"recover": True}, [first, recovered, after])
    result = action.run(task_vars={})
    calls = action._execute_module.call_args_list
    assert [c.kwargs["module_name"] for c in calls] == [PROBE, DLLS, PROBE]
    # this controller recorded no change of this host: the transaction is told so, and refuses such a journal
    assert calls[1].kwargs["module_args"] == {"state": "recovered", "journal": UNFINISHED["journal"], "expect": None}
    assert result["changed"] is True and result["recovered"]["action"] == "roll_back"
    assert result["ansible_facts"]["q317061"]["status"] == "vulnerable"  # classified from the second probe
    assert "recovered a transaction" in result["warnings"][0]


def test_without_recover_or_in_check_mode_an_unfinished_transaction_is_only_reported():
    raw = {"probe": probe(dll_version="2.00.1493.3240", transaction=UNFINISHED)}
    for action in (_action({}, raw), _action({"recover": True}, raw, check_mode=True)):
        result = action.run(task_vars={})
        assert action._execute_module.call_count == 1 and result["changed"] is False
        assert result["ansible_facts"]["q317061"]["status"] == "unknown"


def test_a_failed_recovery_fails_the_host_with_the_reason():
    raw = {"probe": probe(transaction=UNFINISHED)}
    action = _action({"recover": True}, [raw, {"failed": True, "msg": "start SMS_EXECUTIVE: timed out"}])
    result = action.run(task_vars={})
    assert result["failed"] and "could not be recovered: start SMS_EXECUTIVE: timed out" in result["msg"]
    assert "ansible_facts" not in result


def test_options_left_out_take_the_hosts_own_variables():
    """The playbooks pass no options: each host's q317061_* variables decide, templated like any variable."""
    action = _action({}, {"probe": probe(dll_version="2.00.1493.4200", sms__full_version="2.00.1493.4000")})
    action._templar = mock.MagicMock(template=lambda value: value.replace("{{ hrp }}", "4200"))
    host_vars = {"q317061_sp4_hrp_revision": "{{ hrp }}", "q317061_work_dir": "D:\\Fleet"}
    facts = action.run(task_vars=host_vars)["ansible_facts"]["q317061"]
    assert facts["policy"]["sp4_hrp_revision"] == 4200 and facts["status"] == "fixed"
    assert action._execute_module.call_args.kwargs["module_args"]["work_dir"] == "D:\\Fleet"


def test_an_option_given_wins_over_the_hosts_variable():
    action = _action({"work_dir": "E:\\Q"}, {"probe": probe()})
    action._templar = mock.MagicMock(template=lambda value: value)
    action.run(task_vars={"q317061_work_dir": "D:\\Fleet"})
    assert action._execute_module.call_args.kwargs["module_args"]["work_dir"] == "E:\\Q"


def test_a_bad_host_variable_fails_before_the_probe():
    action = _action({}, {"probe": probe()})
    action._templar = mock.MagicMock(template=lambda value: value)
    result = action.run(task_vars={"q317061_work_dir": "relative\\path"})
    assert result["failed"] and "q317061_work_dir" in result["msg"] and "nothing was read or changed" in result["msg"]
    action._execute_module.assert_not_called()


def test_plan_true_decides_from_the_hosts_policy_in_the_same_task():
    action = _action({"plan": True}, {"probe": probe()})
    action._templar = mock.MagicMock(template=lambda value: value)
    result = action.run(task_vars={"q317061_strategy": "workaround", "q317061_allow_workaround": True})
    plan = result["ansible_facts"]["q317061_plan"]
    assert plan["action"] == "workaround" and plan["policy"]["strategy"] == "workaround"
    assert any("Outlook Web Access" in w for w in result["warnings"])
    assert result["ansible_facts"]["q317061"]["status"] == "vulnerable"


def test_plan_true_plans_an_unreachable_host_for_a_human():
    action = _action({"plan": True}, {})
    action._execute_module.side_effect = AnsibleConnectionFailure("ntlm: auth method ntlm requires a password")
    result = action.run(task_vars={})
    assert result["unreachable"] and "requires a password" in result["msg"]
    plan = result["ansible_facts"]["q317061_plan"]
    assert plan["action"] == "manual" and plan["status"] == "unreachable"


@pytest.mark.parametrize("args, unreachable", [({}, True), ({"unreachable": "failed"}, False)])
def test_an_unreachable_host_is_unreachable_or_a_failure_a_rescue_can_keep(args, unreachable):
    action = _action(args, {})
    action._execute_module.side_effect = AnsibleConnectionFailure("winrm: connection refused")
    if unreachable:
        with pytest.raises(AnsibleConnectionFailure):
            action.run(task_vars={})
        return
    result = action.run(task_vars={})
    assert result["failed"] and result["q317061_unreachable"] and "connection refused" in result["msg"]
    assert "unreachable" not in result and "ansible_facts" not in result


def test_plan_true_with_unreachable_failed_is_a_failure_a_rescue_can_keep():
    action = _action({"plan": True, "unreachable": "failed"}, {})
    action._execute_module.side_effect = AnsibleConnectionFailure("winrm: connection refused")
    result = action.run(task_vars={})
    assert result["failed"] and result["q317061_unreachable"] and "unreachable" not in result
    plan = result["ansible_facts"]["q317061_plan"]
    assert plan["action"] == "manual" and plan["status"] == "unreachable"


def test_plan_true_with_a_bad_policy_reads_nothing():
    action = _action({"plan": True}, {"probe": probe()})
    action._templar = mock.MagicMock(template=lambda value: value)
    result = action.run(task_vars={"q317061_strategy": "sometimes"})
    assert result["failed"] and "invalid remediation policy" in result["msg"]
    action._execute_module.assert_not_called()
