"""A disk share (C$, D$, ADMIN$) as both SMB dialects see it: opens, reads, writes, listings,
deletes and renames on the host model (filesystem.py), answering with NT statuses.

As NTFS and the Windows 2000 server behave (sources in docs/winlab.md):
- every open takes part in the host's open table (opens.py): share access between all sessions,
  delete pending, oplocks granted and broken;
- a file SMS, WMI or the console hold (a loaded DLL) cannot be opened for writing; a write that
  does not fit the drive gets STATUS_DISK_FULL at once, not at close;
- READONLY files refuse writes (STATUS_ACCESS_DENIED) and deletes (STATUS_CANNOT_DELETE); an
  overwrite of a HIDDEN or SYSTEM file must ask for those attributes, and the overwritten file's
  attributes are the requested ones plus ARCHIVE;
- a sharing violation is retried for about a second (5 x 200 ms) before it is answered, as the
  Windows server does, so a conflict that clears meanwhile is no conflict;
- a new file's name exists as soon as it is created (empty); its content reaches the model when
  its handle closes (a WinRM reader never sees half a file), and so does a connection's
  half-written file when the connection drops: Windows keeps what was written;
- SET_FILE_BASIC sets times and attributes; a LastWrite time set on a handle stands when that
  handle's writes are stored.
"""

from __future__ import annotations

import time

from .. import acls, filetimes
from ..filesystem import (STATUS_ACCESS_DENIED, STATUS_CANNOT_DELETE, STATUS_DELETE_PENDING, STATUS_FILE_IS_A_DIRECTORY,
                          STATUS_NOT_A_DIRECTORY, STATUS_OBJECT_NAME_COLLISION, STATUS_OBJECT_NAME_INVALID,
                          STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SHARING_VIOLATION, STATUS_SUCCESS, FileSystem, Node,
                          join)
from . import opens

WRITE_ACCESS = 0x2 | 0x4 | 0x40000000 | 0x10000000 | 0x00010000 | 0x02000000  # data, append, generic, delete, max
WRITE_DATA = 0x2 | 0x4 | 0x40000000 | 0x10000000 | 0x02000000
SUPERSEDE, OPEN, CREATE, OPEN_IF, OVERWRITE, OVERWRITE_IF = range(6)
OVERWRITES = (SUPERSEDE, OVERWRITE, OVERWRITE_IF)
DIRECTORY_FILE, NON_DIRECTORY_FILE, DELETE_ON_CLOSE = 0x1, 0x40, 0x1000
CREATED, OPENED, OVERWRITTEN = 2, 1, 3
STATUS_INVALID_PARAMETER = 0xC000000D
SHARE_ALL = opens.SHARE_READ | opens.SHARE_WRITE | opens.SHARE_DELETE
RETRIES, RETRY_SECONDS = 5, 0.2
WRITE_DAC = 0x00040000 | 0x10000000 | 0x02000000  # WRITE_DAC, GENERIC_ALL, MAXIMUM_ALLOWED


class Handle:
    def __init__(self, path: str, node: Node, writable: bool, delete_on_close: bool):
        self.path, self.node, self.writable, self.delete_on_close = path, node, writable, delete_on_close
        self.data: bytearray | None = None  # loaded at the first write
        self.dirty = False
        self.listing: list[Node] | None = None  # SMB2 QUERY_DIRECTORY state
        self.listed = 0
        self.open: opens.Open | None = None  # files only: folders take no part in share access here
        self.stamp: dict = {}  # times and attributes this handle decided, stored with its data
        self.access = 0  # the access the open was granted (WRITE_DAC for a security descriptor)


class DiskShare:
    def __init__(self, site, root: str, label: str = "", serial: int = 0):
        self.site, self.root = site, root  # root like 'C:\\' or 'C:\\WINNT'
        self.label, self.serial = label, serial

    @property
    def fs(self) -> FileSystem:
        return FileSystem(self.site.host)

    @property
    def table(self) -> opens.OpenTable:
        return self.site.opens

    def path(self, relative: str) -> str | None:
        return join(self.root, relative)

    def _retried(self, attempt):
        """Run attempt() (which takes the host lock itself); a sharing violation is tried again for about a
        second before it is answered (MS-CIFS <255>), as the Windows server does."""
        result = attempt()
        for dummy in range(RETRIES if self.site.sharing_retries else 0):
            status = result[0] if isinstance(result, tuple) else result
            if status != STATUS_SHARING_VIOLATION:
                break
            time.sleep(RETRY_SECONDS)
            result = attempt()
        return result

    # -- opening ----------------------------------------------------------------
    def open(self, relative: str, access: int, disposition: int, options: int, share: int = SHARE_ALL,
             attributes: int = 0, owner: str = "", oplock: tuple = (False, False), notify=None
             ) -> tuple[int, Handle | None, int]:
        path = self.path(relative)
        if path is None:
            return STATUS_OBJECT_NAME_INVALID, None, 0
        status, handle, action = self._retried(lambda: self._open(path, access, disposition, options, share,
                                                                  attributes, owner, oplock, notify))
        if handle is not None:
            handle.access = access
        return status, handle, action

    def _open(self, path, access, disposition, options, share, attributes, owner, oplock, notify):
        writable = bool(access & WRITE_ACCESS)
        with self.site.lock:
            fs, table = self.fs, self.table
            node = fs.stat(path)
            if node is not None and not node.is_dir:
                if table.is_delete_pending(path):
                    return STATUS_DELETE_PENDING, None, 0
                if opens.data_access(access) & opens.DATA:  # a batch holder is asked first (MS-FSA 2.1.5.1.2)
                    table.break_holders(path, (opens.BATCH,), disposition in OVERWRITES, None)
                    node = fs.stat(path)
            if node is None:
                return self._create(fs, path, access, disposition, options, share, attributes, owner, oplock, notify)
            if disposition == CREATE:
                return STATUS_OBJECT_NAME_COLLISION, None, 0
            if node.is_dir and options & NON_DIRECTORY_FILE:
                return STATUS_FILE_IS_A_DIRECTORY, None, 0
            if not node.is_dir and options & DIRECTORY_FILE:
                return STATUS_NOT_A_DIRECTORY, None, 0
            if node.is_dir:
                if disposition in OVERWRITES:
                    return STATUS_OBJECT_NAME_COLLISION, None, 0
                return STATUS_SUCCESS, Handle(node.path, node, False, bool(options & DELETE_ON_CLOSE)), OPENED
            status = self._file_rules(node, access, disposition, options, attributes)
            if status:
                return status, None, 0
            status = fs.may_write(path) if writable or options & DELETE_ON_CLOSE else fs.may_read(path)
            if status or table.conflict(path, access, share):
                return status or STATUS_SHARING_VIOLATION, None, 0
            if opens.data_access(access) & opens.DATA:  # exclusive holders only once the open may stand
                table.break_holders(path, (opens.EXCLUSIVE,), disposition in OVERWRITES, None)
                if disposition in OVERWRITES:
                    table.break_level_ii(path, None)
            handle = Handle(node.path, node, writable, bool(options & DELETE_ON_CLOSE))
            action = OPENED
            if disposition in OVERWRITES:
                action = OVERWRITTEN
                handle.data, handle.dirty = bytearray(), True
                handle.stamp["attributes"] = (attributes & filetimes.SETTABLE) | filetimes.ARCHIVE
                handle.node = Node(node.path, False, 0, dict(node.entry, **handle.stamp))
            self._register(handle, path, access, share, owner, oplock, notify)
        return STATUS_SUCCESS, handle, action

    @staticmethod
    def _file_rules(node: Node, access: int, disposition: int, options: int, attributes: int) -> int:
        """MS-FSA's attribute rules for opening an existing file."""
        have = node.attributes
        if have & filetimes.READONLY:
            if options & DELETE_ON_CLOSE:
                return STATUS_CANNOT_DELETE
            if access & WRITE_DATA or disposition in OVERWRITES:
                return STATUS_ACCESS_DENIED
        if disposition in OVERWRITES and ((have & filetimes.HIDDEN and not attributes & filetimes.HIDDEN)
                                          or (have & filetimes.SYSTEM and not attributes & filetimes.SYSTEM)):
            return STATUS_ACCESS_DENIED
        return STATUS_SUCCESS

    def _create(self, fs, path, access, disposition, options, share, attributes, owner, oplock, notify):
        if disposition in (OPEN, OVERWRITE):
            return STATUS_OBJECT_NAME_NOT_FOUND, None, 0
        status = fs.parent_ok(path)
        if status:
            return status, None, 0
        if options & DIRECTORY_FILE:
            fs.mkdir(path)
            self.site.save()
            return STATUS_SUCCESS, Handle(path, fs.stat(path), False, False), CREATED
        if options & DELETE_ON_CLOSE and not opens.data_access(access) & opens.DELETE:
            return STATUS_INVALID_PARAMETER, None, 0
        stamp = {"attributes": (attributes & filetimes.SETTABLE) | filetimes.ARCHIVE, "created": filetimes.now_iso()}
        status = fs.commit(path, b"", stamp)  # the name exists from now on, empty; its content comes at close
        if status:
            return status, None, 0
        handle = Handle(path, Node(path, False, 0, dict(stamp, modified=stamp["created"])), True,
                        bool(options & DELETE_ON_CLOSE))
        handle.data, handle.dirty, handle.stamp = bytearray(), True, stamp
        self._register(handle, path, access, share, owner, oplock, notify)
        return STATUS_SUCCESS, handle, CREATED

    def _register(self, handle: Handle, path: str, access: int, share: int, owner: str, oplock: tuple, notify):
        entry = opens.Open(path, access, share, owner, notify, self.site.level_ii_oplocks)
        self.table.add(entry)
        handle.open = entry
        self.table.grant(entry, batch=oplock[0], exclusive=oplock[1])

    # -- data -------------------------------------------------------------------
    def read(self, handle: Handle, offset: int, count: int) -> bytes:
        if handle.data is not None:
            return bytes(handle.data[offset:offset + count])
        with self.site.lock:
            return self.fs.read(handle.path)[offset:offset + count]

    def write(self, handle: Handle, offset: int, data: bytes) -> int:
        if handle.node.is_dir or not handle.writable:
            return STATUS_ACCESS_DENIED
        with self.site.lock:
            if handle.data is None:
                handle.data = bytearray(self.fs.read(handle.path))
            end = max(len(handle.data), offset + len(data))
            status = self.fs.fits(handle.path, end, self._stored_size(handle))
            if status:
                return status
            self.table.break_level_ii(handle.path, handle.open)
        if offset > len(handle.data):
            handle.data.extend(b"\x00" * (offset - len(handle.data)))
        handle.data[offset:offset + len(data)] = data
        handle.dirty = True
        handle.node = Node(handle.path, False, len(handle.data), handle.node.entry)
        return STATUS_SUCCESS

    def truncate(self, handle: Handle, size: int) -> int:
        with self.site.lock:
            if handle.data is None:
                handle.data = bytearray(self.fs.read(handle.path))
            status = self.fs.fits(handle.path, size, self._stored_size(handle)) if size > len(handle.data) else 0
            if status:
                return status
            self.table.break_level_ii(handle.path, handle.open)
        handle.data = handle.data[:size] + bytearray(max(0, size - len(handle.data)))
        handle.dirty = True
        handle.node = Node(handle.path, False, len(handle.data), handle.node.entry)
        return STATUS_SUCCESS

    def set_basic(self, handle: Handle, times: tuple[int, int, int, int], attributes: int) -> int:
        """SET_FILE_BASIC: a time of 0 (or -1) is left as it is; attributes 0 are left, NORMAL clears them."""
        fields = {}
        for name, value in zip(("created", "accessed", "modified", "changed"), times):
            if value not in (0, -1, 0xFFFFFFFFFFFFFFFF):
                if value < 0:
                    return STATUS_INVALID_PARAMETER
                fields[name] = filetimes.to_iso(value)
        fields.pop("accessed", None)  # not kept by the model (NTFS updates it lazily anyway)
        if attributes:
            if attributes & filetimes.DIRECTORY and not handle.node.is_dir:
                return STATUS_INVALID_PARAMETER
            fields["attributes"] = attributes & filetimes.SETTABLE
        if handle.node.is_dir:
            return STATUS_SUCCESS  # folder times and attributes are not kept by the model
        with self.site.lock:
            handle.stamp.update(fields)
            if not handle.dirty:
                self.fs.set_metadata(handle.path, fields)
                self.site.save()
        handle.node = Node(handle.path, False, handle.node.size, dict(handle.node.entry, **fields))
        return STATUS_SUCCESS

    def security(self, handle: Handle, information: int) -> bytes:
        """NT_TRANSACT_QUERY_SECURITY_DESC / SMB2 QUERY_INFO (security): the path's DACL as it is now."""
        with self.site.lock:
            return acls.descriptor(acls.effective(self.site.host.state, handle.path), information=information)

    def set_security(self, handle: Handle, data: bytes, information: int) -> int:
        """NT_TRANSACT_SET_SECURITY_DESC / SMB2 SET_INFO (security): needs an open with WRITE_DAC."""
        if not handle.access & WRITE_DAC:
            return STATUS_ACCESS_DENIED
        with self.site.lock:
            dacl = acls.from_descriptor(data, information, acls.effective(self.site.host.state, handle.path))
            if dacl is not None:
                acls.set_dacl(self.site.host.state, handle.path, dacl)
                self.site.save()
        return STATUS_SUCCESS

    def may_delete(self, handle: Handle) -> int:
        """Setting delete-on-close (disposition) on an open handle."""
        with self.site.lock:
            if handle.node.is_dir:
                return STATUS_SUCCESS
            if handle.node.attributes & filetimes.READONLY:
                return STATUS_CANNOT_DELETE
            if handle.open is not None and not handle.open.access & opens.DELETE:
                return STATUS_ACCESS_DENIED
            return self.fs.may_write(handle.path)

    def _stored_size(self, handle: Handle) -> int:
        node = self.fs.stat(handle.path)
        return node.size if node and not node.is_dir else 0

    def close(self, handle: Handle, dropped: bool = False) -> int:
        """The handle closes (or its connection dropped: what was written stays, as on Windows)."""
        with self.site.lock:
            status = STATUS_SUCCESS
            path = handle.open.path if handle.open is not None else handle.path  # renamed since it was opened?
            last_of_pending = self.table.remove(handle.open) if handle.open is not None else False
            if handle.delete_on_close and handle.open is not None and self.table.opens(path):
                self.table.mark_delete_pending(path)  # the name goes with the file's last handle
            elif handle.delete_on_close or last_of_pending:
                status = self.fs.rmdir(path) if handle.node.is_dir else self.fs.delete(path)
                if status == STATUS_OBJECT_NAME_NOT_FOUND:
                    status = STATUS_SUCCESS  # created and deleted before it was ever stored
            elif handle.dirty:
                status = self.fs.commit(path, bytes(handle.data or b""), handle.stamp)
                if status == STATUS_SUCCESS and not dropped:
                    self.site.journal_written(path, bytes(handle.data or b""))
            self.site.save()
        return status

    # -- names ------------------------------------------------------------------
    def stat(self, relative: str) -> tuple[int, Node | None]:
        path = self.path(relative)
        if path is None:
            return STATUS_OBJECT_NAME_INVALID, None
        with self.site.lock:
            node = self.fs.stat(path)
        return (STATUS_SUCCESS, node) if node else (STATUS_OBJECT_NAME_NOT_FOUND, None)

    def listing(self, relative_dir: str, pattern: str) -> tuple[int, list[Node]]:
        path = self.path(relative_dir)
        if path is None:
            return STATUS_OBJECT_NAME_INVALID, []
        with self.site.lock:
            fs = self.fs
            if not fs.is_dir(path):
                return STATUS_OBJECT_NAME_NOT_FOUND, []
            nodes = fs.listdir(path, pattern)
        if pattern in ("*", "*.*", "<.<"):
            nodes = [Node(path, True, display="."), Node(path, True, display="..")] + nodes
        return STATUS_SUCCESS, nodes

    def delete(self, relative: str, search_attributes: int = filetimes.HIDDEN | filetimes.SYSTEM) -> int:
        """SMB_COM_DELETE: Windows opens the file for DELETE sharing nothing (MS-CIFS <256>), so any other
        open with data access is a sharing violation, whatever it shares."""
        path = self.path(relative)
        if path is None:
            return STATUS_OBJECT_NAME_INVALID
        return self._retried(lambda: self._delete(path, search_attributes))

    def _delete(self, path: str, search_attributes: int) -> int:
        with self.site.lock:
            fs, table = self.fs, self.table
            node = fs.stat(path)
            if node is not None and not node.is_dir:
                if node.attributes & (filetimes.HIDDEN | filetimes.SYSTEM) & ~search_attributes:
                    return 0xC000000F  # STATUS_NO_SUCH_FILE: hidden and system files must be asked for
                if table.is_delete_pending(path):
                    return STATUS_DELETE_PENDING
                table.break_holders(path, (opens.BATCH,), True, None)
                if table.conflict(path, opens.DELETE, 0):
                    return STATUS_SHARING_VIOLATION
                if table.opens(path):  # only attribute opens remain: the name goes with the last of them
                    status = fs.may_write(path) or (STATUS_CANNOT_DELETE if node.attributes & filetimes.READONLY else 0)
                    if not status:
                        table.mark_delete_pending(path)
                    return status
            status = fs.delete(path)
            self.site.save()
        return status

    def mkdir(self, relative: str) -> int:
        path = self.path(relative)
        with self.site.lock:
            status = STATUS_OBJECT_NAME_INVALID if path is None else self.fs.mkdir(path)
            self.site.save()
        return status

    def rmdir(self, relative: str) -> int:
        path = self.path(relative)
        with self.site.lock:
            status = STATUS_OBJECT_NAME_INVALID if path is None else self.fs.rmdir(path)
            self.site.save()
        return status

    def rename(self, old_relative: str, new_relative: str, replace: bool = False, handle: Handle | None = None) -> int:
        """The source is opened for DELETE sharing read and write (as Samba emulates Windows): another open
        that does not share delete, or holds DELETE itself, makes it a sharing violation; the others follow
        the file to its new name."""
        old, new = self.path(old_relative), self.path(new_relative)
        if old is None or new is None:
            return STATUS_OBJECT_NAME_INVALID
        return self._retried(lambda: self._rename(old, new, replace, handle))

    def _rename(self, old: str, new: str, replace: bool, handle: Handle | None) -> int:
        with self.site.lock:
            fs, table = self.fs, self.table
            node = fs.stat(old)
            if node is not None and not node.is_dir:
                own = handle.open if handle is not None else None
                table.break_holders(old, (opens.BATCH,), True, own)
                if table.conflict(old, opens.DELETE, opens.SHARE_READ | opens.SHARE_WRITE, ignore=own):
                    return STATUS_SHARING_VIOLATION
                if table.is_delete_pending(new):
                    return STATUS_DELETE_PENDING
                if replace and (table.opens(new) or (fs.stat(new) and fs.stat(new).attributes & filetimes.READONLY)):
                    return STATUS_ACCESS_DENIED
            status = fs.rename(old, new, replace)
            if status == STATUS_SUCCESS:
                table.rename(old, new)
            self.site.save()
        return status

    def space(self) -> tuple[int, int]:
        with self.site.lock:
            return self.fs.free(self.root)
