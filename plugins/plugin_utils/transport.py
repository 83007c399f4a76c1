"""Which transport reaches a host, for the collection's transport-aware actions (no Ansible import).

WinRM hosts run the PowerShell modules; smb hosts are worked from the controller through the
connection's SMB session (plugin_utils/smb). The choice is the inventory's `ansible_connection`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

SMB, WINRM = "smb", "winrm"


def name(connection) -> str:
    return SMB if getattr(connection, "is_smsfleet_smb", False) is True else WINRM


def smb_client(connection):
    """The connection's logged-on SMB session, or None for a WinRM host."""
    return connection.smb_client() if name(connection) == SMB else None


def hash_cache_dir() -> str:
    return os.path.expanduser(os.path.join("~", ".ansible", "smsfleet.q317061", "hashes"))


def _hash_file(host: str, directory: str | None = None) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", host) or "_"
    return os.path.join(directory or hash_cache_dir(), f"{safe}.json")


def load_hashes(host: str, directory: str | None = None) -> dict:
    """The SHA-256 values the smb probe already read on this host (see smb/probe.py, HashCache)."""
    try:
        with open(_hash_file(host, directory), encoding="utf-8") as handle:
            value = json.load(handle)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def save_hashes(host: str, store: dict, directory: str | None = None, keep: int = 64) -> None:
    """Written atomically (forks probe different hosts at once); only the newest entries are kept."""
    path = _hash_file(host, directory)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    entries = dict(list(store.items())[-keep:])
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(path), prefix=".hashes.", delete=False,
                                     encoding="utf-8") as handle:
        json.dump(entries, handle)
    os.replace(handle.name, path)
