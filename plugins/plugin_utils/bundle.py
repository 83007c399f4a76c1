"""Controller pre-flight of a Q317061 hotfix bundle (KB layout), read with pefile.

Layout (KB Q317061, "Use the Hotfix Installer"): Q317061.exe one folder above
the platform folders i386/ and Alpha/, each holding Baseutil.dll and Distmgr.dll.
Every check names the file and the difference, so a wrong or tampered bundle
is refused before any host is touched. The bytes that passed the checks are
copied into a controller cache named by their SHA-256, and hosts are staged
from that cache only: a file swapped in the bundle folder after the check can
never reach a host. No Ansible import here.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile

from .versions import FIX_REVISION_SP3, SmsVersion

INSTALLER = "Q317061.exe"
DLLS = ("Baseutil.dll", "Distmgr.dll")
PLATFORMS = ("i386", "Alpha")
# KB Q317061, file attributes of the English SP3 fix (2.00.1493.3240).
KB_SIZES = {
    ("Alpha", "Baseutil.dll"): 810768, ("Alpha", "Distmgr.dll"): 359184,
    ("i386", "Baseutil.dll"): 526272, ("i386", "Distmgr.dll"): 230800,
}
PE_MACHINES = {0x014C: "i386", 0x0184: "Alpha"}


class BundleError(ValueError):
    """The bundle cannot be used; the message lists every problem found."""


def read_pe(data: bytes) -> dict:
    """Machine type and FileVersion of a PE image: {machine, version} or {error}."""
    import pefile  # controller requirement (requirements.txt); imported late so docs build without it

    try:
        pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    except pefile.PEFormatError as error:
        return {"error": f"not a valid PE file ({error})"}
    machine = PE_MACHINES.get(pe.FILE_HEADER.Machine, f"unknown machine {pe.FILE_HEADER.Machine:#06x}")
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if not fixed:
        return {"machine": machine, "version": None}
    info = fixed[0]
    version = (f"{info.FileVersionMS >> 16}.{info.FileVersionMS & 0xFFFF:02d}."
               f"{info.FileVersionLS >> 16}.{info.FileVersionLS & 0xFFFF:04d}")
    return {"machine": machine, "version": version}


def is_fix_build(version: str | None) -> bool:
    """2.00.1493.3240 or a later SP3 build (Q318834, Q319207 ship the same DLLs higher)."""
    parsed = SmsVersion.parse(version)
    return bool(parsed and parsed.is_sms20 and parsed.service_pack == 3 and parsed.revision >= FIX_REVISION_SP3)


def inspect_dll(root: str, platform: str, name: str, pins: dict) -> tuple[dict, list[str]]:
    """Check one platform DLL against the KB table; returns (file facts, problems)."""
    label = f"{platform}/{name}"
    path = os.path.join(root, platform, name)
    if not os.path.isfile(path):
        return {}, [f"{label}: missing (expected {path})"]
    with open(path, "rb") as handle:
        data = handle.read()
    facts = {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "data": data}
    pe = read_pe(data)
    if "error" in pe:
        return facts, [f"{label}: {pe['error']}"]
    facts["version"] = pe["version"]
    problems = []
    if pe["machine"] != platform:
        problems.append(f"{label}: PE machine type is {pe['machine']}, expected {platform}")
    if not is_fix_build(pe["version"]):
        problems.append(f"{label}: FileVersion is {pe['version'] or 'missing'}, expected 2.00.1493.3240 "
                        "or a later SP3 build")
    pin = (pins.get(label) or "").lower()
    if pe["version"] == "2.00.1493.3240" and len(data) != KB_SIZES[(platform, name)]:
        problems.append(f"{label}: size is {len(data):,} bytes, KB Q317061 lists {KB_SIZES[(platform, name)]:,}")
    elif is_fix_build(pe["version"]) and pe["version"] != "2.00.1493.3240" and not pin:
        problems.append(f"{label}: build {pe['version']} is not in the KB Q317061 size table; "
                        "pin its SHA-256 in q317061_hotfix_sha256 to accept it")
    if pin and pin != facts["sha256"]:
        problems.append(f"{label}: SHA-256 is {facts['sha256']}, the pinned value is {pin}")
    return facts, problems


def default_cache() -> str:
    return os.path.expanduser(os.path.join("~", ".ansible", "smsfleet.q317061", "bundles"))


def cache_file(cache_dir: str, data: bytes, digest: str) -> str:
    """Store checked bytes under their SHA-256 (private to this user); returns the cached path."""
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    path = os.path.join(cache_dir, digest)
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            if hashlib.sha256(handle.read()).hexdigest() == digest:
                return path
    with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=f".{digest}.", delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)
    return path


def gzip_copy(path: str) -> str:
    """The gzip copy of a cached file (<path>.gz), made once: staging over WinRM uploads it, about half the
    bytes of a DLL. The host expands it and checks the result's SHA-256 and version, so a damaged copy is
    refused there, never installed."""
    target = path + ".gz"
    if not os.path.isfile(target):
        with open(path, "rb") as handle:
            data = gzip.compress(handle.read(), compresslevel=9, mtime=0)
        directory = os.path.dirname(target) or "."
        with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{os.path.basename(target)}.", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, target)
    return target


def check_bundle(root: str, platforms, method: str = "manual", pins: dict | None = None,
                 cache_dir: str | None = None) -> dict:
    """Check the bundle for the platforms that need it; returns {platform: {dll: facts}} where each
    `path` is the cached copy of the checked bytes (`bundle_path` the file in the bundle).

    Raises BundleError listing every problem (not just the first one).
    """
    pins = {str(k): str(v) for k, v in (pins or {}).items()}
    unknown_pins = sorted(set(pins) - {f"{p}/{n}" for p in PLATFORMS for n in DLLS} - {INSTALLER})
    problems = [f"q317061_hotfix_sha256: unknown key {key!r}; keys look like 'i386/Baseutil.dll'" for key in unknown_pins]
    if not root or not os.path.isdir(root):
        raise BundleError(f"hotfix bundle folder {root!r} does not exist (q317061_hotfix_source)")
    files: dict[str, dict] = {}
    for platform in sorted(set(platforms)):
        if platform not in PLATFORMS:
            problems.append(f"{platform}: not a platform of the Q317061 hotfix (i386, Alpha)")
            continue
        files[platform] = {}
        for name in DLLS:
            facts, found = inspect_dll(root, platform, name, pins)
            files[platform][name] = facts
            problems += found
    if method == "installer":
        problems += _check_installer(root, files, pins)
    problems += _check_other_pins(root, files, pins)
    if problems:
        raise BundleError("hotfix bundle " + root + " refused:\n- " + "\n- ".join(problems))
    for entry in [f for p in files.values() for f in (p.values() if "data" not in p else [p])]:
        entry["bundle_path"] = entry["path"]
        entry["path"] = cache_file(cache_dir or default_cache(), entry.pop("data"), entry["sha256"])
        gzip_copy(entry["path"])  # once per run here, not once per host when staging
    return files


def _check_other_pins(root: str, files: dict, pins: dict) -> list[str]:
    """A pin is a statement about the bundle, so it is checked even for a file this run does not stage
    (Q317061.exe under the manual method, the Alpha DLLs of an Intel-only fleet): a pin that no longer
    matches, or names a file the bundle lacks, means this is not the bundle the operator pinned."""
    checked = {f"{p}/{n}" for p, entries in files.items() if p in PLATFORMS for n in entries}
    checked |= {INSTALLER} if "installer" in files else set()
    problems = []
    for label in sorted(set(pins) - checked):
        if label not in {f"{p}/{n}" for p in PLATFORMS for n in DLLS} | {INSTALLER}:
            continue  # reported as an unknown key already
        path = os.path.join(root, *label.split("/"))
        if not os.path.isfile(path):
            problems.append(f"{label}: pinned in q317061_hotfix_sha256 but missing from the bundle (expected {path})")
            continue
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        if digest != pins[label].lower():
            problems.append(f"{label}: SHA-256 is {digest}, the pinned value is {pins[label].lower()} "
                            "(this run does not stage the file, but the pin says this is not the bundle you pinned)")
    return problems


def _check_installer(root: str, files: dict, pins: dict) -> list[str]:
    path = os.path.join(root, INSTALLER)
    if not os.path.isfile(path):
        return [f"{INSTALLER}: missing (expected {path}, one folder above the platform folders)"]
    with open(path, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    files["installer"] = {"path": path, "size": len(data), "sha256": digest, "data": data}
    pe = read_pe(data)
    problems = []
    if "error" in pe:
        problems.append(f"{INSTALLER}: {pe['error']}")
    elif pe["machine"] != "i386":
        problems.append(f"{INSTALLER}: PE machine type is {pe['machine']}; the installer runs on Intel (i386) only")
    pin = (pins.get(INSTALLER) or "").lower()
    if pin and pin != digest:
        problems.append(f"{INSTALLER}: SHA-256 is {digest}, the pinned value is {pin}")
    return problems
