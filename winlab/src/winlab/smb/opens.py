"""Every open file of one host, across all its SMB connections and sessions, as NTFS and the
Windows 2000 server keep them: share access, delete pending, and opportunistic locks.

Rules (sources in docs/winlab.md, "Opens, share access and oplocks"):
- Share access (MS-FSA 2.1.5.1.2.2): only opens with data or DELETE access take part; a new open
  conflicts with an existing one when either lacks the share bit for the other's access. Enforced
  between all opens of the file, whichever session made them.
- Oplocks (MS-CIFS 3.3.4.2, 3.3.5.2.7, 3.3.6.1; MS-FSA 2.1.4.12): batch and exclusive are granted
  only to the sole open of a file; level II to a read-only open beside read-only opens. Another
  open that wants more than attributes breaks a batch holder before the sharing check, an
  exclusive holder after it: to level II, or to none for an overwrite, a delete or a rename. The
  opener waits until the holder acknowledges or closes, at most `break_wait` seconds (Windows'
  OplockBreakWait, 35 s); then the server acknowledges for it. Writes and size changes break
  level II holders to none without waiting for anyone.
- Delete pending: a file deleted while other opens that share delete remain disappears at the
  last close; until then opening the name gets STATUS_DELETE_PENDING.

Nothing here knows SMB framing: a break reaches its holder through the `notify(level)` callable
the dialect gave the open. Callers hold the host's lock; waiting for a break releases it.
"""

from __future__ import annotations

import threading
import time

FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_EXECUTE, DELETE = 0x1, 0x2, 0x4, 0x20, 0x10000
GENERIC_READ, GENERIC_WRITE, GENERIC_EXECUTE, GENERIC_ALL = 0x80000000, 0x40000000, 0x20000000, 0x10000000
MAXIMUM_ALLOWED = 0x02000000
SHARE_READ, SHARE_WRITE, SHARE_DELETE = 0x1, 0x2, 0x4
READS, WRITES = FILE_READ_DATA | FILE_EXECUTE, FILE_WRITE_DATA | FILE_APPEND_DATA
DATA = READS | WRITES | DELETE
NONE, EXCLUSIVE, BATCH, LEVEL_II = 0, 1, 2, 3


def data_access(mask: int) -> int:
    """The data and DELETE rights an access mask grants an administrator (generic rights mapped as
    for files; MAXIMUM_ALLOWED grants all of them)."""
    out = mask & DATA
    if mask & (GENERIC_READ | GENERIC_ALL | MAXIMUM_ALLOWED):
        out |= FILE_READ_DATA
    if mask & (GENERIC_EXECUTE | GENERIC_ALL | MAXIMUM_ALLOWED):
        out |= FILE_EXECUTE
    if mask & (GENERIC_WRITE | GENERIC_ALL | MAXIMUM_ALLOWED):
        out |= WRITES
    if mask & (GENERIC_ALL | MAXIMUM_ALLOWED):
        out |= DELETE
    return out


class Open:
    """One handle: what it may do, what it lets others do, its oplock and who to tell of a break."""

    key = property(lambda self: self.path.lower())

    def __init__(self, path: str, access: int, share: int, owner: str, notify=None, level_ii: bool = True):
        self.path, self.access, self.share = path, data_access(access), share & 0x7  # path: the file's name now
        self.owner, self.notify, self.level_ii = owner, notify, level_ii
        self.oplock = NONE
        self.breaking: int | None = None  # the level a break sent to this open is waiting for

    def conflicts(self, access: int, share: int) -> bool:
        """Whether an open with (access, share) may not stand beside this one."""
        if not self.access & DATA or not access & DATA:
            return False
        return bool((self.access & READS and not share & SHARE_READ) or (self.access & WRITES and not share & SHARE_WRITE)
                    or (self.access & DELETE and not share & SHARE_DELETE)
                    or (access & READS and not self.share & SHARE_READ)
                    or (access & WRITES and not self.share & SHARE_WRITE)
                    or (access & DELETE and not self.share & SHARE_DELETE))


class OpenTable:
    def __init__(self, lock, break_wait, stats: dict):
        self.lock, self.stats = lock, stats  # stats["oplock_breaks"] counts every break sent
        self.changed = threading.Condition(lock)
        self.break_wait = break_wait  # callable: seconds an opener waits for a holder's acknowledgement
        self._opens: dict[str, list[Open]] = {}
        self._delete_pending: set[str] = set()

    def opens(self, path: str) -> list[Open]:
        return list(self._opens.get(path.lower(), []))

    def is_delete_pending(self, path: str) -> bool:
        return path.lower() in self._delete_pending

    def conflict(self, path: str, access: int, share: int, ignore: Open | None = None) -> bool:
        wanted = data_access(access)
        return any(o is not ignore and o.conflicts(wanted, share) for o in self._opens.get(path.lower(), []))

    def add(self, entry: Open) -> None:
        self._opens.setdefault(entry.key, []).append(entry)

    def remove(self, entry: Open) -> bool:
        """Forget a closed open; True when it was the last open of a delete-pending file (delete it now)."""
        left = [o for o in self._opens.get(entry.key, []) if o is not entry]
        if left:
            self._opens[entry.key] = left
        else:
            self._opens.pop(entry.key, None)
        self.changed.notify_all()
        if not left and entry.key in self._delete_pending:
            self._delete_pending.discard(entry.key)
            return True
        return False

    def mark_delete_pending(self, path: str) -> None:
        self._delete_pending.add(path.lower())

    def rename(self, old: str, new: str) -> None:
        entries = self._opens.pop(old.lower(), [])
        for entry in entries:
            entry.path = new
        if entries:
            self._opens.setdefault(new.lower(), []).extend(entries)

    # -- oplocks ---------------------------------------------------------------
    def grant(self, entry: Open, batch: bool, exclusive: bool) -> int:
        """The oplock a new open gets (it is already in the table)."""
        others = [o for o in self._opens.get(entry.key, []) if o is not entry]
        if not (batch or exclusive):
            return NONE
        if not others:
            entry.oplock = BATCH if batch else EXCLUSIVE
        elif entry.level_ii and not entry.access & (WRITES | DELETE) and all(
                not o.access & (WRITES | DELETE) and o.oplock in (NONE, LEVEL_II) for o in others):
            entry.oplock = LEVEL_II
        return entry.oplock

    def break_holders(self, path: str, kinds: tuple, to_none: bool, requester: Open | None = None) -> None:
        """Break the batch/exclusive oplocks (`kinds`) of the file's other opens and wait for each holder's
        acknowledgement or close, at most break_wait seconds; then acknowledge for it (MS-CIFS 3.3.6.1)."""
        holders = [o for o in self._opens.get(path.lower(), []) if o is not requester and o.oplock in kinds]
        for holder in holders:
            level = NONE if to_none or not holder.level_ii else LEVEL_II
            holder.breaking = level
            self.stats["oplock_breaks"] += 1
            if holder.notify:
                holder.notify(level)
        deadline = time.monotonic() + self.break_wait()
        while any(h.breaking is not None and h in self._opens.get(h.key, []) for h in holders):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.changed.wait(left)
        for holder in holders:
            if holder.breaking is not None:  # no answer in time: the server acknowledges for the holder
                holder.oplock, holder.breaking = holder.breaking, None

    def acknowledge(self, entry: Open, keeps_level_ii: bool) -> None:
        """The holder answered a break (LOCKING_ANDX with OPLOCK_RELEASE); an answer to no break is ignored."""
        if entry.breaking is not None:
            entry.oplock = LEVEL_II if keeps_level_ii and entry.breaking == LEVEL_II else NONE
            entry.breaking = None
            self.changed.notify_all()

    def break_level_ii(self, path: str, writer: Open | None) -> None:
        """A write or a size change: every other level II holder is told to drop it, and nobody waits."""
        for holder in self._opens.get(path.lower(), []):
            if holder is not writer and holder.oplock == LEVEL_II:
                holder.oplock = NONE
                self.stats["oplock_breaks"] += 1
                if holder.notify:
                    holder.notify(NONE)
