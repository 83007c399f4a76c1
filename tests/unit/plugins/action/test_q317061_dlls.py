"""The q317061_dlls action over WinRM: what it uploads, and how it waits for the transaction's result."""

import gzip
import json
from unittest import mock

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.smsfleet.q317061.plugins.action import q317061_dlls
from ansible_collections.smsfleet.q317061.plugins.action.q317061_dlls import FILETIME_1970, ActionModule

WORK = "C:\\SMSFleet\\Q317061"
BOOT = 1_764_000_000  # seconds since 1970: the probe's boot time


def _filetime(seconds):
    return int(seconds * 10_000_000) + FILETIME_1970


def _file(tmp_path, name, data):
    local = tmp_path / name
    local.write_bytes(data)
    return {"name": name, "local": str(local), "source": f"{WORK}\\staged\\i386\\{name}",
            "version": "2.00.1493.3240", "sha256": f"{name[0].lower()}" * 64}


def _task_vars(staged=None, temp="C:\\Users\\ops\\AppData\\Local\\Temp\\"):
    staging = {"temp_dir": temp, "files": staged or {}}
    return {"ansible_facts": {"q317061": {"probe": {"boot_time": "2025-11-24T16:00:00Z", "staging": staging}}}}


def _action(files, replies):
    """replies: what each wait command prints (dicts become JSON), or exceptions to raise."""
    task = mock.MagicMock(args={"state": "replaced", "bin_dir": "C:\\SMS\\bin\\i386", "files": files,
                                "backup_dir": f"{WORK}\\backup", "journal": f"{WORK}\\journal.json",
                                "services": ["SMS_EXECUTIVE"], "stop_timeout": 1},
                          async_val=0, check_mode=False, action="smsfleet.q317061.q317061_dlls")
    connection = mock.MagicMock(transport="winrm")
    connection._load_name = "ansible.builtin.winrm"
    outputs = [r if isinstance(r, Exception) else (0, json.dumps(r).encode(), b"") for r in replies]
    connection.exec_command.side_effect = outputs
    action = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    action._execute_module = mock.MagicMock(return_value={"ansible_job_id": "j1.1", "started": 1, "finished": 0,
                                                          "results_file": "C:\\Users\\ops\\.ansible_async\\j1.1"})
    return action, connection


def _finished(**result):
    return {"boot": _filetime(BOOT), "result": json.dumps(dict(result, finished=1, started=1, ansible_job_id="j1.1"))}


@pytest.fixture(autouse=True)
def _no_sleeping(monkeypatch):
    monkeypatch.setattr(q317061_dlls.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(q317061_dlls, "_probed_boot", lambda task_vars: BOOT)


def test_uploads_gzip_copies_to_the_temp_folder_and_tells_the_module(tmp_path):
    files = [_file(tmp_path, "Baseutil.dll", b"MZ" + bytes(5000)), _file(tmp_path, "Distmgr.dll", b"MZ" + bytes(900))]
    action, connection = _action(files, [_finished(changed=True, after={"Distmgr.dll": "2.00.1493.3240"})])
    result = action.run(task_vars=_task_vars())
    assert result["changed"] and not result.get("failed")
    uploads = [c.args for c in connection.put_file.call_args_list]
    assert [dest for dummy, dest in uploads] == [
        "C:\\Users\\ops\\AppData\\Local\\Temp\\q317061-bbbbbbbbbbbbbbbb-Baseutil.dll.gz",
        "C:\\Users\\ops\\AppData\\Local\\Temp\\q317061-dddddddddddddddd-Distmgr.dll.gz"]
    assert gzip.decompress(open(uploads[1][0], "rb").read()) == b"MZ" + bytes(900)
    sent = action._execute_module.call_args.kwargs["module_args"]["files"]
    assert [f["upload"] for f in sent] == [dest for dummy, dest in uploads]
    assert all("local" not in f for f in sent)  # the controller's paths never reach the host
    assert connection.exec_command.call_count == 1  # one wait, no slurp polls, no async_status cleanup


def test_a_file_already_staged_with_the_same_hash_is_not_uploaded_again(tmp_path):
    files = [_file(tmp_path, "Baseutil.dll", b"MZ1"), _file(tmp_path, "Distmgr.dll", b"MZ2")]
    staged = {f"{WORK}\\STAGED\\i386\\baseutil.dll": "b" * 64, f"{WORK}\\staged\\i386\\Distmgr.dll": "0" * 64}
    action, connection = _action(files, [_finished(changed=True)])
    action.run(task_vars=_task_vars(staged))
    assert [c.args[1].rsplit("\\", 1)[1] for c in connection.put_file.call_args_list] == [
        "q317061-dddddddddddddddd-Distmgr.dll.gz"]  # the wrong hash is replaced, the right one skipped
    sent = action._execute_module.call_args.kwargs["module_args"]["files"]
    assert "upload" not in sent[0] and sent[1]["upload"].endswith("Distmgr.dll.gz")


def test_a_failed_upload_fails_before_anything_on_the_host_changes(tmp_path):
    action, connection = _action([_file(tmp_path, "Distmgr.dll", b"MZ")], [])
    connection.put_file.side_effect = AnsibleConnectionFailure("connection reset")
    result = action.run(task_vars=_task_vars())
    assert result["failed"] and not result["changed"] and result["unreachable"]
    assert "staging Distmgr.dll on the host failed" in result["msg"] and "nothing else was changed" in result["msg"]
    action._execute_module.assert_not_called()


def test_waiting_survives_a_dropped_connection_and_returns_the_modules_result(tmp_path):
    unfinished = {"boot": _filetime(BOOT), "result": json.dumps({"started": 1, "finished": 0})}
    replies = [AnsibleConnectionFailure("read timeout"), unfinished, _finished(changed=True, stopped=["SMS_EXECUTIVE"])]
    action, connection = _action([_file(tmp_path, "Distmgr.dll", b"MZ")], replies)
    result = action.run(task_vars=_task_vars())
    assert result["changed"] and result["stopped"] == ["SMS_EXECUTIVE"] and "finished" not in result
    assert connection.exec_command.call_count == 3 and connection.reset.called


def test_a_host_that_restarted_under_the_transaction_is_reported_not_waited_for(tmp_path):
    dead = {"boot": _filetime(BOOT + 600), "result": json.dumps({"started": 1, "finished": 0})}
    action, connection = _action([_file(tmp_path, "Distmgr.dll", b"MZ")], [dead])
    result = action.run(task_vars=_task_vars())
    assert result["failed"] and "restarted while the DLL transaction ran" in result["msg"]
    assert connection.exec_command.call_count == 1


def test_the_wait_script_names_the_result_file_safely():
    script = q317061_dlls._wait_script("C:\\Users\\o'brien\\.ansible_async\\j1", 15)
    assert script.startswith("$results = 'C:\\Users\\o''brien\\.ansible_async\\j1'\n$until = [DateTime]::UtcNow.AddSeconds(15)")
    assert "Remove-Item -LiteralPath $results" in script  # the result file is cleaned up by the same command


def test_without_the_probes_staging_facts_it_uploads_into_ansibles_own_temp_folder(tmp_path):
    action, connection = _action([_file(tmp_path, "Distmgr.dll", b"MZ")], [_finished(changed=True)])
    action._make_tmp_path = mock.MagicMock(return_value="C:\\Users\\ops\\AppData\\Local\\Temp\\ansible-tmp-1\\")
    action.run(task_vars={})
    assert connection.put_file.call_args.args[1] == ("C:\\Users\\ops\\AppData\\Local\\Temp\\ansible-tmp-1\\"
                                                     "q317061-dddddddddddddddd-Distmgr.dll.gz")
    action._make_tmp_path.assert_called_once()
