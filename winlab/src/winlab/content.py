"""What a file holds, for every front end (WinRM twins and SMB shares alike).

A file entry in the host model is text lines (logs, journals), a blob (bytes written over WinRM
or SMB, kept content-addressed), or a DLL built from the fleet spec. A spec DLL is a real PE file
built on demand from its (machine, version, size, language); its SHA-256 is the hash of exactly
those bytes, so a probe, a fetch and an SMB read agree. Builds are cached, so 1,000 hosts with the
same few builds cost a handful of buffers.
"""

from __future__ import annotations

import functools
import hashlib

from .pe import LANGUAGES, build_dll, read_version_info


@functools.lru_cache(maxsize=64)
def _dll(machine: str, version: str, size: int, language: str, name: str) -> tuple[bytes, str]:
    data = build_dll(machine, version, size, language, name=name)
    return data, hashlib.sha256(data).hexdigest()


def spec_dll(machine: str, version: str, size: int, language: str, name: str) -> dict:
    """Metadata of a spec DLL: its real hash, and what is needed to build its bytes again."""
    data, digest = _dll(machine, version, size, language, name)
    return {"size": len(data), "version": version, "language": language, "machine": machine, "sha256": digest,
            "sha1": hashlib.sha1(data).hexdigest(), "dll_name": name,
            "language_id": next((k for k, v in LANGUAGES.items() if v == language), None)}


def text_bytes(lines: list[str]) -> bytes:
    """A text file as Windows writes it: every line ends with CRLF (UTF-8; logs and journals are ASCII)."""
    return "".join(line + "\r\n" for line in lines).encode()


def text_size(lines: list[str]) -> int:
    return len(text_bytes(lines))


def file_bytes(host, entry: dict) -> bytes:
    if "text" in entry:
        return text_bytes(entry["text"])
    if entry.get("blob") and host.blobs is not None:
        return host.blobs.get(entry["blob"])
    data, dummy = _dll(entry.get("machine") or "i386", entry.get("version") or "0.0.0.0", entry.get("size") or 4096,
                       entry.get("language") or "English (United States)", entry.get("dll_name") or "")
    return data


def meta_from_bytes(host, content: bytes) -> dict:
    """Metadata of a file written with bytes: size, hashes, and PE version info when it is a DLL."""
    meta = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest(), "sha1": hashlib.sha1(content).hexdigest()}
    meta.update(read_version_info(content))
    language = meta.get("language")
    if language:
        meta["language_id"] = next((k for k, v in LANGUAGES.items() if v == language), None)
    if host.blobs is not None:
        meta["blob"] = host.blobs.put(content)
    return meta
