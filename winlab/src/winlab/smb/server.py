"""Every emulated host's SMB front door: one impacket SMBSERVER per host and port, all listening
sockets served by one acceptor thread, one thread per open connection.

What a client meets is what a Windows 2000 server offers (SMB1, NT LM 0.12; SMB 2.002 only where
the host's OS has it), with the host's own credentials, shares and pipes (Site). Link faults act
here: a host that is down accepts nothing and drops what was open (a restart kills its sessions),
`latency_ms`/`bandwidth_kbps` delay every request and reply, and `drop_after_commands` drops the
connection after the N+1th command has run, before its reply; on SMB a command is one request
that does work (opening, reading, writing, closing, listing, an RPC call through a pipe), not the
negotiate, session setup, tree connect, echo or logoff around it.
"""

from __future__ import annotations

import configparser
import itertools
import json
import logging
import selectors
import socket
import socketserver
import threading
import time

from impacket import nmb, smb, smbserver
from impacket import smb3structs as smb3

from ..rpc.engine import RpcPipe
from ..rpc.lsarpc import LSARPC
from ..rpc.srvsvc import SRVSVC
from ..rpc.svcctl import SVCCTL
from ..rpc.winreg import WINREG
from . import session, smb1, smb2
from .disk import DiskShare

log = logging.getLogger(__name__)
PIPES = {"winreg": [WINREG], "svcctl": [SVCCTL], "srvsvc": [SRVSVC], "lsarpc": [LSARPC]}
OS = {  # name: (NativeOS, NativeLanMan, (major, minor), Windows folder, offers SMB2)
    "windows2000": ("Windows 5.0", "Windows 2000 LAN Manager", (5, 0), "C:\\WINNT", False),
    "windows2003": ("Windows Server 2003 3790", "Windows Server 2003 5.2", (5, 2), "C:\\WINDOWS", False),
    "windows2016": ("Windows Server 2016 Standard 14393", "Windows Server 2016 Standard 6.3", (10, 0), "C:\\Windows", True),
}
SESSION_COMMANDS_SMB1 = {0x72, 0x73, 0x75, 0x71, 0x74, 0x2B}  # negotiate, session setup, tree (dis)connect, logoff, echo
SESSION_COMMANDS_SMB2 = {0, 1, 2, 3, 4, 13}  # negotiate, session setup, logoff, tree connect/disconnect, echo
IDLE_SECONDS = 300
_sequence = itertools.count(1)


class Site:
    """What SMB and RPC see of one emulated host: its model, lock, names, credentials, shares, pipes."""

    def __init__(self, emulated):
        self.emulated = emulated
        self._drop = threading.local()  # per connection thread: drop it after the current request

    host = property(lambda self: self.emulated.host)
    lock = property(lambda self: self.emulated.lock)
    computer_name = property(lambda self: self.host.computer_name)
    workgroup = property(lambda self: self.host.state.get("workgroup", "LAB"))
    comment = property(lambda self: self.host.state.get("comment", ""))
    require_signing = property(lambda self: bool(self.host.state.get("smb_signing_required")))
    boot_time = property(lambda self: self.host.state["boot_time"])
    os = property(lambda self: OS[self.host.state.get("os", "windows2000")])
    native_os = property(lambda self: self.os[0])
    native_lanman = property(lambda self: self.os[1])
    os_version = property(lambda self: self.os[2])
    windows_dir = property(lambda self: self.os[3])

    def save(self) -> None:
        self.emulated.store.save_host(self.host.state)

    def password_for(self, user: str) -> str | None:
        name = user.split("\\")[-1].split("@")[0]
        return self.host.state["password"] if name.lower() == self.host.state["username"].lower() else None

    def auth_failure(self) -> None:
        self.emulated.smb_stats["auth_failures"] += 1

    def journal_written(self, path: str, data: bytes) -> None:
        """The transaction faults, for a transaction run over SMB from the controller: when a journal
        (journal.json or its .tmp) reaching a phase is written, `interrupt_transaction_at` crashes the
        host, `drop_transaction_at` drops this connection before the reply (one-shot each)."""
        if not path.lower().endswith(("\\journal.json", "\\journal.json.tmp")):
            return
        try:
            phase = json.loads(data.decode("utf-8-sig")).get("phase")
        except (ValueError, AttributeError):
            return
        faults = self.host.state.get("faults", {})
        if faults.get("interrupt_transaction_at") == phase:
            faults.pop("interrupt_transaction_at")
            self.host.crash()
            self._drop.now = True
        elif faults.get("drop_transaction_at") == phase:
            faults.pop("drop_transaction_at")
            self._drop.now = True

    def drop_requested(self) -> bool:
        """Whether the request just handled must lose its connection instead of its reply."""
        now, self._drop.now = getattr(self._drop, "now", False), False
        return now

    def drive_shares(self) -> dict[str, str]:
        """C$, D$, ... for each fixed drive (the IFS drive only where the host says it has one), ADMIN$."""
        shares = {}
        for drive in self.host.state["drives"]:
            ifs = drive.get("target") == "\\??\\BackOfficeStorage"
            if drive["type"] == "fixed" and (not ifs or self.host.state.get("exifs_admin_share")):
                shares[f"{drive['letter']}$"] = f"{drive['letter']}:\\"
        shares["ADMIN$"] = self.windows_dir
        return shares

    def disk_share(self, name: str) -> DiskShare | None:
        root = self.drive_shares().get(name.upper())
        if root is None:
            return None
        drive = next((d for d in self.host.state["drives"] if d["letter"] == root[0]), {})
        serial = hash((self.computer_name, root[0])) & 0xFFFFFFFF
        return DiskShare(self, root, drive.get("label", ""), serial)

    def shares(self) -> list[tuple]:
        special = 0x80000000
        out = [("IPC$", special | 3, "Remote IPC", "")]
        for name, root in sorted(self.drive_shares().items()):
            out.append((name, special, "Remote Admin" if name == "ADMIN$" else "Default share", root))
        return out

    def disks(self) -> list[str]:
        """What NetrServerDiskEnum lists: local drives; the IFS drive where the host says so (undocumented)."""
        out = []
        for drive in self.host.state["drives"]:
            ifs = drive.get("target") == "\\??\\BackOfficeStorage"
            if drive["type"] in ("fixed", "removable", "cdrom") and (not ifs or self.host.state.get("exifs_in_disk_enum", True)):
                out.append(drive["letter"])
        return sorted(out)

    def open_pipe(self, name: str) -> RpcPipe | None:
        """None (STATUS_OBJECT_NAME_NOT_FOUND) for an unknown pipe, or one whose service the fault
        stopped_pipes stopped (as when the Remote Registry or Server service is not running)."""
        interfaces = PIPES.get(name)
        stopped = [p.lower() for p in self.host.state.get("faults", {}).get("stopped_pipes", [])]
        return RpcPipe(name, interfaces, self) if interfaces and name.lower() not in stopped else None


def _config(site: Site) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config["global"] = {"server_name": site.computer_name, "server_os": site.native_os,
                        "server_domain": site.workgroup, "log_file": "None", "credentials_file": "",
                        "rpc_apis": "yes", "SMB2Support": "True" if site.os[4] else "False"}
    # Every share is served by our hooks; the paths are never used (impacket's own handlers are never reached).
    for name, kind in (("IPC$", "3"), ("ADMIN$", "0")) + tuple((chr(c) + "$", "0") for c in range(ord("C"), ord("Z") + 1)):
        config[name] = {"comment": "", "read only": "no", "share type": kind, "path": "/nonexistent-winlab-share"}
    return config


class WinlabSMB(smbserver.SMBSERVER):
    request_queue_size = 64
    daemon_threads = True

    def __init__(self, address, site: Site):
        self.site, self.live = site, {}
        smbserver.SMBSERVER.__init__(self, address, handler_class=Handler, config_parser=_config(site))
        self.processConfigFile()
        session.install(self)
        smb1.install(self)
        smb2.install(self)
        _install_tree_connect(self)

    def verify_request(self, request, client_address) -> bool:
        with self.site.lock:
            return self.site.host.is_up()  # a host that is down answers nothing: the connection is closed

    def tree_connect_status(self, name: str) -> int:
        """0, or the NT status Windows answers: an unknown share, or one the account may not use
        (fault denied_shares: an account that is not an administrator of the host)."""
        if name.upper() != "IPC$" and self.site.disk_share(name) is None:
            return STATUS_BAD_NETWORK_NAME
        if name.upper() in (s.upper() for s in self.site.host.state.get("faults", {}).get("denied_shares", [])):
            return STATUS_ACCESS_DENIED
        return 0


STATUS_BAD_NETWORK_NAME, STATUS_ACCESS_DENIED = 0xC00000CC, 0xC0000022


def _share_name(unc: str) -> str:
    return unc.rstrip("\x00").replace("/", "\\").rstrip("\\").rsplit("\\", 1)[-1].upper()


def _install_tree_connect(server: WinlabSMB) -> None:
    """Only the shares this host has (others: STATUS_BAD_NETWORK_NAME, as Windows answers), and only
    those the account may use (STATUS_ACCESS_DENIED)."""
    original = {}

    def tree_connect(conn_id, srv, command, packet):
        params = smb.SMBTreeConnectAndX_Parameters(command["Parameters"])
        data = smb.SMBTreeConnectAndX_Data(flags=packet["Flags2"])
        data["_PasswordLength"] = params["PasswordLength"]
        data.fromString(command["Data"])
        path = smbserver.decodeSMBString(packet["Flags2"], data["Path"])
        with srv.site.lock:
            status = srv.tree_connect_status(_share_name(path.decode("latin-1") if isinstance(path, bytes) else path))
        if status:
            return [session.error_reply(0x75)], None, status
        return original["smb1"](conn_id, srv, command, packet)

    def tree_connect2(conn_id, srv, packet):
        request = smb3.SMB2TreeConnect(packet["Data"])
        path = packet.getData()[request["PathOffset"]:][:request["PathLength"]].decode("utf-16le")
        with srv.site.lock:
            status = srv.tree_connect_status(_share_name(path))
        if status:
            return [smb3.SMB2Error()], None, status
        return original["smb2"](conn_id, srv, packet)

    original["smb1"] = server.hookSmbCommand(0x75, tree_connect)
    original["smb2"] = server.hookSmb2Command(smb3.SMB2_TREE_CONNECT, tree_connect2)


class Handler(smbserver.SMBSERVERHandler):
    def __init__(self, request, client_address, server):  # pylint: disable=super-init-not-called
        self.conn_id = f"{server.site.computer_name}:{client_address[1]}#{next(_sequence)}"
        socketserver.BaseRequestHandler.__init__(self, request, client_address, server)

    def setup(self):
        self.server.live[self.conn_id] = self.request
        with self.server.site.lock:
            self.boot = self.server.site.host.state["boot_time"]

    def handle(self):
        server, site = self.server, self.server.site
        emulated = site.emulated
        server.addConnection(self.conn_id, *self.client_address[:2])
        emulated.smb_stats["connections"] += 1
        netbios = nmb.NetBIOSTCPSession(server.getServerName(), "HOST", self.client_address[0],
                                        sess_port=self.client_address[1], sock=self.request)
        while True:
            try:
                packet = netbios.recv_packet(IDLE_SECONDS)
            except (nmb.NetBIOSError, nmb.NetBIOSTimeout, OSError):
                return
            raw = packet.get_trailer()
            emulated.smb_stats["requests"] += 1
            emulated.smb_stats["bytes_in"] += len(raw) + 4
            if packet.get_type() == nmb.NETBIOS_SESSION_REQUEST:  # port 139: a NetBIOS session comes first
                answer = nmb.NetBIOSSessionPacket()
                answer.set_type(nmb.NETBIOS_SESSION_POSITIVE_RESPONSE)
                answer.set_trailer(raw)
                self.request.send(answer.rawData())
                continue
            if packet.get_type() != nmb.NETBIOS_SESSION_MESSAGE:
                continue
            emulated.link_delay(len(raw))
            with site.lock:
                up = site.host.is_up() and site.host.state["boot_time"] == self.boot
            if not up:  # down, or it restarted since this session began: the session is gone
                return
            drop = self._counts_as_command(raw) and emulated.command_drops_now()
            try:
                replies = server.processRequest(self.conn_id, raw)
            except Exception:  # noqa: BLE001 - impacket raises on what it cannot parse: Windows would hang up
                log.exception("%s: request failed", site.computer_name)
                return
            if drop or site.drop_requested():
                log.info("%s: dropping the SMB connection (fault)", site.computer_name)
                return
            for reply in replies:
                data = reply.getData() if hasattr(reply, "getData") else reply
                emulated.link_delay(len(data))
                emulated.smb_stats["bytes_out"] += len(data) + 4
                netbios.send_packet(data)

    @staticmethod
    def _counts_as_command(raw: bytes) -> bool:
        if raw[:4] == b"\xffSMB":
            return raw[4] not in SESSION_COMMANDS_SMB1
        if raw[:4] == b"\xfeSMB" and len(raw) >= 14:
            return int.from_bytes(raw[12:14], "little") not in SESSION_COMMANDS_SMB2
        return False

    def finish(self):
        self.server.live.pop(self.conn_id, None)
        self.server.removeConnection(self.conn_id)


class SmbFront:
    """All hosts' SMB listeners, served by one acceptor thread."""

    def __init__(self):
        self.servers: dict[str, WinlabSMB] = {}
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, emulated, bind: str, port: int) -> int:
        site = Site(emulated)
        try:
            server = WinlabSMB((bind, port), site)
        except OSError:
            server = WinlabSMB((bind, 0), site)  # the recorded port is taken: take a new one
        self.servers[emulated.host.name] = server
        self.selector.register(server.socket, selectors.EVENT_READ, server)
        return server.server_address[1]

    def start(self) -> None:
        threading.stack_size(512 * 1024)  # one thread per connection: a small stack each
        self.thread = threading.Thread(target=self._accept, name="winlab-smb-acceptor", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            for key, dummy in self.selector.select(0.5):
                try:
                    key.data._handle_request_noblock()  # pylint: disable=protected-access
                except OSError:
                    pass

    def drop_all(self, name: str) -> None:
        """Close every open SMB connection of a host (it crashed or restarted)."""
        server = self.servers.get(name)
        for sock in list(server.live.values()) if server else []:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=5)
        for name, server in self.servers.items():
            self.drop_all(name)
            server.socket.close()
        deadline = time.time() + 5
        while time.time() < deadline and any(s.live for s in self.servers.values()):
            time.sleep(0.05)
