"""A hotfix bundle published as an archive at an HTTPS URL (no Ansible import).

AWX jobs run in a fresh container: the bundle reaches them by a volume mount, the project folder,
or this: an HTTPS URL of a .zip or .tar.gz holding the KB layout, pinned by the archive's SHA-256
(required). It is downloaded onto the controller before the pre-flight, checked, and unpacked
into a cache folder named by that SHA-256; the pre-flight then checks the files as for any folder.
Unpacking refuses absolute names, '..', links and anything that is not a plain file or folder.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import zipfile

CHUNK = 1 << 20
MAX_BYTES = 512 << 20  # a Q317061 bundle is about 4 MB; anything this large is not one
DONE = ".complete"


class ArchiveError(ValueError):
    """The archive cannot be used; nothing was unpacked for the run."""


def is_url(source) -> bool:
    return isinstance(source, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source.strip()) is not None


def default_cache() -> str:
    return os.path.expanduser(os.path.join("~", ".ansible", "smsfleet.q317061", "archives"))


def fetch(url: str, sha256: str, opener, cache_dir: str | None = None) -> str:
    """The folder holding the unpacked bundle (downloaded, checked and unpacked once per SHA-256).
    opener(url) returns a readable response; the action plugin gives Ansible's open_url (TLS
    validation, the CA file), tests their own."""
    if not url.lower().startswith("https://"):
        raise ArchiveError(f"q317061_hotfix_source {url!r}: only https URLs are accepted (the bytes must not be "
                           "changed on the way)")
    digest = (sha256 or "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ArchiveError("q317061_hotfix_archive_sha256 is required with an https q317061_hotfix_source: the "
                           "archive's SHA-256, 64 hexadecimal digits")
    root = os.path.join(cache_dir or default_cache(), digest)
    if os.path.isfile(os.path.join(root, DONE)):
        return _bundle_folder(root)
    os.makedirs(os.path.dirname(root), mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(root), prefix=f".{digest[:12]}.") as work:
        archive = os.path.join(work, "archive")
        got = _download(url, archive, opener)
        if got != digest:
            raise ArchiveError(f"the archive at {url} has SHA-256 {got}, not the pinned {digest}: refused, nothing "
                               "was unpacked")
        unpacked = os.path.join(work, "unpacked")
        _unpack(archive, unpacked, url)
        open(os.path.join(unpacked, DONE), "w", encoding="ascii").close()
        if os.path.isdir(root):
            shutil.rmtree(root)  # an earlier, interrupted unpack
        os.replace(unpacked, root)
    return _bundle_folder(root)


def _download(url, path, opener) -> str:
    digest, size = hashlib.sha256(), 0
    try:
        with opener(url) as response, open(path, "wb") as out:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ArchiveError(f"the archive at {url} is larger than {MAX_BYTES >> 20} MB: not a hotfix bundle")
                digest.update(chunk)
                out.write(chunk)
    except ArchiveError:
        raise
    except Exception as error:  # noqa: BLE001 - the opener's own (URL, TLS, timeout): the download failed
        raise ArchiveError(f"cannot download the hotfix bundle from {url}: {getattr(error, 'reason', error)}") from None
    return digest.hexdigest()


def _safe(name: str, url: str) -> str:
    clean = name.replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean) or ".." in parts:
        raise ArchiveError(f"the archive at {url} holds {name!r}, a name outside its folder: refused")
    return os.path.join(*parts) if parts else ""


def _extract(dest: str, rel: str, is_dir: bool, open_member) -> None:
    """One checked member (its relative path already made safe) into dest: a folder, or a file's bytes."""
    target = os.path.join(dest, rel)
    if is_dir or not rel:
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open_member() as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)


def _unpack(archive: str, dest: str, url: str) -> None:
    os.makedirs(dest)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                rel = _safe(info.filename, url)
                mode = (info.external_attr >> 16) & 0o170000
                if mode and mode not in (0o100000, 0o040000):
                    raise ArchiveError(f"the archive at {url} holds {info.filename!r}, which is not a plain file")
                _extract(dest, rel, info.is_dir(), functools.partial(zf.open, info))
        return
    try:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                rel = _safe(member.name, url)
                if not (member.isfile() or member.isdir()):
                    raise ArchiveError(f"the archive at {url} holds {member.name!r}, which is not a plain file")
                _extract(dest, rel, member.isdir(), functools.partial(tf.extractfile, member))
    except tarfile.TarError as error:
        raise ArchiveError(f"the file at {url} is neither a zip nor a tar archive ({error})") from None


def _bundle_folder(root: str) -> str:
    """The KB layout at the archive's top, or inside its one top folder."""
    entries = [e for e in os.listdir(root) if e != DONE]
    if len(entries) == 1 and os.path.isdir(os.path.join(root, entries[0])) and entries[0] not in ("i386", "Alpha"):
        return os.path.join(root, entries[0])
    return root
