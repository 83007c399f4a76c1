"""Build raw probe results (the q317061_probe module's output) for table tests."""

import copy

ENGLISH = "English (United States)"
LANGUAGE_IDS = {ENGLISH: 0x0409, "German (Germany)": 0x0407, "Englisch (Vereinigte Staaten)": 0x0409, None: None}
BOOT = "2026-11-20T08:00:00.0000000Z"  # .NET's round-trip format, seven fraction digits


def probe(**changes):
    """A vulnerable SP3 i386 English primary site with Exchange 2000 on M:.

    Keyword arguments are dotted paths into the probe, e.g. `sms__platform="Alpha"`
    or `dll_version="2.00.1493.3240"` (both DLLs) / `distmgr_version=...`.
    """
    base = {
        "schema": 2,
        "computer_name": "SITE01",
        "os_version": "5.0.2195.0",
        "boot_time": BOOT,
        "time_bias_minutes": 0,
        "sms": {
            "installed": True, "install_dir": "D:\\SMS", "site_code": "P01", "site_type": "primary",
            "parent_site_code": None, "full_version": "2.00.1493.3000", "full_version_present": True,
            "platform": "i386", "admin_console_running": False,
            "dlls": {
                name: {"path": f"D:\\SMS\\bin\\i386\\{name}", "exists": True, "version": "2.00.1493.3000",
                       "size": size, "sha256": "0" * 64, "language": ENGLISH, "language_id": 0x0409,
                       "modified": "2026-01-15T12:00:00Z"}
                for name, size in (("Baseutil.dll", 526272), ("Distmgr.dll", 230800))
            },
        },
        "services": [],
        "exifs": {"service_present": True, "drive_letter": "M", "drive_letter_present": True,
                  "original_recorded": False, "original_drive_letter": None,
                  "exchange_version": "6.0", "sharepoint_portal_server": False},
        "drives": [
            drive("C", free=2 * 2**30),
            drive("D", free=6 * 2**30),
            drive("M", free=20 * 2**30, target="\\??\\BackOfficeStorage"),
        ],
        "distmgr_log": {"path": "D:\\SMS\\Logs\\distmgr.log", "present": True, "logging_enabled": True,
                        "rolled_over_path": "D:\\SMS\\Logs\\distmgr.lo_", "rolled_over_present": False, "lines": []},
        "transaction": {"journal": "C:\\SMSFleet\\Q317061\\journal.json", "present": False, "readable": None,
                        "phase": None, "state": None, "started": None, "updated": None, "error": None,
                        "stopped": [], "replaced": []},
        "errors": [],
    }
    for key, value in changes.items():
        if key == "dll_version":
            for dll in base["sms"]["dlls"].values():
                dll["version"] = value
            continue
        if key in ("baseutil_version", "distmgr_version"):
            name = "Baseutil.dll" if key.startswith("baseutil") else "Distmgr.dll"
            base["sms"]["dlls"][name]["version"] = value
            continue
        if key == "dll_language":
            for dll in base["sms"]["dlls"].values():
                dll["language"], dll["language_id"] = value, LANGUAGE_IDS[value]
            continue
        node = base
        parts = key.split("__")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = copy.deepcopy(value)
    return base


def drive(letter, free, size=None, type="fixed", fs="NTFS", target=None):
    return {"letter": letter, "type": type, "file_system": fs, "label": "", "size": size or free * 2,
            "free": free, "target": target or f"\\Device\\HarddiskVolume{ord(letter) - 64}"}
