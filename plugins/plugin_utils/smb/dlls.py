"""The DLL transaction over smb, run from the controller by the contract of plugin_utils/transaction.py.

It does what q317061_dlls.ps1 does on the host, with the same journal (same file, same fields,
written before every step), so either transport recovers the other's interrupted transaction.
Differences that come from the wire, not from the rules:

- The new DLLs come from the controller's checked copies (bundle cache by SHA-256): they are
  checked there and written straight into bin\\ (after the originals are backed up); nothing is
  staged on the host first.
- The lock is q317061.lock opened with no sharing through this SMB session: Windows closes it
  when the session ends, so a killed controller never leaves the host "busy".
- The SMS Administrator console cannot be seen in a process list over SMB. After the SMS services
  and WMI stopped, a DLL still held open is held by something else (the console): the transaction
  stops there and rolls back ("quit the console"); over smb it cannot close programs.
- The work folder is limited to SYSTEM and Administrators with a protected DACL, set with the SMB
  security-descriptor requests and read back (plugin_utils/smb/security.py), as the ps1 does with Set-Acl.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import ntpath
import time

from .. import peversion, transaction
from . import security
from .client import NOT_FOUND, SmbError, Unreachable
from .services import Services

JOURNAL_RETRIES, JOURNAL_RETRY_SECONDS = 10, 0.2
HELD = ("STATUS_SHARING_VIOLATION", "STATUS_DELETE_PENDING", "STATUS_OBJECT_NAME_COLLISION")


class Failed(Exception):
    """The transaction failed; result is what the module would have returned with failed=true."""

    def __init__(self, msg: str, result: dict):
        super().__init__(msg)
        self.result = dict(result, failed=True, msg=msg)


class InUse(SmbError):
    """A DLL is still held open after the SMS services and WMI stopped (the console, a backup agent)."""


class Busy(Failed):
    """Another session holds the host's lock (another run, or this run's own session that was lost
    half-open and that the host has not given up yet): nothing was changed."""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def facts_of(data: bytes | None) -> dict | None:
    """{version, sha256} of file bytes (None for a missing file); an unversioned file has version None."""
    if data is None:
        return None
    try:
        version = peversion.read_version_info(lambda o, n: data[o:o + n], len(data))["version"]
    except peversion.PeError:
        version = None
    return {"version": version, "sha256": hashlib.sha256(data).hexdigest()}


class Transaction:
    def __init__(self, client, params: dict, check_mode: bool = False):
        self.client, self.params, self.check_mode = client, params, check_mode
        self.journal_path = params["journal"]
        self.work_dir = ntpath.dirname(self.journal_path)
        self.timeout = int(params.get("stop_timeout") or 120)
        self.services = Services(client)
        self.result = {"changed": False, "recovered": None, "stopped": [], "restarted": [], "lock": None}
        self._lock = None

    def fail(self, msg: str, **extra):
        raise Failed(msg, dict(self.result, **extra))

    # -- files ------------------------------------------------------------
    def read(self, path: str) -> bytes | None:
        return self.read_stat(path)[0]

    def read_stat(self, path: str) -> tuple[bytes | None, dict | None]:
        """A file's bytes and its stat (times, attributes), or (None, None) when it is missing."""
        try:
            return self.client.read(path)
        except SmbError as error:
            if error.status in NOT_FOUND:
                return None, None
            raise

    def write_json(self, path: str, value) -> None:
        """Durable and atomic enough for the contract: written through under path.tmp, then the old
        file deleted and the temporary one renamed (SMB1 has no rename over an existing file). A crash
        in between leaves only path.tmp, complete, which every reader falls back to."""
        data = json.dumps(value, indent=1).encode("utf-8")
        for attempt in range(JOURNAL_RETRIES):
            try:
                try:
                    self.client.write(path + ".tmp", data, write_through=True)
                except SmbError:  # a half-written copy must not become what a reader falls back to
                    self.client.delete(path + ".tmp")
                    raise
                self.client.delete(path)
                self.client.rename(path + ".tmp", path)
                return
            except Unreachable:
                raise
            except SmbError as error:  # a reader (an audit, a scanner) holds it for a moment: the delete waits,
                # or leaves the name until the reader closes (delete pending, so the rename cannot take it yet)
                if error.status not in HELD or attempt == JOURNAL_RETRIES - 1:
                    raise
                time.sleep(JOURNAL_RETRY_SECONDS)

    def write_journal(self, journal: dict) -> None:
        journal["updated"] = _now()
        self.write_json(self.journal_path, journal)

    def write_journal_noting(self, journal: dict, problems: list[str]) -> None:
        """During a rollback or roll forward: a journal that cannot be written is one more problem
        to report, not the end of the recovery (a lost connection still is)."""
        try:
            self.write_journal(journal)
        except Unreachable:
            raise
        except SmbError as error:
            problems.append(f"journal: {error}")

    def read_journal(self) -> dict | None:
        problems = []
        for candidate in (self.journal_path, self.journal_path + ".tmp"):
            try:
                data = self.read(candidate)
            except Unreachable:
                raise
            except SmbError as error:
                problems.append(f"{candidate}: {error}")
                continue
            if data is None:
                continue
            try:
                value = json.loads(data.decode("utf-8-sig"))
                if not isinstance(value, dict):
                    raise ValueError("it is not a JSON object")
                return value
            except ValueError as error:
                problems.append(f"{candidate}: {error}")
        if problems:
            self.fail(f"the transaction journal cannot be read ({'; '.join(problems)}); nothing was changed: check the "
                      "host by hand, then move the journal aside")
        return None

    # -- the work folder ----------------------------------------------------
    def private_work_dir(self) -> str:
        """Make the work folder (if missing) and leave it SYSTEM and Administrators only, not inherited,
        read back to be sure; a weaker DACL found on an existing folder is replaced and reported.
        Returns 'kept', 'set' (a new folder) or 'fixed' (an existing one; its old DACL in the warnings)."""
        existed = self.client.is_dir(self.work_dir)
        self.client.makedirs(self.work_dir)
        found = security.parse(self.client.security_descriptor(self.work_dir))
        if security.is_private(found):
            return "kept"
        self.client.set_security_descriptor(self.work_dir, security.private_descriptor(),
                                            security.DACL_SECURITY_INFORMATION | security.PROTECTED_DACL_SECURITY_INFORMATION)
        now = security.parse(self.client.security_descriptor(self.work_dir))
        if not security.is_private(now):
            self.fail(f"the work folder {self.work_dir} could not be limited to SYSTEM and Administrators (it grants "
                      f"{security.describe(now)}); nothing was changed")
        if not existed:
            return "set"
        self.result.setdefault("warnings", []).append(
            f"the work folder {self.work_dir} granted {security.describe(found)}; it is now SYSTEM and Administrators "
            "only (files already in it keep theirs; the controller's record guards the backups)")
        return "fixed"

    # -- lock -------------------------------------------------------------
    def lock(self) -> None:
        """One transaction per host: q317061.lock open with no sharing for as long as this session
        holds it. Check mode creates nothing and only tests an existing lock."""
        path = ntpath.join(self.work_dir, "q317061.lock")
        if self.check_mode and self.client.stat(path) is None:
            return
        disposition = 1 if self.check_mode else 3  # FILE_OPEN / FILE_OPEN_IF
        try:
            self._lock = self.client.open(path, access=0xC0000000, share_mode=0, disposition=disposition)
            self._lock.__enter__()
        except SmbError as error:
            self._lock = None
            if error.status == "STATUS_SHARING_VIOLATION":
                raise Busy(f"the host is busy: another Q317061 transaction holds {path}; nothing was changed",
                           dict(self.result, refused=True)) from None
            raise
        self.result["lock"] = path

    def unlock(self) -> None:
        if self._lock is not None:
            try:
                self._lock.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - the session's end releases it anyway
                pass
            self._lock = None

    # -- services ----------------------------------------------------------
    def stop(self, name: str, journal: dict) -> None:
        """Stop one service, its running dependents first, each journaled before its stop."""
        if self.services.state(name) in (None, "stopped"):
            return
        for dependent, state in self.services.dependents(name):
            if state != "stopped":
                self.stop(dependent, journal)
        if self.services.state(name) in (None, "stopped"):
            return
        if name.lower() not in (n.lower() for n in journal["stopped"]):
            journal["stopped"].append(name)
            self.write_journal(journal)
        self.services.stop(name, self.timeout)

    def start_reverse(self, journal: dict) -> list[str]:
        problems = []
        for name in reversed(journal["stopped"]):
            try:
                self.services.start(name, self.timeout)
                self.result["restarted"].append(name)
            except Unreachable:
                raise
            except SmbError as error:
                problems.append(f"start {name}: {error}")
        return problems

    def undo(self, journal: dict) -> list[str]:
        """Roll back: stop what runs again, copy the originals back and check them, start in reverse."""
        problems = []
        journal["phase"] = "rolling_back"
        self.write_journal_noting(journal, problems)
        if journal["replaced"] and not problems:
            for name in list(journal["stopped"]):
                try:
                    self.stop(name, journal)
                except Unreachable:
                    raise
                except SmbError as error:
                    problems.append(f"stop {name}: {error}")
        if not problems:
            for name in journal["replaced"]:
                original_path, target = ntpath.join(journal["undo_dir"], name), ntpath.join(journal["bin_dir"], name)
                try:
                    original, backup = self.read_stat(original_path)
                    if original is None:
                        raise SmbError(f"its backup {original_path} does not exist")
                    now, stat = self.read_stat(target)
                    if facts_of(now) == facts_of(original):  # journaled before its copy: never copied, or restored
                        if (stat["last_write"], stat["attributes"]) != (backup["last_write"], backup["attributes"]):
                            self.client.set_basic(target, (0, 0, backup["last_write"], 0), backup["attributes"])
                        continue
                    self.client.write(target, original, like=backup, force=True)  # the original's times again
                    if facts_of(self.read(target)) != facts_of(original):
                        raise SmbError(f"{name} differs from its backup after the copy")
                except Unreachable:
                    raise
                except SmbError as error:
                    problems.append(f"restore {name}: {error}")
        problems += self.start_reverse(journal)
        journal["phase"] = "rollback_failed" if problems else "rolled_back"
        if problems:
            journal["error"] = "; ".join(problems)
        self.write_journal_noting(journal, problems)
        return problems

    def recover(self) -> None:
        previous = self.read_journal()
        if previous is None:
            return
        try:
            transaction.check_journal(previous, self.journal_path)
            if not transaction.is_unfinished(previous):
                return
            transaction.check_folders(previous, self.work_dir, self.params.get("bin_dir"), self.journal_path)
        except transaction.JournalError as error:
            self.fail(f"the transaction journal {error}")
        action = transaction.recovery(previous)
        undo = {}
        for name in previous["replaced"] if action == "roll_back" else []:
            data = self.read(ntpath.join(previous["undo_dir"], name))
            undo[name] = None if data is None else hashlib.sha256(data).hexdigest()
        problem = transaction.recovery_problem(previous, self.params.get("expect"), undo)
        if problem:
            self.fail(f"the unfinished transaction (phase {previous['phase']}) was not recovered: {problem}; nothing "
                      "was changed: check the host by hand (SMS services may be stopped)", refused=True)
        self.result.update(recovered={"phase": previous["phase"], "action": action}, changed=True)
        if self.check_mode:
            return
        journal = dict(previous, stopped=list(previous["stopped"]), replaced=list(previous["replaced"]))
        if action == "roll_forward":
            problems = self.start_reverse(journal)
            journal["phase"] = "restarting" if problems else "done"
            self.write_journal_noting(journal, problems)
        else:
            problems = self.undo(journal)
        if problems:
            self.fail(f"an interrupted transaction (phase {previous['phase']}) could not be recovered: "
                      f"{'; '.join(problems)}")
        self.result.setdefault("warnings", []).append(
            f"recovered a transaction interrupted during phase '{previous['phase']}' ({action.replace('_', ' ')})")

    # -- what changes --------------------------------------------------------
    def manifest(self, path: str) -> list[dict]:
        try:
            data = self.read(path)
            manifest = json.loads(data.decode("utf-8-sig")) if data is not None else {}
            if not isinstance(manifest, dict):
                raise ValueError("it is not an object")
            files = [e for e in manifest.get("files") or [] if e]
            if not all(isinstance(e, dict) and transaction.is_plain_name(e.get("name")) for e in files):
                raise ValueError("it is not an object whose files have plain names")
            return files
        except (ValueError, SmbError) as error:
            if isinstance(error, Unreachable):
                raise
            self.fail(f"the backup manifest {path} cannot be read ({error}); nothing was changed")

    def source_bytes(self, wanted: dict) -> tuple[bytes | None, dict | None]:
        """The bytes to install and the times and attributes they take: the controller's checked copy
        (replaced: new times, as a fresh copy has) or the host's backup (restored: the original's)."""
        if self.params["state"] == "replaced":
            try:
                with open(wanted["local"], "rb") as handle:
                    return handle.read(), None
            except OSError as error:
                self.fail(f"the controller's copy {wanted['local']} of {wanted['name']} cannot be read ({error}); "
                          "nothing was changed")
        return self.read_stat(wanted["source"])

    def nothing_to_do(self) -> bool:
        """A recovery without a journal, or a rollback without a journal or a backup manifest: there is
        nothing to do, and the host is left exactly as it is (no work folder, no lock made)."""
        if self.params["state"] == "replaced":
            return False
        present = [self.client.stat(p) is not None for p in (self.journal_path, self.journal_path + ".tmp")]
        if self.params["state"] == "restored":
            present.append(self.client.stat(ntpath.join(self.params["backup_dir"], "manifest.json")) is not None)
        return not any(present)

    def run(self) -> dict:
        params = self.params
        if self.nothing_to_do():
            return self.result
        if not self.check_mode:
            self.result["work_dir_acl"] = self.private_work_dir()
        if self.client.is_dir(self.work_dir):
            self.lock()
        try:
            self.recover()
            if params["state"] == "recovered":
                return self.result
            return self.change()
        finally:
            self.unlock()

    def change(self) -> dict:
        params, bin_dir, backup_dir = self.params, self.params["bin_dir"], self.params["backup_dir"]
        manifest_path = ntpath.join(backup_dir, "manifest.json")
        manifest_files = self.manifest(manifest_path)
        if params["state"] == "replaced":
            bad = [f["name"] for f in params["files"] if not transaction.is_plain_name(f["name"])]
            if bad:
                self.fail(f"files: '{bad[0]}' is not a plain file name; nothing was changed")
            wanted = [dict(f, sha256=f["sha256"].lower()) for f in params["files"]]
        else:
            wanted = [dict(e, source=ntpath.join(backup_dir, e["name"])) for e in manifest_files]
        before, after, current, originals, pending, refused = {}, {}, {}, {}, [], []
        for f in wanted:
            data, stat = self.read_stat(ntpath.join(bin_dir, f["name"]))
            now = facts_of(data)
            current[f["name"]], originals[f["name"]] = now, (data, stat)
            before[f["name"]] = after[f["name"]] = now and now["version"]
            if params["state"] == "replaced":
                action = transaction.replace_action(now and now["version"], now and now["sha256"], f["version"],
                                                    f["sha256"])
                if action == "refuse":
                    refused.append(f"{f['name']}: it is missing from {bin_dir} (the hotfix replaces SMS's own files; "
                                   "repair SMS first)" if now is None else
                                   f"{f['name']}: its version cannot be read (no version resource)")
                elif action == "replace":
                    pending.append(f)
            else:
                action, reason = transaction.restore_action(now and now["version"], now and now["sha256"], f)
                if action == "refuse":
                    refused.append(f"{f['name']}: {reason}")
                elif action == "restore":
                    pending.append(f)
        self.result["before"] = before
        problem = transaction.restore_problem(pending, params.get("expect")) if params["state"] == "restored" and \
            pending else None
        if problem:
            refused.append(problem)
        if refused:
            word = "rollback refused" if params["state"] == "restored" else "refused"
            self.fail(f"{word}: {'; '.join(refused)}; nothing was changed", after=after,
                      **({"refused": True} if problem else {}))  # the host's files are not what was recorded
        for f in pending:
            after[f["name"]] = f["version"]
        self.result["after"] = after
        if not pending:
            return self.result

        sources = {}
        for f in pending:  # the bytes to install must be exactly the bundle's (or the originals')
            data, like = self.source_bytes(f)
            where = f.get("local") if params["state"] == "replaced" else f["source"]
            if data is None:
                if self.check_mode:
                    continue
                self.fail(f"source file {where} for {f['name']} does not exist; nothing was changed")
            got = facts_of(data)
            if transaction.compare(got["version"], f["version"]) != 0 or (
                    f.get("sha256") and got["sha256"] != f["sha256"].lower()):
                self.fail(f"source file {where} is version {got['version']} with SHA-256 {got['sha256']}, expected "
                          f"{f['version']} with {f.get('sha256')}; nothing was changed")
            sources[f["name"]] = (data, like)

        stop_order = [n for n in params["services"] if self.services.state(n) not in (None, "stopped")]
        wmi = params.get("wmi_service") or "Winmgmt"
        if self.services.state(wmi) not in (None, "stopped"):
            stop_order += [d for d, state in self.services.dependents(wmi)
                           if state != "stopped" and d.lower() not in (n.lower() for n in stop_order)] + [wmi]
        self.result.update(changed=True, plan={"stop": stop_order, "close_console": None,
                                               "files": [f["name"] for f in pending]},
                           diff={"before": before, "after": after})
        if self.check_mode:
            return self.result
        return self.transact(pending, sources, stop_order, current, originals, manifest_files, manifest_path)

    def transact(self, pending, sources, stop_order, current, originals, manifest_files, manifest_path) -> dict:
        params, bin_dir, backup_dir = self.params, self.params["bin_dir"], self.params["backup_dir"]
        undo_dir = ntpath.join(self.work_dir, "undo")
        before = self.result["before"]
        journal = {"phase": "stopping", "state": params["state"], "bin_dir": bin_dir, "undo_dir": undo_dir,
                   "transport": "smb", "stopped": [], "replaced": [], "before": before, "after": self.result["after"],
                   "error": None, "started": _now(), "id": params.get("transaction_id")}
        self.write_journal(journal)
        try:
            for name in stop_order:
                self.stop(name, journal)
            for f in pending:  # the console is not in a process list over SMB: a DLL still held open tells
                if self.client.held_open(ntpath.join(bin_dir, f["name"])):
                    raise InUse(f"{f['name']} is still in use after the SMS services and WMI stopped: the SMS "
                                "Administrator console (or another program) holds it; quit it and run again "
                                "(over smb the collection cannot close programs, KB Q317061 step 4)")
            journal["phase"] = "backing_up"
            self.write_journal(journal)
            self.client.makedirs(undo_dir)
            self.client.makedirs(backup_dir)
            kept = {e["name"] for e in manifest_files}
            for f in pending:  # every pending file exists (a missing one is refused); copies keep its times
                data, stat = originals[f["name"]]
                self.client.write(ntpath.join(undo_dir, f["name"]), data, like=stat, force=True)
                if params["state"] == "replaced" and f["name"] not in kept:  # the first original, kept for ever
                    self.client.write(ntpath.join(backup_dir, f["name"]), data, like=stat, force=True)
            journal["phase"] = "replacing"
            self.write_journal(journal)
            for f in pending:
                journal["replaced"].append(f["name"])
                self.write_journal(journal)
                data, like = sources[f["name"]]
                self.client.write(ntpath.join(bin_dir, f["name"]), data, like=like, force=True)
            journal["phase"] = "verifying"
            self.write_journal(journal)
            installed = {}
            for f in pending:
                now = facts_of(self.read(ntpath.join(bin_dir, f["name"])))
                if not now or now["sha256"] != facts_of(sources[f["name"]][0])["sha256"]:
                    raise SmbError(f"{f['name']} is version {now and now['version']} after the copy, expected "
                                   f"{f['version']}")
                installed[f["name"]] = now
            if params["state"] == "replaced":
                entries = transaction.manifest_entries({"files": manifest_files}, current, installed)
                self.write_json(manifest_path, {"files": entries, "taken": journal["started"]})
            journal["phase"] = "restarting"
            self.write_journal(journal)
        except Unreachable:
            raise
        except SmbError as error:
            journal["error"] = str(error).rstrip(".")
            problems = self.undo(journal)
            tail = (f" Rollback problems: {'; '.join(problems)}" if problems
                    else " The original DLLs are in place and the services were restarted.")
            self.result.pop("diff", None)  # rolled back: nothing changed
            # Another program holds a DLL (the console, a backup agent), and all is back as it was: a person's turn.
            self.fail(f"{str(error).rstrip('.')}.{tail}", changed=bool(self.result["recovered"]), after=before,
                      stopped=list(journal["stopped"]),
                      refused=not problems and (isinstance(error, InUse) or error.status == "STATUS_SHARING_VIOLATION"))
        problems = self.start_reverse(journal)
        self.result["stopped"] = list(journal["stopped"])
        if problems:
            journal["error"] = "; ".join(problems)
            self.write_journal(journal)
            self.fail(f"the new DLLs are in place and verified, but not every service started: {'; '.join(problems)}; "
                      "the next run starts them (the journal stays in phase restarting)")
        journal["phase"] = "done"
        self.write_journal(journal)
        return self.result
