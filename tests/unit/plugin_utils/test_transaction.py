"""The DLL transaction's contract (plugin_utils/transaction.py), which the ps1, its twin and the smb transport follow."""

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import transaction as tx

A, B = "a" * 64, "b" * 64


@pytest.mark.parametrize("left, right, order", [
    ("2.0.1493.3240", "2.00.1493.3240", 0),
    ("2.00.1493.3241", "2.00.1493.3240", 1),
    ("2.00.1493.4000", "2.00.1493.3240", 1),
    ("2.00.1493.3000", "2.00.1493.3240", -1),
    ("junk", "2.00.1493.3240", None),
])
def test_versions_compare_numerically(left, right, order):
    assert tx.compare(left, right) == order


@pytest.mark.parametrize("installed, installed_sha, wanted, wanted_sha, action", [
    ("2.00.1493.3000", A, "2.00.1493.3240", B, "replace"),   # older
    ("2.0.1493.3240", B, "2.00.1493.3240", B, "keep"),       # same build, same bytes (written differently)
    ("2.00.1493.3240", A, "2.00.1493.3240", B, "replace"),   # same build, other bytes than the pin
    ("2.00.1493.3240", A, "2.00.1493.3240", None, "keep"),   # no pin to compare with
    ("2.00.1493.3241", A, "2.00.1493.3240", B, "keep"),      # never a downgrade
    ("2.00.1493.4000", A, "2.00.1493.3240", B, "keep"),
    (None, None, "2.00.1493.3240", B, "refuse"),              # missing or unversioned: nothing to roll back to
    ("garbage", A, "2.00.1493.3240", B, "refuse"),
])
def test_which_files_replaced_changes(installed, installed_sha, wanted, wanted_sha, action):
    assert tx.replace_action(installed, installed_sha, wanted, wanted_sha) == action


ENTRY = {"name": "Distmgr.dll", "version": "2.00.1493.3000", "sha256": A,
         "installed_version": "2.00.1493.3240", "installed_sha256": B}


@pytest.mark.parametrize("installed, sha, entry, action, words", [
    ("2.00.1493.3240", B, ENTRY, "restore", "2.00.1493.3240 -> 2.00.1493.3000"),
    ("2.00.1493.3000", A, ENTRY, "keep", "already the original"),
    ("2.00.1493.4000", "c" * 64, ENTRY, "refuse", "something was installed since"),   # SP4 came later
    ("2.00.1493.3240", "c" * 64, ENTRY, "refuse", "would downgrade"),                 # same build, other bytes
    (None, None, ENTRY, "refuse", "missing now"),
    ("2.00.1493.3240", B, dict(ENTRY, installed_version=None), "refuse", "does not say what the hotfix installed"),
])
def test_when_rollback_may_put_the_original_back(installed, sha, entry, action, words):
    got, reason = tx.restore_action(installed, sha, entry)
    assert got == action and words in reason


@pytest.mark.parametrize("phase, action", [
    ("stopping", "roll_back"), ("backing_up", "roll_back"), ("replacing", "roll_back"), ("verifying", "roll_back"),
    ("restarting", "roll_forward"), ("rolling_back", "roll_back"), ("rollback_failed", "roll_back"),
    ("done", "none"), ("rolled_back", "none"),
])
def test_recovery_by_phase(phase, action):
    journal = {"phase": phase, "bin_dir": "C:\\SMS\\bin\\i386", "undo_dir": "x", "stopped": [], "replaced": []}
    assert tx.recovery(tx.check_journal(journal)) == action
    assert tx.is_unfinished(journal) is (action != "none")


@pytest.mark.parametrize("journal, words", [
    ([], "is not a JSON object"),
    ({"phase": "stopping"}, "lacks bin_dir, undo_dir, stopped, replaced"),
    ({"phase": "dancing", "bin_dir": "x", "undo_dir": "y", "stopped": [], "replaced": []}, "a known phase"),
    ({"phase": "stopping", "bin_dir": "x", "undo_dir": "y", "stopped": "SMS", "replaced": []}, "must be lists"),
    ({"phase": "stopping", "bin_dir": "x", "undo_dir": "y", "stopped": [None], "replaced": []}, "service names"),
    ({"phase": "replacing", "bin_dir": "x", "undo_dir": "y", "stopped": [], "replaced": ["..\\..\\x.dll"]},
     "not plain file names"),
    ({"phase": "replacing", "bin_dir": "x", "undo_dir": "y", "stopped": [], "replaced": ["C:x.dll"]},
     "not plain file names"),
    ({"phase": "stopping", "bin_dir": "x", "undo_dir": None, "stopped": [], "replaced": []}, "folder paths"),
])
def test_an_untrustworthy_journal_is_refused(journal, words):
    with pytest.raises(tx.JournalError, match=words):
        tx.check_journal(journal)


def test_the_first_backup_is_kept_for_ever():
    before = {"Distmgr.dll": {"version": "2.00.1493.3000", "sha256": A}}
    first = tx.manifest_entries(None, before, {"Distmgr.dll": {"version": "2.00.1493.3240", "sha256": B}})
    assert first == [dict(ENTRY)]
    later_before = {"Distmgr.dll": {"version": "2.00.1493.3240", "sha256": B}}
    later = tx.manifest_entries({"files": first}, later_before,
                                {"Distmgr.dll": {"version": "2.00.1493.3241", "sha256": "d" * 64}})
    assert later == [dict(ENTRY, installed_version="2.00.1493.3241", installed_sha256="d" * 64)]


WORK = "C:\\SMSFleet\\Q317061"
BIN = "C:\\SMS\\bin\\i386"


@pytest.mark.parametrize("bin_dir, undo_dir, run_bin, ok", [
    (BIN, WORK + "\\undo", BIN, True),
    ("c:\\sms\\BIN\\I386\\", "c:\\smsfleet\\q317061\\undo", BIN, True),   # case and trailing slash
    (BIN, WORK + "\\undo", None, True),                                        # state=recovered names no bin
    (BIN, "C:\\Windows\\System32", BIN, False),                               # undo outside the work folder
    (BIN, WORK + "\\..\\Windows", BIN, False),                                 # ... by way of '..'
    (BIN, WORK + "X\\undo", BIN, False),                                         # a sibling folder is outside
    ("C:\\Windows\\System32", WORK + "\\undo", None, False),                  # not an SMS bin folder
    ("D:\\SMS\\bin\\i386", WORK + "\\undo", BIN, False),                      # another SMS than this run's
])
def test_an_unfinished_journal_is_followed_only_into_this_runs_folders(bin_dir, undo_dir, run_bin, ok):
    journal = {"bin_dir": bin_dir, "undo_dir": undo_dir}
    if ok:
        tx.check_folders(journal, WORK, run_bin)
    else:
        with pytest.raises(tx.JournalError, match="differ from this run's"):
            tx.check_folders(journal, WORK, run_bin)


@pytest.mark.parametrize("name, plain", [
    ("Distmgr.dll", True), ("..", False), ("sub\\x.dll", False), ("../x.dll", False), ("C:x.dll", False),
    ("", False), (None, False), (3, False),
])
def test_only_plain_file_names_are_followed(name, plain):
    assert tx.is_plain_name(name) is plain


def test_a_manifest_tolerates_an_original_it_never_saw():
    installed = {"Distmgr.dll": {"version": "2.00.1493.3240", "sha256": B}}
    entries = tx.manifest_entries({"files": [None, "junk"]}, {}, installed)
    assert entries == [{"name": "Distmgr.dll", "version": None, "sha256": None,
                        "installed_version": "2.00.1493.3240", "installed_sha256": B}]
