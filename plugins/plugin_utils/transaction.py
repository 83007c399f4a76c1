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

from .versions import SmsVersion

# In order. A transaction is finished only in `done` or `rolled_back`; anything else, including
# `rollback_failed`, is unfinished and the next run of either transport recovers it.
PHASES = ("stopping", "backing_up", "replacing", "verifying", "restarting", "done", "rolling_back",
          "rolled_back", "rollback_failed")
FINISHED = ("done", "rolled_back")
JOURNAL_FIELDS = ("phase", "state", "bin_dir", "undo_dir", "stopped", "replaced", "before", "after", "error",
                  "started", "updated", "transport")


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
    return journal


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
    """Whether `replaced` changes one file: replace, keep (already there or newer), or refuse (unreadable).

    A file is replaced only when older than the wanted build, or the same build with other bytes
    than the bundle's pin; it is never downgraded (3241 stays 3241)."""
    if installed is None:
        return "replace"  # missing file: the transaction puts it in place
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
    entries = {e["name"]: dict(e) for e in (manifest or {}).get("files") or []}
    for name, new in installed.items():
        entry = entries.setdefault(name, {"name": name, "version": before[name]["version"],
                                          "sha256": before[name]["sha256"]})
        entry.update(installed_version=new["version"], installed_sha256=new["sha256"])
    return [entries[n] for n in sorted(entries)]
