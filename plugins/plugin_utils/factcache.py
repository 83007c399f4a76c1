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
