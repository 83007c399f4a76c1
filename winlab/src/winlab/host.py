"""Host model: one emulated Windows site server, JSON-serialisable.

Registry, files with version metadata, services with dependencies and locks,
drives, boot time and restarts, Distribution Manager's drive choice. Methods
raise HostError with the message Windows would give; twins turn it into a
module failure. Nothing here knows about WinRM or Ansible.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time

from . import acls, builds, filetimes
from .content import text_size

SMS_SERVICES = ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR", "SMS_SITE_BACKUP",
                "SMS_NT_LOGON_DISCOVERY_AGENT", "SMS_LICENSE_SERVER")
IFS_TARGET = "\\??\\BackOfficeStorage"
LOGON_UI_KEY = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\AutoLogonChecked"
EXIFS_PARAMS = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters"
TRACING_KEY = "HKLM\\SOFTWARE\\Microsoft\\SMS\\Tracing\\SMS_DISTRIBUTION_MANAGER"
TIME_ZONE_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\TimeZoneInformation"
IDENT_KEY = "HKLM\\SOFTWARE\\Microsoft\\SMS\\Identification"
ZONE_NAMES = {0: "Coordinated Universal Time", 300: "Eastern Standard Time", 360: "Central Standard Time",
              420: "Mountain Standard Time", 480: "Pacific Standard Time", -60: "W. Europe Standard Time"}
FILETIME_EPOCH = 116444736000000000  # 1601-01-01 to 1970-01-01 in 100 ns ticks
X64_OS = ("windows2016",)  # the lab's 64-bit Windows; Windows 2000 and the lab's 2003 are x86
# The System log's boot events (source EventLog; the IDs with their qualifier bits, as ElfrReadELW returns them)
EVENT_LOG_STARTED, EVENT_LOG_STOPPED, EVENT_UNEXPECTED_SHUTDOWN, EVENT_OS_VERSION = \
    0x80001775, 0x80001776, 0x80001778, 0x80001779  # 6005, 6006, 6008, 6009
EVENT_SERVICE_STATE = 0x40001B7C  # 7036, Service Control Manager: a service entered a state
BOOT_STRINGS = {"windowsnt4": ("4.0", "1381", "Service Pack 6", "Uniprocessor Free"),
                "windows2000": ("5.00.", "2195", "Service Pack 4", "Uniprocessor Free"),
                "windows2003": ("5.02.", "3790", "Service Pack 2", "Multiprocessor Free"),
                "windows2016": ("10.00.", "14393", "", "Multiprocessor Free")}
EVENTLOG_KEEP = 24


def view32(path: str, os_name: str | None) -> str:
    """Where a 32-bit program's HKLM\\SOFTWARE\\<x> is on this OS: the registry redirector keeps it in
    HKLM\\SOFTWARE\\WOW6432Node\\<x> on 64-bit Windows. SMS 2.0, Exchange 2000 and SharePoint
    Portal Server are 32-bit, so their keys live there; a 64-bit process sees them only through the
    32-bit view (KEY_WOW64_32KEY, RegistryView.Registry32)."""
    prefix = "HKLM\\SOFTWARE\\"
    if os_name in X64_OS and path.upper().startswith(prefix) and not path.upper().startswith(prefix + "WOW6432NODE"):
        return prefix + "WOW6432Node\\" + path[len(prefix):]
    return path


class HostError(Exception):
    """An operation failed the way it would on Windows."""


class ConnectionLost(Exception):
    """The WinRM connection goes away now; the glue drops the reply (see server.EmulatedHost)."""


def user_temp_dir(username: str) -> str:
    """The connecting user's temp folder ([IO.Path]::GetTempPath(), without the trailing backslash)."""
    return f"C:\\Users\\{username}\\AppData\\Local\\Temp"


def filetime(epoch: float) -> int:
    return FILETIME_EPOCH + int(epoch * 10_000_000)


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def sms_log_time(epoch: float, bias_minutes: int) -> str:
    """An SMS log line's time: local time (UTC - bias) and the zone's name, as SMS 2.0 writes it."""
    local = time.gmtime(epoch - bias_minutes * 60)
    zone = ZONE_NAMES.get(bias_minutes, f"GMT{-bias_minutes // 60:+03d}:{abs(bias_minutes) % 60:02d}")
    return time.strftime("%a %b %d %H:%M:%S.000 %Y ", local) + zone


class Host:
    def __init__(self, state: dict, blobs=None):
        self.state = state
        self.blobs = blobs  # content store for files written with bytes (not persisted in state)

    # -- identity -------------------------------------------------------
    @property
    def name(self) -> str:
        return self.state["name"]

    @property
    def computer_name(self) -> str:
        return self.state.get("computer_name") or self.name.upper()[:15]

    def snapshot(self) -> dict:
        return copy.deepcopy(self.state)

    # -- time and restarts ---------------------------------------------
    def is_up(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        self.tick(now)
        return self.state.get("down_until") is None

    def tick(self, now: float | None = None) -> None:
        """Advance emulated time: scheduled restarts happen, Site Component Manager polls."""
        now = time.time() if now is None else now
        if self.state.get("down_until") is not None and now >= self.state["down_until"]:
            self.state["down_until"] = None  # back up: nothing left for the ticker to watch
        pending = self.state.get("restart_at")
        if pending is not None and now >= pending:
            self.state["restart_at"] = None
            if not self.state.get("unclean_shutdown"):
                self.log_event(now, EVENT_LOG_STOPPED)
            outage = float(self.state.get("restart_seconds", 3))
            if self.state.pop("power_off", False) or self.state.get("faults", {}).get("restart_never_returns"):
                self.state["down_until"] = float("inf")
            else:
                self.state["down_until"] = now + outage
            # The kernel starts during the outage; the services a client meets run once it is over.
            self.boot(now + outage / 2, ready=now + outage)
        ready = self.state.get("store_ready_at")
        if ready is not None and now >= ready:
            self._store_started()
        self._site_component_manager_poll()

    def crash(self, now: float | None = None) -> None:
        """A host crash (blue screen, power loss): down at once, back after restart_seconds with its
        auto-start services running again, whatever a killed process left half done."""
        self.state["unclean_shutdown"] = True  # no 6006 now; the next boot logs 6008
        self.schedule_restart(0, now)
        self.tick(now)

    def schedule_restart(self, delay: float, now: float | None = None, power_off: bool = False) -> None:
        """A restart (or, with power_off, a shutdown that never comes back by itself) after delay seconds."""
        now = time.time() if now is None else now
        self.state["restart_at"] = now + max(delay, 0.0)
        self.state["power_off"] = power_off

    def log_event(self, when: float, event_id: int, source: str = "EventLog", kind: int = 4, strings=()) -> None:
        """One record of the System log (read over MS-EVEN); the newest EVENTLOG_KEEP are kept."""
        log = self.state.setdefault("eventlog", [])
        log.append({"n": log[-1]["n"] + 1 if log else 1, "time": int(when), "id": event_id, "type": kind,
                    "source": source, "strings": list(strings)})
        del log[:-EVENTLOG_KEEP]

    def log_boot(self, when: float, ready: float | None = None) -> None:
        """What Windows writes at a boot, once the Event log service runs (eventlog_start_seconds after the
        kernel started, and before the host answers on the network at `ready`): 6008 when the last shutdown
        was not clean, 6009 (the OS version), 6005. The Server service starts after it: its statistics
        (sts0_start) begin a little later."""
        started = when + float(self.state.get("eventlog_start_seconds", 10))
        if ready is not None:
            started = max(when, min(started, ready - 2))
        if self.state.pop("unclean_shutdown", False):
            self.log_event(started, EVENT_UNEXPECTED_SHUTDOWN, kind=1)
        self.log_event(started, EVENT_OS_VERSION, strings=BOOT_STRINGS.get(self.state.get("os"), ()))
        self.log_event(started, EVENT_LOG_STARTED)
        self.state["server_started"] = started + 2 if ready is None else min(started + 2, ready)
        for name, svc in list(self.state["services"].items())[:6]:  # what follows a boot: services starting
            if svc.get("start_mode", "auto") == "auto":
                self.log_event(started + 5, EVENT_SERVICE_STATE, "Service Control Manager", strings=(name, "running"))

    def boot(self, when: float, ready: float | None = None) -> None:
        self.state["boot_time"] = when
        self.log_boot(when, ready)
        self.state["processes"] = []
        for svc in self.state["services"].values():
            svc["state"] = "running" if svc.get("start_mode", "auto") == "auto" else "stopped"
        self.state["drives"] = [d for d in self.state["drives"] if d.get("target") != IFS_TARGET]
        store = self._service("MSExchangeIS")
        if store and store["state"] == "running":
            # The Information Store takes a while to start, and mounts the IFS drive only then.
            store["state"] = "startpending"
            self.state["store_ready_at"] = when + float(self.state.get("store_start_seconds", 2))
        else:
            self._mount_exifs()
        self.state["registry"][LOGON_UI_KEY] = {}  # LogonUI creates it when the logon prompt shows

    def _store_started(self) -> None:
        self.state["store_ready_at"] = None
        store = self._service("MSExchangeIS")
        if store and store["state"] == "startpending":
            store["state"] = "running"
        self._mount_exifs()

    def _mount_exifs(self) -> None:
        drives = [d for d in self.state["drives"] if d.get("target") != IFS_TARGET]
        exifs = self.state.get("exifs")
        letter = None
        if exifs and "EXIFS" in self.state["services"]:
            value = self.reg_get(EXIFS_PARAMS, "DriveLetter")
            if value is None:
                letter = None if exifs.get("product") == "exchange2003" else "M"
            else:
                letter = value.strip().rstrip(":")[:1].upper() or None
        if letter:
            taken = {d["letter"] for d in drives}
            while letter in taken and letter <= "Z":  # Q245822: the next free letter
                letter = chr(ord(letter) + 1)
            if letter <= "Z":
                drives.append({"letter": letter, "type": "fixed", "file_system": "NTFS", "label": "",
                               "size": exifs.get("size", 0), "free": exifs.get("free", 0), "target": IFS_TARGET})
        self.state["drives"] = sorted(drives, key=lambda d: d["letter"])

    # -- registry -------------------------------------------------------
    def _key(self, path: str) -> str | None:
        wanted = path.rstrip("\\").lower()
        for key in self.state["registry"]:
            if key.lower() == wanted:
                return key
        return None

    def view32(self, path: str) -> str:
        return view32(path, self.state.get("os"))

    def reg_key_exists(self, path: str) -> bool:
        return self._key(path) is not None

    def reg_get(self, path: str, name: str, default=None):
        key = self._key(path)
        if key is None:
            return default
        for value_name, value in self.state["registry"][key].items():
            if value_name.lower() == name.lower():
                return value
        return default

    def reg_has(self, path: str, name: str) -> bool:
        key = self._key(path)
        return key is not None and any(n.lower() == name.lower() for n in self.state["registry"][key])

    def reg_set(self, path: str, name: str, value) -> None:
        key = self._key(path) or path.rstrip("\\")
        values = self.state["registry"].setdefault(key, {})
        for existing in list(values):
            if existing.lower() == name.lower():
                del values[existing]
        values[name] = value
        self._reg_touch(key)

    def reg_delete(self, path: str, name: str) -> None:
        key = self._key(path)
        if key:
            for existing in list(self.state["registry"][key]):
                if existing.lower() == name.lower():
                    del self.state["registry"][key][existing]
                    self._reg_touch(key)

    def _reg_touch(self, key: str, when: float | None = None) -> None:
        """A key's LastWriteTime moves whenever one of its values is set or deleted (RegQueryInfoKey
        returns it); it is how a remote reader tells a change made since the last boot."""
        self.state.setdefault("registry_written", {})[key.lower()] = time.time() if when is None else when

    def reg_written(self, path: str) -> float:
        """The key's LastWriteTime (epoch seconds); a key nobody wrote since the host was built dates from
        a day before its first boot in the lab."""
        written = self.state.get("registry_written") or {}
        return written.get(path.rstrip("\\").lower(), self.state.get("built_at", 0.0))

    # -- files ------------------------------------------------------------
    def file(self, path: str) -> dict | None:
        return self.state["files"].get(path.lower())

    def is_dir(self, path: str) -> bool:
        """A folder exists if it was made (temp dirs, win_copy parents) or holds a file."""
        lowered = path.rstrip("\\").lower()
        return any(d.rstrip("\\").lower() == lowered for d in self.state.get("dirs", [])) or any(
            key.startswith(lowered + "\\") for key in self.state["files"])

    # -- processes --------------------------------------------------------
    def console_pids(self) -> list[int]:
        """The SMS Administrator console, told as the modules tell it: mmc.exe with sms.msc on its command line
        (another MMC snap-in is not the console). A command line Win32_Process cannot read (None: another
        session, a protected process) may be the console, so it counts as one."""
        return [p["pid"] for p in self.state.get("processes", []) if p.get("name", "").lower() == "mmc.exe"
                and (p.get("command_line") is None or "sms.msc" in p["command_line"].lower())]

    def kill(self, pid: int) -> None:
        """Stop-Process: a process that already quit is not an error for the caller to stumble on."""
        self.state["processes"] = [p for p in self.state.get("processes", []) if p["pid"] != pid]

    def temp_dir(self) -> str:
        return user_temp_dir(self.state["username"])

    def make_private_dir(self, path: str) -> str:
        """A folder for SYSTEM and Administrators only, without inherited permissions (made if missing), as
        the ps1's Set-WorkFolder leaves it; 'kept', 'set' (new) or 'fixed' (an existing, weaker one)."""
        existed = self.is_dir(path)
        if not existed:
            parent = path.rstrip("\\").rsplit("\\", 1)[0]
            if len(parent) > 2 and not self.is_dir(parent):
                self.make_dir_tree(parent)
            self.state.setdefault("dirs", []).append(path)
        if acls.effective(self.state, path) == acls.PRIVATE:
            return "kept"
        acls.set_dacl(self.state, path, acls.PRIVATE)
        return "fixed" if existed else "set"

    def make_dir_tree(self, path: str) -> None:
        """New-Item -Force: every missing folder of the path (they inherit their parents' DACLs)."""
        parts = path.rstrip("\\").split("\\")
        for end in range(2, len(parts) + 1):
            current = "\\".join(parts[:end])
            if not self.is_dir(current):
                self.state.setdefault("dirs", []).append(current)

    def held_exclusively(self, path: str) -> bool:
        """Another process holds the file open with no sharing at all (fault unreadable_files): not even readable."""
        return path.lower() in (p.lower() for p in self.state.get("faults", {}).get("unreadable_files", []))

    def locked_by(self, path: str) -> str | None:
        """Who holds the file open, or None. SMS binaries are in use while SMS, WMI or the console run.
        Fault locked_files: another process (a scanner, a backup agent) shares reading but not writing."""
        lowered = path.lower()
        if self.held_exclusively(path) or lowered in (p.lower() for p in self.state.get("faults", {}).get(
                "locked_files", [])):
            return "another process (fault)"
        bin_dir = self.sms_bin_dir()
        if bin_dir and lowered.startswith(bin_dir.lower() + "\\"):
            running = [n for n in SMS_SERVICES + ("Winmgmt",) if self.service_state(n) == "running"]
            if running:
                return f"service {running[0]}"
            if self.console_pids():
                return "the SMS Administrator console (mmc.exe)"
        return None

    def write_file(self, path: str, meta: dict) -> None:
        holder = self.locked_by(path)
        if holder and self.file(path):
            raise HostError(f"The process cannot access the file '{path}' because it is being used by {holder}.")
        free = self.system_drive_free()
        if free is not None and path[:1].upper() == self.state.get("system_drive", "C") and free < meta.get("size", 0):
            raise HostError(f"There is not enough space on the disk. ({path})")
        existing = self.file(path)
        entry = dict(meta, path=path)
        stamp = filetimes.now_iso()
        entry.setdefault("modified", stamp)  # a copy keeps its source's, as CopyFile does
        entry.setdefault("changed", stamp)
        # Overwriting keeps the file's creation time; a new file is created now (both unless set explicitly).
        if "created" not in entry:
            entry["created"] = (existing.get("created") or existing.get("modified")) if existing else stamp
        if "attributes" not in entry:
            entry["attributes"] = filetimes.attributes(existing) if existing else filetimes.ARCHIVE
        self.state["files"][path.lower()] = entry

    def delete_file(self, path: str) -> None:
        holder = self.locked_by(path)
        if holder:
            raise HostError(f"The process cannot access the file '{path}' because it is being used by {holder}.")
        self.state["files"].pop(path.lower(), None)

    def copy_file(self, source: str, dest: str) -> None:
        entry = self.file(source)
        if entry is None:
            raise HostError(f"Cannot find path '{source}' because it does not exist.")
        # CopyFile: the copy has the source's bytes, LastWrite time and attributes; its own creation and change times.
        meta = {k: v for k, v in entry.items() if k not in ("path", "created", "changed")}
        self.write_file(dest, dict(meta, attributes=filetimes.attributes(entry)))

    def read_json(self, path: str):
        entry = self.file(path)
        return json.loads("\n".join(entry["text"])) if entry and entry.get("text") else None

    def write_json(self, path: str, value) -> None:
        text = json.dumps(value, indent=1)
        lines = text.splitlines()
        self.write_file(path, {"text": lines, "size": text_size(lines)})

    def system_drive_free(self) -> int | None:
        if self.state.get("faults", {}).get("system_drive_full"):
            return 0
        for d in self.state["drives"]:
            if d["letter"] == self.state.get("system_drive", "C"):
                return d.get("free")
        return None

    def sms_bin_dir(self) -> str | None:
        root = self.reg_get(self.view32(IDENT_KEY), "Installation Directory")
        platform = self.state.get("platform")
        return f"{root}\\bin\\{platform}" if root and platform in ("i386", "Alpha") else None

    # -- services -------------------------------------------------------
    def service_state(self, name: str) -> str | None:
        svc = self._service(name)
        return svc["state"] if svc else None

    def _service(self, name: str) -> dict | None:
        for svc_name, svc in self.state["services"].items():
            if svc_name.lower() == name.lower():
                return svc
        return None

    def service_name(self, name: str) -> str | None:
        for svc_name in self.state["services"]:
            if svc_name.lower() == name.lower():
                return svc_name
        return None

    def dependents(self, name: str, running_only: bool = True) -> list[str]:
        return [n for n, s in self.state["services"].items()
                if any(d.lower() == name.lower() for d in s.get("depends_on", []))
                and (not running_only or s["state"] == "running")]

    def stop_service(self, name: str, force: bool = False) -> None:
        """force=False is the SCM's control stop (RControlService): refused while dependents run (1051).
        force=True is .NET's ServiceController.Stop(): it stops the running dependents first, itself."""
        svc = self._service(name)
        if svc is None:
            raise HostError(f"Cannot find any service with service name '{name}'.")
        if svc["state"] == "stopped":
            return
        if svc["state"] == "stoppending":
            raise HostError(f"Service '{name}' cannot be stopped: a stop is already pending and the service does "
                            "not respond.")
        if svc["state"] == "startpending":  # ControlService: ERROR_SERVICE_CANNOT_ACCEPT_CTRL (1061)
            raise HostError(f"Cannot stop {name} service on computer '.': the service cannot accept control "
                            "messages at this time.")
        running = self.dependents(name)
        if running and not force:
            raise HostError(f"Cannot stop service '{name}' because it has dependent services: {', '.join(running)}. "
                            "It can only be stopped if the Force flag is set.")
        for dep in running:
            self.stop_service(dep, force=True)
        if name in self.state.get("faults", {}).get("hang_on_stop", []):
            svc["state"] = "stoppending"  # .NET's ServiceControllerStatus name
            raise HostError(f"Service '{name}' cannot be stopped: the service did not respond to the stop request "
                            "in a timely fashion.")
        svc["state"] = "stopped"

    def start_service(self, name: str) -> None:
        svc = self._service(name)
        if svc is None:
            raise HostError(f"Cannot find any service with service name '{name}'.")
        if svc["state"] == "stoppending":
            raise HostError(f"Service '{name}' cannot be started: it is stopping (StopPending) and does not respond.")
        if name.lower() in (n.lower() for n in self.state.get("faults", {}).get("start_fails", [])):
            svc["state"] = "stopped"
            raise HostError(f"Service '{name}' started and then stopped (error 1067: the process terminated "
                            "unexpectedly).")
        for dep in svc.get("depends_on", []):
            if self.service_state(dep) != "running":
                self.start_service(dep)
        svc["state"] = "running"

    def _site_component_manager_poll(self) -> None:
        # Q199816: while Site Component Manager runs, it restarts the other SMS server services.
        if self.service_state("SMS_SITE_COMPONENT_MANAGER") != "running":
            return
        for name in ("SMS_EXECUTIVE", "SMS_SQL_MONITOR"):
            svc = self._service(name)
            fails = [n.lower() for n in self.state.get("faults", {}).get("start_fails", [])]
            if svc and svc["state"] == "stopped" and svc.get("start_mode", "auto") == "auto" and name.lower() not in fails:
                if all(self.service_state(d) == "running" for d in svc.get("depends_on", [])):
                    svc["state"] = "running"

    def install_sms_build(self, version: str) -> list[str]:
        """SMS Setup (a service pack, the SP4 HRP) stops SMS, replaces both DLLs and Full Version, starts SMS."""
        from .fleet import dll_meta
        bin_dir = self.sms_bin_dir()
        if not bin_dir:
            raise HostError("no SMS site server here")
        running = [n for n in SMS_SERVICES if self.service_state(n) == "running"]
        for name in running:
            self._service(name)["state"] = "stopped"
        changed = []
        for name in ("Baseutil.dll", "Distmgr.dll"):
            old = self.file(f"{bin_dir}\\{name}") or {}
            meta = dll_meta(self.state["platform"], name, version, old.get("language") or "English (United States)",
                            time.time())
            self.state["files"][f"{bin_dir}\\{name}".lower()] = dict(meta, path=f"{bin_dir}\\{name}")
            changed.append(f"{bin_dir}\\{name}")
        self.reg_set(self.view32("HKLM\\SOFTWARE\\Microsoft\\SMS\\Setup"), "Full Version", version)
        for name in running:
            self._service(name)["state"] = "running"
        return changed

    # -- Distribution Manager ------------------------------------------
    def dlls_fixed(self) -> bool:
        bin_dir = self.sms_bin_dir()
        if not bin_dir:
            return False
        return all(builds.has_fix((self.file(f"{bin_dir}\\{n}") or {}).get("version"))
                   for n in ("Baseutil.dll", "Distmgr.dll"))

    def distribute(self, package_id: str, now: float | None = None) -> dict:
        """Distribution Manager processes one package; returns {arrived, drive, reason}."""
        now = time.time() if now is None else now
        if not self.sms_bin_dir():
            return {"arrived": None, "drive": None, "reason": "no SMS site server"}
        if self.service_state("SMS_EXECUTIVE") != "running":
            return {"arrived": False, "drive": None, "reason": "SMS_EXECUTIVE is not running"}
        fixed = self.dlls_fixed()
        candidates = [d for d in self.state["drives"]
                      if (d["type"] == "fixed" and d.get("file_system") == "NTFS" and d.get("target") != IFS_TARGET)
                      or (d.get("target") == IFS_TARGET and not fixed)]
        if not candidates:
            return {"arrived": False, "drive": None, "reason": "no fixed NTFS drive"}
        drive = max(candidates, key=lambda d: (d.get("free", 0), d["letter"]))
        tail = f"  $$<SMS_DISTRIBUTION_MANAGER><{self.log_time(now)}><thread=225 (0xE1)>"
        root = self.reg_get(self.view32(IDENT_KEY), "Installation Directory")
        lines = [f"Start adding package {package_id}...{tail}"]
        if drive.get("target") == IFS_TARGET:
            tmp = f"{drive['letter']}:\\_S {hashlib.sha1(package_id.encode()).hexdigest()[:5].upper()}.TMP"
            lines += [f"Failed to write to the output file, Win32 Error = 5{tail}",
                      f"Cannot decompress package {root}\\SMSPKG\\{package_id}.PCK to {tmp}, CTool return code = 4{tail}",
                      f"STATMSG: ID=2321 SEV=E SITE={self.site_code()} PID=0 TID=225 "
                      f"SMS Distribution Manager failed to decompress package {package_id}.{tail}"]
            result = {"arrived": False, "drive": drive["letter"],
                      "reason": f"decompression failed on IFS drive {drive['letter']}:"}
        else:
            lines += [f"Successfully decompressed package {package_id} on {drive['letter']}:{tail}",
                      f"Package {package_id} is new or has changed, replicating to all applicable sites.{tail}"]
            result = {"arrived": True, "drive": drive["letter"], "reason": "decompressed and copied"}
        self.append_log(lines)
        return result

    def site_code(self) -> str:
        return self.reg_get(self.view32(IDENT_KEY), "Site Code") or "???"

    def log_path(self) -> str | None:
        configured = self.reg_get(self.view32(TRACING_KEY), "TraceFilename")
        if configured:
            return configured
        root = self.reg_get(self.view32(IDENT_KEY), "Installation Directory")
        return f"{root}\\Logs\\distmgr.log" if root else None

    def logging_enabled(self) -> bool:
        return bool(self.reg_get(self.view32(TRACING_KEY), "Enabled", 0))

    def bias_minutes(self) -> int:
        return int(self.reg_get(TIME_ZONE_KEY, "ActiveTimeBias", 0) or 0)

    def log_time(self, epoch: float) -> str:
        return sms_log_time(epoch, self.bias_minutes())

    def append_log(self, lines: list[str]) -> None:
        """Distribution Manager's lines reach distmgr.log only while its tracing is on (off by default in
        SMS 2.0); past MaxFileSize the log rolls over to distmgr.lo_."""
        path = self.log_path()
        if not path or not self.logging_enabled():
            return
        entry = self.state["files"].setdefault(path.lower(), {"path": path, "text": []})
        entry.setdefault("text", []).extend(lines)
        entry["size"] = text_size(entry["text"])
        limit = int(self.reg_get(self.view32(TRACING_KEY), "MaxFileSize", 256000) or 256000)
        if entry["size"] > limit:
            rolled = path.rsplit(".", 1)[0] + ".lo_"
            self.state["files"][rolled.lower()] = dict(entry, path=rolled)
            self.state["files"][path.lower()] = {"path": path, "text": [], "size": 0}
