"""Twin of smsfleet.q317061.q317061_probe: the same raw facts the ps1 reads."""

from ..host import EXIFS_PARAMS
from . import twin

IDENT = "HKLM\\SOFTWARE\\Microsoft\\SMS\\Identification"


@twin("smsfleet.q317061.q317061_probe")
def probe(host, params, check_mode, diff):
    install_dir = host.reg_get(IDENT, "Installation Directory")
    platform = host.state.get("platform") if host.state.get("platform") in ("i386", "Alpha") else None
    dlls = {}
    for name in ("Baseutil.dll", "Distmgr.dll"):
        info = {"path": None, "exists": False, "version": None, "size": None, "sha256": None, "language": None}
        if install_dir and platform:
            info["path"] = f"{install_dir}\\bin\\{platform}\\{name}"
            entry = host.file(info["path"])
            if entry:
                info.update(exists=True, version=entry.get("version"), size=entry.get("size"),
                            sha256=entry.get("sha256"), language=entry.get("language"))
        dlls[name] = info
    services = []
    for name in params["services"]:
        real = host.service_name(name)
        if real:
            services.append({"name": real, "state": host.service_state(real), "dependents": host.dependents(real)})
    site_type = host.reg_get(IDENT, "Site Type")
    major = host.reg_get("HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup", "MsiProductMajor")
    minor = host.reg_get("HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup", "MsiProductMinor")
    log_path = host.log_path()
    lines = []
    if log_path and host.file(log_path):
        text = host.file(log_path).get("text") or []
        tail, size = [], 0
        for line in reversed(text):
            size += len(line) + 2
            if size > params["log_tail_bytes"]:
                break
            tail.append(line)
        lines = [line for line in reversed(tail) if "decompress" in line.lower()][-params["max_log_lines"]:]
    drives = [{"letter": d["letter"], "type": d["type"], "file_system": d.get("file_system"),
               "label": d.get("label", ""), "size": d.get("size"), "free": d.get("free"),
               "target": d.get("target") or f"\\Device\\HarddiskVolume{ord(d['letter']) - 64}"}
              for d in host.state["drives"]]
    probe = {
        "computer_name": host.computer_name,
        "sms": {
            "installed": bool(install_dir), "install_dir": install_dir, "site_code": host.reg_get(IDENT, "Site Code"),
            "site_type": {1: "primary", 2: "secondary"}.get(site_type),
            "parent_site_code": host.reg_get(IDENT, "Parent Site Code"),
            "full_version": host.reg_get("HKLM\\SOFTWARE\\Microsoft\\SMS\\Setup", "Full Version"),
            "full_version_present": host.reg_has("HKLM\\SOFTWARE\\Microsoft\\SMS\\Setup", "Full Version"),
            "platform": platform,
            "admin_console_running": "sms_admin_console" in host.state.get("processes", []),
            "dlls": dlls,
        },
        "services": services,
        "exifs": {
            "service_present": host.reg_key_exists("HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS"),
            "drive_letter": host.reg_get(EXIFS_PARAMS, "DriveLetter"),
            "drive_letter_present": host.reg_has(EXIFS_PARAMS, "DriveLetter"),
            "exchange_version": f"{major}.{minor}" if major is not None else None,
            "sharepoint_portal_server": host.reg_key_exists("HKLM\\SOFTWARE\\Microsoft\\SharePoint Portal Server"),
        },
        "drives": drives,
        "distmgr_log": {"path": log_path, "lines": lines},
        "errors": [],
    }
    return {"changed": False, "probe": probe}
