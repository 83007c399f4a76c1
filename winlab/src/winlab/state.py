"""Persistence: each host's state as JSON under the state dir, written crash-safe.

A write goes to a temporary file that is fsynced and then renamed over the old
one, so a crash leaves either the old or the new state, never a torn file.
File contents written over WinRM live in a content-addressed blob store.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import threading


def atomic_write(path: pathlib.Path, data: bytes, mode: int = 0o644) -> None:
    """mode applies from the moment the file exists (0o600 for private keys), before any byte is written."""
    # One temporary name per process and thread: two hosts may store the same blob at once.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)  # a leftover of a crashed run; O_EXCL below then sets the mode afresh
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class BlobStore:
    def __init__(self, root: pathlib.Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        path = self.root / digest
        if not path.exists():
            atomic_write(path, content)
        return digest

    def get(self, digest: str) -> bytes:
        return (self.root / digest).read_bytes()


class StateDir:
    def __init__(self, root: str | os.PathLike):
        self.root = pathlib.Path(root).resolve()
        self.hosts_dir = self.root / "hosts"
        self.blobs = BlobStore(self.root / "blobs")
        self.hosts_dir.mkdir(parents=True, exist_ok=True)
        self._written: dict[str, str] = {}

    def save_host(self, state: dict) -> bool:
        """Write a host's state if it changed; returns whether it wrote."""
        data = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha1(data).hexdigest()
        if self._written.get(state["name"]) == digest:
            return False
        atomic_write(self.hosts_dir / f"{state['name']}.json", data)
        self._written[state["name"]] = digest
        return True

    def load_hosts(self) -> list[dict]:
        states = []
        for path in sorted(self.hosts_dir.glob("*.json")):
            state = json.loads(path.read_text())
            self._written[state["name"]] = hashlib.sha1(
                json.dumps(state, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
            states.append(state)
        return states

    def clear_hosts(self) -> None:
        for path in self.hosts_dir.glob("*.json"):
            path.unlink()
        self._written.clear()

    @property
    def meta_path(self) -> pathlib.Path:
        return self.root / "winlab.json"

    def read_meta(self) -> dict:
        return json.loads(self.meta_path.read_text()) if self.meta_path.exists() else {}

    def write_meta(self, meta: dict) -> None:
        atomic_write(self.meta_path, json.dumps(meta, indent=2).encode())
