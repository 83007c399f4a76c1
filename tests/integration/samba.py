"""Samba's smbd as a second, independent SMB1 server for the tests (issue 20).

winlab's SMB side and the collection's client are both impacket, so they share its assumptions;
smbd is written by other people from the same specifications. Each test gets its own smbd on a
free loopback port, with a private smb.conf and every path under one folder: C$ and D$ as plain
shares, an SMS 2.0 site server's files and registry keys (set with `net registry`, as on a real
Windows 2000 host), an Exchange EXIFS key, and a System event log holding a boot (event 6005,
written with `eventlogadm`). Nothing is skipped: if smbd is missing or cannot start, the test
fails and says why (make setup installs Debian's samba package).

What Samba answers differently from Windows 2000 is a fact of the server, listed in the tests that
meet it and in docs/transports.md, never papered over here.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

from winlab.content import file_bytes
from winlab.fleet import dll_meta

PASSWORD = "Samba-Passw0rd!"
USER = "Administrator"  # mapped to the Samba account root, which is in BUILTIN\Administrators
SMBD = "/usr/sbin/smbd"
BOOT = 1796000000  # 2026-11-30T00:53:20Z: the boot the System log records
SMS = {"Installation Directory": ("sz", "C:\\SMS"), "Site Code": ("sz", "SAM"), "Site Type": ("dword", "1")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Samba:
    def __init__(self, root: pathlib.Path, signing: str = "auto", extra: tuple = ()):
        self.root, self.signing, self.extra = root, signing, extra
        self.port = _free_port()
        self.conf = root / "smb.conf"
        self.process: subprocess.Popen | None = None

    # -- configuration -----------------------------------------------------------
    def write_config(self) -> None:
        d = self.root
        for sub in ("lock", "state", "cache", "private", "pid", "ncalrpc", "bind", "log", "c", "d"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "usermap").write_text("root = Administrator administrator\n")
        lines = [
            "[global]", "workgroup = LAB", "netbios name = SITE01", "server role = standalone server",
            "interfaces = 127.0.0.1", "bind interfaces only = yes", f"smb ports = {self.port}", "disable netbios = yes",
            "server min protocol = NT1", "server max protocol = NT1", "ntlm auth = yes", "lanman auth = no",
            f"server signing = {self.signing}", f"lock directory = {d}/lock", f"state directory = {d}/state",
            f"cache directory = {d}/cache", f"private dir = {d}/private", f"pid directory = {d}/pid",
            f"ncalrpc dir = {d}/ncalrpc", f"binddns dir = {d}/bind", f"log file = {d}/log/%m.log",
            f"passdb backend = tdbsam:{d}/private/passdb.tdb", f"username map = {d}/usermap", "registry shares = no",
            "load printers = no", "printing = bsd", "printcap name = /dev/null", "disable spoolss = yes",
            "rpc start on demand helpers = yes", "map to guest = never", "kernel oplocks = no",
            "store dos attributes = yes", "eventlog list = System", *self.extra,
        ]
        for share, path in (("C$", d / "c"), ("D$", d / "d")):
            lines += [f"[{share}]", f"path = {path}", "read only = no", "browseable = yes",
                      "vfs objects = acl_xattr"]
        self.conf.write_text("\n".join(lines) + "\n")

    def run(self, *command, stdin: str | None = None) -> str:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def registry(self, key: str, name: str, kind: str, *values: str) -> None:
        self.run("net", "-s", str(self.conf), "registry", "createkey", key)
        self.run("net", "-s", str(self.conf), "registry", "setvalue", key, name, kind, *values)

    def event(self, when: int, event_id: int, source: str = "EventLog", text: str = "") -> None:
        """One System log record (eventlogadm: KEY: value lines, each record ended by a blank line)."""
        record = (f"LEN: 0\nRS1: 0\nRCN: 0\nTMG: {when}\nTMW: {when}\nEID: {event_id}\nETP: INFO\nECT: 0\nRS2: 0\n"
                  f"CRN: 0\nUSL: 0\nSRC: {source}\nSRN: SITE01\nSTR: {text}\nDAT:\n\n")
        self.run("eventlogadm", "-s", str(self.conf), "-o", "write", "System", stdin=record)

    def path(self, windows_path: str) -> pathlib.Path:
        """The file on this machine behind a Windows path on C: or D:."""
        drive, rest = windows_path[0].lower(), windows_path[3:].replace("\\", "/")
        return self.root / drive / rest

    def site_server(self, version: str = "2.00.1493.3000") -> None:
        """An SMS 2.0 SP3 primary site server on C:\\SMS with Exchange 2000's EXIFS (DriveLetter M)."""
        for key in ("HKLM\\SOFTWARE\\Microsoft\\SMS\\Identification",):
            for name, (kind, value) in SMS.items():
                self.registry(key, name, kind, value)
        self.registry("HKLM\\SOFTWARE\\Microsoft\\SMS\\Setup", "Full Version", "sz", version)
        self.registry("HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS", "Start", "dword", "2")
        self.registry("HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters", "DriveLetter", "sz", "M")
        self.registry("HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup", "MsiProductMajor", "dword", "6")
        self.registry("HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup", "MsiProductMinor", "dword", "0")
        # Samba forgets records older than Retention (7 days by default) whenever the log is opened.
        log_key = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Eventlog\\System"
        self.registry(log_key, "Retention", "dword", "2147483647")
        self.registry(log_key, "MaxSize", "dword", "524288")  # a log key without its size is a corrupt log to Samba
        for when, event_id in ((BOOT - 86400, 6005), (BOOT - 60, 6006), (BOOT, 6009), (BOOT, 6005)):
            self.event(when, event_id)
        self.event(BOOT + 5, 7036, "Service Control Manager", "The SMS_EXECUTIVE service entered the running state.")
        bin_dir = self.path("C:\\SMS\\bin\\i386")
        bin_dir.mkdir(parents=True, exist_ok=True)
        self.path("C:\\SMS\\Logs").mkdir(parents=True, exist_ok=True)
        for name in ("Baseutil.dll", "Distmgr.dll"):
            target = bin_dir / name
            target.write_bytes(file_bytes(None, dll_meta("i386", name, version, "English (United States)", BOOT)))
            os.utime(target, (BOOT - 86400, BOOT - 86400))  # installed the day before the boot

    # -- process -------------------------------------------------------------------
    def start(self) -> Samba:
        if not shutil.which(SMBD) and not os.path.exists(SMBD):
            raise AssertionError("Samba's smbd is needed for these tests: make setup installs Debian's samba "
                                 "package (as root), or: apt-get install samba")
        if os.geteuid() != 0:
            raise AssertionError("smbd must run as root for these tests (it changes to the account it serves)")
        self.write_config()
        self.run("smbpasswd", "-c", str(self.conf), "-a", "-s", "root", stdin=f"{PASSWORD}\n{PASSWORD}\n")
        self.run("net", "-s", str(self.conf), "groupmap", "add", "sid=S-1-5-32-544", "unixgroup=root", "type=builtin",
                 "ntgroup=Administrators")
        self.site_server()
        log = open(self.root / "log" / "stdout.log", "w")  # noqa: SIM115 - smbd writes to it as long as it runs
        self.process = subprocess.Popen([SMBD, "--foreground", "--no-process-group", "--debug-stdout", "-d1",
                                         f"--configfile={self.conf}"], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"smbd did not start on port {self.port}: "
                             f"{(self.root / 'log' / 'stdout.log').read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        # samba-dcerpcd (the RPC helpers) runs in its own session: it is stopped by its configuration's name.
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    command = (pathlib.Path("/proc") / pid / "cmdline").read_bytes().split(b"\x00")
                except OSError:
                    continue
                if f"--configfile={self.conf}".encode() in command:
                    try:
                        os.kill(int(pid), signal.SIGTERM)
                    except OSError:
                        pass

    def client(self, **options):
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client

        return client.SmbClient("127.0.0.1", self.port, USER, PASSWORD, **options).connect()
