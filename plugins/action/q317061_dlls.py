# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the q317061_dlls transaction so that a dropped connection cannot kill it halfway.

Over WinRM the staged files are uploaded from the controller's checked copies (files[].local), gzip
compressed (about half a DLL's bytes), with the connection's put_file, one command each, skipping a
file the probe found staged with the same SHA-256; the module expands and checks them. Then the
module runs asynchronously: WinRM deletes the shell when the connection drops
and kills whatever runs in it, so the transaction runs in its own process on the host. One small
script waits on the host for the job's result file and prints it with the host's boot time; a wait
that fails (the network, a restart) is retried, and if the host booted since the transaction
started, its process died with it: waiting stops and the host's journal tells the next run what
to recover (plugin_utils/transaction.py). A hotfix host so costs: upload per file not yet staged,
start, wait (more waits only for a transaction longer than WAIT_SECONDS).

Over smb the controller runs the same transaction itself (plugin_utils/smb/dlls.py), writing the
checked bytes straight from files[].local. If the connection drops midway it reconnects and
recovers at once by the journal, so SMS is not left stopped until the next run.
"""

from __future__ import annotations

import base64
import json
import time

from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import bundle, factcache, records, transport, variables
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import parse_time

MODULE = "smsfleet.q317061.q317061_dlls"
BOOT_TIME = "(Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime.ToFileTime()"
POLL_SECONDS = 2  # between attempts to reach a host that did not answer
WAIT_SECONDS = 15  # one wait command's longest wait, inside WinRM's default operation timeout (20 s)
RECONNECTS, RECONNECT_SECONDS = 6, 5  # smb: how long a dropped transaction waits for the host to answer again
FILETIME_1970 = 116444736000000000
display = Display()


def _wait_script(results_file: str, seconds: int) -> str:
    """Wait on the host for the async job's result file to say finished, or to predate the last boot (the job
    died with it), at most `seconds`; print {boot (FILETIME), result (the file's text, or null)}."""
    quoted = results_file.replace("'", "''")
    return f"""$results = '{quoted}'
$until = [DateTime]::UtcNow.AddSeconds({seconds})
$boot = (Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime).LastBootUpTime
while ($true) {{
    $text = $null
    $job = $null
    try {{ $text = [IO.File]::ReadAllText($results); $job = ConvertFrom-Json -InputObject $text }} catch {{ }}
    $dead = (Test-Path -LiteralPath $results) -and (Get-Item -LiteralPath $results).LastWriteTime -lt $boot
    if ($job.finished -or $dead -or [DateTime]::UtcNow -ge $until) {{ break }}
    Start-Sleep -Milliseconds 500
}}
if ($job.finished) {{ Remove-Item -LiteralPath $results -Force }}
ConvertTo-Json -Compress -InputObject @{{ boot = $boot.ToFileTime(); result = $text }}
"""


def _powershell(script: str) -> str:
    """A plain PowerShell command line for a script (no module wrapper: a few hundred bytes on the wire)."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    return f"PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand {encoded}"


def _job_status(text) -> dict:
    """The async job's result: {} while the file is missing or cannot be parsed (being written)."""
    try:
        status = json.loads((text or "").lstrip("\ufeff"))
    except ValueError:
        return {}
    return status if isinstance(status, dict) else {}


def _probe(task_vars) -> dict:
    """What this run's probe of the host read (ansible_facts.q317061.probe), or {}."""
    return ((task_vars or {}).get("ansible_facts") or {}).get("q317061", {}).get("probe") or {}


def _probed_dlls(task_vars) -> dict:
    """{name: {version, sha256}} of the DLLs as this run's probe read them: what the change starts from."""
    dlls = ((_probe(task_vars).get("sms") or {}).get("dlls")) or {}
    return {name: {"version": (d or {}).get("version"), "sha256": (d or {}).get("sha256")} for name, d in dlls.items()
            if isinstance(d, dict) and d.get("exists")}


def _planned(args, record) -> dict:
    """{name: {version, sha256}} the transaction installs: the bundle's files, or (restored) the originals."""
    if args.get("state", "replaced") == "replaced":
        return {f.get("name"): {"version": f.get("version"), "sha256": f.get("sha256")} for f in args.get("files") or []}
    return dict((record or {}).get("originals") or {})


def _probed_boot(task_vars):
    """The boot time this run's probe read (seconds since 1970), so no extra command is needed."""
    when = parse_time(_probe(task_vars).get("boot_time"))
    return when.timestamp() if when else None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        host = (task_vars or {}).get("inventory_hostname") or "localhost"
        home = C.config.get_config_value("ANSIBLE_HOME")
        record = records.load(host, ((task_vars or {}).get("ansible_facts") or {}).get(records.FACT), home)
        changing = args.get("state", "replaced") in ("replaced", "restored") and not self._task.check_mode
        if changing:  # recorded before the host is touched, so a lost connection or a killed controller keeps it
            record = records.begin(record, host, args.get("state", "replaced"), _probed_dlls(task_vars),
                                   _planned(args, record))
            records.save(host, record, home)
            args["transaction_id"] = records.current(record)["id"]
        args["expect"] = records.expect(record)  # what recovery and rollback may trust: the controller's own record
        done = self._transact(args, task_vars)
        if changing:
            record = records.finish(record, done)
            records.save(host, record, home)
            done.setdefault("ansible_facts", {})[records.FACT] = record  # a fact cache (AWX's) keeps it too
        return factcache.plain_facts(dict(result, **done))  # a fact cache decodes every data tag again at each read

    def _transact(self, args, task_vars):
        if transport.name(self._connection) == transport.SMB:
            self._signing = variables.host_value(task_vars, "q317061_smb_signing", self._templar)
            return self._run_smb(args)
        files = [dict(f) for f in args.get("files") or []]
        local = {f.get("name"): f.pop("local", None) for f in files}
        if files:
            args["files"] = files
        else:
            args.pop("files", None)
        if self._task.check_mode or args.get("state") == "recovered":
            return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        staged = self._stage(files, local, task_vars)
        if staged:
            return staged
        services = len(args.get("services") or []) + 4  # WMI, its dependents, the console
        timeout = int(args.get("stop_timeout") or 120) * services * 2 + 300
        boot = _probed_boot(task_vars)
        if boot is None:
            boot = self._boot_time()
        job = self._start(args, task_vars, timeout)
        if job.get("failed") or not job.get("ansible_job_id"):
            return job
        return self._wait(job, timeout, boot)

    def _stage(self, files, local, task_vars):
        """Upload the gzip copy of each file's checked controller copy (files[].local) that the probe did not find
        staged with the same SHA-256, into the connecting user's temp folder (files[].upload: the module expands it
        into files[].source and checks it). put_file checks the upload's SHA-1. {} when all went well."""
        staging = _probe(task_vars).get("staging") or {}
        staged = {path.lower(): digest for path, digest in (staging.get("files") or {}).items()}
        folder = None
        for f in files:
            if not local.get(f["name"]) or staged.get(f["source"].lower()) == str(f.get("sha256")).lower():
                continue
            if folder is None:
                # Without staging facts (another probe), Ansible's own temp folder on the host, made on demand.
                folder = (staging.get("temp_dir") or self._make_tmp_path()).rstrip("\\")
            f["upload"] = f"{folder}\\q317061-{str(f['sha256'])[:16]}-{f['name']}.gz"
            try:
                self._connection.put_file(bundle.gzip_copy(local[f["name"]]), f["upload"])
            except (AnsibleError, OSError) as error:
                return {"failed": True, "changed": False, "unreachable": isinstance(error, AnsibleConnectionFailure),
                        "msg": f"staging {f['name']} on the host failed: {error}; nothing else was changed"}
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
            client = transport.smb_client(self._connection)
            refusal = None if params["state"] == "recovered" else transport.unsigned_refusal(client, self._signing)
            if refusal:  # a recovery is exempt: it puts back what an earlier run started
                return refusal
            return dict(dlls.Transaction(client, params, self._task.check_mode).run(),
                        signed=client.security.get("signed"))
        except dlls.Failed as failure:
            return dict(failure.result, signed=transport.smb_client(self._connection).security.get("signed"))
        except smb.Unreachable as error:
            return self._recover_smb(params, str(error))
        except smb.SmbError as error:
            return {"failed": True, "changed": False, "msg": f"{error}; nothing was changed"}

    def _recover_smb(self, params, reason):
        """The SMB session dropped mid-transaction: reconnect and recover by the journal right away."""
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, dlls

        busy = None
        for attempt in range(RECONNECTS):
            time.sleep(RECONNECT_SECONDS if attempt else 1)
            try:
                self._connection.reset()
                recovered = dlls.Transaction(transport.smb_client(self._connection),
                                             {"state": "recovered", "journal": params["journal"],
                                              "bin_dir": params.get("bin_dir"), "stop_timeout": params["stop_timeout"],
                                              "expect": params.get("expect")}).run()
            except dlls.Busy as failure:  # the lost session still holds the lock until the host gives it up
                busy = failure
                display.vvvv(f"q317061_dlls: reconnect {attempt + 1}: {failure}")
                continue
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
        if busy is not None:
            return dict(busy.result, failed=True, changed=True,
                        msg=f"the connection dropped during the DLL transaction ({reason}); after reconnecting, the "
                            f"host still held its lock for {RECONNECTS * RECONNECT_SECONDS} seconds (the lost session "
                            "went half-open, or another run took the host): SMS services may be stopped; the "
                            "host's journal tells the next run what to recover")
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

    def _wait(self, job, timeout, boot):
        """Wait for the job's result on the host (one command per WAIT_SECONDS) until it says finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seconds = max(1, min(WAIT_SECONDS, int(deadline - time.monotonic())))
            try:
                rc, stdout, stderr = self._connection.exec_command(
                    _powershell(_wait_script(job["results_file"], seconds)), in_data=None, sudoable=False)
            except (AnsibleConnectionFailure, OSError) as error:
                display.vvvv(f"q317061_dlls: waiting failed ({error}); retrying")
                self._reset()
                time.sleep(POLL_SECONDS)
                continue
            try:
                reply = json.loads((stdout or b"").decode("utf-8", "replace"))
            except ValueError:
                return {"failed": True, "changed": True,
                        "msg": f"the DLL transaction's result cannot be read (rc {rc}: "
                               f"{(stderr or b'').decode('utf-8', 'replace').strip()}); its journal on the host "
                               "records how far it got"}
            status = _job_status(reply.get("result"))
            if status.get("finished"):
                return {k: v for k, v in status.items() if k not in ("started", "finished", "results_file",
                                                                     "ansible_job_id")}
            now = (int(reply.get("boot") or 0) - FILETIME_1970) / 10_000_000
            if boot is not None and abs(now - boot) > 2:
                return {"failed": True, "changed": True,
                        "msg": "the host restarted while the DLL transaction ran, so its process died; the journal "
                               "on the host records how far it got, and the next remediate.yml or rollback.yml "
                               "recovers it first"}
        return {"failed": True, "changed": True,
                "msg": f"the DLL transaction did not finish within {timeout} seconds; it may still run on the host "
                       "(its journal says how far it got); run remediate.yml again to recover or confirm"}

    def _boot_time(self):
        """The host's boot time (seconds since 1970), or None if it cannot be read now."""
        try:
            rc, stdout, dummy = self._connection.exec_command(_powershell(BOOT_TIME), in_data=None, sudoable=False)
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
