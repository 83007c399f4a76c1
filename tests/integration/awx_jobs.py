"""Run awx/content.yml's job templates the way AWX runs them, with ansible-runner (ansible/awx,
awx/main/tasks/jobs.py RunJob; awx/main/tasks/facts.py; awx/main/models/inventory.py):

- a private data dir with the project, a static inventory, env/extravars from the survey answers
  (tests/unit/awx_rules.py: template vars, valid defaults, then answers), the Limit, and for
  check-mode templates `--check` (and `--diff`);
- slicing: hosts sorted by name, slice k of N gets positions k-1, k-1+N, ...; every group stays, with
  its vars, holding only the slice's hosts;
- the fact cache: before a job AWX writes each of the job's hosts' facts from its database to
  `<artifacts>/<ident>/fact_cache/<host>`, and after it reads those files back (a file not rewritten
  keeps the host's facts; a missing one clears them), the database being here a dict.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import sys
import time

import ansible_runner
import yaml
from ansible.parsing.utils.yaml import from_yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "unit"))
from awx_rules import extra_vars, node_extra_vars, ui_answers  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTENT = from_yaml((ROOT / "awx" / "content.yml").read_text())["q317061_awx"]  # Ansible's loader: it knows !unsafe


def template(name: str) -> dict:
    return next(t for t in CONTENT["job_templates"] if t["name"] == name)


def static_inventory(lab) -> dict:
    """The lab's inventory as AWX holds it: groups with their vars and children, hosts with hostvars."""
    return yaml.safe_load(lab.inventory.read_text())


def _hosts(inventory: dict) -> dict:
    found = {}

    def walk(group):
        for name, hostvars in (group.get("hosts") or {}).items():
            found[name] = hostvars or {}
        for child in (group.get("children") or {}).values():
            walk(child or {})
    walk(inventory["all"])
    return found


def sliced(inventory: dict, number: int, count: int) -> dict:
    """AWX's slice `number` of `count`: every group kept, only this slice's hosts in them."""
    names = sorted(_hosts(inventory))
    keep = set(names[number - 1::count]) if count > 1 else set(names)
    out = copy.deepcopy(inventory)

    def prune(group):
        if group.get("hosts"):
            group["hosts"] = {h: v for h, v in group["hosts"].items() if h in keep}
        for child in (group.get("children") or {}).values():
            prune(child or {})
    prune(out["all"])
    return out


class FactDatabase:
    """AWX's Host.ansible_facts, with start_fact_cache and finish_fact_cache around each job."""

    def __init__(self):
        self.facts: dict[str, dict] = {}

    def start(self, directory: pathlib.Path, hosts) -> float:
        directory.mkdir(parents=True, exist_ok=True)
        for host in hosts:
            if host in self.facts:
                path = directory / host
                path.write_text(json.dumps(self.facts[host]))
                os.chmod(path, 0o600)
        return time.time()

    def finish(self, directory: pathlib.Path, hosts, written_at: float) -> None:
        for host in hosts:
            path = directory / host
            if not path.exists():
                self.facts[host] = {}  # AWX clears the facts of a host whose file is gone
            elif path.stat().st_mtime > written_at or host not in self.facts:
                try:
                    self.facts[host] = json.loads(path.read_text())
                except ValueError:
                    pass


def run_job(tmp: pathlib.Path, name: str, lab, answers: dict | None = None, limit: str | None = None,
            slice_number: int = 1, slice_count: int = 1, facts: FactDatabase | None = None, ident: str = "1",
            upstream: dict | None = None, variables: dict | None = None):
    """One AWX job of the named template; returns the ansible-runner result. `upstream`: the artifacts of the
    workflow nodes before it, which AWX passes as extra vars (below the survey's answers). `variables`: the
    job's whole extra vars, as a workflow node gets them (run_campaign), instead of a launch form's answers."""
    tpl = template(name)
    survey = CONTENT["surveys"][tpl["survey"]]
    if variables is None:
        base = dict(tpl.get("extra_vars") or {}, q317061_report_dir=str(tmp / "reports"))  # the volume mount
        variables = dict(upstream or {}, **extra_vars(survey, ui_answers(survey, **(answers or {})), template_vars=base))
    data = tmp / f"job-{ident}"
    (data / "env").mkdir(parents=True)
    (data / "project").symlink_to(ROOT)  # AWX copies the project revision into the job's private data dir
    (data / "inventory").mkdir()
    inventory = sliced(static_inventory(lab), slice_number, slice_count)
    (data / "inventory" / "hosts.json").write_text(json.dumps(inventory))
    hosts = sorted(_hosts(inventory))
    fact_dir = data / "artifacts" / ident / "fact_cache"
    written = facts.start(fact_dir, hosts) if facts is not None and tpl.get("use_fact_cache") else None
    cmdline = " ".join((["--check"] if tpl["job_type"] == "check" else []) + (["--diff"] if tpl.get("diff_mode") else []))
    env = {k: v for k, v in lab.env.items() if k != "ANSIBLE_CONFIG"}  # AWX runs in the project: its ansible.cfg
    runner = ansible_runner.run(
        private_data_dir=str(data), playbook=tpl["playbook"], inventory=str(data / "inventory" / "hosts.json"),
        extravars=variables, limit=limit, ident=ident, cmdline=cmdline or None, envvars=env, quiet=True,
        fact_cache_type="jsonfile" if tpl.get("use_fact_cache") else "", json_mode=False)
    if written is not None:
        facts.finish(fact_dir, hosts, written)
    runner.variables = variables
    runner.private_data_dir = data
    return runner


def run_campaign(tmp: pathlib.Path, lab, answers: dict, approvals: dict | None = None) -> list[tuple]:
    """The "Q317061 campaign" workflow launched through the API with `answers` to its survey, as AWX runs it:
    its nodes in the order its DAG fires them (awx_rules.workflow_run's rules: success, failure and always
    edges), each job with the extra vars AWX gives a node (the template's, its survey's defaults, the artifacts
    of the jobs before it, the workflow's answers above all), one fact cache (AWX's database) for every job.
    An approval node is decided by `approvals` (identifier -> "successful" or "failed"; approved by default).
    Returns [(identifier, status, job or None)] in the order the nodes ran."""
    nodes = {n["identifier"]: n for n in CONTENT["workflow"]["nodes"]}
    workflow_vars = extra_vars(CONTENT["surveys"][CONTENT["workflow"]["survey"]], answers)
    parents = {c["identifier"] for n in nodes.values() for edges in (n.get("related") or {}).values() for c in edges}
    todo, ran, upstream, facts = [i for i in nodes if i not in parents], [], {}, FactDatabase()
    while todo:
        ident = todo.pop(0)
        if any(ident == done for done, dummy, dummy in ran):
            continue
        ujt = nodes[ident]["unified_job_template"]
        job = None
        if ujt["type"] == "workflow_approval":
            status = (approvals or {}).get(ident, "successful")
        else:
            tpl = template(ujt["name"])
            own = dict(tpl, extra_vars=dict(tpl.get("extra_vars") or {}, q317061_report_dir=str(tmp / "reports")))
            variables = node_extra_vars(own, CONTENT["surveys"][tpl["survey"]], workflow_vars, upstream)
            job = run_job(tmp, ujt["name"], lab, facts=facts, ident=ident, variables=variables)
            status = job.status
            upstream.update(artifacts(job))
        ran.append((ident, status, job))
        related = nodes[ident].get("related") or {}
        todo += [c["identifier"] for c in related.get("always_nodes", []) + related.get(
            "success_nodes" if status == "successful" else "failure_nodes", [])]
    return ran


def artifacts(runner) -> dict:
    """What AWX stores as the job's artifacts: set_stats data of the playbook_on_stats event."""
    for event in runner.events:
        if event.get("event") == "playbook_on_stats":
            return event["event_data"].get("artifact_data") or {}
    return {}
