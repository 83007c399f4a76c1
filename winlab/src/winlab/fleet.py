"""Fleet spec: YAML describing emulated hosts; validation and expansion into host states.

Schema (documented in docs/winlab.md): `defaults` (host fields for every host),
`groups` (name, count, host fields, `overrides` by host name) and `hosts`
(single hosts). Errors name the host and the field.
"""

from __future__ import annotations

import copy
import pathlib
import re

import yaml

from .host import EVENT_LOG_STOPPED, EXIFS_PARAMS, IFS_TARGET, SMS_SERVICES, TIME_ZONE_KEY, TRACING_KEY, Host, sms_log_time, user_temp_dir, view32
from . import filetimes
from .content import spec_dll, text_size

KB_SIZES = {  # (platform, dll) -> size of the 2.00.1493.3240 build (KB Q317061)
    ("i386", "Baseutil.dll"): 526272, ("i386", "Distmgr.dll"): 230800,
    ("Alpha", "Baseutil.dll"): 810768, ("Alpha", "Distmgr.dll"): 359184,
}
SERVICE_STATES = ("running", "stopped")
SITE_SERVICES = {"primary": ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR"),
                 "secondary": ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE")}

DEFAULT_HOST = {
    "username": "Administrator",
    "password": "Lab-Passw0rd!",
    "restart_seconds": 3,
    "store_start_seconds": 2,  # the Exchange Information Store's start after a boot; it mounts the IFS drive
    "uptime_minutes": 4320,  # booted three days before the lab starts
    "time_bias_minutes": 0,  # UTC = local time + bias (the registry's ActiveTimeBias)
    "sms": {
        "installed": True, "install_dir": "C:\\SMS", "site_code": "LAB", "site_type": "primary", "parent": None,
        "full_version": "2.00.1493.3000", "platform": "i386", "language": "English (United States)",
        "baseutil": "2.00.1493.3000", "distmgr": "2.00.1493.3000", "console_running": False, "services": {},
        "logging": False,  # Distribution Manager's tracing: off by default in SMS 2.0
    },
    "exchange": "2000",
    "sharepoint": False,
    "exifs_drive_letter": "M",
    "exifs": {"size": 64 * 2**30, "free": 48 * 2**30},
    "owa": True,
    "drives": [
        {"letter": "C", "type": "fixed", "file_system": "NTFS", "label": "System", "size": 8 * 2**30, "free": 3 * 2**30},
        {"letter": "D", "type": "fixed", "file_system": "NTFS", "label": "Data", "size": 36 * 2**30, "free": 20 * 2**30},
    ],
    "distmgr_log": [],
    "faults": {},
    "expect": {},
    "os": "windows2000",  # windows2000 and windows2003: SMB1 only; windows2016: SMB1 and SMB 2.002
    "transport": None,  # how the inventory reaches it: winrm or smb (default: winlab up --transport)
    "workgroup": "LAB",
    "exifs_admin_share": False,  # whether the IFS drive has an administrative share (M$): undocumented
    "exifs_in_disk_enum": True,  # whether NetrServerDiskEnum lists the IFS drive: undocumented
    "smb_signing_required": False,  # LanmanServer RequireSecuritySignature
    "smb_signing_enabled": False,  # LanmanServer EnableSecuritySignature (off on a Windows 2000 member server)
    "smb_oplocks": True,  # LanmanServer EnableOplocks
    "oplock_break_seconds": 35,  # OplockBreakWait: how long another opener waits for a holder to answer a break
    "sharing_violation_retries": True,  # the server retries a sharing violation for about a second first
    "half_open_seconds": 60,  # how long a connection that went half-open keeps its session's files open
    "eventlog_start_seconds": 10,  # from the kernel's start to the Event log service's (its 6005 event)
}
OS_VERSIONS = {"windowsnt4": ("4.0.1381.0", "C:\\WINNT"), "windows2000": ("5.0.2195.0", "C:\\WINNT"),
               "windows2003": ("5.2.3790.0", "C:\\WINDOWS"), "windows2016": ("10.0.14393.0", "C:\\Windows")}
SMB_SETTINGS = ("smb_signing_enabled", "smb_oplocks", "oplock_break_seconds", "sharing_violation_retries",
                "half_open_seconds", "eventlog_start_seconds")
TRANSPORTS = ("winrm", "smb")
FAULT_KINDS = {"drop_after_commands": int, "hang_on_stop": list, "start_fails": list, "locked_files": list,
               "unreadable_files": list,
               "system_drive_full": bool,
               "restart_never_returns": bool, "latency_ms": int, "bandwidth_kbps": int,
               "drop_on_module": str, "interrupt_transaction_at": str, "stopped_pipes": list, "denied_shares": list,
               "drop_transaction_at": str, "half_open_transaction_at": str, "short_writes": int, "drop_on_rpc": str,
               "server_service_restarted": bool, "statistics_cleared": bool, "wire_tamper": bool}
# Faults that are events: applied when set (winlab fault), never kept in the host's state.
EVENT_FAULTS = ("server_service_restarted", "statistics_cleared")
TRANSACTION_PHASES = ("stopping", "backing_up", "replacing", "verifying", "restarting")
# Fields a host may carry besides DEFAULT_HOST's; anything else is a misspelling and is refused.
EXTRA_HOST_FIELDS = ("name", "group", "computer_name", "exifs_boot_letter", "processes")
DRIVE_FIELDS = ("letter", "type", "file_system", "label", "size", "free")
EXPECT_FIELDS = ("status", "exposure", "remedies")


class SpecError(ValueError):
    pass


def _merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("faults", "expect"):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load(path: str | pathlib.Path) -> list[dict]:
    """Load and validate a fleet spec; returns the expanded host specs."""
    path = pathlib.Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(f"fleet {path}: cannot read: {error}") from None
    return expand(data, str(path))


def expand(data, where: str = "fleet") -> list[dict]:
    if not isinstance(data, dict):
        raise SpecError(f"{where}: the spec must be a mapping with 'groups' and/or 'hosts'")
    unknown = set(data) - {"defaults", "groups", "hosts", "description"}
    if unknown:
        raise SpecError(f"{where}: unknown top-level field(s): {', '.join(sorted(unknown))}")
    defaults = _merge(DEFAULT_HOST, data.get("defaults"))
    hosts: list[dict] = []
    for group in data.get("groups") or []:
        gname = group.get("name")
        if not gname:
            raise SpecError(f"{where}: every group needs a name")
        count = group.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise SpecError(f"{where}: group {gname}: count: must be a non-negative integer (got {count!r})")
        base = _merge(defaults, group.get("host"))
        width = max(2, len(str(count)))
        overrides = group.get("overrides") or {}
        names = [f"{gname}-{i:0{width}d}" for i in range(1, count + 1)]
        for oname in overrides:
            if oname not in names:
                raise SpecError(f"{where}: group {gname}: overrides: no host named {oname!r} in this group")
        for name in names:
            host = _merge(base, overrides.get(name))
            host["name"], host["group"] = name, gname
            hosts.append(host)
    for single in data.get("hosts") or []:
        host = _merge(defaults, single)
        host.setdefault("group", None)  # straight under site_servers ("ungrouped" is Ansible's own group)
        hosts.append(host)
    seen = set()
    for host in hosts:
        validate(host, where)
        if host["name"] in seen:
            raise SpecError(f"{where}: host {host['name']}: name: duplicate host name")
        seen.add(host["name"])
    return hosts


def validate(host: dict, where: str) -> None:
    name = host.get("name")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise SpecError(f"{where}: host {name!r}: name: must be letters, digits, '-' or '_'")

    def bad(field, message):
        raise SpecError(f"{where}: host {name}: {field}: {message}")

    _known_fields(host, bad)

    for field in ("username", "password"):
        if not isinstance(host.get(field), str) or not host[field]:
            bad(field, "must be a non-empty string")
    for field, low, high in (("uptime_minutes", 0, 10**7), ("time_bias_minutes", -840, 720), ("restart_seconds", 0, 3600),
                             ("store_start_seconds", 0, 600)):
        value = host.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            bad(field, f"must be a number from {low} to {high} (got {value!r})")
    for i, line in enumerate(host.get("distmgr_log") or []):
        if not isinstance(line, str):
            bad(f"distmgr_log[{i}]", "must be a string")
        for token in re.findall(r"\{[^}]*\}", line):
            if not _AGO.fullmatch(token):
                bad(f"distmgr_log[{i}]", f"unknown token {token}; use {{ago:30m}}, {{ago:2h}} or {{ago:40d}}")
    sms = host["sms"]
    if not isinstance(sms.get("installed"), bool):
        bad("sms.installed", "must be true or false")
    if sms["installed"]:
        if sms.get("site_type") not in ("primary", "secondary"):
            bad("sms.site_type", f"must be primary or secondary (got {sms.get('site_type')!r})")
        if sms.get("platform") not in ("i386", "Alpha"):
            bad("sms.platform", f"must be i386 or Alpha (got {sms.get('platform')!r})")
        if not isinstance(sms.get("logging"), bool):
            bad("sms.logging", "must be true or false")
        if not isinstance(sms.get("install_dir"), str) or sms["install_dir"][1:3] != ":\\":
            bad("sms.install_dir", f"must be an absolute Windows path like D:\\SMS (got {sms.get('install_dir')!r})")
        if not isinstance(sms.get("site_code"), str) or len(sms["site_code"]) != 3:
            bad("sms.site_code", f"must be a three-character site code (got {sms.get('site_code')!r})")
        for dll in ("baseutil", "distmgr"):
            value = sms.get(dll)
            if value is not None and (not isinstance(value, str) or len(value.split(".")) != 4):
                bad(f"sms.{dll}", f"must be a version like 2.00.1493.3000 or null for a missing file (got {value!r})")
        for svc, state in (sms.get("services") or {}).items():
            if state not in SERVICE_STATES:
                bad(f"sms.services.{svc}", f"must be running or stopped (got {state!r})")
    if str(host.get("exchange")) not in ("none", "2000", "2003", "None"):
        bad("exchange", f"must be none, 2000 or 2003 (got {host.get('exchange')!r})")
    letter = host.get("exifs_drive_letter")
    if letter is not None and (not isinstance(letter, str) or (letter and not (len(letter) == 1 and letter.isalpha()))):
        bad("exifs_drive_letter", f"must be a letter, '' (blank) or null (absent) (got {letter!r})")
    if host.get("os") not in OS_VERSIONS:
        bad("os", f"must be one of {', '.join(OS_VERSIONS)} (got {host.get('os')!r})")
    if host.get("transport") is not None and host["transport"] not in TRANSPORTS:
        bad("transport", f"must be winrm or smb (got {host['transport']!r})")
    for field in ("exifs_admin_share", "exifs_in_disk_enum", "smb_signing_required", "smb_signing_enabled",
                  "smb_oplocks", "sharing_violation_retries"):
        if not isinstance(host.get(field), bool):
            bad(field, "must be true or false")
    for field, low, high in (("oplock_break_seconds", 0, 180), ("half_open_seconds", 0, 7200),
                             ("eventlog_start_seconds", 0, 600)):
        value = host.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            bad(field, f"must be a number from {low} to {high} (got {value!r})")
    if not isinstance(host.get("workgroup"), str) or not host["workgroup"]:
        bad("workgroup", "must be a non-empty string")
    boot = host.get("exifs_boot_letter")
    if boot is not None and not _is_letter(boot):
        bad("exifs_boot_letter", f"must be one drive letter A-Z (got {boot!r})")
    letters = set()
    for i, drive in enumerate(host.get("drives") or []):
        for field in ("letter", "type", "size", "free"):
            if field not in drive:
                bad(f"drives[{i}].{field}", "is required")
        if not _is_letter(drive["letter"]):
            bad(f"drives[{i}].letter", f"must be one drive letter A-Z (got {drive['letter']!r})")
        drive["letter"] = drive["letter"].upper()
        if drive["type"] not in ("fixed", "cdrom", "network", "removable", "ram"):
            bad(f"drives[{i}].type", f"must be fixed, cdrom, network, removable or ram (got {drive['type']!r})")
        if drive["letter"] in letters:
            bad(f"drives[{i}].letter", f"duplicate drive letter {drive['letter']}")
        if not (isinstance(drive["free"], int) and isinstance(drive["size"], int) and 0 <= drive["free"] <= drive["size"]):
            bad(f"drives[{i}].free", "must be an integer between 0 and size")
        letters.add(drive["letter"])
    validate_faults(host.get("faults") or {}, bad)
    for kind in EVENT_FAULTS:
        if kind in (host.get("faults") or {}):
            bad(f"faults.{kind}", "is an event, not a state: cause it with `winlab fault HOST " + kind + "`")


def _is_letter(value) -> bool:
    return isinstance(value, str) and len(value) == 1 and "A" <= value.upper() <= "Z"


def _known_fields(host: dict, bad) -> None:
    """Refuse misspelled fields (a typo would otherwise silently take the default)."""
    checks = [("", host, tuple(DEFAULT_HOST) + EXTRA_HOST_FIELDS), ("sms.", host.get("sms"), tuple(DEFAULT_HOST["sms"])),
              ("exifs.", host.get("exifs"), ("size", "free")), ("expect.", host.get("expect"), EXPECT_FIELDS)]
    checks += [(f"drives[{i}].", d, DRIVE_FIELDS) for i, d in enumerate(host.get("drives") or [])]
    for prefix, mapping, known in checks:
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            bad(prefix.rstrip(".") or "host", "must be a mapping")
        for field in mapping:
            if field not in known:
                bad(f"{prefix}{field}", f"unknown field; known: {', '.join(sorted(known))}")


def validate_faults(faults: dict, bad) -> None:
    """Check fault kinds and value types; `bad(field, message)` raises."""
    for kind, value in faults.items():
        if kind not in FAULT_KINDS:
            bad(f"faults.{kind}", f"unknown fault kind; known: {', '.join(sorted(FAULT_KINDS))}")
        if not isinstance(value, FAULT_KINDS[kind]) or (FAULT_KINDS[kind] is int and isinstance(value, bool)):
            bad(f"faults.{kind}", f"must be of type {FAULT_KINDS[kind].__name__}")
        if isinstance(value, list) and not all(isinstance(item, str) and item for item in value):
            bad(f"faults.{kind}", "must be a list of non-empty strings")
        if FAULT_KINDS[kind] is int and value < 0:
            bad(f"faults.{kind}", f"must not be negative (got {value})")
        if kind == "drop_on_rpc" and not re.fullmatch(r"(winreg|svcctl|srvsvc|eventlog|lsarpc)\.\d+", value):
            bad(f"faults.{kind}", f"must be a pipe and an opnum, such as svcctl.1 (got {value!r})")
        if kind in ("interrupt_transaction_at", "drop_transaction_at", "half_open_transaction_at") and \
                value not in TRANSACTION_PHASES:
            bad(f"faults.{kind}", f"must be one of {', '.join(TRANSACTION_PHASES)} (got {value!r})")


_AGO = re.compile(r"\{ago:(\d+)([mhd])\}")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def log_lines(lines: list[str], now: float, bias_minutes: int) -> list[str]:
    """Spec log lines with {ago:30m} tokens turned into SMS timestamps that long before the lab started."""
    return [_AGO.sub(lambda m: sms_log_time(now - int(m.group(1)) * _UNITS[m.group(2)], bias_minutes), line)
            for line in lines]


def dll_meta(platform: str, name: str, version: str, language: str, modified: float) -> dict:
    """Metadata of an emulated DLL build: KB size for the 3240 build, a stable synthetic size otherwise;
    its SHA-256 is that of the real PE bytes an SMB read or a fetch returns (content.spec_dll)."""
    base = KB_SIZES[(platform, name)]
    revision = int(version.split(".")[-1]) if version.split(".")[-1].isdigit() else 0
    size = base if revision == 3240 else base - 4096 + (revision % 997) * 16
    return dict(spec_dll(platform, version, size, language, name), modified=filetimes.to_iso(filetimes.from_epoch(modified)))


def initial_state(spec: dict, address: str, port: int, now: float) -> dict:
    """The on-disk state of a freshly built host."""
    sms = spec["sms"]
    registry: dict[str, dict] = {}
    files: dict[str, dict] = {}
    services: dict[str, dict] = {
        "Winmgmt": {"state": "running", "start_mode": "auto", "depends_on": []},
        "WinRM": {"state": "running", "start_mode": "auto", "depends_on": []},
    }
    boot = now - float(spec.get("uptime_minutes", 0)) * 60
    bias = int(spec.get("time_bias_minutes", 0))
    registry[TIME_ZONE_KEY] = {"ActiveTimeBias": bias}
    os_version, windows_dir = OS_VERSIONS[spec.get("os", "windows2000")]
    version, build = ".".join(os_version.split(".")[:2]), os_version.split(".")[2]
    # Windows 10 and 2016 keep CurrentVersion at 6.3 for old programs; the real numbers are beside it.
    current = {"CurrentVersion": "6.3" if version == "10.0" else version, "CurrentBuildNumber": build,
               "SystemRoot": windows_dir}
    if version == "10.0":
        current.update(CurrentMajorVersionNumber=10, CurrentMinorVersionNumber=0)
    registry["HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"] = current
    dirs: list[str] = [windows_dir, f"{windows_dir}\\system32"]
    if sms["installed"]:
        ident = "HKLM\\SOFTWARE\\Microsoft\\SMS\\Identification"
        registry[ident] = {"Installation Directory": sms["install_dir"], "Site Code": sms["site_code"],
                           "Site Type": 1 if sms["site_type"] == "primary" else 2}
        if sms.get("parent"):
            registry[ident]["Parent Site Code"] = sms["parent"]
        registry["HKLM\\SOFTWARE\\Microsoft\\SMS\\Setup"] = (
            {"Full Version": sms["full_version"]} if sms.get("full_version") is not None else {})
        bin_dir = f"{sms['install_dir']}\\bin\\{sms['platform']}"
        dirs.append(bin_dir)
        for name, key in (("Baseutil.dll", "baseutil"), ("Distmgr.dll", "distmgr")):
            if sms.get(key):
                meta = dll_meta(sms["platform"], name, sms[key], sms["language"], boot - 86400)
                files[f"{bin_dir}\\{name}".lower()] = dict(meta, path=f"{bin_dir}\\{name}")
        log = f"{sms['install_dir']}\\Logs\\distmgr.log"
        text = log_lines(list(spec.get("distmgr_log") or []), now, bias)
        files[log.lower()] = {"path": log, "text": text, "size": text_size(text)}
        registry[TRACING_KEY] = {"Enabled": 1 if sms.get("logging") else 0, "TraceFilename": log,
                                 "MaxFileSize": 256000}
        states = {n: "running" for n in SITE_SERVICES[sms["site_type"]]}
        states.update(sms.get("services") or {})
        for svc, state in states.items():
            services[svc] = {"state": state, "start_mode": "auto",
                             "depends_on": ["Winmgmt"] if svc in SMS_SERVICES else []}
    exchange = str(spec.get("exchange"))
    exifs = None
    if exchange in ("2000", "2003") or spec.get("sharepoint"):
        product = {"2000": "exchange2000", "2003": "exchange2003"}.get(exchange, "sharepoint2001")
        exifs = dict(spec.get("exifs") or {}, product=product)
        services["EXIFS"] = {"state": "running", "start_mode": "auto", "depends_on": []}
        registry["HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS"] = {"Start": 2}
        registry[EXIFS_PARAMS] = {}
        if spec.get("exifs_drive_letter") is not None:
            registry[EXIFS_PARAMS]["DriveLetter"] = spec["exifs_drive_letter"]
        if exchange in ("2000", "2003"):
            registry["HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup"] = {
                "MsiProductMajor": 6, "MsiProductMinor": 0 if exchange == "2000" else 5}
            services["MSExchangeIS"] = {"state": "running", "start_mode": "auto", "depends_on": []}
        if spec.get("sharepoint"):
            registry["HKLM\\SOFTWARE\\Microsoft\\SharePoint Portal Server"] = {}
        services["W3SVC"] = {"state": "running" if spec.get("owa") else "stopped", "start_mode": "auto",
                             "depends_on": []}
    dirs.append(user_temp_dir(spec["username"]))  # where put_file may write before any folder is made
    state = {
        "name": spec["name"], "group": spec.get("group"), "computer_name": spec.get("computer_name"),
        "username": spec["username"], "password": spec["password"], "address": address, "port": port,
        "platform": sms.get("platform") if sms["installed"] else "i386", "system_drive": "C",
        "registry": registry, "files": files, "dirs": dirs, "services": services,
        "drives": copy.deepcopy(spec["drives"]),
        "exifs": exifs, "processes": [], "faults": copy.deepcopy(spec.get("faults") or {}),
        "restart_seconds": spec.get("restart_seconds", 3), "restart_at": None, "down_until": None,
        "store_start_seconds": spec.get("store_start_seconds", 2), "store_ready_at": None,
        "expect": copy.deepcopy(spec.get("expect") or {}),
        "os": spec.get("os", "windows2000"), "os_version": os_version, "transport": spec.get("transport"),
        "workgroup": spec.get("workgroup", "LAB"), "exifs_admin_share": spec.get("exifs_admin_share", False),
        "exifs_in_disk_enum": spec.get("exifs_in_disk_enum", True),
        "smb_signing_required": spec.get("smb_signing_required", False),
        **{field: spec.get(field, DEFAULT_HOST[field]) for field in SMB_SETTINGS},
    }
    # 32-bit products' SOFTWARE keys are where a 64-bit Windows keeps them (WOW6432Node).
    state["registry"] = {view32(k, state["os"]) if k.upper().startswith(("HKLM\\SOFTWARE\\MICROSOFT\\SMS",
                         "HKLM\\SOFTWARE\\MICROSOFT\\EXCHANGE", "HKLM\\SOFTWARE\\MICROSOFT\\SHAREPOINT")) else k: v
                         for k, v in registry.items()}
    state["built_at"] = boot - 86400  # every key's LastWriteTime until something writes it
    host = Host(state)
    if spec.get("exifs_boot_letter") and exifs:
        host._reg_touch(EXIFS_PARAMS, max(now - 60, boot + 1))  # DriveLetter was changed after the last boot
    host.log_boot(boot - 30 * 86400)  # the System log remembers the boot before, and its clean shutdown
    host.log_event(boot - 60, EVENT_LOG_STOPPED)
    host.boot(boot)
    host.tick(now)  # three days of uptime: the Information Store has long mounted the IFS drive
    if spec.get("exifs_boot_letter") and exifs:  # DriveLetter changed since the last boot (restart pending)
        state["drives"] = [d for d in state["drives"] if d.get("target") != IFS_TARGET] + [
            {"letter": spec["exifs_boot_letter"], "type": "fixed", "file_system": "NTFS", "label": "",
             "size": exifs.get("size", 0), "free": exifs.get("free", 0), "target": IFS_TARGET}]
    if sms["installed"]:  # boot starts auto services; then apply the spec's stopped ones
        for svc, s in (sms.get("services") or {}).items():
            if s == "stopped":
                state["services"][svc]["state"] = "stopped"
    if sms.get("console_running"):
        bin_dir = f"{sms['install_dir']}\\bin\\{sms['platform']}"
        state["processes"].append({"name": "mmc.exe", "pid": 1234,
                                   "command_line": f'"C:\\WINNT\\system32\\mmc.exe" "{bin_dir}\\sms.msc"'})
    for i, command_line in enumerate(spec.get("processes") or []):  # other programs, e.g. another MMC snap-in
        state["processes"].append({"name": command_line.split('"')[1].rsplit("\\", 1)[-1].lower()
                                   if command_line.startswith('"') else command_line.split()[0].rsplit("\\", 1)[-1].lower(),
                                   "pid": 2000 + i, "command_line": command_line})
    return state
