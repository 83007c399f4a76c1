"""q317061_probe.ps1 over smb: the same raw probe dictionary (schema 2), read from the controller.

Same keys and meanings as the PowerShell module, so classification, plans and reports do not care
which transport ran. Every read is guarded: a value that cannot be read is None plus an entry in
`errors`, never a failure; only a lost connection ends the probe (the host is then unreachable).

Where smb cannot see what PowerShell sees, the value is None and docs/audit.md says why:
- `drives[].target` (QueryDosDevice has no remote form): classification then recognises the IFS
  drive by its configured letter being mounted.
- a drive without an administrative share (CD-ROMs, and, by assumption, the Exchange IFS drive)
  has no type, file system or free space.
- `sms.admin_console_running` is told by whether Baseutil.dll is held open, which says something
  only while no SMS service and no WMI hold it; otherwise None.
- `sha256` of a DLL needs the whole file: it is read once and remembered by the caller's hash
  cache under the file's size and times; only the version resource is read on later audits.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import ntpath
import re

from .. import classification, exifs, peversion
from . import server
from .client import NOT_FOUND, SmbError, Unreachable
from .registry import Registry
from .services import Services

SCHEMA = 2
DEFAULT_SERVICES = ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR", "SMS_SITE_BACKUP",
                    "SMS_NT_LOGON_DISCOVERY_AGENT", "SMS_LICENSE_SERVER", "Winmgmt", "EXIFS", "W3SVC", "MSExchangeIS")
SMS_KEY = "SOFTWARE\\Microsoft\\SMS"
TRACING = f"{SMS_KEY}\\Tracing\\SMS_DISTRIBUTION_MANAGER"
EXIFS_KEY = "SYSTEM\\CurrentControlSet\\Services\\EXIFS"
WINDOWS_KEY = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
WINDOWS_VALUES = ("CurrentVersion", "CurrentBuildNumber", "SystemRoot")
WINDOWS_10_VALUES = ("CurrentMajorVersionNumber", "CurrentMinorVersionNumber")  # where CurrentVersion stays 6.3
IDENT_VALUES = ("Installation Directory", "Site Code", "Site Type", "Parent Site Code")
JOURNAL_FIELDS = ("phase", "state", "started", "updated", "error", "stopped", "replaced")
LOG_ENCODING = "cp1252"  # SMS 2.0 writes its logs in the system's ANSI code page


def iso(filetime: int | None) -> str | None:
    """A FILETIME as .NET's round-trip format, as the ps1 reports LastWriteTimeUtc."""
    if not filetime:
        return None
    when = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=filetime // 10)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{filetime % 10_000_000:07d}Z"


HEAD_BYTES = 4096  # the first read of a DLL: headers, section table, and a small image's resources with them


def head_cached(read, size: int):
    """read(offset, length), with the file's first HEAD_BYTES fetched once: the PE headers and, in a small
    image, the version resource are then one request instead of two or three."""
    head = read(0, min(HEAD_BYTES, size))

    def cached(offset: int, length: int) -> bytes:
        if offset + length <= len(head):
            return head[offset:offset + length]
        return read(offset, length)
    return cached


class HashCache:
    """SHA-256 and version resources of files already read, keyed by host, path, size and times (a changed file
    has new times; a file touched to keep them is not something an audit has to catch: the transaction reads
    every byte it relies on). `store` is any dict-like object the caller persists."""

    def __init__(self, store: dict | None = None):
        self.store = {} if store is None else store

    @staticmethod
    def key(host: str, path: str, stat: dict) -> str:
        parts = (host.lower(), path.lower(), stat["size"], stat["last_write"], stat["creation"], stat["change"])
        return "|".join(str(v) for v in parts)

    def get(self, key: str) -> str | None:
        return self.store.get(key)

    def put(self, key: str, value: str) -> None:
        self.store[key] = value

    def version(self, key: str) -> dict | None:
        """{version, language_id, language} of the file as it was read under this key, or None."""
        found = self.store.get(key + "|pe")
        return found if isinstance(found, dict) else None

    def put_version(self, key: str, found: dict) -> None:
        self.store[key + "|pe"] = {k: found.get(k) for k in ("version", "language_id", "language")}

    def knows(self, host: str, path: str) -> bool:
        """Whether anything was kept of this file: only then is its stat asked first (a first audit opens it)."""
        prefix = f"{host.lower()}|{path.lower()}|"
        return any(key.startswith(prefix) for key in self.store)


class Probe:
    def __init__(self, client, hashes: HashCache | None = None):
        self.client, self.hashes = client, hashes or HashCache()
        self.registry, self.services = Registry(client), Services(client)
        self.errors: list[str] = []

    def guard(self, what: str, read, default=None):
        """A read that may fail: its error is reported, the probe goes on. A lost connection ends it."""
        try:
            return read()
        except Unreachable:
            raise
        except SmbError as error:
            self.errors.append(f"{what}: {error}")
        except Exception as error:  # noqa: BLE001 - impacket raises many kinds; all are read errors here
            self.errors.append(f"{what}: {type(error).__name__}: {error}")
        return default

    def values(self, key: str, names, software: bool = True) -> dict:
        where = f"registry HKLM\\{key}"
        return self.guard(where, lambda: self.registry.values(key, names, software=software),
                          {n: (False, None) for n in names})

    # -- pieces -----------------------------------------------------------
    def expand(self, text, windows: dict):
        """REG_EXPAND_SZ as Windows expands it for the machine: SystemRoot, SystemDrive, windir (a value that is
        not text is returned as it is, for classification to call it what it is)."""
        if not text or not isinstance(text, str) or "%" not in text:
            return text
        root = windows.get("SystemRoot", (False, None))[1]
        root = root if isinstance(root, str) else ""
        known = {"systemroot": root, "windir": root, "systemdrive": root[:2]}

        def one(match):
            value = known.get(match.group(1).lower())
            if not value:
                self.errors.append(f"cannot expand %{match.group(1)}% in {text} over smb")
                return match.group(0)
            return value
        return re.sub(r"%([^%]+)%", one, text)

    def platform(self, install_dir) -> str | None:
        for candidate in ("i386", "Alpha") if install_dir and isinstance(install_dir, str) else ():
            path = ntpath.join(install_dir, "bin", candidate)
            if self.guard(f"folder {path}", lambda p=path: self.client.is_dir(p), False):
                return candidate
        return None

    def known(self, path: str, computer: str) -> dict | None:
        """A DLL whose size and times match what an earlier audit read: its version and hash from the cache, by
        one request for its attributes (no open, no read, no close). None when it must be read."""
        if not self.hashes.knows(computer, path):
            return None
        try:
            stat = self.client.path_stat(path)
        except Unreachable:
            raise
        except SmbError:
            return None  # missing, or unreadable: the full read says which
        key = HashCache.key(computer, path, stat)
        digest, found = self.hashes.get(key), self.hashes.version(key)
        if digest is None or found is None or stat["is_dir"]:
            return None
        return {"path": path, "exists": True, "version": found["version"], "size": stat["size"], "sha256": digest,
                "language_id": found["language_id"], "language": found["language"], "modified": iso(stat["last_write"])}

    def dll(self, path: str, computer: str) -> dict:
        info = {"path": path, "exists": False, "version": None, "size": None, "sha256": None, "language_id": None,
                "language": None, "modified": None}
        known = self.known(path, computer)
        if known is not None:
            return known
        try:
            with self.client.reader(path) as (read, stat):
                info.update(exists=True, size=stat["size"], modified=iso(stat["last_write"]))
                found = peversion.read_version_info(head_cached(read, stat["size"]), stat["size"])
                key = HashCache.key(computer, path, stat)
                digest = self.hashes.get(key)
                if digest is None:
                    digest = hashlib.sha256(read(0, stat["size"])).hexdigest()
                    self.hashes.put(key, digest)
                self.hashes.put_version(key, found)
                info.update(version=found["version"], language_id=found["language_id"], language=found["language"],
                            sha256=digest)
        except Unreachable:
            raise
        except peversion.PeError as error:
            self.errors.append(f"file {path}: {error}")
        except SmbError as error:
            if error.status in NOT_FOUND:
                return info
            self.errors.append(f"file {path}: {error}")
            stat = self.guard(f"file {path}", lambda: self.client.stat(path))  # attributes open even when locked
            if stat:
                info.update(exists=True, size=stat["size"], modified=iso(stat["last_write"]))
        return info

    def service_list(self, names, exifs_key: bool) -> list[dict]:
        """The named services that exist, with their states, from one enumeration of the host's Win32 services
        and file-system drivers. `dependents` is None over smb: the probe decides nothing by them, and asking
        each service would cost two calls more per service; the transaction reads them when it stops services.
        EXIFS is asked for by name when the enumeration lacks it but its service key exists (a driver type
        that a filter missed), so it is never reported absent while it is there."""
        states = self.guard("service enumeration (svcctl)", self.services.states)
        if states is None:
            return []
        out = []
        for name in names:
            state = states.get(name.lower())
            if state is None and name.lower() == "exifs" and exifs_key:
                state = self.guard(f"service {name}", lambda n=name: self.services.state(n))
            if state is not None:
                out.append({"name": name, "state": state, "dependents": None})
        return out

    def console(self, services: list[dict], baseutil: str | None):
        holders = [s for s in services if s["name"].upper().startswith("SMS_") or s["name"].lower() == "winmgmt"]
        if not baseutil or any(s["state"] != "stopped" for s in holders):
            return None  # SMS or WMI hold Baseutil.dll themselves: the test would say nothing
        return self.guard(f"file {baseutil} (in use?)", lambda: self.client.held_open(baseutil))

    def drives(self) -> list[dict]:
        out = []
        for letter in self.guard("disk enumeration (srvsvc)", lambda: server.disks(self.client), []):
            drive = {"letter": letter, "type": None, "file_system": None, "label": None, "size": None, "free": None,
                     "target": None}
            volume = self.guard(f"drive {letter}:", lambda x=letter: self.client.volume(x))
            if volume:
                drive.update(volume)
            out.append(drive)
        return out

    def log_tail(self, path: str, tail_bytes: int) -> list[str] | None:
        try:
            with self.client.reader(path) as (read, stat):
                start = max(0, stat["size"] - tail_bytes)
                text = read(start, stat["size"] - start).decode(LOG_ENCODING, "replace")
        except SmbError as error:
            if error.status in NOT_FOUND:
                return None
            raise
        lines = re.split(r"\r?\n", text)
        if start > 0:
            lines = lines[1:]  # a line cut by the offset is dropped, not half-read
        return [line for line in lines if "decompress" in line.lower()]

    def distmgr_log(self, install_dir, tracing, windows, tail_bytes: int, max_lines: int) -> dict:
        enabled_present, enabled = tracing["Enabled"]
        log = {"path": None, "present": False, "rolled_over_path": None, "rolled_over_present": False,
               "logging_enabled": None, "lines": []}
        if enabled_present:
            try:
                log["logging_enabled"] = int(str(enabled)) != 0
            except ValueError:
                self.errors.append(f"registry HKLM\\{TRACING}\\Enabled: '{enabled}' is not a number")
        if not install_dir or not isinstance(install_dir, str):  # a folder that is not text is no folder to read
            return log
        configured = tracing["TraceFilename"][1]
        configured = configured if isinstance(configured, str) else None
        log["path"] = self.expand(configured, windows) if configured else ntpath.join(install_dir, "Logs", "distmgr.log")
        log["rolled_over_path"] = ntpath.splitext(log["path"])[0] + ".lo_"
        found = []
        for field, path in (("rolled_over_present", log["rolled_over_path"]), ("present", log["path"])):
            lines = self.guard(f"log {path}", lambda p=path: self.log_tail(p, tail_bytes))
            if lines is not None:
                log[field] = True
                found += lines
        log["lines"] = found[-max_lines:] if max_lines > 0 else []
        return log

    def journal(self, work_dir: str) -> dict:
        path = ntpath.join(work_dir, "journal.json")
        out = {"journal": path, "present": False, "readable": None, "phase": None, "state": None, "started": None,
               "updated": None, "error": None, "stopped": [], "replaced": []}
        for candidate in (path, path + ".tmp"):
            try:
                data, _stat = self.client.read(candidate)
            except Unreachable:
                raise
            except SmbError as error:
                if error.status in ("STATUS_OBJECT_PATH_NOT_FOUND", "STATUS_BAD_NETWORK_NAME"):
                    break  # no work folder (or no such drive): no temporary copy either
                if error.status in NOT_FOUND:
                    continue
                out.update(present=True, readable=False, error=f"unreadable: {error}")
                continue
            out["present"] = True
            try:
                value = json.loads(data.decode("utf-8-sig"))
                if not isinstance(value, dict):
                    raise ValueError("it is not a JSON object")
                out.update({k: value.get(k) for k in JOURNAL_FIELDS}, readable=True)
                break
            except ValueError as error:
                out.update(readable=False, error=f"unreadable: {error}")
        return out

    # -- the whole probe ------------------------------------------------------
    def run(self, services=DEFAULT_SERVICES, log_tail_bytes: int = 262144, max_log_lines: int = 50,
            work_dir: str = "C:\\SMSFleet\\Q317061") -> dict:
        windows = self.values(WINDOWS_KEY, WINDOWS_VALUES, software=False)
        version = windows["CurrentVersion"][1]
        windows.update(self.values(WINDOWS_KEY, WINDOWS_10_VALUES, software=False) if version == "6.3" else
                       {name: (False, None) for name in WINDOWS_10_VALUES})
        self.registry.wow64 = version not in ("4.0", "5.0")  # no 32-bit view on Windows NT 4.0 and 2000
        ident = self.values(f"{SMS_KEY}\\Identification", IDENT_VALUES[:3])  # every site has these three together
        ident.update(self.values(f"{SMS_KEY}\\Identification", IDENT_VALUES[3:]))  # a central site has no parent
        setup = self.values(f"{SMS_KEY}\\Setup", ["Full Version"])
        tracing = self.values(TRACING, ["Enabled", "TraceFilename"])
        exchange = self.values("SOFTWARE\\Microsoft\\Exchange\\Setup", ["MsiProductMajor", "MsiProductMinor"])
        letter = self.values(f"{EXIFS_KEY}\\Parameters", ["DriveLetter"], software=False)["DriveLetter"]
        record = self.values(exifs.RECORD_KEY, exifs.RECORD_VALUES, software=False)
        bias = self.values("SYSTEM\\CurrentControlSet\\Control\\TimeZoneInformation", ["ActiveTimeBias"],
                           software=False)["ActiveTimeBias"][1]
        install_dir = self.expand(ident["Installation Directory"][1], windows) or None
        computer = self.client.server_name() or self.guard("server info (srvsvc)", lambda: server.computer_name(self.client))
        platform = self.platform(install_dir)
        dlls = {}
        for name in ("Baseutil.dll", "Distmgr.dll"):
            dlls[name] = (self.dll(ntpath.join(install_dir, "bin", platform, name), computer or self.client.host)
                          if install_dir and platform else
                          {"path": None, "exists": False, "version": None, "size": None, "sha256": None,
                           "language_id": None, "language": None, "modified": None})
        exifs_key = bool(self.guard(f"registry HKLM\\{EXIFS_KEY}", lambda: self.registry.exists(
            f"{EXIFS_KEY}\\Parameters") or self.registry.exists(EXIFS_KEY), False))  # the first is open already
        service_list = self.service_list(services, exifs_key)
        major, minor = exchange["MsiProductMajor"][1], exchange["MsiProductMinor"][1]
        version, build = windows["CurrentVersion"][1], windows["CurrentBuildNumber"][1]
        if windows["CurrentMajorVersionNumber"][0]:  # Windows 10 and later keep CurrentVersion at 6.3
            version = f"{windows['CurrentMajorVersionNumber'][1]}.{windows['CurrentMinorVersionNumber'][1]}"
        drives = self.drives()
        found = {
            "schema": SCHEMA,
            "computer_name": computer,
            "os_version": f"{version}.{build}.0" if version and build else None,
            "boot_time": self.guard("boot time (System event log)", lambda: server.boot_time(self.client)),
            "time_bias_minutes": bias,
            "sms": {
                "installed": bool(install_dir),
                "install_dir": install_dir,
                "site_code": ident["Site Code"][1],
                "site_type": {1: "primary", 2: "secondary"}.get(ident["Site Type"][1])
                if isinstance(ident["Site Type"][1], int) else None,
                "parent_site_code": ident["Parent Site Code"][1],
                "full_version": setup["Full Version"][1],
                "full_version_present": setup["Full Version"][0],
                "platform": platform,
                "admin_console_running": self.console(service_list, dlls["Baseutil.dll"]["path"]),
                "dlls": dlls,
            },
            "services": service_list,
            "exifs": {
                "service_present": exifs_key,
                "drive_letter": letter[1],
                "drive_letter_present": letter[0],
                # When DriveLetter last changed: over smb, the one way to tell that a blanked letter has not had
                # its restart yet while the IFS drive shows an administrative share (classification).
                "parameters_written": None,  # below, where classification needs it
                "original_recorded": record["OriginalDriveLetterState"][0],
                "original_drive_letter": record["OriginalDriveLetter"][1]
                if record["OriginalDriveLetterState"][1] == "present" else None,
                "exchange_version": f"{major}.{minor}" if major is not None else None,
                "sharepoint_portal_server": bool(self.guard(
                    "registry HKLM\\SOFTWARE\\Microsoft\\SharePoint Portal Server",
                    lambda: self.registry.exists("SOFTWARE\\Microsoft\\SharePoint Portal Server", software=True), False)),
            },
            "drives": drives,
            "distmgr_log": self.distmgr_log(install_dir, tracing, windows, log_tail_bytes, max_log_lines),
            "transaction": self.journal(work_dir),
            "staging": None,  # nothing is staged over smb: the transaction writes the checked bytes itself
        }
        if self.needs_written(found["exifs"], drives):
            found["exifs"]["parameters_written"] = self.guard(
                f"registry HKLM\\{EXIFS_KEY}\\Parameters", lambda: self.registry.written(f"{EXIFS_KEY}\\Parameters"))
        found["errors"] = list(self.errors)
        return found

    @staticmethod
    def needs_written(exifs_found: dict, drives: list[dict]) -> bool:
        """Whether classification will ask when the EXIFS Parameters key was last written: only where the letter
        EXIFS took at boot has an administrative share while DriveLetter names another (classification.
        mounted_exifs_letter). Elsewhere the answer would decide nothing and cost a request."""
        try:
            configured = classification.configured_exifs_letter(exifs_found)
            letter = classification.booted_exifs_letter(exifs_found, configured)
        except (AttributeError, TypeError):  # a value of an unexpected type: classification names it; ask anyway
            return True
        return bool(letter) and letter != configured and any(
            d["letter"].upper() == letter and d.get("free") is not None for d in drives)


def probe(client, hashes: HashCache | None = None, **options) -> dict:
    return Probe(client, hashes).run(**options)
