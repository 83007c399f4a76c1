"""Twin of smsfleet.q317061.q317061_probe: the same raw facts the ps1 reads, read the same way."""

import hashlib
import json

from ..host import EXIFS_PARAMS, IDENT_KEY, TIME_ZONE_KEY, TRACING_KEY, iso
from . import file_bytes, twin, win_join

RECORD = "HKLM\\SOFTWARE\\smsfleet\\Q317061"  # the workaround's record (q317061_exifs)


def platform_of(host, install_dir):
    """The SMS installation's platform: bin\\i386 or bin\\alpha, as the ps1 tests the folders."""
    for candidate in ("i386", "Alpha"):
        if install_dir and host.is_dir(f"{install_dir}\\bin\\{candidate}"):
            return candidate
    return None


def log_tail(host, path, tail_bytes):
    """Decompression lines in the last tail_bytes of a log; a line cut by the offset is dropped (as the ps1)."""
    entry = host.file(path) if path else None
    if entry is None:
        return None
    data = file_bytes(host, entry)
    start = max(0, len(data) - tail_bytes)
    lines = data[start:].decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    if start > 0:
        lines = lines[1:]
    return [line for line in lines if "decompress" in line.lower()]


def transaction(host, work_dir):
    journal = win_join(work_dir, "journal.json")
    out = {"journal": journal, "present": False, "readable": None, "phase": None, "state": None, "started": None,
           "updated": None, "error": None, "stopped": [], "replaced": []}
    for candidate in (journal, journal + ".tmp"):
        entry = host.file(candidate)
        if entry is None:
            continue
        out["present"] = True
        try:
            data = json.loads(file_bytes(host, entry).decode("utf-8-sig"))
            out.update({k: data.get(k) for k in ("phase", "state", "started", "updated", "error", "stopped",
                                                 "replaced")}, readable=True)
            break
        except (ValueError, AttributeError) as error:
            out.update(readable=False, error=f"unreadable: {error}")
    return out


def staging(host, work_dir):
    """What the DLL transaction's staging may skip (the ps1's $staging): each staged file's SHA-256."""
    root = win_join(work_dir, "staged").lower() + "\\"
    files = {entry["path"]: entry.get("sha256") or hashlib.sha256(file_bytes(host, entry)).hexdigest()
             for key, entry in host.state["files"].items() if key.startswith(root) and key[len(root):].count("\\") == 1}
    return {"temp_dir": host.temp_dir() + "\\", "files": files}


def software32(host, path):
    """The key the ps1's Open-MachineKey -Software32 opens: the 32-bit view first, then the 64-bit one."""
    return host.view32(path) if host.reg_key_exists(host.view32(path)) else path


VALUE_CHARACTERS = 4096  # the ps1's Get-RegValue refuses longer values (as text: a list's items joined by spaces)


def registry_reader(host, errors):
    """(present, value) as the ps1's Get-RegValue reads it: a value longer than VALUE_CHARACTERS is an error
    and reads as absent."""
    def read(key, name):
        if not host.reg_has(key, name):
            return False, None
        value = host.reg_get(key, name)
        text = " ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        if len(text) > VALUE_CHARACTERS:
            errors.append(f"registry {key}\\{name}: {len(text)} characters, more than any value read here holds")
            return False, None
        return True, value
    return read


@twin("smsfleet.q317061.q317061_probe")
def probe(host, params, check_mode, diff):
    ident, setup = software32(host, IDENT_KEY), software32(host, "HKLM\\SOFTWARE\\Microsoft\\SMS\\Setup")
    exchange, tracing = software32(host, "HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup"), software32(host, TRACING_KEY)
    dlls, errors = {}, []
    read = registry_reader(host, errors)
    install_dir = read(ident, "Installation Directory")[1]
    platform = platform_of(host, install_dir)
    for name in ("Baseutil.dll", "Distmgr.dll"):
        info = {"path": None, "exists": False, "version": None, "size": None, "sha256": None, "language_id": None,
                "language": None, "modified": None}
        if install_dir and platform:
            info["path"] = f"{install_dir}\\bin\\{platform}\\{name}"
            entry = host.file(info["path"])
            if entry and host.held_exclusively(info["path"]):  # the read fails; the probe says so and goes on
                info.update(exists=True, size=entry.get("size"), modified=entry.get("modified"))
                errors.append(f"file {info['path']}: The process cannot access the file '{info['path']}' because it "
                              "is being used by another process.")
            elif entry:  # a file without a version resource: version, language and language ID stay None
                info.update(exists=True, version=entry.get("version"), size=entry.get("size"),
                            sha256=entry.get("sha256"), language=entry.get("language") if entry.get("version") else None,
                            language_id=entry.get("language_id"), modified=entry.get("modified"))
        dlls[name] = info
    services = []
    for name in params["services"]:
        real = host.service_name(name)
        if real:
            services.append({"name": real, "state": host.service_state(real),
                             "dependents": [d for d in host.dependents(real, running_only=False)
                                            if host.service_state(d) != "stopped"]})
    site_type = read(ident, "Site Type")[1]
    major = read(exchange, "MsiProductMajor")[1]
    minor = read(exchange, "MsiProductMinor")[1]
    full_version, letter = read(setup, "Full Version"), read(EXIFS_PARAMS, "DriveLetter")
    original, recorded = read(RECORD, "OriginalDriveLetter"), read(RECORD, "OriginalDriveLetterState")
    log = {"path": None, "present": False, "rolled_over_path": None, "rolled_over_present": False,
           "logging_enabled": None, "lines": []}
    if host.reg_has(tracing, "Enabled"):
        try:
            log["logging_enabled"] = int(str(host.reg_get(tracing, "Enabled"))) != 0
        except ValueError:
            errors.append(f"registry {tracing}\\Enabled: '{host.reg_get(tracing, 'Enabled')}' is not a number")
    if install_dir:
        log["path"] = host.log_path()
        log["rolled_over_path"] = log["path"].rsplit(".", 1)[0] + ".lo_"
        found = []
        for key, path in (("rolled_over_present", log["rolled_over_path"]), ("present", log["path"])):
            lines = log_tail(host, path, params["log_tail_bytes"])
            if lines is not None:
                log[key] = True
                found += lines
        log["lines"] = found[-params["max_log_lines"]:] if params["max_log_lines"] > 0 else []
    drives = [{"letter": d["letter"], "type": d["type"], "file_system": d.get("file_system"),
               "label": d.get("label", ""), "size": d.get("size"), "free": d.get("free"),
               "target": d.get("target") or f"\\Device\\HarddiskVolume{ord(d['letter']) - 64}"}
              for d in host.state["drives"]]
    probe = {
        "schema": 2,
        "computer_name": host.computer_name,
        "os_version": host.state.get("os_version", "5.0.2195.0"),
        "boot_time": iso(host.state["boot_time"]),
        "time_bias_minutes": read(TIME_ZONE_KEY, "ActiveTimeBias")[1],
        "sms": {
            "installed": bool(install_dir), "install_dir": install_dir, "site_code": read(ident, "Site Code")[1],
            "site_type": {1: "primary", 2: "secondary"}.get(site_type) if isinstance(site_type, int) else None,
            "parent_site_code": read(ident, "Parent Site Code")[1],
            "full_version": full_version[1],
            "full_version_present": full_version[0],
            "platform": platform,
            "admin_console_running": bool(host.console_pids()),
            "dlls": dlls,
        },
        "services": services,
        "exifs": {
            "service_present": host.reg_key_exists("HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS"),
            "drive_letter": letter[1],
            "drive_letter_present": letter[0],
            "parameters_written": None,  # as the module: the DOS device target settles the question over WinRM
            "original_recorded": recorded[0],
            "original_drive_letter": original[1] if recorded[1] == "present" else None,
            "exchange_version": f"{major}.{minor}" if major is not None else None,
            "sharepoint_portal_server": host.reg_key_exists(
                software32(host, "HKLM\\SOFTWARE\\Microsoft\\SharePoint Portal Server")),
        },
        "drives": drives,
        "distmgr_log": log,
        "transaction": transaction(host, params["work_dir"]),
        "staging": staging(host, params["work_dir"]),
        "errors": errors,
    }
    return {"changed": False, "probe": probe}
