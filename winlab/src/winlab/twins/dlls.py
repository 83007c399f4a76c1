"""Twin of smsfleet.q317061.q317061_dlls: the same transaction, step for step, on the host model.

Fault `interrupt_transaction_at: <phase>` kills the module's process when it reaches
that phase (as a host crash would): the host keeps whatever state it was in, the
connection drops, and only the journal tells the next run what happened.
"""

from __future__ import annotations

import datetime

from ..host import ConnectionLost, HostError
from . import ModuleFail, twin, win_join


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _write_journal(host, path: str, journal: dict) -> None:
    journal["updated"] = _now()
    host.write_json(path, journal)
    if host.state.get("faults", {}).get("interrupt_transaction_at") == journal["phase"]:
        host.state["faults"].pop("interrupt_transaction_at")
        raise ConnectionLost(f"module process killed during phase {journal['phase']}")


def _restore(host, journal: dict) -> list[str]:
    problems = []
    for name in journal["replaced"]:
        try:
            host.copy_file(win_join(journal["undo_dir"], name), win_join(journal["bin_dir"], name))
        except HostError as error:
            problems.append(f"restore {name}: {error}")
    for name in reversed(journal["stopped"]):
        try:
            host.start_service(name)
        except HostError as error:
            problems.append(f"start {name}: {error}")
    return problems


def _version(host, path: str) -> str | None:
    entry = host.file(path)
    return entry.get("version") if entry else None


@twin("smsfleet.q317061.q317061_dlls")
def dlls(host, params, check_mode, diff):
    bin_dir, backup_dir, journal_path = params["bin_dir"], params["backup_dir"], params["journal"]
    result = {"changed": False, "journal": {"recovered": False, "phase": None}, "stopped": [], "restarted": []}
    previous = host.read_json(journal_path)
    if previous and previous.get("phase") not in ("done", "rolled_back"):
        result["journal"] = {"recovered": True, "phase": previous["phase"]}
        if not check_mode:
            problems = _restore(host, previous)
            previous.update(phase="rolled_back", error=f"interrupted during phase '{result['journal']['phase']}'; "
                                                       "rolled back by the next run")
            host.write_json(journal_path, previous)
            if problems:
                raise ModuleFail(f"an interrupted transaction could not be rolled back: {'; '.join(problems)}")
            result["warnings"] = [f"rolled back a transaction interrupted during phase '{result['journal']['phase']}'"]

    if params["state"] == "replaced":
        wanted = [dict(f) for f in params["files"] or []]
    else:
        manifest = host.read_json(win_join(backup_dir, "manifest.json")) or {"files": []}
        wanted = [{"name": f["name"], "source": win_join(backup_dir, f["name"]), "version": f["version"]}
                  for f in manifest["files"]]
    before = {f["name"]: _version(host, win_join(bin_dir, f["name"])) for f in wanted}
    after = {f["name"]: f["version"] for f in wanted}
    result.update(before=before, after=after)
    pending = [f for f in wanted if before[f["name"]] != f["version"]]
    if not pending:
        return result

    for f in pending:
        staged = _version(host, f["source"])
        if staged is None and not check_mode:
            raise ModuleFail(f"source file {f['source']} for {f['name']} does not exist; nothing was changed", **result)
        if staged is not None and staged != f["version"]:
            raise ModuleFail(f"source file {f['source']} is version {staged}, expected {f['version']}; "
                             "nothing was changed", **result)
    console = "sms_admin_console" in host.state.get("processes", [])
    if console and params["admin_console"] == "refuse":
        raise ModuleFail("the SMS Administrator console is running (PID 1234); quit it or set admin_console=close "
                         "(KB Q317061 step 4); nothing was changed", **result)

    running = [host.service_name(n) for n in params["services"] if host.service_state(n) == "running"]
    stop_order = list(running)
    wmi = host.service_name(params["wmi_service"])
    if wmi and host.service_state(wmi) == "running":
        stop_order += [d for d in host.dependents(wmi) if d not in stop_order] + [wmi]
    result.update(changed=True, plan={"stop": stop_order, "close_console": console, "files": [f["name"] for f in pending]})
    if diff:
        result["diff"] = {"before": before, "after": after}
    if check_mode:
        return result

    if console:
        host.state["processes"].remove("sms_admin_console")
    undo_dir = backup_dir if params["state"] == "replaced" else win_join(backup_dir, "before-restore")
    journal = {"phase": "stopping", "state": params["state"], "bin_dir": bin_dir, "undo_dir": undo_dir,
               "stopped": [], "replaced": [], "before": before, "after": after, "error": None, "started": _now()}
    _write_journal(host, journal_path, journal)
    try:
        for name in stop_order:
            journal["stopped"].append(name)
            _write_journal(host, journal_path, journal)
            host.stop_service(name)
            host.tick()  # time passes: Site Component Manager, if still running, restarts what stopped
        journal["phase"] = "backing_up"
        _write_journal(host, journal_path, journal)
        entries = []
        for f in pending:
            host.copy_file(win_join(bin_dir, f["name"]), win_join(undo_dir, f["name"]))
            entries.append({"name": f["name"], "version": before[f["name"]]})
        if params["state"] == "replaced":
            host.write_json(win_join(backup_dir, "manifest.json"), {"files": entries, "taken": journal["started"]})
        journal["phase"] = "replacing"
        _write_journal(host, journal_path, journal)
        for f in pending:
            journal["replaced"].append(f["name"])
            _write_journal(host, journal_path, journal)
            host.copy_file(f["source"], win_join(bin_dir, f["name"]))
        journal["phase"] = "verifying"
        _write_journal(host, journal_path, journal)
        for f in pending:
            now = _version(host, win_join(bin_dir, f["name"]))
            if now != f["version"]:
                raise HostError(f"{f['name']} is version {now} after the copy, expected {f['version']}")
        journal["phase"] = "restarting"
        _write_journal(host, journal_path, journal)
        for name in reversed(journal["stopped"]):
            host.start_service(name)
        journal["phase"] = "done"
        _write_journal(host, journal_path, journal)
    except HostError as error:
        problems = _restore(host, journal)
        journal.update(phase="rolled_back", error=str(error))
        try:
            host.write_json(journal_path, journal)
        except HostError as journal_error:
            problems.append(f"journal: {journal_error}")
        tail = (f" Rollback problems: {'; '.join(problems)}" if problems
                else " The original DLLs are in place and the services were restarted.")
        raise ModuleFail(f"{str(error).rstrip('.')}.{tail}", **dict(result, changed=False, after=before)) from None
    result.update(stopped=journal["stopped"], restarted=list(reversed(journal["stopped"])))
    return result
