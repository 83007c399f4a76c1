"""Ansible's PowerShell execution protocol, as ansible-core 2.21 drives it over WinRM.

Every command is `PowerShell ... -EncodedCommand <base64 UTF-16LE script>`. When the
script is bootstrap_wrapper.ps1, stdin carries the bootstrap JSON, `\\n\\0\\0\\0\\0\\n`, the
exec manifest (scripts and actions), and for some actions more input. We run the
last action: module_wrapper.ps1 (a module twin by FQCN), winrm_put_file.ps1,
winrm_fetch_file.ps1, powershell_mkdtemp.ps1 or powershell_expand_user.ps1.
Plain scripts (win_reboot's) are matched by shape. Anything else fails clearly.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import shlex
import time

from . import twins
from .content import file_bytes
from .twins.registry import host_path
from .host import ConnectionLost, Host, HostError, filetime

SEPARATOR = b"\n\0\0\0\0\n"
BOOTSTRAP_MARK = "$codeJson | ConvertFrom-Json"
ASYNC_ACTIONS = ("async_wrapper.ps1", "async_watchdog.ps1")


class Unsupported(Exception):
    pass


def _script_from_args(command: str, args: str) -> str:
    parts = shlex.split(f"{command} {args}", posix=False)
    if not parts or parts[0].lower() not in ("powershell", "powershell.exe", "pwsh"):
        raise Unsupported(f"winlab does not emulate the command {parts[0] if parts else command!r}")
    lowered = [p.lower() for p in parts]
    for flag in ("-encodedcommand", "-enc", "-e"):
        if flag in lowered:
            encoded = parts[lowered.index(flag) + 1]
            return base64.b64decode(encoded).decode("utf-16-le")
    raise Unsupported(f"winlab only runs -EncodedCommand scripts (got {' '.join(parts[:4])} ...)")


def execute(host: Host, command: str, args: str, stdin: bytes) -> tuple[int, bytes, bytes]:
    """Run one WinRM command on the host; returns (rc, stdout, stderr).

    The caller advances the host's time (Host.is_up/tick) before each request.
    """
    try:
        script = _script_from_args(command, args)
        if BOOTSTRAP_MARK in script:
            return _bootstrap(host, stdin)
        return _plain_script(host, script)
    except Unsupported as error:
        return 1, b"", f"{error}\r\n".encode()


def _bootstrap(host: Host, stdin: bytes) -> tuple[int, bytes, bytes]:
    parts = stdin.split(SEPARATOR, 2)
    if len(parts) < 2:
        raise Unsupported("bootstrap input has no exec manifest")
    bootstrap = json.loads(parts[0])
    if bootstrap.get("name") != "exec_wrapper":
        raise Unsupported(f"winlab does not emulate bootstrap target {bootstrap.get('name')!r}")
    manifest = json.loads(parts[1])
    extra = parts[2] if len(parts) > 2 else b""
    actions = manifest.get("actions") or []
    names = [a.get("name") for a in actions]
    unsupported = [n for n in names[:-1] if n not in ("coverage_wrapper.ps1",) + ASYNC_ACTIONS]
    if unsupported or not actions:
        raise Unsupported(f"winlab does not emulate exec wrapper actions {names} (become is not emulated)")
    action = actions[-1]
    params = action.get("params") or {}
    name = action["name"]
    if name == "module_wrapper.ps1" and "async_wrapper.ps1" in names:
        return _async_module(host, params, actions[names.index("async_wrapper.ps1")].get("params") or {})
    if name == "module_wrapper.ps1":
        return _module(host, params)
    if name == "winrm_put_file.ps1":
        return _put_file(host, params["Path"], extra)
    if name == "winrm_fetch_file.ps1":
        return _fetch_file(host, params["Path"], int(params.get("BufferSize", 524288)), int(params.get("Offset", 0)))
    if name == "powershell_mkdtemp.ps1":
        path = f"{_expand(params['Directory'])}\\{params['Name']}"
        host.state.setdefault("dirs", []).append(path)
        return 0, (path + "\r\n").encode(), b""
    if name == "powershell_expand_user.ps1":
        path = params["Path"]
        home = f"C:\\Users\\{host.state['username']}"
        expanded = home if path == "~" else home + path[1:] if path.startswith("~\\") else path
        return 0, (expanded + "\r\n").encode(), b""
    raise Unsupported(f"winlab does not emulate exec wrapper action {name!r}")


def _expand(path: str, host: Host | None = None) -> str:
    home = f"C:\\Users\\{host.state['username']}" if host else "C:\\Users\\Administrator"
    return (path.replace("%TEMP%", "C:\\Windows\\TEMP").replace("%TMP%", "C:\\Windows\\TEMP")
            .replace("%USERPROFILE%", home))


def _module_call(params: dict) -> tuple[str, dict]:
    script = params.get("Script", "")
    name = script[:-4] if script.lower().endswith(".ps1") else script
    # ansible-core names collection modules by import path: ansible_collections.<ns>.<coll>.plugins.modules.<name>
    match = re.match(r"^ansible_collections\.(\w+)\.(\w+)\.plugins\.modules\.(\w+)$", name)
    fqcn = ".".join(match.groups()) if match else name
    variables = {v["Name"]: v["Value"] for v in params.get("Variables") or []}
    return fqcn, variables.get("complex_args") or {}


def _module(host: Host, params: dict) -> tuple[int, bytes, bytes]:
    fqcn, args = _module_call(params)
    result = twins.run(fqcn, host, args)
    return (1 if result.get("failed") else 0), json.dumps(result).encode(), b""


def _async_module(host: Host, params: dict, wrapper: dict) -> tuple[int, bytes, bytes]:
    """async_wrapper.ps1: the module runs in its own process, detached from the WinRM shell; the
    reply says it started, and async_status reads its result file later. A host crash leaves the
    file saying 'started, not finished'; a dropped connection loses only the reply."""
    fqcn, args = _module_call(params)
    jid = f"{wrapper.get('AsyncJid', 'j0')}.{4000 + len(host.state.get('async_jobs', {}))}"
    results = f"{_expand(wrapper.get('AsyncDir') or '%USERPROFILE%\\.ansible_async', host)}\\{jid}"
    started = {"started": True, "finished": False, "results_file": results, "ansible_job_id": jid,
               "_ansible_suppress_tmpdir_delete": True, "ansible_async_watchdog_pid": 4321}
    host.state.setdefault("async_jobs", {})[jid] = results
    host.write_json(results, {k: v for k, v in started.items() if not k.startswith("_")})
    try:
        result = twins.run(fqcn, host, args, is_async=True)
    except ConnectionLost:
        if host.is_up():
            raise  # the connection dropped: the job finished (twins.run ran it to its end), its reply is lost
        return 0, json.dumps(started).encode(), b""  # the host crashed under the job: the file stays unfinished
    host.write_json(results, dict(result, ansible_job_id=jid, started=1, finished=1))
    return 0, json.dumps(started).encode(), b""


def _put_file(host: Host, path: str, data: bytes) -> tuple[int, bytes, bytes]:
    content = b"".join(base64.b64decode(line) for line in data.split(b"\n") if line.strip())
    parent = path.rsplit("\\", 1)[0] if "\\" in path else ""
    if parent and not re.fullmatch(r"[A-Za-z]:", parent) and not host.is_dir(parent):
        return 1, b"", f"Could not find a part of the path '{path}'.\r\n".encode()  # [IO.File]::Create
    try:
        meta = twins.file_meta_from_bytes(host, path, content)
        host.write_file(path, meta)
    except HostError as error:
        return 1, b"", f"{error}\r\n".encode()
    return 0, json.dumps({"sha1": hashlib.sha1(content).hexdigest()}).encode(), b""


def _fetch_file(host: Host, path: str, size: int, offset: int) -> tuple[int, bytes, bytes]:
    entry = host.file(path)
    if entry is None:
        if host.is_dir(path):
            return 0, b"[DIR]\r\n", b""
        return 1, b"", f"Cannot find path '{path}' because it does not exist.\r\n".encode()
    content = twins.file_bytes(host, entry)
    return 0, base64.b64encode(content[offset:offset + size]) + b"\r\n", b""


_SHUTDOWN = re.compile(r"shutdown(?:\.exe)?\s+/r\s+/t\s+(\d+)", re.IGNORECASE)
# win_reboot clears LogonUI's volatile key before the restart and waits for it to come back.
_CLEAR_LOGON_KEY = re.compile(r"if \(\$True\) \{\s*Remove-Item -LiteralPath '([^']+)'", re.IGNORECASE)
_TEST_KEY = re.compile(r"^Get-Item -LiteralPath '([^']+)' -ErrorAction Stop; '([^']+)'", re.IGNORECASE)
_REMOVE = re.compile(r"^Remove-Item\s+'?(.+?)'?\s+-Force(\s+-Recurse)?\s*$", re.IGNORECASE)
_TEST_PATH = re.compile(r"exit -not \(Test-Path -LiteralPath '?(.+?)'?\)", re.IGNORECASE)


def _reboot(host: Host, body: str, delay: int) -> tuple[int, bytes, bytes]:
    """win_reboot's restart script: it prints {stdout, stderr, rc} of shutdown.exe as JSON."""
    if host.state.get("restart_at") is not None:
        reply = {"stdout": "", "stderr": "A system shutdown has already been scheduled.(1190)", "rc": 1190}
    else:
        clear = _CLEAR_LOGON_KEY.search(body)
        if clear:
            host.state["registry"].pop(host._key(host_path(clear.group(1))) or "", None)
        host.schedule_restart(delay + 1.0)
        reply = {"stdout": "", "stderr": "", "rc": 0}
    return 0, (json.dumps(reply) + "\r\n").encode(), b""


# q317061_dlls' wait for its async job: it waits up to N seconds for the result file to say finished
# (or to predate the last boot: the job died with it) and prints {boot, result}.
_WAIT_ASYNC = re.compile(r"^\$results = '([^']+)'\s*\n\$until = \[DateTime\]::UtcNow\.AddSeconds\((\d+)\)")


def _wait_async(host: Host, path: str, seconds: int) -> tuple[int, bytes, bytes]:
    def read():
        entry = host.file(path)
        text = file_bytes(host, entry).decode("utf-8-sig") if entry else None
        try:
            job = json.loads(text) if text else None
        except ValueError:
            job = None
        dead = entry is not None and datetime.datetime.fromisoformat(
            entry["modified"].replace("Z", "+00:00")).timestamp() < host.state["boot_time"]
        return text, job if isinstance(job, dict) else None, dead
    text, job, dead = read()
    if not (job and job.get("finished")) and not dead:
        time.sleep(seconds)  # twins run to their end at once: an unfinished job here never finishes (as a lost one)
        text, job, dead = read()
    if job and job.get("finished"):
        host.delete_file(path)
    return 0, (json.dumps({"boot": filetime(host.state["boot_time"]), "result": text}) + "\r\n").encode(), b""


def _plain_script(host: Host, script: str) -> tuple[int, bytes, bytes]:
    body = script.strip()
    match = _WAIT_ASYNC.match(body)
    if match:
        return _wait_async(host, match.group(1), int(match.group(2)))
    if "LastBootUpTime" in body and "ToFileTime" in body:
        return 0, f"{filetime(host.state['boot_time'])}\r\n".encode(), b""
    match = _SHUTDOWN.search(body)
    if match:
        return _reboot(host, body, int(match.group(1)))
    match = _TEST_KEY.match(body)
    if match:
        if host.reg_key_exists(host_path(match.group(1))):
            return 0, f"{match.group(2)}\r\n".encode(), b""
        return 1, b"", f"Cannot find path '{match.group(1)}' because it does not exist.\r\n".encode()
    if re.search(r"\bshutdown(?:\.exe)?\s+/a\b", body, re.IGNORECASE):
        host.state["restart_at"] = None
        return 0, b"", b""
    if body.lower() in ("whoami", "whoami.exe"):
        return 0, f"{host.computer_name.lower()}\\{host.state['username'].lower()}\r\n".encode(), b""
    match = _REMOVE.match(body)
    if match:
        # Ansible joins the temp dir with '' before removing it: C:\...\ansible-tmp-1\. (trailing dot)
        target = re.sub(r"(\\\.?)+$", "", match.group(1)).lower()
        host.state["dirs"] = [d for d in host.state.get("dirs", [])
                              if d.lower() != target and not d.lower().startswith(target + "\\")]
        for key in [k for k in host.state["files"] if k.startswith(target + "\\")]:
            del host.state["files"][key]
        return 0, b"", b""
    match = _TEST_PATH.search(body)
    if match:
        path = match.group(1)
        exists = host.file(path) is not None or host.is_dir(path)
        return (0 if exists else 1), b"", b""
    first = next((line for line in body.splitlines() if line.strip()), "")[:120]
    raise Unsupported(f"winlab does not emulate this PowerShell script: {first!r}")
