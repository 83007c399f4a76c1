"""awx/content.yml's job templates run as AWX runs them (ansible-runner; tests/integration/awx_jobs.py)
against winlab: status and rc, job events and artifacts, the Limit, the fact cache and its round trip
through AWX's database, check-mode reports, and a sliced audit merged into one fleet report."""

import json

from awx_jobs import FactDatabase, artifacts, run_campaign, run_job
from test_remediate import dll_versions


FLEET = """
defaults: {restart_seconds: 1}
groups:
  - name: a
    count: 5
    overrides:
      a-02: {sms: {baseutil: "2.00.1493.3240", distmgr: "2.00.1493.3240"}}
      a-05: {transport: smb}
"""


def report(runner, basename="q317061-audit"):
    path = runner.variables["q317061_report_dir"]
    return {e["host"]: e for e in json.loads(open(f"{path}/{basename}.json").read())["hosts"]}


def test_audit_job_status_events_artifacts_reports_and_the_fact_cache(lab_factory, tmp_path):
    lab = lab_factory(FLEET)
    facts = FactDatabase()
    job = run_job(tmp_path, "Q317061 audit", lab, facts=facts)
    assert (job.status, job.rc) == ("successful", 0), job.stdout.read()[-3000:]
    summary = artifacts(job)["q317061_summary"]
    assert summary["hosts"] == 5 and summary["by_status"]["fixed"] == 1 and summary["check_mode"] is False
    assert summary["report"]["html"].endswith("q317061-audit.html")
    assert set(report(job)) == {f"a-0{i}" for i in range(1, 6)}  # the report outlives the job: it is on the volume
    assert {facts.facts[h]["q317061"]["status"] for h in facts.facts} == {"vulnerable", "fixed"}  # back in AWX's DB
    assert "Lab-Passw0rd" not in json.dumps(summary)


def test_a_limit_narrows_the_hosts_still_reports_and_fails_the_job_when_a_host_failed(lab_factory, bundle, tmp_path):
    lab = lab_factory(FLEET.replace("a-05: {transport: smb}", "a-05: {transport: smb}\n      a-03: {faults: {hang_on_stop: [SMS_EXECUTIVE]}}"))
    answers = {"q317061_hotfix_source": str(bundle), "q317061_serial": "1,25%,100%", "q317061_max_fail_percentage": 100}
    job = run_job(tmp_path, "Q317061 remediate", lab, answers=answers, limit="a-03:a-04:a-05",
                  facts=FactDatabase())
    assert (job.status, job.rc) == ("failed", 2)
    entries = report(job, "q317061-remediation")
    assert set(entries) == {"a-03", "a-04", "a-05"}  # the Limit, and every host of it in the report
    assert entries["a-03"]["change"]["outcome"] == "failed"
    assert entries["a-04"]["status"] == entries["a-05"]["status"] == "fixed"
    assert dll_versions(lab.host_state("a-01"))["Distmgr.dll"] == "2.00.1493.3000"  # outside the Limit: untouched
    assert artifacts(job)["q317061_summary"]["failed"] == ["a-03"]
    assert job.variables["q317061_serial"] == "1,25%,100%"  # a survey's text answer, as AWX passes it


def test_a_check_mode_job_is_labelled_and_never_overwrites_a_real_report(lab_factory, bundle, tmp_path):
    lab = lab_factory(FLEET)
    answers = {"q317061_hotfix_source": str(bundle), "q317061_serial": "100%"}
    real = run_job(tmp_path, "Q317061 remediate", lab, answers=answers, ident="1")
    assert real.status == "successful", real.stdout.read()[-3000:]
    check = run_job(tmp_path, "Q317061 remediate (check mode)", lab, answers=answers, ident="2")
    assert check.status == "successful"
    assert artifacts(check)["q317061_summary"]["check_mode"] is True
    checked = json.loads(open(f"{check.variables['q317061_report_dir']}/q317061-remediation-check.json").read())
    assert checked["check_mode"] is True and "check mode" in checked["title"]
    kept = report(real, "q317061-remediation")
    assert {e["change"]["outcome"] for e in kept.values()} >= {"changed"}  # the real run's report is untouched


def test_the_remediation_after_the_approval_applies_exactly_the_approved_plan(lab_factory, bundle, tmp_path):
    """The campaign: the check-mode node's artifact (the plan) reaches the remediate node as AWX passes it; a host
    that changed in between (SMS upgraded on a-03) is refused and left as it is, the others get what was approved."""
    lab = lab_factory(FLEET)
    answers = {"q317061_hotfix_source": str(bundle), "q317061_serial": "100%"}
    check = run_job(tmp_path, "Q317061 remediate (check mode)", lab, answers=answers, ident="1")
    assert check.status == "successful", check.stdout.read()[-3000:]
    plan = artifacts(check)["q317061_approved_plan"]
    assert plan["changes"] == {"hotfix": ["a-01", "a-03", "a-04", "a-05"]} and set(plan["hosts"]) == {
        f"a-0{i}" for i in range(1, 6)}
    lab.winlab("upgrade", "a-03", "2.00.1493.3100")  # an SMS hotfix of its own, after the approval
    real = run_job(tmp_path, "Q317061 remediate", lab, answers=answers, ident="2", upstream=artifacts(check))
    assert real.status == "failed" and real.rc != 0  # a refused host fails the job by name
    changes = {h: e["change"]["outcome"] for h, e in report(real, "q317061-remediation").items()}
    assert changes == {"a-01": "changed", "a-02": "unchanged", "a-03": "refused", "a-04": "changed",
                       "a-05": "changed"}, changes
    refused = report(real, "q317061-remediation")["a-03"]
    assert "changed since the plan was approved" in json.dumps(refused)
    assert lab.host_state("a-03")["files"]["c:\\sms\\bin\\i386\\distmgr.dll"]["version"] == "2.00.1493.3100"


def test_a_sliced_audit_and_the_report_job_equal_the_unsliced_audit(lab_factory, tmp_path):
    lab = lab_factory(FLEET)
    whole = run_job(tmp_path / "whole", "Q317061 audit", lab, facts=FactDatabase())
    assert whole.status == "successful"
    facts = FactDatabase()
    for number in (1, 2, 3):  # job_slice_count 3: three jobs, each on its own slice, in parallel on AWX
        job = run_job(tmp_path / "sliced", "Q317061 audit", lab, facts=facts, slice_number=number, slice_count=3,
                      ident=f"slice{number}")
        assert job.status == "successful"
        assert artifacts(job)["q317061_summary"]["hosts"] == len(range(number - 1, 5, 3))
    merged = run_job(tmp_path / "sliced", "Q317061 report from the fact cache", lab, facts=facts, ident="report")
    assert merged.status == "successful", merged.stdout.read()[-3000:]
    assert lab.stats()["a-01"]["commands"] == 2  # the report job contacted no host
    keep = ("status", "exposure", "remedies", "versions", "exifs_drive", "reasons", "site")
    got = {h: {k: e[k] for k in keep} for h, e in report(merged).items()}
    want = {h: {k: e[k] for k in keep} for h, e in report(whole).items()}
    assert got == want
    assert {e["source"] for e in report(merged).values()} == {"cache"}


def test_a_campaign_launched_with_only_the_bundle_runs_every_node_to_the_report(lab_factory, bundle, tmp_path):
    """The workflow as AWX runs it, launched through the API with the one required answer: audit, plan (check
    mode), approval (approved), remediate (exactly the approved plan), audit again, the fleet report."""
    lab = lab_factory(FLEET)
    ran = run_campaign(tmp_path, lab, {"q317061_hotfix_source": str(bundle)})
    assert [(node, status) for node, status, dummy in ran] == [
        ("audit", "successful"), ("plan", "successful"), ("approval", "successful"), ("remediate", "successful"),
        ("audit-after", "successful"), ("report", "successful")], [j.stdout.read()[-2000:] for n, s, j in ran if j]
    jobs = {node: job for node, dummy, job in ran}
    assert jobs["remediate"].variables["q317061_approved_plan"] == artifacts(jobs["plan"])["q317061_approved_plan"]
    assert jobs["remediate"].variables["q317061_serial"] == "1,25%,100%"  # the survey's default, on every node
    final = report(jobs["report"])
    assert {h: e["status"] for h, e in final.items()} == {f"a-0{i}": "fixed" for i in range(1, 6)}
    assert {e["source"] for e in final.values()} == {"cache"}  # from the audit-after's facts: no host contacted


def test_a_failed_remediation_is_audited_again_and_reported(lab_factory, bundle, tmp_path):
    lab = lab_factory(FLEET.replace("a-05: {transport: smb}", "a-05: {transport: smb}\n      a-03: {faults: {hang_on_stop: [SMS_EXECUTIVE]}}"))
    ran = run_campaign(tmp_path, lab, {"q317061_hotfix_source": str(bundle), "q317061_serial": "100%"})
    # a-03's SMS Executive will not stop: its change is left unfinished (journal kept for recovery), so the
    # audit after finds it unknown and fails (rc 2); the always edge still reaches the report, which is
    # written whole and fails too (a fleet with an unknown host is no success), and so does the workflow
    assert [(node, status) for node, status, dummy in ran] == [
        ("audit", "successful"), ("plan", "successful"), ("approval", "successful"), ("remediate", "failed"),
        ("audit-after", "failed"), ("report", "failed")]
    final = report(dict((n, j) for n, s, j in ran)["report"])
    assert final["a-03"]["status"] == "unknown" and final["a-01"]["status"] == "fixed"
    assert set(final) == {f"a-0{i}" for i in range(1, 6)}


def test_a_denied_approval_changes_nothing_and_still_reports(lab_factory, bundle, tmp_path):
    lab = lab_factory(FLEET)
    ran = run_campaign(tmp_path, lab, {"q317061_hotfix_source": str(bundle)}, approvals={"approval": "failed"})
    assert [node for node, dummy, dummy in ran] == ["audit", "plan", "approval", "report"]
    assert dll_versions(lab.host_state("a-01"))["Distmgr.dll"] == "2.00.1493.3000"
    assert report(dict((n, j) for n, s, j in ran)["report"])["a-01"]["status"] != "fixed"
