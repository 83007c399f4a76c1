"""The verdicts in a jsonfile fact cache, in the layouts AWX and ansible-core use (no Ansible import).

AWX passes facts between jobs through its database: before a job it writes each host's facts to
`<fact cache dir>/<host name>` (plain JSON), after it reads the same files back. ansible-core 2.19
and later keep their jsonfile cache under `s1_<host>` instead, wrapped as {"__payload__": "<json>"},
so AWX no longer sees what a job cached (ansible/ansible#85874). The audit therefore also writes
its verdict into `<dir>/<host name>` (keeping whatever else that file holds), and the report from
the fact cache reads either layout.
"""

from __future__ import annotations

import json
import os
import tempfile

JSONFILE = ("jsonfile", "ansible.builtin.jsonfile", "ansible.legacy.jsonfile")


def plain(value):
    """value in plain JSON types: no str or int subclass left.

    What an action copies from its arguments carries ansible-core's data tags (where in the inventory a value
    came from, whether a string may be templated). Ansible's fact cache stores every tag beside its value and
    decodes them all again at each read of the host's variables, several reads per host and task: a hotfix
    host's facts with fifteen tags took 1.8 ms a read on this machine, the same facts plain 0.1 ms, and at
    fleet scale the controller's one process does those reads. A fact is data, never a template, so
    nothing of value is lost.
    """
    return json.loads(json.dumps(value))


def plain_facts(result: dict) -> dict:
    """An action's result with its ansible_facts (if any) made plain(); the result itself, changed in place."""
    if isinstance(result.get("ansible_facts"), dict):
        result["ansible_facts"] = plain(result["ansible_facts"])
    return result


def _read(path: str):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("__payload__"), str):  # ansible-core >= 2.19
        try:
            data = json.loads(data["__payload__"])
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def write_verdict(directory: str, host: str, facts: dict) -> str:
    """Store `q317061` in AWX's file for the host; returns its path."""
    path = os.path.join(directory, host)
    data = _read(path) or {}
    data["q317061"] = facts
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=f".{host}.", delete=False, encoding="utf-8") as out:
        json.dump(data, out, default=str)
    os.replace(out.name, path)
    return path


def read_verdict(directory: str, host: str, prefix: str = "") -> dict | None:
    """A host's cached `q317061` facts from AWX's plain file or ansible-core's own entry."""
    for name in (host, f"{prefix}{host}", f"s1_{prefix}{host}"):
        data = _read(os.path.join(directory, name))
        facts = (data or {}).get("q317061") or ((data or {}).get("ansible_facts") or {}).get("q317061")
        if isinstance(facts, dict):
            return facts
    return None
