"""The workaround (plugin_utils/exifs.py) over the remote registry: the result q317061_exifs.ps1 returns."""

from __future__ import annotations

from .. import exifs
from .registry import Registry


def run(client, state: str, check_mode: bool = False) -> dict:
    registry = Registry(client)
    if not registry.exists(exifs.SERVICE):
        return {"failed": True, "changed": False,
                "msg": f"EXIFS is not installed on this host (no HKLM\\{exifs.SERVICE}): there is no IFS drive to "
                       "hide or restore; nothing was changed"}
    letter = registry.values(exifs.PARAMETERS, ["DriveLetter"])["DriveLetter"]
    record = registry.values(exifs.RECORD_KEY, exifs.RECORD_VALUES)
    original, recorded_state = record["OriginalDriveLetter"], record["OriginalDriveLetterState"]
    try:
        exifs.check_letter(f"HKLM\\{exifs.PARAMETERS}\\DriveLetter", *letter)
        exifs.check_letter(f"HKLM\\{exifs.RECORD_KEY}\\OriginalDriveLetter", *original)
    except exifs.RecordError as error:
        return {"failed": True, "changed": False, "msg": str(error)}
    result = {"changed": False, "before": {"drive_letter": letter[1], "drive_letter_present": letter[0]},
              "record": {"present": recorded_state[0], "original": original[1], "original_state": recorded_state[1]}}
    if state == "hidden":
        plan = exifs.hide(letter, recorded_state)
        if not check_mode:
            for name, value in (plan["record"] or {}).items():  # the original first: the rollback depends on it
                registry.set_string(exifs.RECORD_KEY, name, value)
            if plan["blank"]:
                registry.set_string(exifs.PARAMETERS, "DriveLetter", "")
        result.update(recorded=bool(plan["record"]), changed=plan["changed"], after=plan["after"])
    else:
        try:
            plan = exifs.restore(letter, original, recorded_state)
        except exifs.RecordError as error:
            return dict(result, failed=True, msg=str(error))
        if not check_mode:
            if plan["set"] is not None and plan["drive_letter_changed"]:
                registry.set_string(exifs.PARAMETERS, "DriveLetter", plan["set"])
            if plan["remove"]:
                registry.delete_value(exifs.PARAMETERS, "DriveLetter")
            if plan["forget"]:
                for name in exifs.RECORD_VALUES:
                    registry.delete_value(exifs.RECORD_KEY, name)
                handle = registry.open(exifs.RECORD_KEY)
                empty = handle is not None and registry.counts(handle) == (0, 0)
                registry.close(handle)
                if empty:
                    registry.delete_key(exifs.RECORD_KEY)
        result.update(changed=plan["changed"], restored=plan["restored"],
                      drive_letter_changed=plan["drive_letter_changed"], after=plan["after"])
    if result["changed"]:
        result["diff"] = {"before": result["before"], "after": result["after"]}
    return result
