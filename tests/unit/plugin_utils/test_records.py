"""The controller's record of each change (plugin_utils/records.py) and the rules that trust it over the
host's own files (transaction.recovery_problem, restore_problem)."""

import json
import os

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import records, transaction

OLD = {"Baseutil.dll": {"version": "2.00.1493.3000", "sha256": "A" * 64},
       "Distmgr.dll": {"version": "2.00.1493.3000", "sha256": "b" * 64}}
NEW = {"Baseutil.dll": {"version": "2.00.1493.3240", "sha256": "c" * 64},
       "Distmgr.dll": {"version": "2.00.1493.3240", "sha256": "d" * 64}}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ANSIBLE_HOME")  # the default: ~/.ansible


def test_a_record_is_written_before_the_change_and_keeps_the_first_originals(tmp_path):
    record = records.begin(None, "p01", "replaced", OLD, NEW)
    records.save("p01", record)
    path = tmp_path / ".ansible" / "smsfleet.q317061" / "records" / "p01.json"
    assert json.loads(path.read_text())["originals"]["Baseutil.dll"]["sha256"] == "a" * 64  # lower case
    assert os.stat(path).st_mode & 0o077 == 0 and os.stat(path.parent).st_mode & 0o077 == 0
    record = records.finish(record, {"changed": True})
    assert record["installed"] == NEW and records.current(record)["finished"]
    again = records.begin(record, "p01", "replaced", NEW, NEW)  # a later run sees the fix: the originals stay
    assert again["originals"]["Distmgr.dll"]["sha256"] == "b" * 64 and len(again["transactions"]) == 2


def test_the_newer_of_the_file_and_the_fact_cache_wins_and_another_hosts_record_is_ignored():
    older = records.begin(None, "p01", "replaced", OLD, NEW)
    records.save("p01", older)
    newer = records.finish(dict(older, updated="9999-01-01T00:00:00+00:00"), {"changed": True})
    newer["updated"] = "9999-01-01T00:00:00+00:00"
    assert records.load("p01", newer)["installed"] == NEW
    assert records.load("p01", dict(newer, host="p02"))["installed"] == {}  # a fact of another host: never
    assert records.load("p02") is None


def test_only_a_recorded_transaction_is_recovered_from_undo_copies_that_match_the_record():
    record = records.begin(None, "p01", "replaced", OLD, NEW)
    expect = records.expect(record)
    tx = records.current(record)["id"]
    journal = {"id": tx, "phase": "replacing", "replaced": ["Baseutil.dll"]}
    assert transaction.recovery_problem(journal, expect, {"Baseutil.dll": "a" * 64}) is None
    assert "changed on the host" in transaction.recovery_problem(journal, expect, {"Baseutil.dll": "e" * 64})
    assert "never recorded" in transaction.recovery_problem(dict(journal, id="planted"), expect, {})
    assert "no record" in transaction.recovery_problem(journal, None, {})
    forward = dict(journal, phase="restarting")  # a roll forward copies nothing: the id is enough
    assert transaction.recovery_problem(forward, expect, {"Baseutil.dll": "e" * 64}) is None


def test_a_rollback_restores_only_backups_the_record_describes():
    record = records.finish(records.begin(None, "p01", "replaced", OLD, NEW), {"changed": True})
    expect = records.expect(record)
    entry = {"name": "Baseutil.dll", "sha256": "a" * 64, "installed_sha256": "c" * 64}
    assert transaction.restore_problem([entry], expect) is None
    assert "changed on the host" in transaction.restore_problem([dict(entry, sha256="f" * 64)], expect)
    assert "installed file" in transaction.restore_problem([dict(entry, installed_sha256="f" * 64)], expect)
    assert "no record of a change" in transaction.restore_problem([entry], None)


def test_a_lost_transaction_stays_open_in_the_record():
    record = records.begin(None, "p01", "replaced", OLD, NEW)
    assert not records.current(records.finish(record, {"failed": True, "unreachable": True}))["finished"]
    assert records.current(records.finish(record, {"failed": True}))["finished"]  # rolled back on the host
