"""Every emulated host's SMB front door: one impacket SMBSERVER per host and port, all listening
sockets served by one acceptor thread, one thread per open connection.

What a client meets is what the host's Windows offers (profiles below: NT LM 0.12 with or without
extended security, capabilities, security mode, SMB 2.002 only where the OS has it), with the
host's own credentials, shares and pipes (Site). Link faults act here: a host that is down or
restarting refuses TCP (its listener is closed) and drops what was open (a restart kills its
sessions); `latency_ms`/`bandwidth_kbps` delay every request and reply; `drop_after_commands`
drops the connection after the N+1th command has run, before its reply; a connection that goes
half-open answers nothing more and keeps its opens until the host gives it up. On SMB a command is
one request that does work (opening, reading, writing, closing, listing, an RPC call through a
pipe), not the negotiate, session setup, tree connect, echo or logoff around it.
"""

from __future__ import annotations

import configparser
import dataclasses
import hashlib
import hmac
import itertools
import json
import logging
import selectors
import socket
import socketserver
import struct
import threading
import time

from impacket import nmb, smb, smbserver
from impacket import smb3structs as smb3

from ..rpc.engine import RpcPipe
from ..rpc.eventlog import EVENTLOG
from ..rpc.lsarpc import LSARPC
from ..rpc.srvsvc import SRVSVC
from ..rpc.svcctl import SVCCTL
from ..rpc.winreg import WINREG
from . import session, smb1, smb2
from .disk import DiskShare
from .opens import OpenTable

log = logging.getLogger(__name__)
PIPES = {"winreg": [WINREG], "svcctl": [SVCCTL], "srvsvc": [SRVSVC], "lsarpc": [LSARPC], "eventlog": [EVENTLOG]}


@dataclasses.dataclass(frozen=True)
class Profile:
    """What one Windows release answers on SMB (sources: docs/winlab.md, "Negotiate profiles")."""

    native_os: str
    native_lanman: str
    version: tuple
    windows_dir: str
    smb2: bool
    capabilities: int  # without CAP_EXTENDED_SECURITY, which is added when the client asks for it
    extended_security: bool  # SPNEGO/NTLMSSP logons; NT 4.0 has only the challenge of the negotiate
    passthrough: bool  # information levels 1000 + an MS-FSCC class (CAP_INFOLEVEL_PASSTHRU)


CAP_EXTENDED_SECURITY, CAP_INFOLEVEL_PASSTHRU = 0x80000000, 0x2000
OS = {
    "windowsnt4": Profile("Windows NT 4.0", "NT LAN Manager 4.0", (4, 0), "C:\\WINNT", False, 0x000053FD, False, False),
    "windows2000": Profile("Windows 5.0", "Windows 2000 LAN Manager", (5, 0), "C:\\WINNT", False, 0x0000F3FD, True, True),
    "windows2003": Profile("Windows Server 2003 3790", "Windows Server 2003 5.2", (5, 2), "C:\\WINDOWS", False,
                           0x0001F3FD, True, True),
    "windows2016": Profile("Windows Server 2016 Standard 14393", "Windows Server 2016 Standard 6.3", (10, 0),
                           "C:\\Windows", True, 0x0001F3FD, True, True),
}
SESSION_COMMANDS_SMB1 = {0x72, 0x73, 0x75, 0x71, 0x74, 0x2B}  # negotiate, session setup, tree (dis)connect, logoff, echo
SMB1_NAMES = {0x04: "CLOSE", 0x06: "DELETE", 0x07: "RENAME", 0x24: "LOCKING_ANDX", 0x25: "TRANSACTION",
              0x2B: "ECHO", 0x2E: "READ_ANDX", 0x2F: "WRITE_ANDX", 0x32: "TRANSACTION2", 0x71: "TREE_DISCONNECT",
              0x72: "NEGOTIATE", 0x73: "SESSION_SETUP_ANDX", 0x74: "LOGOFF_ANDX", 0x75: "TREE_CONNECT_ANDX",
              0xA0: "NT_TRANSACT", 0xA2: "NT_CREATE_ANDX"}
SMB2_NAMES = ("NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT", "CREATE", "CLOSE", "FLUSH",
              "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "ECHO", "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO",
              "SET_INFO", "OPLOCK_BREAK")


def command_name(raw: bytes) -> str:
    """SMB1 `TRANSACTION` and the like, SMB2 `smb2 READ`: how `winlab stats` counts requests by kind."""
    if raw[:4] == b"\xffSMB" and len(raw) > 4:
        return SMB1_NAMES.get(raw[4], f"0x{raw[4]:02X}")
    if raw[:4] == b"\xfeSMB" and len(raw) >= 14:
        command = struct.unpack_from("<H", raw, 12)[0]
        return "smb2 " + (SMB2_NAMES[command] if command < len(SMB2_NAMES) else f"0x{command:04X}")
    return "other"


NEEDS_NO_SESSION_SMB1 = {0x72, 0x73, 0x2B}  # negotiate, session setup, echo: any other request needs a valid UID
SESSION_COMMANDS_SMB2 = {0, 1, 2, 3, 4, 13}  # negotiate, session setup, logoff, tree connect/disconnect, echo
IDLE_SECONDS = 300
STATUS_SMB_BAD_UID = 0x005B0002  # ERRSRV/ERRbaduid (MS-CIFS 2.2.2.4)
_sequence = itertools.count(1)


class Site:
    """What SMB and RPC see of one emulated host: its model, lock, names, credentials, shares, pipes."""

    def __init__(self, emulated):
        self.emulated = emulated
        self._drop = threading.local()  # per connection thread: drop it (or let it go half-open) after this request
        self.opens = OpenTable(emulated.lock, lambda: float(self.host.state.get("oplock_break_seconds", 35)),
                               emulated.smb_stats)

    host = property(lambda self: self.emulated.host)
    lock = property(lambda self: self.emulated.lock)
    computer_name = property(lambda self: self.host.computer_name)
    workgroup = property(lambda self: self.host.state.get("workgroup", "LAB"))
    comment = property(lambda self: self.host.state.get("comment", ""))
    # LanmanServer\Parameters RequireSecuritySignature and EnableSecuritySignature (both off on a member server)
    require_signing = property(lambda self: bool(self.host.state.get("smb_signing_required")))
    signing_enabled = property(lambda self: self.require_signing or bool(self.host.state.get("smb_signing_enabled")))
    boot_time = property(lambda self: self.host.state["boot_time"])
    profile = property(lambda self: OS[self.host.state.get("os", "windows2000")])
    native_os = property(lambda self: self.profile.native_os)
    native_lanman = property(lambda self: self.profile.native_lanman)
    os_version = property(lambda self: self.profile.version)
    windows_dir = property(lambda self: self.profile.windows_dir)
    passthrough = property(lambda self: self.profile.passthrough)
    # LanmanServer\Parameters EnableOplocks (on by default); level II needs CAP_LEVEL_II_OPLOCKS (0x80)
    oplocks = property(lambda self: bool(self.host.state.get("smb_oplocks", True)))
    level_ii_oplocks = property(lambda self: bool(self.profile.capabilities & 0x80))
    sharing_retries = property(lambda self: bool(self.host.state.get("sharing_violation_retries", True)))

    def save(self) -> None:
        self.emulated.store.save_host(self.host.state)

    def write_limit(self, size: int) -> int:
        """How much of one write the server takes (fault short_writes: at most N bytes, as a server may)."""
        limit = self.host.state.get("faults", {}).get("short_writes")
        return size if limit is None else min(size, limit)

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
        elif faults.get("half_open_transaction_at") == phase:
            faults.pop("half_open_transaction_at")
            self._drop.half_open = True

    def rpc_call(self, pipe: str, opnum: int) -> None:
        """Fault drop_on_rpc (`svcctl.1`: RControlService): this call runs, and its connection drops before
        the reply (one-shot)."""
        faults = self.host.state.get("faults", {})
        if faults.get("drop_on_rpc") == f"{pipe}.{opnum}":
            faults.pop("drop_on_rpc")
            self._drop.now = True

    def drop_requested(self) -> bool:
        """Whether the request just handled must lose its connection instead of its reply."""
        now, self._drop.now = getattr(self._drop, "now", False), False
        return now

    def half_open_requested(self) -> bool:
        """Whether the connection of the request just handled goes silent: no reply, now or ever."""
        now, self._drop.half_open = getattr(self._drop, "half_open", False), False
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
                        "rpc_apis": "yes", "SMB2Support": "True" if site.profile.smb2 else "False"}
    # Every share is served by our hooks; the paths are never used (impacket's own handlers are never reached).
    for name, kind in (("IPC$", "3"), ("ADMIN$", "0")) + tuple((chr(c) + "$", "0") for c in range(ord("C"), ord("Z") + 1)):
        config[name] = {"comment": "", "read only": "no", "share type": kind, "path": "/nonexistent-winlab-share"}
    return config


class WinlabSMB(smbserver.SMBSERVER):
    request_queue_size = 64
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, site: Site):
        self.site, self.live = site, {}
        smbserver.SMBSERVER.__init__(self, address, handler_class=Handler, config_parser=_config(site))
        self.processConfigFile()
        session.install(self)
        smb1.install(self)
        smb2.install(self)
        _install_tree_connect(self)
        self.hookSmbCommand(smb.SMB.SMB_COM_LOGOFF_ANDX, _logoff)

    def verify_request(self, request, client_address) -> bool:
        with self.site.lock:
            return self.site.host.is_up()  # went down since the acceptor last looked: the connection is closed

    def send_unsolicited(self, conn_id: str, data: bytes) -> None:
        """A message the server starts (an oplock break), on one of its connections, from any thread."""
        handler = self.live.get(conn_id)
        if handler is not None:
            handler.send(data)

    # A host that is down or restarting has no listener: a connection attempt is refused (RST), as when
    # nothing listens on the port of a machine that is booting.
    @property
    def listening(self) -> bool:
        return self.socket.fileno() >= 0

    def stop_listening(self) -> None:
        self.socket.close()

    def listen_again(self) -> None:
        self.socket = socket.socket(self.address_family, self.socket_type)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.socket.listen(self.request_queue_size)
        self.socket.setblocking(False)

    def close_session_files(self, conn_id: str, dropped: bool) -> None:
        """A logoff or a lost connection closes every file the session had open (what was written stays)."""
        conn = self.getConnectionData(conn_id, checkStatus=False)
        for fid, entry in list(conn.get("OpenedFiles", {}).items()):
            if entry.get("FileHandle") == smb1.DISK:
                try:
                    entry["Share"].close(entry["Handle"], dropped=dropped)
                except Exception:  # noqa: BLE001 - the rest must still be closed
                    log.exception("%s: closing %s failed", self.site.computer_name, entry.get("FileName"))
            conn["OpenedFiles"].pop(fid, None)

    def tree_connect_status(self, name: str) -> int:
        """0, or the NT status Windows answers: an unknown share, or one the account may not use
        (fault denied_shares: an account that is not an administrator of the host)."""
        if name.upper() != "IPC$" and self.site.disk_share(name) is None:
            return STATUS_BAD_NETWORK_NAME
        if name.upper() in (s.upper() for s in self.site.host.state.get("faults", {}).get("denied_shares", [])):
            return STATUS_ACCESS_DENIED
        return 0


STATUS_BAD_NETWORK_NAME, STATUS_ACCESS_DENIED = 0xC00000CC, 0xC0000022


def _logoff(conn_id, server, command, packet):
    """LOGOFF_ANDX ends the session: its files close, its UID is no longer valid (a second logoff, or any
    later request with it, gets STATUS_SMB_BAD_UID). The connection itself stays."""
    conn = server.getConnectionData(conn_id, checkStatus=False)
    server.site.emulated.smb_stats["logoffs"] += 1
    server.close_session_files(conn_id, dropped=False)
    reply = smb.SMBCommand(smb.SMB.SMB_COM_LOGOFF_ANDX)
    reply["Parameters"] = struct.pack("<BBH", 0xFF, 0, 0)
    reply["Data"] = b""
    conn["Authenticated"], conn["Uid"] = False, 0
    server.setConnectionData(conn_id, conn)
    return [reply], None, 0


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
        commands, packets, status = original["smb1"](conn_id, srv, command, packet)
        conn = srv.getConnectionData(conn_id, checkStatus=False)
        for reply in packets or []:  # impacket signs this reply without the flag that says it is signed
            if conn.get("SignatureEnabled"):
                reply["Flags2"] |= smb.SMB.FLAGS2_SMB_SECURITY_SIGNATURE
                conn["SignSequenceNumber"] -= 2  # the same number again, over the message with its flag
                srv.signSMBv1(conn, reply, conn["SigningSessionKey"], conn["SigningChallengeResponse"])
        srv.setConnectionData(conn_id, conn)
        return commands, packets, status

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
        self.send_lock = threading.Lock()  # replies and oplock breaks from other connections' threads
        self.netbios = None
        socketserver.BaseRequestHandler.__init__(self, request, client_address, server)

    def setup(self):
        self.server.live[self.conn_id] = self
        with self.server.site.lock:
            self.boot = self.server.site.host.state["boot_time"]

    def send(self, data: bytes) -> None:
        with self.send_lock:
            try:
                self.netbios.send_packet(data)
            except OSError:
                pass  # the connection is going: its own thread notices

    def handle(self):
        server, site = self.server, self.server.site
        emulated = site.emulated
        server.addConnection(self.conn_id, *self.client_address[:2])
        emulated.smb_stats["connections"] += 1
        self.netbios = nmb.NetBIOSTCPSession(server.getServerName(), "HOST", self.client_address[0],
                                             sess_port=self.client_address[1], sock=self.request)
        while True:
            try:
                packet = self.netbios.recv_packet(IDLE_SECONDS)
            except (nmb.NetBIOSError, nmb.NetBIOSTimeout, OSError):
                return
            raw = packet.get_trailer()
            emulated.smb_stats["requests"] += 1
            name = command_name(raw)
            emulated.smb_commands[name] = emulated.smb_commands.get(name, 0) + 1
            emulated.smb_stats["bytes_in"] += len(raw) + 4
            if packet.get_type() == nmb.NETBIOS_SESSION_REQUEST:  # port 139: a NetBIOS session comes first
                answer = nmb.NetBIOSSessionPacket()
                answer.set_type(nmb.NETBIOS_SESSION_POSITIVE_RESPONSE)
                answer.set_trailer(raw)
                self.send(answer.rawData())
                continue
            if packet.get_type() != nmb.NETBIOS_SESSION_MESSAGE:
                continue
            emulated.link_delay(len(raw))
            with site.lock:
                up = site.host.is_up() and site.host.state["boot_time"] == self.boot
            if not up:  # down, or it restarted since this session began: the session is gone
                return
            refused = self._bad_uid(raw) or self._bad_signature(raw)
            if refused is not None:
                self.send(refused)
                continue
            drop = self._counts_as_command(raw) and emulated.command_drops_now()
            try:
                # RPC calls through pipes, TRANSACTION2 queries and opens, most of what an audit asks, framed by hand
                fast = smb1.answer_by_hand(server, self.conn_id, raw)
                replies = fast if fast is not None else server.processRequest(self.conn_id, raw)
            except Exception:  # noqa: BLE001 - impacket raises on what it cannot parse: Windows would hang up
                log.exception("%s: request failed", site.computer_name)
                return
            if drop or site.drop_requested():
                log.info("%s: dropping the SMB connection (fault)", site.computer_name)
                return
            if site.half_open_requested():
                self._half_open()
                return
            for reply in replies:
                data = reply.getData() if hasattr(reply, "getData") else reply
                data = self._tampered(data)
                emulated.link_delay(len(data))
                emulated.smb_stats["bytes_out"] += len(data) + 4
                self.send(data)

    def _bad_uid(self, raw: bytes) -> bytes | None:
        """An SMB1 request other than negotiate, session setup or echo needs the UID of this connection's
        session: anything else gets STATUS_SMB_BAD_UID, as Windows answers (impacket's stock server says
        STATUS_ACCESS_DENIED). A second logoff after the first is one such request."""
        if raw[:4] != b"\xffSMB" or len(raw) < 32 or raw[4] in NEEDS_NO_SESSION_SMB1:
            return None
        conn = self.server.getConnectionData(self.conn_id, checkStatus=False)
        uid = struct.unpack_from("<H", raw, 28)[0]
        if conn.get("Authenticated") and uid and uid == conn.get("Uid"):
            return None
        self.server.site.emulated.smb_stats["bad_uid"] += 1
        return session.error_packet(self.server, self.conn_id, raw, STATUS_SMB_BAD_UID)

    def _bad_signature(self, raw: bytes) -> bytes | None:
        """On a signed SMB1 session every request must carry the signature of its sequence number (the last
        reply's + 1): anything else gets STATUS_ACCESS_DENIED (MS-CIFS 3.3.5.2.3), and nothing runs."""
        if raw[:4] != b"\xffSMB" or len(raw) < 32:
            return None
        conn = self.server.getConnectionData(self.conn_id, checkStatus=False)
        if not conn.get("SignatureEnabled"):
            return None
        sequence = conn["SignSequenceNumber"] - 1
        message = raw[:14] + struct.pack("<Q", sequence) + raw[22:]
        wanted = hashlib.md5(conn["SigningSessionKey"] + conn["SigningChallengeResponse"] + message).digest()[:8]
        if struct.unpack_from("<H", raw, 10)[0] & smb.SMB.FLAGS2_SMB_SECURITY_SIGNATURE and hmac.compare_digest(
                raw[14:22], wanted):
            return None
        self.server.site.emulated.smb_stats["bad_signatures"] += 1
        return session.error_packet(self.server, self.conn_id, raw, STATUS_ACCESS_DENIED)

    def _tampered(self, data: bytes) -> bytes:
        """Fault wire_tamper: a device on the path changes a byte of every file read's data after the host
        signed the reply, as a man-in-the-middle rewriting DLL bytes would (SMB1 READ_ANDX, SMB2 READ)."""
        if not self.server.site.host.state.get("faults", {}).get("wire_tamper") or len(data) < 80:
            return data
        smb1_read = data[:4] == b"\xffSMB" and data[4] == smb.SMB.SMB_COM_READ_ANDX
        smb2_read = data[:4] == b"\xfeSMB" and int.from_bytes(data[12:14], "little") == 8
        if not (smb1_read or smb2_read):
            return data
        return data[:-1] + bytes([data[-1] ^ 0xFF])

    def _half_open(self) -> None:
        """The connection answers nothing more, and the host notices the client is gone only when it gives
        the connection up (`half_open_seconds`): until then the session keeps its files open. A client's
        own close does not reach it (the path is broken), so it is waited out too."""
        deadline = time.monotonic() + float(self.server.site.host.state.get("half_open_seconds", 60))
        log.info("%s: the SMB connection went half-open (fault)", self.server.site.computer_name)
        while time.monotonic() < deadline:
            try:
                self.netbios.recv_packet(max(0.1, deadline - time.monotonic()))
            except nmb.NetBIOSTimeout:
                continue
            except (nmb.NetBIOSError, OSError):
                time.sleep(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _counts_as_command(raw: bytes) -> bool:
        if raw[:4] == b"\xffSMB":
            return raw[4] not in SESSION_COMMANDS_SMB1
        if raw[:4] == b"\xfeSMB" and len(raw) >= 14:
            return int.from_bytes(raw[12:14], "little") not in SESSION_COMMANDS_SMB2
        return False

    def finish(self):
        try:
            self.server.close_session_files(self.conn_id, dropped=True)
        finally:
            self.server.live.pop(self.conn_id, None)
            self.server.removeConnection(self.conn_id)


FOLLOW_SECONDS = 0.2  # how soon a host that went down stops listening, and listens again when it is back


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
        followed = 0.0
        while not self.stopping.is_set():
            for key, dummy in self.selector.select(FOLLOW_SECONDS):
                try:
                    key.data._handle_request_noblock()  # pylint: disable=protected-access
                except OSError:
                    pass
            # Every host is looked at: at most every FOLLOW_SECONDS, not after every connection accepted (a
            # fleet audit accepts one per host, and a scan per accept made the audit quadratic in the fleet).
            if time.monotonic() - followed >= FOLLOW_SECONDS:
                self._follow_restarts()
                followed = time.monotonic()

    def _follow_restarts(self) -> None:
        """Close the listener of a host that went down, open it again (same port) when it is back."""
        for server in self.servers.values():
            state = server.site.host.state
            if server.listening and state.get("restart_at") is None and state.get("down_until") is None:
                continue
            with server.site.lock:
                up = server.site.host.is_up()
            if not up and server.listening:
                self.selector.unregister(server.socket)
                server.stop_listening()
            elif up and not server.listening:
                try:
                    server.listen_again()
                except OSError:
                    log.exception("%s: cannot listen again on port %s", server.site.computer_name,
                                  server.server_address[1])
                    continue
                self.selector.register(server.socket, selectors.EVENT_READ, server)

    def drop_all(self, name: str) -> None:
        """Close every open SMB connection of a host (it crashed or restarted)."""
        server = self.servers.get(name)
        for handler in list(server.live.values()) if server else []:
            try:
                handler.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=5)
        for name, server in self.servers.items():
            self.drop_all(name)
            if server.listening:
                server.socket.close()
        deadline = time.time() + 5
        while time.time() < deadline and any(s.live for s in self.servers.values()):
            time.sleep(0.05)
