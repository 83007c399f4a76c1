"""The controller's own record of every DLL change it makes to a host (no Ansible import).

A rollback or a recovery trusts this record, never the host's work folder alone: the backups, the
undo copies, the manifest and the journal are files on the host that a local user of a badly set up
server may be able to write. The record holds, per inventory host:

- `originals`: the first originals' SHA-256 (what a rollback restores; kept for ever, as the
  manifest keeps them);
- `installed`: what the last finished change installed;
- `transactions`: the last few transactions started (each one's id, which its journal carries, and
  the SHA-256 of each file before it: what a roll back copies back). More than one: a run may start
  a transaction before the recovery of an older one has succeeded.

It is written before a transaction starts (so a dropped connection or a killed controller still
leaves it) and again when it ends, to `<ANSIBLE_HOME>/smsfleet.q317061/records/<host>.json` (mode 0600;
Ansible's home is ~/.ansible unless configured)
and as the host fact `q317061_record`, so a fact cache (AWX's included) keeps it between jobs:
whichever copy is newer wins.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
import uuid

FACT = "q317061_record"
SCHEMA = 1
KEPT = 5  # transactions remembered per host


def directory(home: str | None = None) -> str:
    """<Ansible's home (ANSIBLE_HOME, ~/.ansible by default)>/smsfleet.q317061/records."""
    home = home or os.environ.get("ANSIBLE_HOME") or os.path.join("~", ".ansible")
    return os.path.join(os.path.expanduser(home), "smsfleet.q317061", "records")


def _path(host: str, home: str | None) -> str:
    return os.path.join(directory(home), re.sub(r"[^A-Za-z0-9._-]", "_", host) + ".json")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _valid(record) -> bool:
    return isinstance(record, dict) and record.get("schema") == SCHEMA and isinstance(record.get("updated"), str)


def load(host: str, fact=None, home: str | None = None) -> dict | None:
    """The newest of the controller file and the fact (a fact cache's copy), or None."""
    found = []
    try:
        with open(_path(host, home), encoding="utf-8") as handle:
            found.append(json.load(handle))
    except (OSError, ValueError):
        pass
    found.append(fact)
    valid = [r for r in found if _valid(r) and r.get("host") == host]
    return max(valid, key=lambda r: r["updated"]) if valid else None


def save(host: str, record: dict, home: str | None = None) -> None:
    folder = directory(home)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".record.", delete=False, encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    os.chmod(handle.name, 0o600)
    os.replace(handle.name, _path(host, home))


def _shas(files: dict) -> dict:
    return {name: str((f or {}).get("sha256") or "").lower() or None for name, f in (files or {}).items()}


def begin(record: dict | None, host: str, state: str, before: dict, after: dict) -> dict:
    """The record as a transaction starts: before/after are {name: {version, sha256}} (the probe's view of
    the DLLs now, and what the transaction installs). The first originals are kept for ever."""
    record = dict(record or {"schema": SCHEMA, "host": host, "originals": {}, "installed": {}})
    originals = dict(record.get("originals") or {})
    if state == "replaced":
        for name, facts in before.items():
            originals.setdefault(name, {"version": (facts or {}).get("version"), "sha256": _shas({name: facts})[name]})
    started = {"id": str(uuid.uuid4()), "state": state, "started": _now(), "finished": False,
               "before": {n: {"version": (f or {}).get("version"), "sha256": _shas({n: f})[n]} for n, f in before.items()},
               "after": {n: {"version": (f or {}).get("version"), "sha256": _shas({n: f})[n]} for n, f in after.items()}}
    record.update(originals=originals, updated=_now(),
                  transactions=(list(record.get("transactions") or []) + [started])[-KEPT:])
    return record


def current(record: dict) -> dict:
    """The transaction begin() started last."""
    return (record.get("transactions") or [{}])[-1]


def finish(record: dict, result: dict) -> dict:
    """The record after the transaction's result: a change that went through is what is installed now."""
    record = dict(record, updated=_now())
    tx = dict(current(record))
    if result.get("failed"):
        tx["finished"] = not result.get("unreachable")  # rolled back on the host; a lost one may still be open
    else:
        tx["finished"] = True
        if result.get("changed") and tx.get("state") == "replaced":
            record["installed"] = dict(record.get("installed") or {}, **tx.get("after", {}))
        elif result.get("changed") and tx.get("state") == "restored":
            record["installed"] = {}
    record["transactions"] = list(record["transactions"][:-1]) + [tx]
    return record


def expect(record: dict | None) -> dict | None:
    """What the transaction checks the host's files against (transaction.recovery_problem, restore_problem)."""
    if not record:
        return None
    return {"transactions": {tx["id"]: _shas(tx.get("before")) for tx in record.get("transactions") or [] if tx.get("id")},
            "originals": _shas(record.get("originals")), "installed": _shas(record.get("installed"))}
