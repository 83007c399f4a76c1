"""awx/content.yml held to AWX's own rules, as AWX's API applies them (ansible/awx: awx/api/views
JobTemplateSurveySpec._validate_spec_data, awx/main/models/mixins.py _survey_element_validation and
_update_unified_job_kwargs, awx/main/models/jobs.py and the JobTemplate serializers), and every
survey answer AWX can pass checked against the collection's own variable rules."""

import pathlib
import re

import pytest
import yaml
from ansible.parsing.utils.yaml import from_yaml

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import variables
from awx_rules import SurveyError, answer_errors, extra_vars, node_extra_vars, spec_errors, ui_answers, workflow_run

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTENT = from_yaml((ROOT / "awx" / "content.yml").read_text())["q317061_awx"]  # Ansible's loader: it knows !unsafe
JOB_TYPES = ("run", "check")
ASK_FIELDS = {"ask_limit_on_launch", "ask_job_slice_count_on_launch", "ask_variables_on_launch",
              "ask_inventory_on_launch", "ask_diff_mode_on_launch"}
TEMPLATE_FIELDS = {"name", "description", "playbook", "job_type", "use_fact_cache", "job_slice_count", "diff_mode",
                   "extra_vars", "survey", "forks", "verbosity", "limit", "timeout"} | ASK_FIELDS


@pytest.mark.parametrize("name", sorted(CONTENT["surveys"]))
def test_each_survey_passes_awxs_spec_validation(name):
    survey = CONTENT["surveys"][name]
    if "spec" not in survey:  # a shared question, used by the surveys below
        return
    assert spec_errors(survey) == []
    for question in survey["spec"]:
        assert re.fullmatch(r"q317061_[a-z0-9_]+", question["variable"]), question["variable"]
        assert question["variable"] in variables.RULES, f"{question['variable']} is not checked by q317061_settings"
        if question["type"] in ("multiplechoice", "multiselect"):
            assert isinstance(question["choices"], list)  # a string would make AWX test defaults by substring


def every_answer(question):
    """Answers AWX lets through for a question: its default, each choice, the bounds, or nothing."""
    kind = question["type"]
    if kind == "multiplechoice":
        return [[c] for c in question["choices"]] + [[]]
    if kind == "integer":
        bounds = [question.get("min"), question.get("max"), question.get("default")]
        return [[b] for b in bounds if isinstance(b, int)] + [[]]
    return [[question.get("default", "")], []]


@pytest.mark.parametrize("name", [n for n, s in CONTENT["surveys"].items() if "spec" in s])
def test_every_answer_awx_passes_is_accepted_by_the_variable_rules(name):
    survey = CONTENT["surveys"][name]
    required = {q["variable"]: "/srv/hotfixes/Q317061" for q in survey["spec"] if q["required"] and "default" not in q}
    for question in survey["spec"]:
        for answer in every_answer(question):
            given = dict(ui_answers(survey, **required))
            given.pop(question["variable"], None)
            if answer:
                given[question["variable"]] = answer[0]
            if not answer and question["required"]:
                with pytest.raises(SurveyError, match="value missing"):
                    extra_vars(survey, given)
                continue
            if answer and answer_errors(question, answer[0]):
                continue  # AWX itself refuses it at launch
            passed = extra_vars(survey, given)
            value = passed.get(question["variable"])
            if question["variable"] == "q317061_hotfix_source" and not value:
                continue
            variables.normalise(question["variable"], value)  # raises VariableError if refused


def test_awx_passes_answers_as_their_types_and_leaves_unanswered_optional_ones_out():
    survey = CONTENT["surveys"]["remediate"]
    passed = extra_vars(survey, ui_answers(survey, q317061_hotfix_source="/srv/hotfixes/Q317061",
                                           q317061_max_fail_percentage=25))
    assert passed["q317061_max_fail_percentage"] == 25 and passed["q317061_serial"] == "1,25%,100%"
    assert passed["q317061_allow_workaround"] == "false" and "q317061_sp4_hrp_revision" not in passed
    assert passed["q317061_hotfix_archive_sha256"] == ""  # left empty: the server applies its default ""
    run, errors = variables.settings(passed, scope="run")
    assert errors == [] and run["serial"] == [1, "25%", "100%"] and run["max_fail_percentage"] == 25
    with pytest.raises(SurveyError, match="expected to be an integer"):
        extra_vars(survey, ui_answers(survey, q317061_hotfix_source="x", q317061_max_fail_percentage="25"))


def one(**question):
    """A survey of one question, with AWX's required keys filled in."""
    base = {"question_name": "q", "variable": "v", "required": False}
    return {"name": "x", "description": "", "spec": [dict(base, **question)]}


@pytest.mark.parametrize("bad, words", [
    ({"name": "x", "description": "", "spec": []}, "doesn't contain any items"),
    (one(type="text", required="false"), "expected to be boolean"),
    (one(type="boolean"), "allowed types"),
    (one(type="integer", default="5"), "expected to be int"),
    (one(type="text", min=""), "min limit"),
    (one(type="multiplechoice", choices=["a"], default="b"), "not in"),
    ({"name": "x", "description": "", "spec": one(type="text")["spec"] * 2}, "duplicated"),
])
def test_the_rules_themselves_refuse_what_awx_refuses(bad, words):
    assert any(words in e for e in spec_errors(bad)), spec_errors(bad)


def test_job_templates_have_awxs_fields_and_valid_values():
    names = [t["name"] for t in CONTENT["job_templates"]]
    assert len(names) == len(set(names)) and all(len(n) <= 512 for n in names)
    for template in CONTENT["job_templates"]:
        assert set(template) <= TEMPLATE_FIELDS, set(template) - TEMPLATE_FIELDS
        assert template["job_type"] in JOB_TYPES
        assert (ROOT / template["playbook"]).is_file(), template["playbook"]
        assert isinstance(template.get("job_slice_count", 1), int) and template.get("job_slice_count", 1) >= 0
        assert all(isinstance(template[f], bool) for f in ASK_FIELDS & set(template))
        assert isinstance(template.get("extra_vars", {}), dict)
        assert "spec" in CONTENT["surveys"][template["survey"]]
        extra = dict(template.get("extra_vars") or {}, q317061_report_dir=CONTENT["report_dir"])
        assert variables.settings(extra, scope="run")[1] == []
    assert set(CONTENT["credentials"]) == {"machine", "smb"}  # one per kind: AWX refuses two Machine credentials


NODES = CONTENT["workflow"]["nodes"]
TEMPLATES = {t["name"]: t for t in CONTENT["job_templates"]}


def test_the_workflow_is_audit_plan_approval_remediate_audit_report():
    nodes = {n["identifier"]: n for n in NODES}
    assert len(nodes) == len(NODES)
    for node in NODES:
        ujt = node["unified_job_template"]
        if ujt["type"] == "job_template":
            assert ujt["name"] in TEMPLATES
        else:
            assert ujt["type"] == "workflow_approval" and isinstance(ujt["timeout"], int) and ujt["timeout"] >= 0
        for kind in (node.get("related") or {}).values():
            assert all(c["identifier"] in nodes for c in kind)
    assert workflow_run(NODES, {}) == ["audit", "plan", "approval", "remediate", "audit-after", "report"]
    plan = TEMPLATES[nodes["plan"]["unified_job_template"]["name"]]
    assert plan["job_type"] == "check" and plan["diff_mode"] is True


@pytest.mark.parametrize("outcomes, ran", [
    ({"audit": "failed"}, ["audit", "plan", "approval", "remediate", "audit-after", "report"]),  # unknown hosts: rc 2
    ({"plan": "failed"}, ["audit", "plan", "report"]),
    ({"approval": "failed"}, ["audit", "plan", "approval", "report"]),  # denied, or timed out
    ({"remediate": "failed"}, ["audit", "plan", "approval", "remediate", "audit-after", "report"]),
    ({"remediate": "failed", "audit-after": "failed"}, ["audit", "plan", "approval", "remediate", "audit-after", "report"]),
])
def test_the_fleet_report_runs_whatever_failed_and_a_failed_remediation_is_audited_again(outcomes, ran):
    assert workflow_run(NODES, outcomes) == ran


def test_the_campaigns_survey_answers_reach_every_node_as_its_job_would_take_them():
    """The workflow's survey asks the remediation policy once; AWX passes the answers to every node. A launch that
    answers only the bundle (API, CLI, schedule) gives every node what its playbook needs, accepted by the
    collection's own variable rules, and the plan and the remediation the same policy."""
    survey = CONTENT["surveys"][CONTENT["workflow"]["survey"]]
    asked = {q["variable"] for q in survey["spec"]}
    assert {"q317061_hotfix_source", "q317061_targets", "q317061_strategy", "q317061_hotfix_method", "q317061_serial",
            "q317061_max_fail_percentage"} <= asked
    launched = extra_vars(survey, {"q317061_hotfix_source": "/srv/hotfixes/Q317061", "q317061_strategy": "hotfix"})
    policies = {}
    for node in NODES:
        ujt = node["unified_job_template"]
        if ujt["type"] != "job_template":
            continue
        template = TEMPLATES[ujt["name"]]
        job = node_extra_vars(template, CONTENT["surveys"][template["survey"]], launched)
        assert job["q317061_hotfix_source"] == "/srv/hotfixes/Q317061"  # the plan's pre-flight has its bundle
        settings, errors = variables.settings(job, scope="run")
        assert errors == [], (node["identifier"], errors)
        if template["playbook"] == "playbooks/remediate.yml":
            policies[node["identifier"]] = {k: job.get(k) for k in asked}
    assert policies["plan"] == policies["remediate"] and policies["plan"]["q317061_strategy"] == "hotfix"


def test_approvals_failures_and_results_are_told_and_only_the_approver_team_may_approve():
    names = {t["name"] for t in CONTENT["notification_templates"]}
    notifications = CONTENT["workflow"]["notifications"]
    assert set(notifications) == {"approvals", "error", "success"}
    assert all(notifications[kind] and set(notifications[kind]) <= names for kind in notifications)
    for template in CONTENT["notification_templates"]:
        assert template["notification_type"] in ("email", "slack", "webhook", "mattermost", "pagerduty", "grafana",
                                                 "irc", "rocketchat", "twilio", "awssns")
    assert CONTENT["workflow"]["approvers"]
    configure = (ROOT / "awx" / "configure.yml").read_text()
    assert "role: approval" in configure and "update_secrets: false" in configure
    assert "destroy_current_nodes: true" not in configure  # recreating nodes on every run is never idempotent


@pytest.mark.parametrize("name", sorted(n for n, s in CONTENT["surveys"].items() if "spec" in s))
def test_no_question_is_required_and_has_a_default_so_api_and_schedule_launches_work(name):
    """AWX applies a required question's default in its launch form only: from the API, the CLI or a schedule the
    launch is refused without the answer. Every launch path must work with the bundle's answer alone."""
    survey = CONTENT["surveys"][name]
    assert [q["variable"] for q in survey["spec"] if q["required"] and "default" in q] == []
    answers = {q["variable"]: "/srv/hotfixes/Q317061" for q in survey["spec"] if q["required"]}
    sent = extra_vars(survey, answers)  # what an API launch with only the required answers becomes
    assert all(q["variable"] in sent for q in survey["spec"] if q.get("default") not in (None, "") or q["required"])


def test_the_nightly_audit_is_scheduled_and_launches_without_any_answer():
    """A schedule sends no survey answers: the audit it launches must need none, and the rule must be one AWX takes
    (DTSTART with a time zone, then one RRULE)."""
    schedules = CONTENT["schedules"]
    assert [s["unified_job_template"] for s in schedules] == ["Q317061 audit"]
    for schedule in schedules:
        assert re.fullmatch(r"DTSTART;TZID=[A-Za-z/_]+:\d{8}T\d{6} RRULE:FREQ=DAILY(;INTERVAL=\d+)?", schedule["rrule"])
        template = TEMPLATES[schedule["unified_job_template"]]
        job = extra_vars(CONTENT["surveys"][template["survey"]], {}, template.get("extra_vars"))
        assert variables.settings(job, scope="run")[1] == []


def test_the_smb_credential_type_injects_what_the_connection_reads_below_the_inventory():
    """Each injected name is an environment variable of the smsfleet.q317061.smb connection (which Ansible ranks
    below every inventory variable), each input has its injector, and AWX's rendering of a boolean is accepted."""
    import ast

    from ansible_collections.smsfleet.q317061.plugins.plugin_utils.transport import strict_bool

    source = (ROOT / "plugins" / "connection" / "smb.py").read_text()
    doc = next(n.value.value for n in ast.parse(source).body if isinstance(n, ast.Assign) and n.targets[0].id == "DOCUMENTATION")
    env_names = {e["name"] for option in yaml.safe_load(doc)["options"].values() for e in option.get("env", [])}
    (kind,) = CONTENT["credential_types"]
    assert kind["kind"] in ("cloud", "net")  # the only kinds AWX lets a custom type have
    fields = {f["id"]: f for f in kind["inputs"]["fields"]}
    injected = kind["injectors"]["env"]
    assert set(injected) <= env_names, set(injected) - env_names
    assert {re.fullmatch(r"\{\{ (\w+) \}\}", v).group(1) for v in injected.values()} == set(fields)
    assert all(strict_bool(str(value)) is value for value in (True, False))  # AWX renders "True" / "False"
    assert set(kind["credential_inputs"]) <= set(fields) and kind["credential_inputs"]["auth"] in fields["auth"]["choices"]
    assert CONTENT["credentials"]["smb"]


def test_the_inventory_awx_syncs_from_the_project_needs_no_vault_and_leaves_the_account_to_the_machine_credential(
        tmp_path):
    """An inventory source cannot decrypt a vault file (AWX issue 4089): the production inventory as shipped
    parses with no vault secret, and names no account, so the Machine credential's -u/-k reach every host.
    A shell user's copied account.yml does name it."""
    import json
    import shutil
    import subprocess
    import sys

    inventory = ROOT / "inventories" / "production"
    for path in inventory.rglob("*"):
        assert not (path.is_file() and path.read_bytes().startswith(b"$ANSIBLE_VAULT")), path
    listing = subprocess.run([pathlib.Path(sys.executable).parent / "ansible-inventory", "-i", str(inventory / "hosts.yml"),
                              "--list"], capture_output=True, text=True, check=True, cwd=tmp_path,
                             env={"PATH": "/usr/bin:/bin", "ANSIBLE_HOME": str(tmp_path)})
    hostvars = json.loads(listing.stdout)["_meta"]["hostvars"]
    assert hostvars and all("ansible_user" not in v and "ansible_password" not in v for v in hostvars.values())
    copy = tmp_path / "production"
    shutil.copytree(inventory, copy)
    for group in ("site_servers", "windows2000"):
        shutil.copy(copy / "group_vars" / group / "account.yml.example", copy / "group_vars" / group / "account.yml")
    listing = subprocess.run([pathlib.Path(sys.executable).parent / "ansible-inventory", "-i", str(copy / "hosts.yml"),
                              "--list"], capture_output=True, text=True, check=True, cwd=tmp_path,
                             env={"PATH": "/usr/bin:/bin", "ANSIBLE_HOME": str(tmp_path)})
    hostvars = json.loads(listing.stdout)["_meta"]["hostvars"]
    users = {v["ansible_connection"]: v["ansible_user"] for v in hostvars.values()}
    assert users == {"winrm": "svc-smsfleet@CORP.EXAMPLE.COM", "smsfleet.q317061.smb": "CORP\\svc-smsfleet"}


def test_the_plan_nodes_approval_reaches_the_remediation_below_the_workflows_answers():
    """AWX passes the check-mode node's artifacts (set_stats) as extra vars to the nodes after it: the remediate node
    gets q317061_approved_plan, which the settings check accepts and no survey answer can replace."""
    from ansible_collections.smsfleet.q317061.plugins.plugin_utils import approval

    survey = CONTENT["surveys"][CONTENT["workflow"]["survey"]]
    launched = extra_vars(survey, {"q317061_hotfix_source": "/srv/hotfixes/Q317061"})
    assert "q317061_approved_plan" not in {q["variable"] for q in survey["spec"]}
    plan = approval.proposal({"smsp01": {"action": "hotfix", "status": "affected"}})
    nodes = {n["identifier"]: n for n in NODES}
    assert nodes["plan"]["related"]["success_nodes"] == [{"identifier": "approval"}]
    template = TEMPLATES[nodes["remediate"]["unified_job_template"]["name"]]
    job = node_extra_vars(template, CONTENT["surveys"][template["survey"]], launched,
                          artifacts={"q317061_approved_plan": plan, "q317061_summary": {"hosts": 1}})
    settings, errors = variables.settings(job, scope="run")
    assert errors == [] and settings["approved_plan"] == plan
    playbook = (ROOT / "playbooks" / "remediate.yml").read_text()
    assert "q317061_approved_plan:" in playbook and "when: q317061_run.run.check_mode" in playbook
