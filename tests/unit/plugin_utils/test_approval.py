"""Holding a real run to the plan that was approved (plugin_utils/approval.py): the same host state and
decision pass, anything that changed what the plan was decided on is refused with the reason."""

import copy

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import approval

PLAN = {"action": "hotfix", "method": "manual", "status": "affected", "platform": "i386",
        "bin_dir": "C:\\SMS\\bin\\i386", "versions": {"Baseutil.dll": "2.00.1493.3000", "Distmgr.dll": "2.00.1493.3000"},
        "exifs_drive": "M", "reboot": False, "reason": "hotfix, manual method", "recovered": None}


def approved(**plans):
    return approval.proposal(plans, "2026-12-07T02:00:00Z")


def test_the_approved_plan_is_carried_out_as_it_was_planned():
    plan = approval.hold(copy.deepcopy(PLAN), "smsp01", approved(smsp01=PLAN))
    assert plan["action"] == "hotfix" and plan["approved"] is True


@pytest.mark.parametrize("change", [
    {"versions": {"Baseutil.dll": "2.00.1493.3240", "Distmgr.dll": "2.00.1493.3000"}},  # one DLL replaced since
    {"status": "pending_reboot"},
    {"exifs_drive": "N"},
    {"method": "installer"},
    {"action": "workaround"},
    {"bin_dir": "D:\\SMS\\bin\\i386"},
    {"reboot": True},
])
def test_a_host_whose_evidence_changed_since_the_approval_is_refused_and_told_why(change):
    now = dict(copy.deepcopy(PLAN), **change)
    plan = approval.hold(now, "smsp01", approved(smsp01=PLAN))
    assert plan["action"] == "manual" and plan["refused"] is True
    assert "changed since the plan was approved" in plan["reason"] and "new check-mode plan" in plan["manual"]


def test_a_host_the_approval_does_not_name_is_refused():
    plan = approval.hold(copy.deepcopy(PLAN), "smsp02", approved(smsp01=PLAN))
    assert plan["refused"] is True and "not in the approved plan" in plan["reason"]


def test_what_decides_nothing_does_not_break_the_approval_and_nothing_to_change_is_never_refused():
    now = dict(copy.deepcopy(PLAN), reason="another wording", recovered={"state": "rolled_back"})
    assert approval.hold(now, "smsp01", approved(smsp01=PLAN))["action"] == "hotfix"
    fixed_since = dict(copy.deepcopy(PLAN), action="none", status="fixed")  # someone fixed it by hand meanwhile
    assert approval.hold(fixed_since, "smsp01", approved(smsp01=PLAN))["action"] == "none"
    assert approval.hold(copy.deepcopy(PLAN), "smsp01", None)["action"] == "hotfix"  # no approval: as planned


def test_the_proposal_names_who_gets_which_change_and_its_digest_ignores_key_order():
    other = dict(PLAN, versions=dict(reversed(list(PLAN["versions"].items()))))
    proposal = approved(smsp01=PLAN, smsp02=dict(PLAN, action="none", status="fixed"), smsp03=other)
    assert proposal["changes"] == {"hotfix": ["smsp01", "smsp03"]}
    assert proposal["hosts"]["smsp01"] == proposal["hosts"]["smsp03"] != proposal["hosts"]["smsp02"]
    assert approval.validate(proposal) is proposal


@pytest.mark.parametrize("bad", [{"version": 2, "hosts": {}}, {"version": 1}, ["smsp01"],
                                 {"version": 1, "hosts": {"smsp01": "ABCDEF0123456789"}}])
def test_anything_but_an_approval_this_collection_wrote_is_refused(bad):
    with pytest.raises(approval.ApprovalError):
        approval.validate(bad)
