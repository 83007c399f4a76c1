"""The workaround's rules (plugin_utils/exifs.py), which q317061_exifs.ps1 and its twin follow too."""

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import exifs

ABSENT, NONE = (False, None), (False, None)


@pytest.mark.parametrize("letter, state, record, blank, changed", [
    ((True, "M"), NONE, {"OriginalDriveLetter": "M", "OriginalDriveLetterState": "present"}, True, True),
    (ABSENT, NONE, {"OriginalDriveLetter": "", "OriginalDriveLetterState": "absent"}, True, True),
    ((True, ""), (True, "present"), None, False, False),       # done before: a second run changes nothing
    ((True, "N"), (True, "present"), None, True, True),        # set back by hand: blank again, keep the record
])
def test_hide_records_the_original_once_then_blanks(letter, state, record, blank, changed):
    plan = exifs.hide(letter, state)
    assert (plan["record"], plan["blank"], plan["changed"]) == (record, blank, changed)


@pytest.mark.parametrize("letter, original, state, expected", [
    ((True, ""), (True, "M"), (True, "present"), {"set": "M", "remove": False, "drive_letter_changed": True}),
    ((True, ""), (True, ""), (True, "absent"), {"set": None, "remove": True, "drive_letter_changed": True}),
    ((True, "M"), (True, "M"), (True, "present"), {"set": "M", "remove": False, "drive_letter_changed": False}),
])
def test_restore_puts_back_what_was_recorded_and_forgets_the_record(letter, original, state, expected):
    plan = exifs.restore(letter, original, state)
    assert {k: plan[k] for k in expected} == expected and plan["forget"] and plan["changed"]


def test_without_a_record_restore_does_nothing():
    plan = exifs.restore((True, ""), NONE, NONE)
    assert not plan["changed"] and not plan["forget"] and plan["set"] is None and not plan["remove"]


def test_a_record_in_an_unknown_state_is_refused():
    with pytest.raises(exifs.RecordError, match="not present or absent; nothing was changed"):
        exifs.restore((True, ""), (True, "M"), (True, "maybe"))
