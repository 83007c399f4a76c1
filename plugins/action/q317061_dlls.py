# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the q317061_dlls transaction so that a dropped connection cannot kill it halfway.

Over WinRM the module runs asynchronously: WinRM deletes the shell when the connection drops
and kills whatever runs in it, so the transaction runs in its own process on the host and this
action polls for its result. A poll that fails (the network, a restart) is retried; if the host
booted since the transaction started, the transaction's process died with it: polling stops and
the host's journal tells the next run what to recover (plugin_utils/transaction.py).
"""

from __future__ import annotations

import base64
import json
import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import parse_time

MODULE = "smsfleet.q317061.q317061_dlls"
STATUS = "ansible.windows.async_status"
SLURP = "ansible.windows.slurp"
BOOT_TIME = "(Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime.ToFileTime()"
POLL_SECONDS = 2
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
