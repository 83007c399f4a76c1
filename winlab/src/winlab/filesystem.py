"""Windows file semantics on the host model, for the SMB shares (C$, D$, ADMIN$).

One state behind both front ends: what SMB writes, the WinRM twins read, and the reverse. Paths
are case-insensitive and case-preserving. Opening a file for writing that a running SMS service,
WMI or the SMS Administrator console holds is a sharing violation; a write that does not fit on the
drive is "disk full"; folders exist when they were made or hold a file. Every method returns an
NT status (0 is success) rather than raising, because the SMB layer answers with statuses.
"""

from __future__ import annotations

import fnmatch

from . import acls, filetimes
from .content import file_bytes, meta_from_bytes
from .host import Host, HostError

STATUS_SUCCESS = 0
STATUS_NO_SUCH_FILE = 0xC000000F
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_OBJECT_NAME_COLLISION = 0xC0000035
STATUS_OBJECT_PATH_NOT_FOUND = 0xC000003A
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_DISK_FULL = 0xC000007F
STATUS_FILE_IS_A_DIRECTORY = 0xC00000BA
STATUS_NOT_A_DIRECTORY = 0xC0000103
STATUS_DIRECTORY_NOT_EMPTY = 0xC0000101
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_OBJECT_NAME_INVALID = 0xC0000033
STATUS_CANNOT_DELETE = 0xC0000121
STATUS_DELETE_PENDING = 0xC0000056

ATTR_DIRECTORY = 0x10
ATTR_ARCHIVE = 0x20


class Node:
    """What an open or a listing sees of one file or folder: its size, times and attributes."""

    def __init__(self, path: str, is_dir: bool, size: int = 0, entry: dict | None = None, display: str | None = None):
        self.path, self.is_dir, self.size, self.display = path, is_dir, size, display
        self.entry = entry or {}

    @property
    def name(self) -> str:
        return self.display or self.path.rstrip("\\").rsplit("\\", 1)[-1]

    @property
    def attributes(self) -> int:
        return ATTR_DIRECTORY if self.is_dir else filetimes.attributes(self.entry)

    def times(self, fallback: float) -> tuple[int, int, int, int]:
        """(creation, last access, last write, change) FILETIMEs; a folder or a file without times: fallback."""
        if not self.entry.get("modified"):
            when = filetimes.from_epoch(fallback)
            return when, when, when, when
        found = filetimes.times(self.entry)
        return found["created"], found["accessed"], found["written"], found["changed"]

    def mtime(self, fallback: float) -> float:
        return filetimes.to_epoch(self.times(fallback)[2])


def join(root: str, relative: str) -> str | None:
    """A share's root (C:\\) and a client path (\\SMS\\bin) -> C:\\SMS\\bin; None when it tries to escape."""
    parts = [p for p in relative.replace("/", "\\").split("\\") if p not in ("", ".")]
    if ".." in parts or any(c in p for p in parts for c in '<>:"|?*'):
        return None
    return root.rstrip("\\") + ("\\" + "\\".join(parts) if parts else "\\")


class FileSystem:
    def __init__(self, host: Host):
        self.host = host

    # -- reading --------------------------------------------------------------
    def _drive_root(self, path: str) -> bool:
        return len(path.rstrip("\\")) == 2 and path[1] == ":"

    def is_dir(self, path: str) -> bool:
        if self._drive_root(path):
            return any(d["letter"] == path[0].upper() for d in self.host.state["drives"])
        return self.host.is_dir(path)

    def stat(self, path: str) -> Node | None:
        entry = self.host.file(path)
        if entry is not None:
            return Node(entry["path"], False, entry.get("size") or len(file_bytes(self.host, entry)), entry)
        if self.is_dir(path):
            return Node(self._cased_dir(path), True)
        return None

    def _cased_dir(self, path: str) -> str:
        lowered = path.rstrip("\\").lower()
        for known in self.host.state.get("dirs", []):
            if known.rstrip("\\").lower() == lowered:
                return known.rstrip("\\")
        for entry in self.host.state["files"].values():
            full = entry["path"]
            if full.lower().startswith(lowered + "\\"):
                return full[:len(lowered)]
        return path.rstrip("\\")

    def listdir(self, path: str, pattern: str = "*") -> list[Node]:
        """Immediate children of a folder whose name matches a DOS pattern (case-insensitive)."""
        prefix = path.rstrip("\\").lower() + "\\"
        found: dict[str, Node] = {}
        for key, entry in self.host.state["files"].items():
            if key.startswith(prefix):
                rest = entry["path"][len(prefix):]
                head = rest.split("\\", 1)[0]
                if "\\" in rest:
                    found.setdefault(head.lower(), Node(entry["path"][:len(prefix)] + head, True))
                else:
                    found[head.lower()] = Node(entry["path"], False, entry.get("size") or 0, entry)
        for folder in self.host.state.get("dirs", []):
            if folder.lower().startswith(prefix) and folder.rstrip("\\")[len(prefix):]:
                head = folder[len(prefix):].split("\\", 1)[0]
                found.setdefault(head.lower(), Node(folder[:len(prefix)] + head, True))
        wanted = pattern.replace("<", "*").replace(">", "?").replace('"', ".").lower()
        if wanted in ("*.*", "*"):
            wanted = "*"
        return sorted((n for n in found.values() if fnmatch.fnmatchcase(n.name.lower(), wanted)), key=lambda n: n.name.lower())

    def read(self, path: str) -> bytes:
        entry = self.host.file(path)
        return b"" if entry is None else file_bytes(self.host, entry)

    def free(self, path: str) -> tuple[int, int]:
        """(size, free) of the drive holding path, as the model says (a full system drive has 0 free)."""
        letter = path[:1].upper()
        for drive in self.host.state["drives"]:
            if drive["letter"] == letter:
                free = drive.get("free") or 0
                if letter == self.host.state.get("system_drive", "C") and self.host.system_drive_free() == 0:
                    free = 0
                return drive.get("size") or 0, free
        return 0, 0

    # -- changing -------------------------------------------------------------
    def may_write(self, path: str) -> int:
        """A file another process holds open (SMS, WMI, the console, a fault) cannot be opened for writing."""
        return STATUS_SHARING_VIOLATION if self.host.locked_by(path) and self.host.file(path) else STATUS_SUCCESS

    def may_read(self, path: str) -> int:
        return STATUS_SHARING_VIOLATION if self.host.held_exclusively(path) else STATUS_SUCCESS

    def parent_ok(self, path: str) -> int:
        parent = path.rstrip("\\").rsplit("\\", 1)[0]
        if self.host.file(parent) is not None:
            return STATUS_OBJECT_PATH_NOT_FOUND
        return STATUS_SUCCESS if self.is_dir(parent if len(parent) > 2 else parent + "\\") else STATUS_OBJECT_PATH_NOT_FOUND

    def fits(self, path: str, size: int, current: int = 0) -> int:
        dummy, free = self.free(path)
        return STATUS_DISK_FULL if size - current > free else STATUS_SUCCESS

    def commit(self, path: str, data: bytes, stamp: dict | None = None) -> int:
        """Store a file's new content (when its handle closes). `stamp` holds what the handle decided of
        the file's times and attributes (an explicitly set LastWrite time stands); the rest is now."""
        try:
            self.host.write_file(path, dict(meta_from_bytes(self.host, data), modified=filetimes.now_iso()) | (stamp or {}))
        except HostError as error:
            return STATUS_DISK_FULL if "space" in str(error) else STATUS_SHARING_VIOLATION
        return STATUS_SUCCESS

    def set_metadata(self, path: str, fields: dict) -> None:
        """Times and attributes set on a stored file (SET_FILE_BASIC): the Change time moves unless set too."""
        entry = self.host.file(path)
        if entry is not None:
            entry.update(dict({"changed": filetimes.now_iso()}, **fields))

    def mkdir(self, path: str) -> int:
        if self.stat(path) is not None:
            return STATUS_OBJECT_NAME_COLLISION
        status = self.parent_ok(path)
        if status:
            return status
        self.host.state.setdefault("dirs", []).append(path.rstrip("\\"))
        return STATUS_SUCCESS

    def rmdir(self, path: str) -> int:
        if not self.is_dir(path):
            return STATUS_OBJECT_NAME_NOT_FOUND
        if self.listdir(path):
            return STATUS_DIRECTORY_NOT_EMPTY
        lowered = path.rstrip("\\").lower()
        self.host.state["dirs"] = [d for d in self.host.state.get("dirs", []) if d.rstrip("\\").lower() != lowered]
        acls.forget(self.host.state, path)
        return STATUS_SUCCESS

    def delete(self, path: str) -> int:
        node = self.stat(path)
        if node is None:
            return STATUS_OBJECT_NAME_NOT_FOUND
        if node.is_dir:
            return STATUS_FILE_IS_A_DIRECTORY
        if self.host.locked_by(path):
            return STATUS_SHARING_VIOLATION
        if node.attributes & filetimes.READONLY:
            return STATUS_CANNOT_DELETE
        self.host.state["files"].pop(path.lower(), None)
        acls.forget(self.host.state, path)
        return STATUS_SUCCESS

    def rename(self, old: str, new: str, replace: bool = False) -> int:
        node = self.stat(old)
        if node is None:
            return STATUS_OBJECT_NAME_NOT_FOUND
        if node.is_dir:
            return STATUS_ACCESS_DENIED  # folders are not renamed over SMB by the collection
        if self.stat(new) is not None and not replace:
            return STATUS_OBJECT_NAME_COLLISION
        if self.host.locked_by(old) or (self.stat(new) and self.host.locked_by(new)):
            return STATUS_SHARING_VIOLATION
        status = self.parent_ok(new)
        if status:
            return status
        entry = self.host.state["files"].pop(old.lower())
        entry["path"] = new
        self.host.state["files"][new.lower()] = entry
        return STATUS_SUCCESS
