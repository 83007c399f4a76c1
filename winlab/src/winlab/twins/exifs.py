"""Twin of smsfleet.q317061.q317061_exifs: the workaround's DriveLetter and its rollback record.

Its own code for the rules (it stands in for the PowerShell module), so a difference from the ps1
or from the smb transport shows up as a failing test."""

from __future__ import annotations

from ..host import EXIFS_PARAMS
from . import ModuleFail, twin

SERVICE = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS"
RECORD = "HKLM\\SOFTWARE\\smsfleet\\Q317061"


def _value(host, key, name, letter: bool = False):
    """(present, value), as the ps1 reads it; a letter that is not a drive letter (a REG_MULTI_SZ, a number,
    a long text) fails the module before anything changes, as the ps1 does."""
    present = host.reg_has(key, name)
    value = host.reg_get(key, name) if present else None
    if letter and present and not (isinstance(value, str) and len(value) <= 3):
        raise ModuleFail(f"{key}\\{name} is not a drive letter; nothing was changed: look at the host by hand")
    return present, None if value is None else str(value)


@twin("smsfleet.q317061.q317061_exifs")
def exifs(host, params, check_mode, diff):
    if not host.reg_key_exists(SERVICE):
        raise ModuleFail(f"EXIFS is not installed on this host (no {SERVICE}): there is no IFS drive to hide or "
                         "restore; nothing was changed")
    letter = _value(host, EXIFS_PARAMS, "DriveLetter", letter=True)
    original = _value(host, RECORD, "OriginalDriveLetter", letter=True)
    state = _value(host, RECORD, "OriginalDriveLetterState")
    before = {"drive_letter": letter[1], "drive_letter_present": letter[0]}
    result = {"changed": False, "before": before,
              "record": {"present": state[0], "original": original[1], "original_state": state[1]}}
    after = dict(before)
    if params["state"] == "hidden":
        record, blank = not state[0], not (letter[0] and letter[1] == "")
        if not check_mode:
            if record:
                host.reg_set(RECORD, "OriginalDriveLetter", letter[1] if letter[0] else "")
                host.reg_set(RECORD, "OriginalDriveLetterState", "present" if letter[0] else "absent")
            if blank:
                host.reg_set(EXIFS_PARAMS, "DriveLetter", "")
        result.update(recorded=record, changed=record or blank)
        after = {"drive_letter": "", "drive_letter_present": True}
    else:
        result.update(restored=None, drive_letter_changed=False)
        if state[0] and state[1] not in ("present", "absent"):
            raise ModuleFail(f"the record {RECORD}\\OriginalDriveLetterState is '{state[1]}', not present or absent; "
                             "nothing was changed", **result)
        if state[0]:
            if state[1] == "present":
                value = original[1] or ""
                change = not (letter[0] and letter[1] == value)
                if change and not check_mode:
                    host.reg_set(EXIFS_PARAMS, "DriveLetter", value)
                after = {"drive_letter": value, "drive_letter_present": True}
                result["restored"] = value
            else:
                change = letter[0]
                if change and not check_mode:
                    host.reg_delete(EXIFS_PARAMS, "DriveLetter")
                after = {"drive_letter": None, "drive_letter_present": False}
            if not check_mode:
                for name in ("OriginalDriveLetter", "OriginalDriveLetterState"):
                    host.reg_delete(RECORD, name)
                key = host._key(RECORD)
                if key is not None and not host.state["registry"][key] and not any(
                        k.lower().startswith(RECORD.lower() + "\\") for k in host.state["registry"]):
                    del host.state["registry"][key]
            result.update(drive_letter_changed=change, changed=True)
    result["after"] = after
    if diff and result["changed"]:
        result["diff"] = {"before": before, "after": after}
    return result
