"""Twin of smsfleet.q317061.q317061_dlls: the ps1's transaction, step for step, on the host model.

It follows the contract of plugins/plugin_utils/transaction.py through its own code (it stands
in for the PowerShell module, which cannot import the controller's Python), so a difference
between them shows up as a failing test, not as a shared bug.

Faults: `interrupt_transaction_at: <phase>` crashes the host when the journal reaches that phase:
the module's process dies, the host restarts and auto-starts its services, and only the journal
tells the next run. `drop_on_module` on a run that is not async kills the module's process when
WinRM deletes the shell (the twin dies as its journal reaches `replacing`); an async run goes on.
"""

from __future__ import annotations

import datetime
import gzip
import json
import ntpath
import re
import time
import zlib

from ..host import ConnectionLost, HostError
from . import ModuleFail, file_bytes, meta_from_bytes, twin, win_join

PHASES = ("stopping", "backing_up", "replacing", "verifying", "restarting", "done", "rolling_back", "rolled_back",
          "rollback_failed")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _version_key(text):
    try:
        return tuple(int(p) for p in str(text).split("."))
    except ValueError:
        return None


def _compare(left, right):
    a, b = _version_key(left), _version_key(right)
    return None if a is None or b is None else (a > b) - (a < b)


def _same(facts, version, sha256):
    """Equal versions, and equal bytes where both hashes are known (case does not matter)."""
    return bool(facts) and _compare(facts["version"], version) == 0 and (
        not facts["sha256"] or not sha256 or facts["sha256"].lower() == sha256.lower())


def _plain(name):
    return (isinstance(name, str) and name not in ("", ".", "..") and ntpath.basename(name) == name
            and not re.search(r"[:/\\]", name))


def _facts(host, path):
    entry = host.file(path)
    return None if entry is None else {"version": entry.get("version"), "sha256": entry.get("sha256")}


def _write_json(host, path, value):
    """Written through a temporary file and moved over the old one (as the ps1 does)."""
    host.write_json(path + ".tmp", value)
    host.copy_file(path + ".tmp", path)
    host.delete_file(path + ".tmp")


def _read_json(host, path):
    entry = host.file(path)
    if entry is None:
        return None
    return json.loads(file_bytes(host, entry).decode("utf-8-sig"))


class Transaction:
    def __init__(self, host, params, result):
        self.host, self.params, self.result = host, params, result
        self.journal_path = params["journal"]
        self.work_dir = self.journal_path.rsplit("\\", 1)[0]
        self.timeout = params["stop_timeout"]

    # -- journal ----------------------------------------------------------
    def write_journal(self, journal):
        journal["updated"] = _now()
        _write_json(self.host, self.journal_path, journal)
        faults = self.host.state.get("faults", {})
        if faults.get("interrupt_transaction_at") == journal["phase"]:
            faults.pop("interrupt_transaction_at")
            self.host.crash()
            raise ConnectionLost(f"host crashed during phase {journal['phase']}")
        if self.host.state.get("kill_module_at") == journal["phase"]:
            self.host.state.pop("kill_module_at")
            raise ConnectionLost(f"module process killed with its WinRM shell during phase {journal['phase']}")

    def read_journal(self):
        problems = []
        for candidate in (self.journal_path, self.journal_path + ".tmp"):
            if self.host.file(candidate) is None:
                continue
            try:
                value = _read_json(self.host, candidate)
                if not isinstance(value, dict):
                    raise ValueError("it is not a JSON object")
                return value
            except ValueError as error:
                problems.append(f"{candidate}: {error}")
        if problems:
            raise ModuleFail(f"the transaction journal cannot be read ({'; '.join(problems)}); nothing was changed: "
                             "check the host by hand, then move the journal aside", **self.result)
        return None

    def check_journal(self, journal):
        for field in ("phase", "bin_dir", "undo_dir", "stopped", "replaced"):
            if field not in journal:
                raise ModuleFail(f"the transaction journal {self.journal_path} lacks '{field}'; nothing was changed: "
                                 "check the host by hand", **self.result)
        if journal["phase"] not in PHASES:
            raise ModuleFail(f"the transaction journal {self.journal_path} has an unknown phase "
                             f"'{journal['phase']}'; nothing was changed", **self.result)
        if (not isinstance(journal["stopped"], list) or not isinstance(journal["replaced"], list)
                or not all(isinstance(n, str) and n for n in journal["stopped"])
                or not all(_plain(n) for n in journal["replaced"])):
            raise ModuleFail(f"the transaction journal {self.journal_path} has 'stopped' or 'replaced' that are not "
                             "lists of service names and plain file names; nothing was changed", **self.result)
        if not isinstance(journal["bin_dir"], str) or not isinstance(journal["undo_dir"], str):
            raise ModuleFail(f"the transaction journal {self.journal_path} has 'bin_dir' or 'undo_dir' that are not "
                             "folder paths; nothing was changed", **self.result)

    def check_folders(self, journal):
        """For unfinished journals only: a journal never steers copies elsewhere."""
        undo_ok = ntpath.normpath(journal["undo_dir"]).lower().startswith(
            ntpath.normpath(self.work_dir).rstrip("\\").lower() + "\\")
        bin_ok = re.search(r"\\bin\\(i386|alpha)\\?$", journal["bin_dir"], re.IGNORECASE) and (
            not self.params.get("bin_dir") or journal["bin_dir"].rstrip("\\").lower() ==
            self.params["bin_dir"].rstrip("\\").lower())
        if not (undo_ok and bin_ok):
            raise ModuleFail(f"the transaction journal {self.journal_path} names folders ({journal['bin_dir']}, "
                             f"{journal['undo_dir']}) that differ from this run's; nothing was changed", **self.result)

    # -- services (ServiceController with a timeout) --------------------------
    def stop(self, name, journal):
        host = self.host
        state = host.service_state(name)
        if state in (None, "stopped"):
            return
        for dependent in host.dependents(name, running_only=False):
            self.stop(dependent, journal)
        if host.service_state(name) == "stopped":
            return
        real = host.service_name(name)
        if real not in journal["stopped"]:
            journal["stopped"].append(real)
            self.write_journal(journal)
        deadline = time.monotonic() + self.timeout
        while host.service_state(real) == "startpending" and time.monotonic() < deadline:
            time.sleep(0.25)  # a pending service accepts no stop: wait until it settles, within the timeout
            host.tick()
        try:
            host.stop_service(real)
        except HostError:
            raise HostError(f"Service '{name}' did not stop within {self.timeout} seconds "
                            f"(it is {host.service_state(real)})") from None
        host.tick()  # time passes: Site Component Manager, if still running, restarts what stopped

    def start(self, name):
        host = self.host
        if host.service_name(name) is None:
            raise HostError(f"Service '{name}' does not exist")
        if host.service_state(name) == "running":
            return
        try:
            host.start_service(name)
        except HostError:
            raise HostError(f"Service '{name}' did not start within {self.timeout} seconds "
                            f"(it is {host.service_state(name)})") from None

    def start_reverse(self, journal):
        problems = []
        for name in reversed(journal["stopped"]):
            try:
                self.start(name)
                self.result["restarted"].append(name)
            except HostError as error:
                problems.append(f"start {name}: {error}")
        return problems

    def undo(self, journal):
        problems = []
        journal["phase"] = "rolling_back"
        try:
            self.write_journal(journal)
        except HostError as error:
            problems.append(f"journal: {error}")
        for name in list(journal["stopped"]) if journal["replaced"] and not problems else []:  # only to copy back
            try:
                self.stop(name, journal)
            except HostError as error:
                problems.append(f"stop {name}: {error}")
        if not problems:
            for name in journal["replaced"]:
                try:
                    original, target = win_join(journal["undo_dir"], name), win_join(journal["bin_dir"], name)
                    if _facts(self.host, target) == _facts(self.host, original):
                        continue  # journaled before its copy, never copied (or already restored)
                    self.host.copy_file(original, target)
                    if _facts(self.host, target) != _facts(self.host, original):
                        raise HostError(f"{name} differs from its backup after the copy")
                except HostError as error:
                    problems.append(f"restore {name}: {error}")
        problems += self.start_reverse(journal)
        journal["phase"] = "rollback_failed" if problems else "rolled_back"
        if problems:
            journal["error"] = "; ".join(problems)
        try:
            self.write_journal(journal)
        except HostError as error:
            problems.append(f"journal: {error}")
        return problems

    # -- the module ----------------------------------------------------------
    def record_problem(self, journal, action):
        """The controller's record decides (as transaction.recovery_problem says, in the twin's own words)."""
        recorded = (self.params.get("expect") or {}).get("transactions") or {}
        if not recorded:
            return "the controller has no record of the transaction that left this journal"
        if journal.get("id") not in recorded:
            return f"the journal belongs to transaction {journal.get('id')!r}, which this controller never recorded"
        for name in journal["replaced"] if action == "roll_back" else []:
            undo = _facts(self.host, win_join(journal["undo_dir"], name))
            wanted = (recorded[journal["id"]] or {}).get(name)
            if undo is not None and (not wanted or undo["sha256"] != wanted.lower()):
                return (f"the undo copy of {name} has SHA-256 {undo['sha256']}, but before the change the controller "
                        f"recorded {wanted or 'nothing'}")
        return None

    def nothing_to_do(self) -> bool:
        if self.params["state"] == "replaced":
            return False
        paths = [self.journal_path, self.journal_path + ".tmp"]
        if self.params["state"] == "restored":
            paths.append(win_join(self.params["backup_dir"], "manifest.json"))
        return all(self.host.file(p) is None for p in paths)

    def lock(self, check_mode):
        """Held while the module runs; check mode creates nothing and only tests an existing lock."""
        path = win_join(self.work_dir, "q317061.lock")
        if check_mode and self.host.file(path) is None:
            return
        if self.host.locked_by(path):
            raise ModuleFail(f"the host is busy: another Q317061 transaction holds {path}; nothing was changed",
                             **dict(self.result, refused=True))
        if self.host.file(path) is None:
            self.host.write_file(path, {"size": 0, "text": []})
        self.result["lock"] = path

    def recover(self, check_mode):
        previous = self.read_journal()
        if previous is not None:
            self.check_journal(previous)
        if previous is None or previous["phase"] in ("done", "rolled_back"):
            return
        self.check_folders(previous)
        action = "roll_forward" if previous["phase"] == "restarting" else "roll_back"
        problem = self.record_problem(previous, action)
        if problem:
            raise ModuleFail(f"the unfinished transaction (phase {previous['phase']}) was not recovered: {problem}; "
                             "nothing was changed: check the host by hand (SMS services may be stopped)",
                             **dict(self.result, refused=True))
        self.result.update(recovered={"phase": previous["phase"], "action": action}, changed=True)
        if check_mode:
            return
        journal = dict(previous, stopped=list(previous["stopped"]), replaced=list(previous["replaced"]))
        if action == "roll_forward":
            problems = self.start_reverse(journal)
            journal["phase"] = "restarting" if problems else "done"
            try:
                self.write_journal(journal)
            except HostError as error:
                problems.append(f"journal: {error}")
        else:
            problems = self.undo(journal)
        if problems:
            raise ModuleFail(f"an interrupted transaction (phase {previous['phase']}) could not be recovered: "
                             f"{'; '.join(problems)}", **self.result)
        self.result.setdefault("warnings", []).append(
            f"recovered a transaction interrupted during phase '{previous['phase']}' ({action.replace('_', ' ')})")


@twin("smsfleet.q317061.q317061_dlls")
def dlls(host, params, check_mode, diff):
    required = {"replaced": ("bin_dir", "backup_dir", "files"), "restored": ("bin_dir", "backup_dir")}
    missing = [k for k in required.get(params["state"], ()) if not params.get(k)]
    if missing:
        raise ModuleFail(f"state is {params['state']} but all of the following are missing: {', '.join(missing)}")
    result = {"changed": False, "recovered": None, "stopped": [], "restarted": [], "lock": None}
    tx = Transaction(host, params, result)
    if tx.nothing_to_do():  # a recovery without a journal, a rollback without one or a manifest: the host
        return result       # stays exactly as it is (no work folder, no lock)
    if not check_mode:
        result["work_dir_acl"] = host.make_private_dir(tx.work_dir)  # applied every run, as the ps1's Set-WorkFolder
        if result["work_dir_acl"] == "fixed":
            result.setdefault("warnings", []).append(
                f"the work folder {tx.work_dir} granted more than SYSTEM and Administrators; it is now SYSTEM and "
                "Administrators only")
    if host.is_dir(tx.work_dir):
        tx.lock(check_mode)
    tx.recover(check_mode)
    if params["state"] == "recovered":
        return result

    bin_dir, backup_dir = params["bin_dir"], params["backup_dir"]
    manifest_path = win_join(backup_dir, "manifest.json")
    try:
        manifest = _read_json(host, manifest_path)
    except ValueError as error:
        raise ModuleFail(f"the backup manifest {manifest_path} cannot be read ({error}); nothing was changed",
                         **result) from None
    manifest_files = [e for e in ((manifest or {}).get("files") or []) if e] if isinstance(manifest, (dict, type(None))) \
        else None
    if manifest_files is None or not all(isinstance(e, dict) and _plain(e.get("name")) for e in manifest_files):
        raise ModuleFail(f"the backup manifest {manifest_path} cannot be read (it is not an object whose files have "
                         "plain names); nothing was changed", **result)
    if params["state"] == "replaced":
        bad = [f["name"] for f in params["files"] if not _plain(f["name"])]
        if bad:
            raise ModuleFail(f"files: '{bad[0]}' is not a plain file name; nothing was changed", **result)
        wanted = [dict(f, sha256=f["sha256"].lower()) for f in params["files"]]
        for f in params["files"]:  # the action's gzip upload becomes the staged copy (as the ps1's Expand-Upload)
            upload = host.file(f["upload"]) if f.get("upload") and not check_mode else None
            if upload is None:
                continue
            try:
                content = gzip.decompress(file_bytes(host, upload))
                host.write_file(f["source"], meta_from_bytes(host, content))
            except (OSError, EOFError, zlib.error, HostError) as error:
                raise ModuleFail(f"the upload {f['upload']} of {f['name']} cannot be expanded ({error}); nothing was "
                                 "changed", **result) from None
            finally:
                host.delete_file(f["upload"])
    else:
        wanted = [dict(e, source=win_join(backup_dir, e["name"])) for e in manifest_files]
    before, after, current, pending, refused = {}, {}, {}, [], []
    for f in wanted:
        now = _facts(host, win_join(bin_dir, f["name"]))
        current[f["name"]] = now
        before[f["name"]] = after[f["name"]] = now and now["version"]
        if params["state"] == "replaced":
            if now is None:
                refused.append(f"{f['name']}: it is missing from {bin_dir} (the hotfix replaces SMS's own files; "
                               "repair SMS first)")
                continue
            order = _compare(now["version"], f["version"])
            if order is None:
                refused.append(f"{f['name']}: its version cannot be read (no version resource)")
            elif order < 0 or (order == 0 and now["sha256"] != f["sha256"]):
                pending.append(f)
        else:
            if _same(now, f.get("version"), f.get("sha256")):
                continue
            if not f.get("installed_version"):
                refused.append(f"{f['name']}: the backup manifest does not say what the hotfix installed")
            elif _same(now, f["installed_version"], f.get("installed_sha256")):
                pending.append(f)
            else:
                refused.append(f"{f['name']}: it is {now['version'] if now else 'missing'} now, not the "
                               f"{f.get('installed_version')} the hotfix installed: something was installed since "
                               f"(an SMS service pack or hotfix), so putting the {f['version']} backup back would "
                               "downgrade it")
    result["before"] = before
    if params["state"] == "restored" and pending:  # the backups must be what the controller recorded
        expect = params.get("expect") or {}
        originals, installed = expect.get("originals") or {}, expect.get("installed") or {}
        if not originals:
            refused.append("the controller has no record of a change to this host, so no backup can be trusted")
        for f in pending if originals else []:
            if (f.get("sha256") or "").lower() != (originals.get(f["name"]) or "-") or \
                    (f.get("installed_sha256") or "").lower() != (installed.get(f["name"]) or "-"):
                refused.append(f"the backup manifest's SHA-256 of {f['name']} differs from the controller's record: "
                               "the backup or its manifest was changed on the host")
                break
    if refused:
        word = "rollback refused" if params["state"] == "restored" else "refused"
        tampered = any("controller" in r for r in refused)  # the host's files are not what was recorded
        raise ModuleFail(f"{word}: {'; '.join(refused)}; nothing was changed",
                         **dict(result, after=after, **({"refused": True} if tampered else {})))
    for f in pending:
        after[f["name"]] = f["version"]
    result["after"] = after
    if not pending:
        return result

    for f in pending:
        staged = _facts(host, f["source"])
        if staged is None:
            if check_mode:
                continue
            raise ModuleFail(f"source file {f['source']} for {f['name']} does not exist; nothing was changed", **result)
        if _compare(staged["version"], f["version"]) != 0 or staged["sha256"] != f["sha256"]:
            raise ModuleFail(f"source file {f['source']} is version {staged['version']} with SHA-256 "
                             f"{staged['sha256']}, expected {f['version']} with {f['sha256']}; nothing was changed",
                             **result)
    console = host.console_pids()
    if console and params["admin_console"] == "refuse":
        raise ModuleFail(f"the SMS Administrator console is running (PID {', '.join(map(str, console))}); quit it or "
                         "set admin_console=close (KB Q317061 step 4); nothing was changed", **dict(result, refused=True))

    stop_order = [host.service_name(n) for n in params["services"] if host.service_state(n) not in (None, "stopped")]
    wmi = host.service_name(params["wmi_service"])
    if wmi and host.service_state(wmi) != "stopped":
        stop_order += [d for d in host.dependents(wmi, running_only=False)
                       if host.service_state(d) != "stopped" and d not in stop_order] + [wmi]
    result.update(changed=True, plan={"stop": stop_order, "close_console": bool(console),
                                      "files": [f["name"] for f in pending]})
    if diff:
        result["diff"] = {"before": before, "after": after}
    if check_mode:
        return result

    for pid in console:
        host.kill(pid)
    undo_dir = win_join(tx.work_dir, "undo")
    journal = {"phase": "stopping", "state": params["state"], "bin_dir": bin_dir, "undo_dir": undo_dir,
               "transport": "winrm", "stopped": [], "replaced": [], "before": before, "after": after, "error": None,
               "started": _now(), "id": params.get("transaction_id")}
    tx.write_journal(journal)
    try:
        for name in stop_order:
            tx.stop(name, journal)
        journal["phase"] = "backing_up"
        tx.write_journal(journal)
        kept = {e["name"] for e in manifest_files}
        for f in pending:  # every pending file exists (a missing one is refused)
            target = win_join(bin_dir, f["name"])
            host.copy_file(target, win_join(undo_dir, f["name"]))
            if params["state"] == "replaced" and f["name"] not in kept:  # the first original, kept for ever
                host.copy_file(target, win_join(backup_dir, f["name"]))
        journal["phase"] = "replacing"
        tx.write_journal(journal)
        for f in pending:
            journal["replaced"].append(f["name"])
            tx.write_journal(journal)
            host.copy_file(f["source"], win_join(bin_dir, f["name"]))
        journal["phase"] = "verifying"
        tx.write_journal(journal)
        installed = {}
        for f in pending:
            now = _facts(host, win_join(bin_dir, f["name"]))
            if not now or now["sha256"] != f["sha256"]:
                raise HostError(f"{f['name']} is version {now and now['version']} after the copy, expected "
                                f"{f['version']} ({f['sha256']})")
            installed[f["name"]] = now
        if params["state"] == "replaced":
            entries = {e["name"]: dict(e) for e in manifest_files}
            for name, now in installed.items():
                entries.setdefault(name, {"name": name, "version": current[name]["version"] if current[name] else None,
                                          "sha256": current[name]["sha256"] if current[name] else None})
                entries[name].update(installed_version=now["version"], installed_sha256=now["sha256"])
            _write_json(host, manifest_path, {"files": [entries[n] for n in sorted(entries)], "taken": journal["started"]})
        journal["phase"] = "restarting"
        tx.write_journal(journal)
    except HostError as error:
        journal["error"] = str(error)
        problems = tx.undo(journal)
        tail = (f" Rollback problems: {'; '.join(problems)}" if problems
                else " The original DLLs are in place and the services were restarted.")
        failed = dict(result, changed=bool(result["recovered"]), after=before)  # a recovery before it did change
        failed.pop("diff", None)  # rolled back: nothing changed
        # A DLL another program holds refused the copy, and all is back as it was: as the ps1 says it.
        failed["refused"] = not problems and "being used by" in str(error)
        raise ModuleFail(f"{str(error).rstrip('.')}.{tail}", **failed) from None

    problems = tx.start_reverse(journal)
    result["stopped"] = list(journal["stopped"])
    if problems:
        journal["error"] = "; ".join(problems)
        tx.write_journal(journal)
        raise ModuleFail(f"the new DLLs are in place and verified, but not every service started: {'; '.join(problems)};"
                         " the next run starts them (the journal stays in phase restarting)", **result)
    journal["phase"] = "done"
    tx.write_journal(journal)
    return result
