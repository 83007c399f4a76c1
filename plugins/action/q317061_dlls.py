# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the q317061_dlls transaction so that a dropped connection cannot kill it halfway.

Over WinRM the staged files are copied from the controller's checked copies (files[].local, with
win_copy), then the module runs asynchronously: WinRM deletes the shell when the connection drops
and kills whatever runs in it, so the transaction runs in its own process on the host and this
action polls for its result. A poll that fails (the network, a restart) is retried; if the host
booted since the transaction started, the transaction's process died with it: polling stops and
the host's journal tells the next run what to recover (plugin_utils/transaction.py).

Over smb the controller runs the same transaction itself (plugin_utils/smb/dlls.py), writing the
checked bytes straight from files[].local. If the connection drops midway it reconnects and
recovers at once by the journal, so SMS is not left stopped until the next run.
"""

from __future__ import annotations

import base64
import json
import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import transport
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import parse_time

MODULE = "smsfleet.q317061.q317061_dlls"
STATUS = "ansible.windows.async_status"
SLURP = "ansible.windows.slurp"
BOOT_TIME = "(Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime.ToFileTime()"
POLL_SECONDS = 2
RECONNECTS, RECONNECT_SECONDS = 6, 5  # smb: how long a dropped transaction waits for the host to answer again
FILETIME_1970 = 116444736000000000
display = Display()


def _job_status(read: dict) -> dict:
    """The async job's result file, read with slurp: {} while it cannot be parsed (being written)."""
    try:
        return json.loads(base64.b64decode(read.get("content") or "").decode("utf-8-sig"))
    except ValueError:
        return {}


def _probed_boot(task_vars):
    """The boot time this run's probe read (seconds since 1970), so no extra command is needed."""
    probe = ((task_vars or {}).get("ansible_facts") or {}).get("q317061", {}).get("probe") or {}
    when = parse_time(probe.get("boot_time"))
    return when.timestamp() if when else None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if transport.name(self._connection) == transport.SMB:
            return dict(result, **self._run_smb(args))
        local = {f.get("name"): f.pop("local", None) for f in [dict(f) for f in args.get("files") or []]}
        args["files"] = [{k: v for k, v in f.items() if k != "local"} for f in args.get("files") or []] or None
        if args["files"] is None:
            args.pop("files")
        staged = self._stage(args, local, task_vars)
        if staged:
            return dict(result, **staged)
        if self._task.check_mode or args.get("state") == "recovered":
            return dict(result, **self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        services = len(args.get("services") or []) + 4  # WMI, its dependents, the console
        timeout = int(args.get("stop_timeout") or 120) * services * 2 + 300
        boot = _probed_boot(task_vars)
        if boot is None:
            boot = self._boot_time()
        job = self._start(args, task_vars, timeout)
        if job.get("failed") or not job.get("ansible_job_id"):
            return dict(result, **job)
        return dict(result, **self._wait(job, task_vars, timeout, boot))

    def _stage(self, args, local, task_vars):
        """Copy each file's checked controller copy (files[].local) to its source path on the host with
        win_copy (which skips a file already there with the same checksum). {} when all went well."""
        for f in args.get("files") or []:
            if not local.get(f["name"]):
                continue
            task = self._task.copy()
            task.args = {"src": local[f["name"]], "dest": f["source"]}
            copy = self._shared_loader_obj.action_loader.get(
                "ansible.windows.win_copy", task=task, connection=self._connection, play_context=self._play_context,
                loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
            copied = copy.run(task_vars=task_vars)
            if copied.get("failed") or copied.get("unreachable"):
                return {"failed": True, "changed": bool(copied.get("changed")), "unreachable": copied.get("unreachable"),
                        "msg": f"staging {f['name']} on the host failed: {copied.get('msg')}; nothing else was changed"}
        return {}

    def _run_smb(self, args):
        """The transaction from the controller, over the connection's SMB session."""
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, dlls

        params = {"files": [], "services": [], "wmi_service": "Winmgmt", "admin_console": "refuse",
                  "stop_timeout": 120, "state": "replaced", **args}
        missing = [f.get("name") for f in params["files"] or [] if not f.get("local")]
        if params["state"] == "replaced" and missing:
            return {"failed": True, "changed": False,
                    "msg": f"over smb every file needs 'local' (the controller's checked copy): {', '.join(missing)}"}
        try:
            return dlls.Transaction(transport.smb_client(self._connection), params, self._task.check_mode).run()
        except dlls.Failed as failure:
            return failure.result
        except smb.Unreachable as error:
            return self._recover_smb(params, str(error))
        except smb.SmbError as error:
            return {"failed": True, "changed": False, "msg": f"{error}; nothing was changed"}

    def _recover_smb(self, params, reason):
        """The SMB session dropped mid-transaction: reconnect and recover by the journal right away."""
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, dlls

        for attempt in range(RECONNECTS):
            time.sleep(RECONNECT_SECONDS if attempt else 1)
            try:
                self._connection.reset()
                recovered = dlls.Transaction(transport.smb_client(self._connection),
                                             {"state": "recovered", "journal": params["journal"],
                                              "bin_dir": params.get("bin_dir"), "stop_timeout": params["stop_timeout"]}
                                             ).run()
            except dlls.Failed as failure:
                return dict(failure.result, changed=True,
                            msg=f"the connection dropped during the DLL transaction ({reason}); recovering it after "
                                f"reconnecting failed: {failure.result['msg']}")
            except (AnsibleConnectionFailure, smb.SmbError) as error:
                display.vvvv(f"q317061_dlls: reconnect {attempt + 1} failed ({error})")
                continue
            how = (recovered.get("recovered") or {}).get("action", "nothing to recover").replace("_", " ")
            return {"failed": True, "changed": True, "recovered": recovered.get("recovered"),
                    "msg": f"the connection dropped during the DLL transaction ({reason}); after reconnecting, the "
                           f"journal was recovered ({how}): the host is consistent, run remediate.yml again"}
        return {"failed": True, "changed": True, "unreachable": True,
                "msg": f"the connection dropped during the DLL transaction ({reason}) and the host did not answer "
                       "again: SMS services may be stopped; the host's journal tells the next run what to recover"}

    def _start(self, args, task_vars, timeout):
        saved = self._task.async_val
        self._task.async_val = timeout  # the exec wrapper's async_wrapper and watchdog take this timeout
        try:
            return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars, wrap_async=True)
        except (AnsibleConnectionFailure, OSError) as error:  # requests' errors are OSErrors
            return {"failed": True, "changed": True,
                    "msg": f"the connection dropped as the DLL transaction started ({error}); it runs on by itself "
                           "on the host and its journal records how it ends: the report's fresh audit shows the "
                           "host as it is, and the next run recovers anything unfinished"}
        finally:
            self._task.async_val = saved

    def _wait(self, job, task_vars, timeout, boot):
        """Read the job's result file (slurp: one read-only command per poll) until it says finished."""
        jid, results = job["ansible_job_id"], job.get("results_file")
        deadline = time.monotonic() + timeout
        disturbed = False
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            try:
                read = self._execute_module(module_name=SLURP, task_vars=task_vars, module_args={"src": results})
            except (AnsibleConnectionFailure, OSError) as error:
                disturbed = True
                display.vvvv(f"q317061_dlls: poll failed ({error}); retrying")
                self._reset()
                continue
            status = _job_status(read)
            if status.get("finished"):
                self._cleanup(jid, task_vars)
                return {k: v for k, v in status.items() if k not in ("started", "finished", "results_file",
                                                                     "ansible_job_id")}
            if read.get("failed"):
                return {"failed": True, "changed": True,
                        "msg": f"the DLL transaction's result cannot be read ({read.get('msg')}); its journal on the "
                               "host records how far it got"}
            now = self._boot_time() if disturbed and boot is not None else None
            if now is not None and abs(now - boot) > 2:
                return {"failed": True, "changed": True,
                        "msg": "the host restarted while the DLL transaction ran, so its process died; the journal "
                               "on the host records how far it got, and the next remediate.yml or rollback.yml "
                               "recovers it first"}
            disturbed = False
        return {"failed": True, "changed": True,
                "msg": f"the DLL transaction did not finish within {timeout} seconds; it may still run on the host "
                       "(its journal says how far it got); run remediate.yml again to recover or confirm"}

    def _cleanup(self, jid, task_vars):
        async_dir = self.get_shell_option("async_dir", default="~/.ansible_async")
        try:
            self._execute_module(module_name=STATUS, task_vars=task_vars,
                                 module_args={"jid": jid, "mode": "cleanup", "_async_dir": async_dir})
        except AnsibleConnectionFailure:
            pass  # a left-over result file is harmless

    def _boot_time(self):
        """The host's boot time (seconds since 1970), or None if it cannot be read now."""
        script = BOOT_TIME
        encoded = base64.b64encode(script.encode("utf-16-le")).decode()
        command = f"PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand {encoded}"
        try:
            rc, stdout, dummy = self._connection.exec_command(command, in_data=None, sudoable=False)
        except (AnsibleConnectionFailure, OSError):
            self._reset()
            return None
        text = (stdout or b"").decode("utf-8", "replace").strip()
        return (int(text) - FILETIME_1970) / 10_000_000 if rc == 0 and text.isdigit() else None

    def _reset(self):
        try:
            self._connection.reset()
        except (AttributeError, AnsibleConnectionFailure):
            pass
