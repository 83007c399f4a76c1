"""awx/configure.yml against a stand-in of AWX's REST API (tests/integration/awx_api.py), run twice as an
administrator runs it: the first run creates every object content.yml names, wired as the campaign needs
it (the workflow's nodes and edges, its survey, notifications and approval role, the templates' surveys
and credentials, the schedule); the second run reports nothing changed, leaves AWX's data as they
were, and sends one PATCH only: awx.awx.inventory always sends `kind: null`, which AWX shows as "" (its
CharNullField), so the module patches and then finds nothing changed."""

import copy
import os
import re
import subprocess
import sys

import pytest
import yaml
from ansible.parsing.utils.yaml import from_yaml
from awx_api import StandIn

from conftest import ROOT

BIN = os.path.dirname(sys.executable)
CONTENT = from_yaml((ROOT / "awx" / "content.yml").read_text())["q317061_awx"]  # Ansible's loader: it knows !unsafe


def configure(awx, tmp_path):
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(yaml.safe_dump({"smsfleet_awx_account": "LAB\\svc-sms", "smsfleet_awx_password": "S3cret-pw!"}))
    env = dict(os.environ, CONTROLLER_HOST=awx.url, CONTROLLER_USERNAME="admin", CONTROLLER_PASSWORD="admin-pw",
               CONTROLLER_VERIFY_SSL="false", ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               PATH=f"{BIN}:{os.environ['PATH']}")
    run = subprocess.run([f"{BIN}/ansible-playbook", "awx/configure.yml", "-e", f"@{secrets}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", run.stdout)
    assert run.returncode == 0 and recap, run.stdout[-4000:] + run.stderr[-2000:]
    return run, int(recap.group(2))


def inventory_org(api):
    return named(api, "organizations", CONTENT["organization"])["id"]


def named(api, endpoint, name, field="name"):
    found = [o for o in api.objects[endpoint].values() if o.get(field) == name]
    assert len(found) == 1, (endpoint, name, found)
    return found[0]


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("awx")
    with StandIn() as awx:
        first, first_changed = configure(awx, tmp_path)
        before, stored = len(awx.api.requests), state(awx.api)
        second, second_changed = configure(awx, tmp_path)
        assert state(awx.api) == stored, "the second run changed what AWX stores"
        yield awx.api, first, first_changed, second, second_changed, awx.api.requests[before:]


def state(api):
    return copy.deepcopy((api.objects, api.associations, api.surveys, api.roles))


def test_a_second_run_changes_nothing(configured):
    api, first, first_changed, second, second_changed, second_requests = configured
    assert first_changed > 0
    assert second_changed == 0, second.stdout[-6000:]
    created = [p for m, p, dummy in second_requests if m == "POST" and "tokens" not in p]
    assert created == [], created  # nothing created, associated or granted again
    inventory = named(api, "inventories", CONTENT["inventory"]["name"])["id"]
    patched = [(p, body) for m, p, body in second_requests if m == "PATCH"]
    wanted = {"name": CONTENT["inventory"]["name"], "organization": inventory_org(api), "kind": None, "host_filter": None}
    assert patched == [(f"/api/v2/inventories/{inventory}/", wanted)], patched


def test_the_workflow_is_wired_as_content_yml_says(configured):
    api = configured[0]
    workflow = named(api, "workflow_job_templates", CONTENT["workflow"]["name"])
    nodes = {n["identifier"]: n for n in api.objects["workflow_job_template_nodes"].values()
             if n["workflow_job_template"] == workflow["id"]}
    assert set(nodes) == {n["identifier"] for n in CONTENT["workflow"]["nodes"]}
    by_id = {n["id"]: i for i, n in nodes.items()}
    for node in CONTENT["workflow"]["nodes"]:
        for edge in ("success_nodes", "failure_nodes", "always_nodes"):
            wanted = {n["identifier"] for n in node.get("related", {}).get(edge, [])}
            linked = api.associations.get(("workflow_job_template_nodes", nodes[node["identifier"]]["id"], edge), [])
            assert {by_id[i] for i in linked} == wanted, (node["identifier"], edge)
    approval = api.objects["workflow_approval_templates"][nodes["approval"]["unified_job_template"]]
    assert approval["timeout"] == 86400
    assert api.surveys[("workflow_job_templates", workflow["id"], "survey_spec")]["spec"] == CONTENT["surveys"]["campaign"]["spec"]
    mail = named(api, "notification_templates", "Q317061 campaign mail")["id"]
    for kind in ("approvals", "error", "success"):
        assert api.associations[("workflow_job_templates", workflow["id"], f"notification_templates_{kind}")] == [mail]
    team = named(api, "teams", CONTENT["workflow"]["approvers"])
    role = workflow["_roles"]["approval"]
    assert api.associations[("roles", role, "teams")] == [team["id"]]


def test_each_template_has_its_survey_credentials_and_the_schedule_its_template(configured):
    api = configured[0]
    machine = named(api, "credentials", CONTENT["credentials"]["machine"])
    smb = named(api, "credentials", CONTENT["credentials"]["smb"])
    assert machine["inputs"] == {"username": "LAB\\svc-sms", "password": "S3cret-pw!"}
    for template in CONTENT["job_templates"]:
        stored = named(api, "job_templates", template["name"])
        assert api.surveys[("job_templates", stored["id"], "survey_spec")] == CONTENT["surveys"][template["survey"]]
        assert api.associations[("job_templates", stored["id"], "credentials")] == [machine["id"], smb["id"]]
        assert stored["survey_enabled"] and stored["playbook"] == template["playbook"]
    schedule = named(api, "schedules", CONTENT["schedules"][0]["name"])
    assert schedule["unified_job_template"] == named(api, "job_templates", "Q317061 audit")["id"]


def test_no_secret_reaches_the_output(configured):
    dummy, first, dummy, second, dummy, dummy = configured
    assert "S3cret-pw!" not in first.stdout + first.stderr + second.stdout + second.stderr
