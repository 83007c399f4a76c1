"""The DLL transaction's parameters as the action plugin passes them to plugin_utils/smb/dlls.py, for the tests that
drive a transaction directly (against winlab or Samba): the bundle's two i386 DLLs, checked by SHA-256."""

import hashlib

BIN, WORK = "C:\\SMS\\bin\\i386", "C:\\SMSFleet\\Q317061"
SERVICES = ["SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR"]


def dll_params(bundle, state="replaced") -> dict:
    files = []
    for name in ("Baseutil.dll", "Distmgr.dll"):
        local = bundle / "i386" / name
        files.append({"name": name, "local": str(local), "source": f"{WORK}\\staged\\{name}",
                      "version": "2.00.1493.3240", "sha256": hashlib.sha256(local.read_bytes()).hexdigest()})
    return {"state": state, "bin_dir": BIN, "backup_dir": f"{WORK}\\backup", "journal": f"{WORK}\\journal.json",
            "files": files if state == "replaced" else [], "services": list(SERVICES), "wmi_service": "Winmgmt",
            "admin_console": "refuse", "stop_timeout": 30}
