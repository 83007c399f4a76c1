"""Twin of ansible.windows.win_command, for the one program remediation runs: Q317061.exe.

The emulated Hotfix Installer (KB Q317061, Intel only) does what the manual method
does, as vendor code would: refuse beside the SMS Administrator console, stop SMS and
WMI, replace the DLLs from the platform folder beside it, restart. Any other command
fails clearly, never a fake success.
"""

from __future__ import annotations

import shlex

from ..host import SMS_SERVICES, HostError
from . import ModuleFail, twin

QUIET = ("/q", "/quiet", "-q")


def _argv(params) -> list[str]:
    if params.get("argv"):
        return list(params["argv"])
    return shlex.split(params.get("cmd") or params.get("_raw_params") or "", posix=False)


@twin("ansible.windows.win_command", check_mode=False)
def win_command(host, params, check_mode, diff):
    argv = [a.strip('"') for a in _argv(params)]
    if not argv or not argv[0].lower().endswith("q317061.exe"):
        raise ModuleFail(f"winlab does not emulate the command {argv[0] if argv else ''!r}", rc=1)
    exe = argv[0]
    if host.file(exe) is None:
        raise ModuleFail(f"The system cannot find the file specified: {exe}", rc=2)
    result = {"cmd": " ".join(argv), "stdout": "", "stderr": "", "rc": 0, "changed": True}

    def fail(rc, text):
        raise ModuleFail("non-zero return code", **dict(result, rc=rc, stderr=text, changed=False))

    if host.state.get("platform") != "i386":
        fail(1, "Q317061.exe: this update is for Intel-based computers only.")
    if not any(a.lower() in QUIET for a in argv[1:]):
        fail(1, "Q317061.exe: the installer wizard is waiting for input; pass unattended arguments (/q).")
    if host.console_pids():
        fail(1, "Q317061.exe: quit the SMS Administrator console and run the installer again.")
    bin_dir = host.sms_bin_dir()
    folder = exe.rsplit("\\", 1)[0] + "\\i386"
    stopped, replaced = [], {}
    try:
        for name in SMS_SERVICES + ("Winmgmt",):
            if host.service_state(name) == "running":
                host.stop_service(name, force=True)
                stopped.append(host.service_name(name))
        for dll in ("Baseutil.dll", "Distmgr.dll"):
            replaced[dll] = dict(host.file(f"{bin_dir}\\{dll}") or {})
            host.copy_file(f"{folder}\\{dll}", f"{bin_dir}\\{dll}")
    except HostError as error:
        for dll, entry in replaced.items():
            if entry:
                host.write_file(f"{bin_dir}\\{dll}", {k: v for k, v in entry.items() if k != "path"})
        for name in reversed(stopped):
            host.start_service(name)
        fail(1603, f"Q317061.exe: installation failed and was rolled back: {error}")
    for name in reversed(stopped):
        host.start_service(name)
    result["stdout"] = "Q317061 hotfix installed.\r\n"
    return result
