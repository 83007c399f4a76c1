"""The KB Q317061 workaround's rules for EXIFS DriveLetter and its rollback record (no Ansible import).

q317061_exifs.ps1 follows them on WinRM hosts; plugin_utils/smb/exifs.py applies them over the
remote registry. The record lives under a fixed key, never a setting.
"""

from __future__ import annotations

PARAMETERS = "SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"
SERVICE = "SYSTEM\\CurrentControlSet\\Services\\EXIFS"
RECORD_KEY = "SOFTWARE\\smsfleet\\Q317061"
RECORD_VALUES = ("OriginalDriveLetter", "OriginalDriveLetterState")


class RecordError(ValueError):
    """The record cannot be trusted; nothing is changed."""


def check_letter(name: str, present: bool, value) -> None:
    """DriveLetter and the recorded original are a drive letter ("M", "M:") or blank: anything else (a
    REG_MULTI_SZ, a number, a long text) would be recorded or restored as something it is not."""
    if present and not (isinstance(value, str) and len(value) <= 3):
        what = f"a {type(value).__name__}" if not isinstance(value, str) else f"{len(value)} characters long"
        raise RecordError(f"{name} is {what}, not a drive letter; nothing was changed: look at the host by hand")


def hide(letter: tuple[bool, str | None], state: tuple[bool, str | None]) -> dict:
    """What state=hidden does: record the original once (value, present|absent), then blank DriveLetter.
    letter and state are (present, value) of DriveLetter and of OriginalDriveLetterState."""
    present, value = letter
    record = None if state[0] else {"OriginalDriveLetter": value if present else "",
                                    "OriginalDriveLetterState": "present" if present else "absent"}
    blank = not (present and value == "")
    return {"record": record, "blank": blank, "changed": bool(record) or blank,
            "after": {"drive_letter": "", "drive_letter_present": True}}


def restore(letter: tuple[bool, str | None], original: tuple[bool, str | None], state: tuple[bool, str | None]) -> dict:
    """What state=restored does: put the recorded value back (set), or remove DriveLetter (remove),
    then forget the record. Nothing recorded: nothing to do."""
    present, value = letter
    plan = {"set": None, "remove": False, "forget": False, "changed": False, "drive_letter_changed": False,
            "restored": None, "after": {"drive_letter": value, "drive_letter_present": present}}
    if not state[0]:
        return plan
    if state[1] not in ("present", "absent"):
        raise RecordError(f"the record HKLM\\{RECORD_KEY}\\OriginalDriveLetterState is {state[1]!r}, not present or "
                          "absent; nothing was changed")
    if state[1] == "present":
        wanted = original[1] or ""
        plan.update(set=wanted, restored=wanted, drive_letter_changed=not (present and value == wanted),
                    after={"drive_letter": wanted, "drive_letter_present": True})
    else:
        plan.update(remove=present, drive_letter_changed=present,
                    after={"drive_letter": None, "drive_letter_present": False})
    plan.update(forget=True, changed=True)  # the record is forgotten even when the value was already back
    return plan
