"""One logged-on SMB session to a Windows host: files on its administrative shares, named pipes.

Windows 2000 speaks SMB1 (NT LM 0.12); later Windows also SMB2. Paths are Windows paths
(`C:\\SMS\\bin\\i386\\Distmgr.dll`) and go to the drive's administrative share (`C$`). Every
impacket error becomes an SmbError naming the NT status and the path, because the messages end
up in reports read by people.
"""

from __future__ import annotations

import contextlib
import functools
import ntpath
import struct

STATUS = {  # the NT statuses the collection tells apart
    0xC000000F: "STATUS_NO_SUCH_FILE", 0xC0000011: "STATUS_END_OF_FILE", 0xC0000022: "STATUS_ACCESS_DENIED", 0xC0000034: "STATUS_OBJECT_NAME_NOT_FOUND",
    0xC0000035: "STATUS_OBJECT_NAME_COLLISION", 0xC000003A: "STATUS_OBJECT_PATH_NOT_FOUND",
    0xC0000043: "STATUS_SHARING_VIOLATION", 0xC0000056: "STATUS_DELETE_PENDING", 0xC000006D: "STATUS_LOGON_FAILURE",
    0xC000007F: "STATUS_DISK_FULL", 0xC00000BA: "STATUS_FILE_IS_A_DIRECTORY", 0xC00000CC: "STATUS_BAD_NETWORK_NAME",
    0xC0000103: "STATUS_NOT_A_DIRECTORY", 0xC00000BB: "STATUS_NOT_SUPPORTED", 0xC0000121: "STATUS_CANNOT_DELETE",
    0xC0000148: "STATUS_INVALID_LEVEL", 0x007C0001: "ERRunknownlevel", 0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC0000003: "STATUS_INVALID_INFO_CLASS", 0x005B0002: "STATUS_SMB_BAD_UID", 0x00050002: "STATUS_SMB_BAD_TID",
}
# How a server says it does not know an information level: Windows 2000 and later, NT 4.0 (whose exact
# answer to a pass-through level is not documented), Samba.
UNKNOWN_LEVEL = ("STATUS_NOT_SUPPORTED", "STATUS_INVALID_LEVEL", "ERRunknownlevel", "STATUS_INVALID_PARAMETER",
                 "STATUS_INVALID_INFO_CLASS")
CAP_INFOLEVEL_PASSTHRU = 0x2000
NOT_FOUND = ("STATUS_OBJECT_NAME_NOT_FOUND", "STATUS_OBJECT_PATH_NOT_FOUND", "STATUS_NOT_A_DIRECTORY",
             "STATUS_NO_SUCH_FILE")  # the last: SMB1's DELETE takes a pattern, and none matched
FILE_SHARE_ALL = 0x7  # read, write, delete: an audit never gets in a service's way
READ_ACCESS = 0x80000000 | 0x80  # GENERIC_READ | FILE_READ_ATTRIBUTES
WRITE_ACCESS = 0x40000000 | 0x80000000  # GENERIC_WRITE | GENERIC_READ
DELETE_ACCESS, ATTRIBUTES_ACCESS = 0x00010000, 0x80 | 0x100  # DELETE; FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES
FILE_DIRECTORY_FILE, FILE_WRITE_THROUGH, FILE_NON_DIRECTORY_FILE, FILE_DELETE_ON_CLOSE = 0x1, 0x2, 0x40, 0x1000
FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE_IF = 1, 2, 3, 5
ATTRIBUTE_READONLY, ATTRIBUTE_HIDDEN, ATTRIBUTE_SYSTEM, ATTRIBUTE_NORMAL = 0x1, 0x2, 0x4, 0x80
CHUNK = 60 * 1024  # SMB1 reads and writes of a Windows 2000 server stay under 64 KiB
DEVICE_CD_ROM, DEVICE_DISK = 0x2, 0x7
REMOVABLE_MEDIA, REMOTE_DEVICE = 0x1, 0x10


class SmbError(Exception):
    """An SMB or RPC operation failed; status is the NT status name (or None)."""

    def __init__(self, message: str, status: str | None = None):
        super().__init__(message)
        self.status = status


class LogonFailed(SmbError):
    """The host answered but refused the credentials: nothing was read or changed."""


class Unreachable(SmbError):
    """Nothing answers SMB at that address and port (or the connection was lost)."""


def split_user(user: str | None, domain: str | None = None) -> tuple[str, str]:
    """(user, domain) from `DOMAIN\\user`, `user@domain` or a plain user and a separate domain.
    A domain given twice, differently, is refused rather than guessed."""
    user = (user or "").strip()
    if not user:
        raise ValueError("the smb connection needs ansible_user (DOMAIN\\user, user@domain or user)")
    found = ""
    if "\\" in user:
        found, user = user.split("\\", 1)
    elif "@" in user:
        user, found = user.rsplit("@", 1)
    if not user or "\\" in user or "@" in user:
        raise ValueError(f"ansible_user {user!r} is not DOMAIN\\user, user@domain or user")
    if found and domain and found.lower() != domain.lower():
        raise ValueError(f"ansible_user names domain {found!r} but the domain setting is {domain!r}")
    return user, found or (domain or "")


def share_path(path: str) -> tuple[str, str]:
    """('C$', 'SMS\\bin') from 'C:\\SMS\\bin'. Only absolute local paths on a drive letter."""
    path = path.replace("/", "\\")
    if len(path) < 3 or path[1:3] != ":\\" or not path[0].isalpha():
        raise SmbError(f"{path} is not an absolute path on a drive letter, so no administrative share holds it")
    rest = ntpath.normpath(path[3:]) if path[3:] else ""
    return f"{path[0].upper()}$", "" if rest == "." else rest


def filetime_epoch(value: int) -> float | None:
    return None if not value else (value - 116444736000000000) / 10_000_000


def _status(error) -> str | None:
    """The NT status name of an impacket error (SMB1 and SMB2 errors name their getter differently)."""
    for getter in ("getErrorCode", "get_error_code"):
        try:
            code = getattr(error, getter, lambda: None)()
        except (AttributeError, TypeError, IndexError):  # NetBIOSError's getter fails on its own fields
            code = None
        if isinstance(code, int) and code:
            return STATUS.get(code, f"0x{code:08X}")
    return None


def _lost(error) -> bool:
    return isinstance(error, (OSError, EOFError)) or type(error).__name__ in ("NetBIOSError", "NetBIOSTimeout")


def rpc_code(error) -> int | None:
    """The error code of an impacket RPC error (a Win32 or NT status), or None: a dropped connection's
    NetBIOSError has the getter but fails inside it."""
    try:
        code = error.get_error_code()
    except Exception:  # noqa: BLE001 - AttributeError from NetBIOSError, or no such getter
        return None
    return code if isinstance(code, int) else None


def _all_info(raw: bytes) -> dict:
    """{size, creation, last_write, change, attributes, is_dir} of a FILE_ALL_INFORMATION (SMB1's
    SMB_QUERY_FILE_ALL_INFO has the same layout up to the size)."""
    creation, _access, write, change, attributes = struct.unpack_from("<QQQQL", raw, 0)
    return {"size": struct.unpack_from("<q", raw, 48)[0], "creation": creation, "last_write": write, "change": change,
            "attributes": attributes, "is_dir": bool(attributes & 0x10)}


class SmbClient:
    def __init__(self, host: str, port: int = 445, user: str = "", password: str = "", domain: str = "",
                 kerberos: bool = False, kdc: str | None = None, connect_timeout: int = 30,
                 operation_timeout: int = 60, dialect: str = "auto", require_signing: bool = False,
                 nt4_logon: bool = False):
        self.host, self.port = host, port
        self.user, self.password, self.domain = user, password, domain
        self.kerberos, self.kdc = kerberos, kdc
        self.connect_timeout, self.operation_timeout = connect_timeout, operation_timeout
        self.dialect_wanted, self.require_signing, self.nt4_logon = dialect, require_signing, nt4_logon
        self.conn = None
        self.lost = False
        # What the session is: {signed, authentication, dialect}; reports and change records say it per host.
        self.security: dict = {}
        self._trees: dict[str, object] = {}
        self._pipes: dict[str, object] = {}
        self._opened: dict[tuple, dict] = {}  # (tid, fid) -> what the SMB1 create answered: size, times, attributes

    # -- session ------------------------------------------------------------
    def connect(self) -> SmbClient:
        from impacket.smbconnection import SMB2_DIALECT_002, SMB_DIALECT, SMBConnection

        preferred = {"auto": None, "smb1": SMB_DIALECT, "smb2": SMB2_DIALECT_002}[self.dialect_wanted]
        try:
            conn = SMBConnection(self.host, self.host, sess_port=int(self.port), timeout=self.connect_timeout,
                                 preferredDialect=preferred)
        except Exception as error:  # noqa: BLE001 - socket errors, refused dialects: the host cannot be reached
            raise Unreachable(f"no SMB answer from {self.host}:{self.port} ({error})", _status(error)) from None
        from . import signing

        offer = signing.negotiated(conn)
        if self.require_signing and not offer["offered"]:
            conn.close()
            raise SmbError(f"{self.host} does not offer SMB signing and ansible_smb_require_signing is true; enable "
                           "it on the server (LanmanServer\\Parameters EnableSecuritySignature=1, KB887429)")
        try:
            if self.kerberos:  # impacket signs a Kerberos session only where the server requires signing
                conn.kerberosLogin(self.user, self.password, self.domain, kdcHost=self.kdc or None)  # "" is none
                self.security = {"signed": bool(offer["required"]), "authentication": "Kerberos",
                                 "dialect": offer["dialect"]}
            else:
                self.security = signing.logon(conn, self.host, self.user, self.password, self.domain, self.nt4_logon)
        except signing.Refused as error:
            conn.close()
            raise SmbError(str(error), "REFUSED_LOGON") from None
        except Exception as error:  # noqa: BLE001
            conn.close()
            status = _status(error)
            if status == "STATUS_LOGON_FAILURE" or "LOGON_FAILURE" in str(error):
                raise LogonFailed(f"{self.host} refused the logon of {self.domain + chr(92) if self.domain else ''}"
                                  f"{self.user} (STATUS_LOGON_FAILURE: wrong user name or password)",
                                  "STATUS_LOGON_FAILURE") from None
            raise SmbError(f"logon to {self.host} failed ({error})", status) from None
        if conn.isGuestSession():
            conn.close()
            raise LogonFailed(f"{self.host} logged {self.user} on as Guest: the account is unknown there")
        if self.require_signing and not self.security["signed"]:
            conn.close()
            raise SmbError(f"the session with {self.host} is not signed and ansible_smb_require_signing is true")
        conn.setTimeout(self.operation_timeout)
        self.conn = conn
        if self.dialect == "smb1":
            from . import smb1

            smb1.skip_oplock_breaks(conn.getSMBServer())
        return self

    def close(self) -> None:
        for dce in self._pipes.values():
            with contextlib.suppress(Exception):
                dce.disconnect()
        self._pipes.clear()
        self._trees.clear()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                if self.lost:
                    self.conn.getSMBServer().close_session()
                else:
                    self.conn.close()  # one LOGOFF_ANDX, then the TCP connection goes
        self.conn = None

    @property
    def dialect(self) -> str:
        from impacket.smbconnection import SMB_DIALECT

        return "smb1" if self.conn.getDialect() == SMB_DIALECT else "smb2"

    def server_name(self) -> str | None:
        return self.conn.getServerName() or None

    @property
    def passthrough(self) -> bool:
        """Whether the server knows pass-through information levels (Windows 2000 and later; SMB2 always)."""
        if self.dialect != "smb1":
            return True
        return bool(self.conn.getSMBServer()._dialects_parameters["Capabilities"] & CAP_INFOLEVEL_PASSTHRU)  # pylint: disable=protected-access

    def rpc_failure(self, what: str, error) -> SmbError:
        """An RPC call's error: a lost connection is Unreachable (the caller reconnects and recovers); any
        other keeps impacket's words (ERROR_DEPENDENT_SERVICES_RUNNING), which reports show people."""
        if isinstance(error, Unreachable):
            return error  # lost already (the pipe could not even be opened): stays lost
        if rpc_code(error) is None and _lost(error):
            return self.failure(what, error)
        return SmbError(f"{what}: {error}", _status(error))

    def failure(self, what: str, error) -> SmbError:
        if isinstance(error, Unreachable):
            return error
        status = _status(error)
        if status is None and _lost(error):
            self.lost = True  # nothing more is sent on it, not even a logoff that would wait for its timeout
            return Unreachable(f"{what}: the connection to {self.host} was lost ({error})")
        return SmbError(f"{what}: {status or error}", status)

    # -- files --------------------------------------------------------------
    def tree(self, share: str):
        if share not in self._trees:
            try:
                if self.dialect == "smb1":
                    from . import smb1

                    self._trees[share] = smb1.tree_connect(self.conn.getSMBServer(), share)
                else:
                    self._trees[share] = self.conn.connectTree(share)
            except Exception as error:  # noqa: BLE001
                failure = self.failure(f"\\\\{self.host}\\{share}", error)
                if failure.status == "STATUS_ACCESS_DENIED":
                    failure = SmbError(f"access to the administrative share \\\\{self.host}\\{share} was denied: "
                                       "the account must be an administrator of the host", failure.status)
                raise failure from None
        return self._trees[share]

    @contextlib.contextmanager
    def open(self, path: str, access: int = READ_ACCESS, share_mode: int = FILE_SHARE_ALL,
             disposition: int = FILE_OPEN, options: int = FILE_NON_DIRECTORY_FILE, attributes: int = 0):
        """An open file or folder, without an oplock (so no other program's open can break this session)."""
        share, rel = share_path(path)
        tid = self.tree(share)
        try:
            if self.dialect == "smb1":
                from . import smb1

                fid, created = smb1.create_info(self.conn.getSMBServer(), tid, rel, access, share_mode, disposition,
                                                options, attributes)
                self._opened[(tid, fid)] = created
            else:
                fid = self.conn.createFile(tid, rel, desiredAccess=access, shareMode=share_mode, creationOption=options,
                                           creationDisposition=disposition, fileAttributes=attributes)
        except Exception as error:  # noqa: BLE001
            raise self.failure(path, error) from None
        done = False
        try:
            yield tid, fid
            done = True
        finally:
            self._opened.pop((tid, fid), None)
            if not done:  # the caller's error is the one to see
                with contextlib.suppress(Exception):
                    self._close(tid, fid)
        try:  # a close can fail too (what was written did not fit after all): it is an error of the write
            self._close(tid, fid)
        except Exception as error:  # noqa: BLE001
            raise self.failure(f"{path} (closing it)", error) from None

    def _close(self, tid, fid) -> None:
        if self.dialect == "smb1":
            from . import smb1

            smb1.close(self.conn.getSMBServer(), tid, fid)
        else:
            self.conn.closeFile(tid, fid)

    def stat(self, path: str, directory: bool = False) -> dict | None:
        """{size, creation, last_write, change, attributes, is_dir} (FILETIMEs), or None if missing."""
        try:
            with self.open(path, access=0x80, options=FILE_DIRECTORY_FILE if directory else 0) as (tid, fid):
                return self._info(tid, fid)
        except SmbError as error:
            if error.status in NOT_FOUND or (directory and error.status == "STATUS_NOT_A_DIRECTORY"):
                return None
            raise

    def _info(self, tid, fid) -> dict:
        """Size, times and attributes of a file just opened: from the SMB1 create's answer, or a query (SMB2)."""
        if (tid, fid) in self._opened:
            return dict(self._opened[(tid, fid)])
        from impacket.smb import SMB_QUERY_FILE_ALL_INFO
        from impacket.smb3structs import SMB2_FILE_ALL_INFO

        klass = SMB_QUERY_FILE_ALL_INFO if self.dialect == "smb1" else SMB2_FILE_ALL_INFO
        raw = self.conn.queryInfo(tid, fid, fileInfoClass=klass)
        return _all_info(raw if isinstance(raw, bytes) else raw.getData())

    def path_stat(self, path: str) -> dict:
        """stat() by the path alone: over SMB1 one TRANS2_QUERY_PATH_INFORMATION instead of an open, a query and a
        close. SmbError (a NOT_FOUND status) when missing."""
        if self.dialect != "smb1":
            found = self.stat(path)
            if found is None:
                raise SmbError(f"{path}: STATUS_OBJECT_NAME_NOT_FOUND", "STATUS_OBJECT_NAME_NOT_FOUND")
            return found
        from . import smb1

        share, rel = share_path(path)
        tid = self.tree(share)
        try:
            return _all_info(smb1.path_all_info(self.conn.getSMBServer(), tid, rel))
        except Exception as error:  # noqa: BLE001
            raise self.failure(path, error) from None

    def is_dir(self, path: str) -> bool:
        try:
            return self.path_stat(path)["is_dir"]
        except SmbError as error:
            if error.status in NOT_FOUND:
                return False
            raise

    def read(self, path: str, offset: int = 0, length: int | None = None) -> tuple[bytes, dict]:
        """Bytes [offset, offset+length) (to the end when length is None) and the file's stat."""
        with self.open(path) as (tid, fid):
            info = self._info(tid, fid)
            end = info["size"] if length is None else min(info["size"], offset + length)
            return self._read_range(tid, fid, offset, end, path), info

    def _read_range(self, tid, fid, offset: int, end: int, path: str) -> bytes:
        out = bytearray()
        if self.dialect == "smb1":
            from . import smb1

            read = functools.partial(smb1.read, self.conn.getSMBServer(), tid, fid)
        else:
            read = functools.partial(self.conn.readFile, tid, fid)
        try:
            while offset < end:
                data = read(offset, min(CHUNK, end - offset))
                if not data:
                    break
                out += data
                offset += len(data)
        except Exception as error:  # noqa: BLE001
            raise self.failure(path, error) from None
        return bytes(out)

    @contextlib.contextmanager
    def reader(self, path: str):
        """An open file read in ranges: yields (read(offset, length), stat)."""
        with self.open(path) as (tid, fid):
            info = self._info(tid, fid)
            yield (lambda offset, length: self._read_range(tid, fid, offset, min(info["size"], offset + length), path)), info

    def write(self, path: str, data: bytes, write_through: bool = False, like: dict | None = None,
              force: bool = False) -> None:
        """Create or overwrite a file with data (parent folders must exist). Nothing shares it while it is
        written; write-through for the journal, which must be on disk before the next step. With `like` (a
        stat of another file), the file ends with that file's LastWrite time and attributes, as CopyFile
        leaves a copy (so a restored DLL has its original times, whichever transport restored it). With
        `force`, a read-only, hidden or system file in the way is overwritten, as Copy-Item -Force does."""
        options = FILE_NON_DIRECTORY_FILE | (FILE_WRITE_THROUGH if write_through else 0)
        attributes = 0
        if force:
            existing = self.stat(path)
            attributes = (existing or {}).get("attributes", 0) & (ATTRIBUTE_HIDDEN | ATTRIBUTE_SYSTEM)
            if existing and existing["attributes"] & ATTRIBUTE_READONLY:  # a read-only file refuses writes
                self.set_basic(path, attributes=(existing["attributes"] & ~ATTRIBUTE_READONLY) or ATTRIBUTE_NORMAL)
        with self.open(path, access=WRITE_ACCESS | ATTRIBUTES_ACCESS, share_mode=0, disposition=FILE_OVERWRITE_IF,
                       options=options, attributes=attributes) as (tid, fid):
            self._write_all(tid, fid, data, path)
            if like is not None:  # set on this handle after the last write: its close keeps them (MS-FSA 2.1.4.17)
                self._set_basic(tid, fid, path, (0, 0, like["last_write"], 0),
                                like.get("attributes") or ATTRIBUTE_NORMAL)

    def _write_all(self, tid, fid, data: bytes, path: str) -> None:
        """Every byte, each write's count checked: a short write is written again from where it stopped, and
        a write that writes nothing fails."""
        offset = 0
        try:
            while offset < len(data):
                chunk = data[offset:offset + CHUNK]
                if self.dialect == "smb1":
                    from . import smb1

                    count = smb1.write(self.conn.getSMBServer(), tid, fid, chunk, offset)
                else:
                    count = self.conn.getSMBServer().write(tid, fid, chunk, offset, len(chunk))
                if not count or count > len(chunk):
                    raise SmbError(f"{path}: the server wrote {count} of {len(chunk)} bytes at offset {offset}",
                                   "SHORT_WRITE")
                offset += count
        except SmbError:
            raise
        except Exception as error:  # noqa: BLE001
            raise self.failure(path, error) from None

    def set_basic(self, path: str, times: tuple = (0, 0, 0, 0), attributes: int = 0) -> None:
        """Times (creation, access, write, change; 0 leaves one as it is) and attributes (0 leaves them)."""
        with self.open(path, access=ATTRIBUTES_ACCESS, options=0) as (tid, fid):
            self._set_basic(tid, fid, path, times, attributes)

    def _set_basic(self, tid, fid, path: str, times: tuple, attributes: int) -> None:
        try:
            if self.dialect == "smb1":
                from . import smb1

                smb1.set_basic(self.conn.getSMBServer(), tid, fid, times, attributes)
            else:
                from impacket.smb3structs import SMB2_FILE_BASIC_INFO

                self.conn.getSMBServer().setInfo(tid, fid, struct.pack("<qqqqLL", *times, attributes, 0),
                                                 fileInfoClass=SMB2_FILE_BASIC_INFO)
        except Exception as error:  # noqa: BLE001
            raise self.failure(f"{path} (times and attributes)", error) from None

    def held_open(self, path: str) -> bool | None:
        """Whether another program holds the file so that it cannot be written (a loaded DLL): the
        sharing-violation test. None when the file is missing, or read-only (the test cannot be made)."""
        try:
            with self.open(path, access=0x40000000, share_mode=FILE_SHARE_ALL):
                return False
        except SmbError as error:
            if error.status == "STATUS_SHARING_VIOLATION":
                return True
            if error.status in NOT_FOUND:
                return None
            if error.status == "STATUS_ACCESS_DENIED" and (self.stat(path) or {}).get("attributes", 0) & ATTRIBUTE_READONLY:
                return None  # a read-only file refuses the write test itself: the copy over it will tell
            raise

    def delete(self, path: str) -> None:
        """Delete a file (delete on close of its own open, on the session's tree); a missing one is no error.
        Another open that does not share delete makes it a sharing violation; one that does keeps the name
        until it closes (delete pending)."""
        try:
            with self.open(path, access=DELETE_ACCESS | 0x80, options=FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE):
                pass
        except SmbError as error:
            if error.status not in NOT_FOUND:
                raise

    def rename(self, old: str, new: str) -> None:
        share, rel_old = share_path(old)
        share_new, rel_new = share_path(new)
        if share != share_new:
            raise SmbError(f"cannot rename {old} to another drive ({new})")
        try:
            if self.dialect == "smb1":
                from . import smb1

                smb1.rename(self.conn.getSMBServer(), self.tree(share), rel_old, rel_new)
            else:
                self.conn.rename(share, rel_old, rel_new)
        except SmbError:
            raise
        except Exception as error:  # noqa: BLE001
            raise self.failure(f"{old} -> {new}", error) from None

    def makedirs(self, path: str) -> None:
        share, rel = share_path(path)
        parts, current = [p for p in rel.split("\\") if p], ""
        for part in parts:
            current = f"{current}\\{part}" if current else part
            try:
                with self.open(f"{share[0]}:\\{current}", access=0x80, disposition=FILE_OPEN_IF,
                               options=FILE_DIRECTORY_FILE):
                    pass
            except SmbError as error:
                if error.status != "STATUS_OBJECT_NAME_COLLISION":
                    raise

    def security_descriptor(self, path: str, information: int = 0x4) -> bytes:
        """A file's or folder's self-relative security descriptor (by default its DACL only)."""
        from .security import READ_CONTROL

        with self.open(path, access=READ_CONTROL, options=0) as (tid, fid):
            try:
                if self.dialect == "smb1":
                    return bytes(self.conn.getSMBServer().query_sec_info(tid, fid, information))
                return bytes(self.conn.getSMBServer().queryInfo(tid, fid, infoType=3, fileInfoClass=0,
                                                                additionalInformation=information))
            except Exception as error:  # noqa: BLE001
                raise self.failure(f"{path} (its security descriptor)", error) from None

    def set_security_descriptor(self, path: str, descriptor: bytes, information: int) -> None:
        """NT_TRANSACT_SET_SECURITY_DESC (SMB1) or SET_INFO with SMB2_0_INFO_SECURITY (SMB2)."""
        from impacket import smb

        from .security import READ_CONTROL, WRITE_DAC

        with self.open(path, access=READ_CONTROL | WRITE_DAC, options=0) as (tid, fid):
            try:
                if self.dialect == "smb1":
                    server = self.conn.getSMBServer()
                    server.send_nt_trans(tid, subcommand=0x0003, max_param_count=0,
                                         param=struct.pack("<HHL", fid, 0, information), data=descriptor)
                    server.recvSMB().isValidAnswer(smb.SMB.SMB_COM_NT_TRANSACT)
                else:
                    self.conn.getSMBServer().setInfo(tid, fid, inputBlob=descriptor, infoType=3, fileInfoClass=0,
                                                     additionalInformation=information)
            except Exception as error:  # noqa: BLE001
                raise self.failure(f"{path} (setting its security descriptor)", error) from None

    def volume(self, letter: str) -> dict | None:
        """{size, free, file_system, label (None), type} of a drive through its administrative share, or None
        when the drive has none (CD-ROMs, floppies, and by assumption the Exchange IFS drive)."""
        share = f"{letter.upper()}$"
        try:
            self.tree(share)
        except SmbError as error:
            if error.status in ("STATUS_BAD_NETWORK_NAME", "STATUS_ACCESS_DENIED"):
                return None
            raise
        if self.dialect == "smb1":  # SMB1 asks the tree: no open of the root is needed
            return self._volume(self.tree(share), None)
        with self.open(f"{letter}:\\", access=0x80, options=FILE_DIRECTORY_FILE) as (tid, fid):
            return self._volume(tid, fid)

    def _volume(self, tid, fid) -> dict:
        query = (lambda level, klass: self._fs_smb1(tid, level)) if self.dialect == "smb1" else \
            (lambda level, klass: self._fs_smb2(tid, fid, klass))
        full = None
        if self.passthrough:  # FileFsFullSizeInformation: ActualAvailableAllocationUnits is TotalFreeSpace, what
            try:  # Distribution Manager sees; it is a pass-through level, which NT 4.0 lacks
                total, caller, free, sectors, bytes_per = full = struct.unpack_from("<qqqLL", query(0x3EF, 7), 0)
            except SmbError as error:
                if error.status not in UNKNOWN_LEVEL:
                    raise
        if full is None:  # SMB_QUERY_FS_SIZE_INFO: the free space the caller may use
            total, free, sectors, bytes_per = struct.unpack_from("<qqLL", query(0x103, 3), 0)
        unit = sectors * bytes_per
        attribute = query(0x105, 5)
        file_system = attribute[12:12 + struct.unpack_from("<L", attribute, 8)[0]].decode("utf-16le", "replace")
        device, characteristics = struct.unpack_from("<LL", query(0x104, 4), 0)
        kind = ("network" if characteristics & REMOTE_DEVICE else "cdrom" if device == DEVICE_CD_ROM
                else "removable" if characteristics & REMOVABLE_MEDIA else "fixed" if device == DEVICE_DISK else "unknown")
        # No label: it decides nothing, and over smb it would cost a request per drive (docs/transports.md).
        return {"size": total * unit, "free": free * unit, "file_system": file_system, "label": None, "type": kind}

    def _fs_smb1(self, tid, level: int) -> bytes:
        from . import smb1

        try:
            return smb1.fs_info(self.conn.getSMBServer(), tid, level)
        except Exception as error:  # noqa: BLE001 - the NT status of a failure
            raise self.failure(f"volume information level {level:#x}", error) from None

    def _fs_smb2(self, tid, fid, klass: int) -> bytes:
        from impacket.smb3structs import SMB2_0_INFO_FILESYSTEM

        try:
            raw = self.conn.getSMBServer().queryInfo(tid, fid, infoType=SMB2_0_INFO_FILESYSTEM, fileInfoClass=klass)
        except Exception as error:  # noqa: BLE001
            raise self.failure(f"volume information class {klass}", error) from None
        return raw if isinstance(raw, bytes) else raw.getData()

    # -- named pipes ----------------------------------------------------------
    def pipe(self, name: str, uuid):
        """A bound DCE/RPC client on \\PIPE\\<name> over this session (kept for the session), one SMB request
        per call (pipes.py)."""
        if name not in self._pipes:
            from .pipes import transport_class

            try:
                dce = transport_class()(self, name).get_dce_rpc()
                dce.connect()
                dce.bind(uuid)
            except Exception as error:  # noqa: BLE001
                if isinstance(error, Unreachable):
                    raise
                if _lost(error) and _status(error) is None:
                    raise self.failure(f"the {name} pipe (RPC) of {self.host}", error) from None
                raise SmbError(f"the {name} pipe (RPC) of {self.host} does not answer: {_status(error) or error}",
                               _status(error)) from None
            self._pipes[name] = dce
        return self._pipes[name]

    def open_pipe(self, tid, name: str):
        """The FID of \\PIPE\\<name> on the IPC$ tree, opened without an oplock."""
        from .pipes import FILE_SHARE_READ_WRITE, PIPE_ACCESS

        try:
            if self.dialect == "smb1":
                from . import smb1

                return smb1.create(self.conn.getSMBServer(), tid, "\\" + name, PIPE_ACCESS, FILE_SHARE_READ_WRITE,
                                   FILE_OPEN, FILE_NON_DIRECTORY_FILE)
            return self.conn.createFile(tid, name, desiredAccess=PIPE_ACCESS, shareMode=FILE_SHARE_READ_WRITE,
                                        creationOption=FILE_NON_DIRECTORY_FILE, creationDisposition=FILE_OPEN,
                                        fileAttributes=0)
        except Exception as error:  # noqa: BLE001
            raise self.failure(f"\\{self.host}\\PIPE\\{name}", error) from None

    def pipe_transact(self, tid, fid, data: bytes) -> bytes:
        """TransactNmPipe: the request written and the answer's first fragment read in one SMB request."""
        try:
            if self.dialect == "smb1":
                from . import smb1

                return smb1.transact_pipe(self.conn.getSMBServer(), tid, fid, data)
            return bytes(self.conn.getSMBServer().TransactNamedPipe(tid, fid, data) or b"")
        except Exception as error:  # noqa: BLE001
            raise self.failure("a call on a named pipe", error) from None

    def pipe_write(self, tid, fid, data: bytes) -> None:
        try:
            self.conn.writeFile(tid, fid, data)
        except Exception as error:  # noqa: BLE001
            raise self.failure("a write on a named pipe", error) from None

    def pipe_read(self, tid, fid, size: int) -> bytes:
        try:
            return bytes(self.conn.readFile(tid, fid, 0, size))
        except Exception as error:  # noqa: BLE001
            raise self.failure("a read on a named pipe", error) from None
