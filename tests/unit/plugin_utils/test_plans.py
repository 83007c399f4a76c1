"""Remediation decisions as a table: status x remedies x policy -> action (docs/remediation.md)."""

import pytest
from probe_factory import drive, probe

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import classify
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.plans import (
    Policy, PolicyError, change_record, facts_from_result, plan_host, policy_from_vars)


def facts(**changes):
    raw = probe(**changes)
    verdict = classify(raw).as_dict()
    return dict(verdict, platform=raw["sms"]["platform"], probe=raw)


SP3 = {}
SP4 = {"dll_version": "2.00.1493.4000"}
GERMAN = {"dll_language": "German (Germany)"}
SP2 = {"dll_version": "2.00.1493.2000"}
FIXED = {"dll_version": "2.00.1493.3240"}
PENDING = {"exifs__drive_letter": ""}          # blank value, M: still mounted
ALPHA = {"sms__platform": "Alpha"}
UNREADABLE = {"distmgr_version": None}

CASES = [
    # id, host, policy, action, method, words in reason/manual
    ("SP3 English: hotfix", SP3, Policy(), "hotfix", "manual", "hotfix, manual method"),
    ("fixed untouched", FIXED, Policy(strategy="workaround", allow_workaround=True), "none", None, "fixed"),
    ("unknown needs a human", UNREADABLE, Policy(), "manual", None, "status is unknown"),
    ("SP4 without workaround: manual, HRP", SP4, Policy(), "manual", None, "Hotfix Rollup Package"),
    ("SP4 with workaround allowed", SP4, Policy(allow_workaround=True), "workaround", None, "blank the EXIFS"),
    ("SP4 workaround without reboot says so", SP4, Policy(allow_workaround=True), "workaround", None,
     "stays pending_reboot"),
    ("German: hotfix is English-only", GERMAN, Policy(), "manual", None, "English SMS 2.0 SP3 only"),
    ("SP2: upgrade to SP3", SP2, Policy(), "manual", None, "upgrade the site to SMS 2.0 SP3"),
    ("strategy hotfix never uses the workaround", SP4, Policy(strategy="hotfix", allow_workaround=True),
     "manual", None, "strategy is hotfix"),
    ("strategy workaround on a hotfix host", SP3, Policy(strategy="workaround", allow_workaround=True),
     "workaround", None, "blank the EXIFS"),
    ("strategy workaround still needs allow_workaround", SP3, Policy(strategy="workaround"), "manual", None,
     "q317061_allow_workaround is false"),
    ("strategy audit changes nothing", SP3, Policy(strategy="audit"), "none", None, "would apply the hotfix"),
    ("pending reboot, SP3: the hotfix finishes it", dict(PENDING), Policy(), "hotfix", "manual", "hotfix"),
    ("pending reboot, SP4, reboot allowed", dict(SP4, **PENDING), Policy(allow_workaround=True, reboot=True),
     "workaround", None, "finish it with a restart"),
    ("pending reboot, SP4, no reboot", dict(SP4, **PENDING), Policy(allow_workaround=True), "manual", None,
     "restart the server to finish the workaround"),
    ("installer method on Intel", SP3, Policy(method="installer"), "hotfix", "installer", "installer method"),
    ("installer is Intel-only: Alpha falls back", ALPHA, Policy(method="installer"), "hotfix", "manual",
     "Intel only"),
]


@pytest.mark.parametrize("host, policy, action, method, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(host, policy, action, method, words):
    plan = plan_host(facts(**host), policy)
    assert plan["action"] == action
    assert plan["method"] == method
    assert words in f"{plan['reason']} {plan['manual']}"


def test_plan_carries_what_the_roles_need():
    plan = plan_host(facts(), Policy())
    assert plan["bin_dir"] == "D:\\SMS\\bin\\i386"
    assert plan["services"][0] == "SMS_SITE_COMPONENT_MANAGER"  # KB Q199816: it restarts the others
    assert plan["wmi_service"] == "Winmgmt"
    assert plan["versions"] == {"Baseutil.dll": "2.00.1493.3000", "Distmgr.dll": "2.00.1493.3000"}


def test_malformed_policy_names_the_variable():
    with pytest.raises(PolicyError, match=r"q317061_strategy: must be one of auto, hotfix, workaround, audit \(got 'yolo'\)"):
        policy_from_vars({"q317061_strategy": "yolo"})


def test_policy_defaults_and_string_booleans():
    assert policy_from_vars({}) == Policy(strategy="auto", allow_workaround=False, reboot=False, method="manual",
                                          admin_console="close")
    assert policy_from_vars({"q317061_allow_workaround": "yes", "q317061_reboot": "False"}).allow_workaround is True
    assert policy_from_vars({"q317061_strategy": "", "q317061_reboot": ""}) == Policy()  # unanswered survey fields


@pytest.mark.parametrize("plan, result, error, attempted, outcome, summary", [
    ({"action": "hotfix", "reason": "hotfix, manual method"},
     {"changed": True, "before": {"Distmgr.dll": "2.00.1493.3000"}, "after": {"Distmgr.dll": "2.00.1493.3240"}},
     None, True, "changed", "hotfix, manual method: Distmgr.dll 2.00.1493.3000 -> 2.00.1493.3240"),
    ({"action": "hotfix", "reason": "hotfix"}, {"changed": False}, None, True, "unchanged", "hotfix: nothing to change"),
    ({"action": "hotfix", "reason": "hotfix"}, {}, "Service 'SMS_EXECUTIVE' cannot be stopped", True, "failed",
     "hotfix FAILED: Service 'SMS_EXECUTIVE' cannot be stopped"),
    ({"action": "workaround", "reason": "workaround"}, None, None, False, "not_attempted", "not attempted"),
    ({"action": "manual", "reason": "manual action needed: x", "manual": "install the HRP"}, None, None, True,
     "manual", "manual action needed: x; next: install the HRP"),
    ({"action": "none", "reason": "left untouched: the host is fixed"}, None, None, False, "unchanged",
     "left untouched"),
    # A precondition (the console, a DLL in use, another run's lock) stopped it and nothing changed: a person's turn.
    ({"action": "hotfix", "reason": "hotfix"}, {"refused": True, "changed": False}, "Baseutil.dll is still in use",
     True, "refused", "hotfix refused before any change, a person is needed: Baseutil.dll is still in use"),
    # ... but a refusal after a change is no refusal: it failed.
    ({"action": "hotfix", "reason": "hotfix"}, {"refused": True, "changed": True}, "in use", True, "failed",
     "hotfix FAILED: in use"),
    ({"action": "manual", "refused": True, "reason": "refused before any change: the work folder is on M:",
      "manual": "set q317061_work_dir"}, None, None, True, "refused", "the work folder is on M:; next: set"),
    # A recovery by the first probe is a change of this run, whatever followed it.
    ({"action": "none", "reason": "left untouched: the host is fixed",
      "recovered": {"phase": "restarting", "action": "roll_forward"}}, None, None, True, "changed",
     "recovered a transaction interrupted during phase restarting (roll forward); then left untouched"),
])
def test_change_record(plan, result, error, attempted, outcome, summary):
    record = change_record(plan, result, error, attempted)
    assert record["outcome"] == outcome
    assert summary in record["summary"]
    assert record["changed"] is (outcome == "changed" or bool((result or {}).get("changed")))


def test_a_recovery_before_a_refusal_keeps_the_refusal_and_says_what_changed():
    record = change_record({"action": "manual", "reason": "manual action needed: x", "manual": "y",
                            "recovered": {"phase": "replacing", "action": "roll_back"}})
    assert (record["outcome"], record["changed"]) == ("manual", True)
    assert record["summary"].startswith("recovered a transaction interrupted during phase replacing (roll back); then")


def test_over_smb_only_the_manual_method_works():
    plan = plan_host(dict(facts(), transport="smb"), Policy(method="installer"))
    assert (plan["action"], plan["method"]) == ("hotfix", "manual")
    assert "only the manual method works over smb" in plan["reason"] and plan["rollback"] is True


@pytest.mark.parametrize("result, status, words", [
    ({"ansible_facts": {"q317061": {"status": "vulnerable"}}}, "vulnerable", None),
    ({"unreachable": True, "msg": "timed out"}, "unreachable", "Host unreachable: timed out"),
    ({"failed": True, "q317061_unreachable": True, "msg": "refused"}, "unreachable", "Host unreachable: refused"),
    ({"failed": True, "msg": "Access is denied", "ansible_facts": {"q317061": {"status": "fixed"}}}, "unknown",
     "Probe failed: Access is denied"),  # a failed result's facts are never trusted
    (None, "unknown", "Probe failed: no result"),
])
def test_a_host_that_could_not_be_checked_is_planned_from_its_error(result, status, words):
    got = facts_from_result(result)
    assert got["status"] == status
    if words:
        assert got["reasons"] == [words]
        assert plan_host(got, Policy())["action"] == "manual"


@pytest.mark.parametrize("work_dir, transport, words", [
    ("C:\\SMSFleet\\Q317061", "winrm", None),
    ("D:\\Work", "winrm", None),
    ("M:\\SMSFleet", "winrm", "is on the Exchange IFS drive M:"),
    ("m:\\SMSFleet", "smb", "is on the Exchange IFS drive M:"),
    ("Z:\\SMSFleet", "winrm", "Z:, a drive this host does not have"),
    ("E:\\SMSFleet", "winrm", "E:, a cdrom drive, not a local fixed disk"),
    ("E:\\SMSFleet", "smb", "E:, a cdrom drive"),
])
def test_a_work_folder_the_hotfix_cannot_use_refuses_the_host_before_any_change(work_dir, transport, words):
    host = facts(drives=[drive("C", 2**30), drive("D", 2**31), drive("E", 0, type="cdrom", fs=None),
                         drive("M", 2**32, target="\\??\\BackOfficeStorage")])
    plan = plan_host(dict(host, transport=transport), Policy(), work_dir)
    if words is None:
        assert plan["action"] == "hotfix" and not plan.get("refused")
        return
    assert plan["action"] == "manual" and plan["refused"] is True and words in plan["reason"], plan["reason"]
    assert "set q317061_work_dir for this host" in plan["manual"]
    record = change_record(plan)
    assert record["outcome"] == "refused" and not record["changed"]  # a person acts; no wave failure


def test_over_smb_a_work_folder_needs_an_administrative_share():
    no_share = {"letter": "F", "type": None, "file_system": None, "label": None, "size": None, "free": None,
                "target": None}
    host = facts(drives=[dict(drive("C", 2**30), target=None), no_share])
    plan = plan_host(dict(host, transport="smb"), Policy(), "F:\\Work")
    assert plan["refused"] and "no administrative share (F$) over smb" in plan["reason"]
    assert plan_host(dict(host, transport="smb"), Policy(), "C:\\Work")["action"] == "hotfix"


def test_the_work_folder_matters_only_to_the_hotfix():
    plan = plan_host(facts(**SP4), Policy(allow_workaround=True), "Z:\\Nowhere")
    assert plan["action"] == "workaround" and not plan.get("refused")


@pytest.mark.parametrize("session, setting, refused", [
    ({"signed": False}, "required", True),
    ({"signed": False}, "preferred", False),
    ({"signed": True}, "required", False),
])
def test_over_smb_an_unsigned_session_is_refused_only_where_signing_is_required(session, setting, refused):
    host = dict(facts(), transport="smb", session=session)
    plan = plan_host(host, Policy(smb_signing=setting))
    assert bool(plan.get("refused")) is refused
    if refused:
        assert plan["action"] == "manual" and "unsigned SMB session" in plan["reason"]
        assert "EnableSecuritySignature = 1" in plan["manual"] and change_record(plan)["outcome"] == "refused"
    else:
        assert plan["action"] == "hotfix" and plan["signed"] is session["signed"]


def test_a_change_over_an_unsigned_session_says_so_and_winrm_is_not_judged():
    plan = plan_host(dict(facts(), transport="smb", session={"signed": False}), Policy())
    record = change_record(plan, {"changed": True, "before": {"Distmgr.dll": "a"}, "after": {"Distmgr.dll": "b"}})
    assert record["signed"] is False and "made over an unsigned SMB session" in record["summary"]
    winrm = plan_host(dict(facts(), transport="winrm", session={"signed": None}), Policy(smb_signing="required"))
    assert winrm["action"] == "hotfix" and winrm["signed"] is None
    assert "unsigned" not in change_record(winrm, {"changed": True})["summary"]
