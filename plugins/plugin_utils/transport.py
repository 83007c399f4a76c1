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
    """<Ansible's home (ANSIBLE_HOME, ~/.ansible by default)>/smsfleet.q317061/hashes, beside the change records."""
    home = os.environ.get("ANSIBLE_HOME") or os.path.join("~", ".ansible")
    return os.path.join(os.path.expanduser(home), "smsfleet.q317061", "hashes")


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


HASHES_KEPT = 16  # a host's entries carried as a fact: its two DLLs (hash and version each), and what an upgrade left


def valid_hashes(value) -> dict:
    """The entries of a hash store (key -> lower-case SHA-256) that are what the probe writes; a fact cache's
    copy can hold anything, and a wrong entry must never become a host's hash."""
    if not isinstance(value, dict):
        return {}
    out = {}
    for key, found in value.items():
        if not isinstance(key, str):
            continue
        if key.count("|") == 5 and isinstance(found, str) and re.fullmatch(r"[0-9a-fA-F]{64}", found):
            out[key] = found.lower()
        elif key.count("|") == 6 and key.endswith("|pe") and _version_entry(found):
            out[key] = {k: found.get(k) for k in ("version", "language_id", "language")}
    return out


def _version_entry(found) -> bool:
    """{version, language_id, language} as the probe keeps a DLL's version resource, and nothing else."""
    return (isinstance(found, dict) and isinstance(found.get("version"), (str, type(None)))
            and re.fullmatch(r"[0-9]{1,5}(\.[0-9]{1,5}){3}", found.get("version") or "0.0.0.0") is not None
            and isinstance(found.get("language_id"), (int, type(None))) and not isinstance(found.get("language_id"), bool)
            and isinstance(found.get("language"), (str, type(None))) and len(found.get("language") or "") <= 100)


def save_hashes(host: str, store: dict, directory: str | None = None, keep: int = 64,
                loaded: dict | None = None) -> None:
    """Written atomically (forks probe different hosts at once); only the newest entries are kept. With `loaded`
    (what load_hashes gave before the probe) nothing is written when the entries kept are those: a warm audit
    found every DLL as it was, and rewriting a thousand files for nothing cost the controller per host."""
    path = _hash_file(host, directory)
    entries = dict(list(store.items())[-keep:])
    if loaded is not None and entries == loaded:
        return
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(path), prefix=".hashes.", delete=False,
                                     encoding="utf-8") as handle:
        json.dump(entries, handle)
    os.replace(handle.name, path)


SMB_CONNECTIONS = ("smsfleet.q317061.smb",)
SMB_CHOICES = {"ansible_smb_auth": ("ntlm", "kerberos"), "ansible_smb_dialect": ("auto", "smb1", "smb2")}
SMB_SECONDS = ("ansible_smb_connect_timeout", "ansible_smb_operation_timeout")
SMB_BOOLS = ("ansible_smb_require_signing", "ansible_smb_nt4_logon")
MAX_SECONDS = 86400  # a day: a socket timeout beyond it is a typo, and far beyond it overflows the system call


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def strict_bool(value) -> bool | None:
    """A boolean as YAML or a survey writes one (true/false, yes/no, on/off, 1/0); None for anything else:
    Ansible's own conversion takes "maybe" for false, which is no way to set a security option."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    return {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False,
            "0": False}.get(text)


def unsigned_refusal(client, setting) -> dict | None:
    """The failure for a change over an unsigned SMB session when q317061_smb_signing is `required` (the
    setting's value as the host has it), else None. Nothing has been changed then."""
    from .plans import SIGNING_STEPS
    from .variables import VariableError, normalise

    if client is None or client.security.get("signed") is not False:
        return None
    try:
        if normalise("q317061_smb_signing", setting) != "required":
            return None
    except VariableError as error:
        return {"failed": True, "changed": False, "refused": True, "msg": f"{error}; nothing was changed"}
    return {"failed": True, "changed": False, "refused": True, "signed": False,
            "msg": f"the SMB session with this host is not signed (it offers no SMB signing) and q317061_smb_signing "
                   f"is required; nothing was changed: {SIGNING_STEPS}"}


def check_connection(hostvars) -> list[str]:
    """The smb connection's inventory values, checked before any host is touched (the connection
    plugin checks them again when it connects). WinRM hosts are ansible-core's to check."""
    if hostvars.get("ansible_connection") not in SMB_CONNECTIONS:
        return []
    from .smb.client import split_user

    errors = []
    port = hostvars.get("ansible_port")
    if port is not None and not (_int(port) and 0 < _int(port) < 65536):
        errors.append(f"ansible_port: must be a TCP port, 445 or 139 (got {port!r})")
    try:
        split_user(hostvars.get("ansible_user"), hostvars.get("ansible_smb_domain"))
    except ValueError as error:
        errors.append(str(error))
    for name, choices in SMB_CHOICES.items():
        if hostvars.get(name) is not None and hostvars[name] not in choices:
            errors.append(f"{name}: must be one of {', '.join(choices)} (got {hostvars[name]!r})")
    for name in SMB_SECONDS:
        seconds = _int(hostvars[name]) if hostvars.get(name) is not None else None
        if hostvars.get(name) is not None and not (seconds and 0 < seconds <= MAX_SECONDS):
            errors.append(f"{name}: must be a whole number of seconds from 1 to {MAX_SECONDS} (got {hostvars[name]!r})")
    for name in SMB_BOOLS:
        if hostvars.get(name) is not None and strict_bool(hostvars[name]) is None:
            errors.append(f"{name}: must be true or false (got {hostvars[name]!r})")
    return errors
