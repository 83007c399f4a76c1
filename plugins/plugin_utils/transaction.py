"""The DLL transaction's contract: phases, journal, recovery, and which file changes are allowed.

Every implementation follows these rules: the PowerShell module (q317061_dlls.ps1), its winlab
twin, and the smb transport's controller-side transaction. Either transport can therefore
recover the other's interrupted transaction from the journal on the host. docs/remediation.md
states the contract for people. No Ansible import here.

The journal (`<work dir>\\journal.json`, JSON) is written before every step, to `journal.json.tmp`
first and then moved over `journal.json`; a reader uses journal.json and falls back to the
temporary copy only when journal.json is missing or unreadable (a crash between the two leaves
journal.json describing every step actually taken, because each step is journaled before it runs).
"""

from __future__ import annotations

import ntpath
import re

from .versions import SmsVersion

# In order. A transaction is finished only in `done` or `rolled_back`; anything else, including
# `rollback_failed`, is unfinished and the next run of either transport recovers it.
PHASES = ("stopping", "backing_up", "replacing", "verifying", "restarting", "done", "rolling_back",
          "rolled_back", "rollback_failed")
FINISHED = ("done", "rolled_back")
JOURNAL_FIELDS = ("phase", "state", "bin_dir", "undo_dir", "stopped", "replaced", "before", "after", "error",
                  "started", "updated", "transport", "id")


class JournalError(ValueError):
    """The journal cannot be trusted; nothing may be changed until a human looks."""


def is_unfinished(journal: dict | None) -> bool:
    return bool(journal) and journal.get("phase") not in FINISHED


def check_journal(journal, path: str = "journal.json") -> dict:
    """Refuse a journal that a recovery could not follow safely."""
    if not isinstance(journal, dict):
        raise JournalError(f"{path} is not a JSON object; nothing was changed: move it aside after checking the host")
    missing = [f for f in ("phase", "bin_dir", "undo_dir", "stopped", "replaced") if f not in journal]
    if missing or journal.get("phase") not in PHASES:
        raise JournalError(f"{path} lacks {', '.join(missing) or 'a known phase'} (phase {journal.get('phase')!r}); "
                           "nothing was changed: check the host by hand")
    if not isinstance(journal["stopped"], list) or not isinstance(journal["replaced"], list):
        raise JournalError(f"{path}: 'stopped' and 'replaced' must be lists; nothing was changed")
    if not all(isinstance(n, str) and n for n in journal["stopped"]):
        raise JournalError(f"{path}: 'stopped' must hold service names; nothing was changed")
    bad = [n for n in journal["replaced"] if not is_plain_name(n)]
    if bad:
        raise JournalError(f"{path}: 'replaced' names {bad!r}, which are not plain file names; nothing was changed")
    if not isinstance(journal["bin_dir"], str) or not isinstance(journal["undo_dir"], str):
        raise JournalError(f"{path}: 'bin_dir' and 'undo_dir' must be folder paths; nothing was changed")
    return journal


def is_plain_name(name) -> bool:
    """A file name without any folder part: a journal or manifest never steers a copy elsewhere."""
    return (isinstance(name, str) and name not in ("", ".", "..") and ntpath.basename(name) == name
            and ":" not in name and "/" not in name)


def _folder(path: str) -> str:
    return ntpath.normpath(path).rstrip("\\").lower()


def check_folders(journal: dict, work_dir: str, bin_dir: str | None, path: str = "journal.json") -> None:
    """An unfinished journal is followed only into this run's folders: its undo folder inside the
    work folder, its bin folder an SMS bin\\i386 or bin\\alpha and, when the run names one, the
    same. Finished journals are history and never block a run (SMS may have moved since)."""
    undo_ok = _folder(journal["undo_dir"]).startswith(_folder(work_dir) + "\\")
    bin_ok = re.search(r"\\bin\\(i386|alpha)\\?$", journal["bin_dir"], re.IGNORECASE) and (
        not bin_dir or _folder(journal["bin_dir"]) == _folder(bin_dir))
    if not (undo_ok and bin_ok):
        raise JournalError(f"{path} names folders ({journal['bin_dir']}, {journal['undo_dir']}) that differ "
                           "from this run's; nothing was changed")


def recovery(journal: dict) -> str:
    """What the next run does with an unfinished transaction.

    roll_forward: the new files were verified (phase `restarting`): start what is still stopped
      and warn; never copy over DLLs that the started services may already hold.
    roll_back: any earlier phase, or an interrupted or failed rollback: stop every journaled
      service that runs again (a crash reboots the host and auto-starts them), copy the
      originals back, verify, start what was stopped, in reverse order.
    none: the transaction is finished.
    """
    phase = journal.get("phase")
    if phase in FINISHED:
        return "none"
    if phase == "restarting":
        return "roll_forward"
    return "roll_back"


def compare(left: str | None, right: str | None) -> int | None:
    """Numeric comparison of two file versions (2.0.1493.3240 == 2.00.1493.3240); None if unreadable."""
    a, b = SmsVersion.parse(left), SmsVersion.parse(right)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def replace_action(installed: str | None, installed_sha256: str | None, wanted: str, wanted_sha256: str | None) -> str:
    """Whether `replaced` changes one file: replace, keep (already there or newer), or refuse.

    A file is replaced only when older than the wanted build, or the same build with other bytes
    than the bundle's pin; it is never downgraded (3241 stays 3241). A missing or unversioned
    installed file is refused: the hotfix replaces SMS's own files, and a rollback could not put
    back a file that was never there."""
    if installed is None:
        return "refuse"
    order = compare(installed, wanted)
    if order is None:
        return "refuse"
    if order < 0:
        return "replace"
    if order == 0 and wanted_sha256 and installed_sha256 and installed_sha256.lower() != wanted_sha256.lower():
        return "replace"
    return "keep"


def _same(version_a, sha_a, version_b, sha_b) -> bool:
    """Same file: equal versions, and equal bytes where both hashes are known."""
    return compare(version_a, version_b) == 0 and (not sha_a or not sha_b or sha_a.lower() == sha_b.lower())


def restore_action(installed: str | None, installed_sha256: str | None, entry: dict) -> tuple[str, str]:
    """Whether `restored` may put one original back: (restore|keep|refuse, reason).

    entry is the file's line in the backup manifest: the original (`version`, `sha256`) and what
    our transactions last installed (`installed_version`, `installed_sha256`). The original goes
    back only while the installed file is still ours: if something newer was installed since
    (SP4, the SP4 HRP, a later hotfix), rollback refuses for that host, with the reason."""
    original = entry.get("version")
    if installed is not None and _same(installed, installed_sha256, original, entry.get("sha256")):
        return "keep", f"already the original {original}"
    if not entry.get("installed_version"):
        return "refuse", "the backup manifest does not say what the hotfix installed"
    if _same(installed, installed_sha256, entry["installed_version"], entry.get("installed_sha256")):
        return "restore", f"{installed} -> {original}"
    return "refuse", (f"it is {installed or 'missing'} now, not the {entry['installed_version']} the hotfix "
                      "installed: something was installed since (an SMS service pack or hotfix), so putting "
                      f"the {original} backup back would downgrade it")


def manifest_entries(manifest: dict | None, before: dict, installed: dict) -> list[dict]:
    """The backup manifest after a transaction: the first original of each file is kept for ever;
    what we installed is updated. before/installed: name -> {version, sha256}."""
    entries = {e["name"]: dict(e) for e in (manifest or {}).get("files") or [] if isinstance(e, dict)}
    for name, new in installed.items():
        original = before.get(name) or {}
        entry = entries.setdefault(name, {"name": name, "version": original.get("version"),
                                          "sha256": original.get("sha256")})
        entry.update(installed_version=new["version"], installed_sha256=new["sha256"])
    return [entries[n] for n in sorted(entries)]


# -- the controller's record (plugin_utils/records.py keeps it) -------------------------------------
# The host's journal, undo copies, backups and manifest live in a folder that local users of a badly set
# up host may write to; the controller's own record of each change is what a recovery or a rollback
# trusts. `expect` is what the controller passes to the transaction:
#   {"transactions": {id: {name: sha256 before it}}, "originals": {name: sha256}, "installed": {name: sha256}}
# (the transactions it started lately, any of which an interrupted run may have left unfinished).

def recovery_problem(journal: dict, expect: dict | None, undo: dict) -> str | None:
    """Why an unfinished journal must not be recovered, or None. undo: {name: SHA-256 of its undo copy
    (None when missing)} for the files a roll back would copy back."""
    recorded = (expect or {}).get("transactions") or {}
    if not recorded:
        return ("the controller has no record of the transaction that left this journal (the record is kept in "
                "<ANSIBLE_HOME>/smsfleet.q317061/records and in the fact cache): it was not started from here, or the "
                "record was lost")
    if journal.get("id") not in recorded:
        return (f"the journal belongs to transaction {journal.get('id')!r}, which this controller never recorded: "
                "it was written by something else, or changed on the host")
    if recovery(journal) != "roll_back":
        return None
    before = recorded[journal["id"]] or {}
    for name in journal.get("replaced") or []:
        wanted, found = before.get(name), undo.get(name)
        if found is not None and (not wanted or found.lower() != wanted.lower()):
            return (f"the undo copy of {name} has SHA-256 {found}, but before the change the controller recorded "
                    f"{wanted or 'nothing'}: it was changed on the host")
    return None


def restore_problem(entries: list[dict], expect: dict | None) -> str | None:
    """Why the backups the manifest describes (the entries a rollback would restore) must not be put back,
    or None: the originals and what was installed must be what the controller recorded."""
    originals, installed = (expect or {}).get("originals") or {}, (expect or {}).get("installed") or {}
    if not originals:
        return ("the controller has no record of a change to this host (the record is kept in "
                "<ANSIBLE_HOME>/smsfleet.q317061/records and in the fact cache), so no backup can be trusted")
    for entry in entries:
        name = entry.get("name")
        for field, recorded in (("sha256", originals.get(name)), ("installed_sha256", installed.get(name))):
            value = str(entry.get(field) or "").lower()
            if not recorded or value != recorded.lower():
                what = "original" if field == "sha256" else "installed file"
                return (f"the backup manifest says the {what} {name} had SHA-256 {value or 'none'}, but the controller "
                        f"recorded {recorded or 'nothing'}: the backup or its manifest was changed on the host")
    return None
