"""A disk share (C$, D$, ADMIN$) as both SMB dialects see it: opens, reads, writes, listings,
deletes and renames on the host model (filesystem.py), answering with NT statuses.

An open for writing is refused with STATUS_SHARING_VIOLATION while SMS, WMI or the console hold
the file; a write that does not fit the drive gets STATUS_DISK_FULL at once (as Windows does, not
at close); the new content reaches the model when the handle closes, so a WinRM probe sees
whole files only, as a reader of a file being written would after the writer closed it.
"""

from __future__ import annotations

from ..filesystem import (STATUS_ACCESS_DENIED, STATUS_FILE_IS_A_DIRECTORY, STATUS_NOT_A_DIRECTORY,
                          STATUS_OBJECT_NAME_COLLISION, STATUS_OBJECT_NAME_INVALID, STATUS_OBJECT_NAME_NOT_FOUND,
                          STATUS_SUCCESS, FileSystem, Node, join)

WRITE_ACCESS = 0x2 | 0x4 | 0x40000000 | 0x10000000 | 0x00010000 | 0x02000000  # data, append, generic, delete, max
SUPERSEDE, OPEN, CREATE, OPEN_IF, OVERWRITE, OVERWRITE_IF = range(6)
DIRECTORY_FILE, NON_DIRECTORY_FILE, DELETE_ON_CLOSE = 0x1, 0x40, 0x1000
CREATED, OPENED, OVERWRITTEN = 2, 1, 3


class Handle:
    def __init__(self, path: str, node: Node, writable: bool, delete_on_close: bool):
        self.path, self.node, self.writable, self.delete_on_close = path, node, writable, delete_on_close
        self.data: bytearray | None = None  # loaded at the first write
        self.dirty = False
        self.listing: list[Node] | None = None  # SMB2 QUERY_DIRECTORY state
        self.listed = 0


class DiskShare:
    def __init__(self, site, root: str, label: str = "", serial: int = 0):
        self.site, self.root = site, root  # root like 'C:\\' or 'C:\\WINNT'
        self.label, self.serial = label, serial

    @property
    def fs(self) -> FileSystem:
        return FileSystem(self.site.host)

    def path(self, relative: str) -> str | None:
        return join(self.root, relative)

    def open(self, relative: str, access: int, disposition: int, options: int) -> tuple[int, Handle | None, int]:
        path = self.path(relative)
        if path is None:
            return STATUS_OBJECT_NAME_INVALID, None, 0
        writable = bool(access & WRITE_ACCESS)
        with self.site.lock:
            fs = self.fs
            node = fs.stat(path)
            action = OPENED
            if node is None:
                if disposition in (OPEN, OVERWRITE):
                    return STATUS_OBJECT_NAME_NOT_FOUND, None, 0
                status = fs.parent_ok(path)
                if status:
                    return status, None, 0
                if options & DIRECTORY_FILE:
                    fs.mkdir(path)
                    node = fs.stat(path)
                else:
                    node = Node(path, False)
                    handle = Handle(path, node, True, bool(options & DELETE_ON_CLOSE))
                    handle.data, handle.dirty = bytearray(), True  # created now, stored at close
                    self.site.save()
                    return STATUS_SUCCESS, handle, CREATED
                action = CREATED
                self.site.save()
            else:
                if disposition == CREATE:
                    return STATUS_OBJECT_NAME_COLLISION, None, 0
                if node.is_dir and options & NON_DIRECTORY_FILE:
                    return STATUS_FILE_IS_A_DIRECTORY, None, 0
                if not node.is_dir and options & DIRECTORY_FILE:
                    return STATUS_NOT_A_DIRECTORY, None, 0
                status = fs.may_write(path) if (writable or options & DELETE_ON_CLOSE) and not node.is_dir else \
                    fs.may_read(path)
                if status:
                    return status, None, 0
                if not node.is_dir and disposition in (SUPERSEDE, OVERWRITE, OVERWRITE_IF):
                    action = OVERWRITTEN
            handle = Handle(node.path, node, writable, bool(options & DELETE_ON_CLOSE))
            if action == OVERWRITTEN:
                handle.data, handle.dirty = bytearray(), True
                handle.node = Node(node.path, False, 0, node.modified)
        return STATUS_SUCCESS, handle, action

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
        if offset > len(handle.data):
            handle.data.extend(b"\x00" * (offset - len(handle.data)))
        handle.data[offset:offset + len(data)] = data
        handle.dirty = True
        handle.node = Node(handle.path, False, len(handle.data), handle.node.modified)
        return STATUS_SUCCESS

    def truncate(self, handle: Handle, size: int) -> int:
        if handle.data is None:
            with self.site.lock:
                handle.data = bytearray(self.fs.read(handle.path))
        status = self.fs.fits(handle.path, size, self._stored_size(handle)) if size > len(handle.data) else 0
        if status:
            return status
        handle.data = handle.data[:size] + bytearray(max(0, size - len(handle.data)))
        handle.dirty = True
        return STATUS_SUCCESS

    def may_delete(self, handle: Handle) -> int:
        with self.site.lock:
            return STATUS_SUCCESS if handle.node.is_dir else self.fs.may_write(handle.path)

    def _stored_size(self, handle: Handle) -> int:
        node = self.fs.stat(handle.path)
        return node.size if node and not node.is_dir else 0

    def close(self, handle: Handle) -> int:
        with self.site.lock:
            status = STATUS_SUCCESS
            if handle.delete_on_close:
                status = self.fs.rmdir(handle.path) if handle.node.is_dir else self.fs.delete(handle.path)
                if status == STATUS_OBJECT_NAME_NOT_FOUND:
                    status = STATUS_SUCCESS  # created and deleted before it was ever stored
            elif handle.dirty:
                status = self.fs.commit(handle.path, bytes(handle.data or b""))
                if status == STATUS_SUCCESS:
                    self.site.journal_written(handle.path, bytes(handle.data or b""))
            self.site.save()
        return status

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

    def delete(self, relative: str) -> int:
        path = self.path(relative)
        if path is None:
            return STATUS_OBJECT_NAME_INVALID
        with self.site.lock:
            status = self.fs.delete(path)
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

    def rename(self, old_relative: str, new_relative: str, replace: bool = False) -> int:
        old, new = self.path(old_relative), self.path(new_relative)
        if old is None or new is None:
            return STATUS_OBJECT_NAME_INVALID
        with self.site.lock:
            status = self.fs.rename(old, new, replace)
            self.site.save()
        return status

    def space(self) -> tuple[int, int]:
        with self.site.lock:
            return self.fs.free(self.root)
