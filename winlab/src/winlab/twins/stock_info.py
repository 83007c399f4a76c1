"""Twins of the read-only stock modules: win_stat, win_service_info, win_file_version, slurp.

The collection itself reads hosts with its one probe; these exist for Ansible's
own internals (fetch runs win_stat) and for the naive stock-module audit that
bench/ measures against the probe.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib

from . import ModuleFail, file_bytes, twin

_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
           "sha512": hashlib.sha512}



@twin("ansible.windows.win_stat")
def win_stat(host, params, check_mode, diff):
    path = params["path"]
    if params["checksum_algorithm"] not in _HASHES:
        raise ModuleFail(f"value of checksum_algorithm must be one of: {', '.join(_HASHES)}, "
                         f"got: {params['checksum_algorithm']}")
    entry = host.file(path)
    if entry is None and not host.is_dir(path):
        return {"changed": False, "stat": {"exists": False}}
    name = path.rstrip("\\").rsplit("\\", 1)[-1]
    stat = {"exists": True, "path": path, "filename": name, "isdir": entry is None, "isreg": entry is not None,
            "islnk": False, "isjunction": False, "ishidden": False, "isreadonly": False, "isarchive": entry is not None,
            "isshared": False, "nlink": 1, "hlnk_targets": [], "owner": "BUILTIN\\Administrators",
            "attributes": "Archive" if entry is not None else "Directory",
            "creationtime": host.state["boot_time"], "lastaccesstime": host.state["boot_time"],
            "lastwritetime": host.state["boot_time"]}
    if entry is not None:
        stat["extension"] = "." + name.rsplit(".", 1)[1] if "." in name else ""
        if params["get_size"]:
            stat["size"] = entry.get("size")
        if params["get_checksum"]:
            stat["checksum"] = _HASHES[params["checksum_algorithm"]](file_bytes(host, entry)).hexdigest()
    return {"changed": False, "stat": stat}


@twin("ansible.windows.win_service_info")
def win_service_info(host, params, check_mode, diff):
    pattern = (params["name"] or "*").lower()
    services = []
    for name, svc in sorted(host.state["services"].items()):
        display = svc.get("display_name", name)
        if not (fnmatch.fnmatchcase(name.lower(), pattern) or fnmatch.fnmatchcase(display.lower(), pattern)):
            continue
        services.append({"name": name, "display_name": display, "state": svc["state"],
                         "start_mode": svc.get("start_mode", "auto"), "dependencies": list(svc.get("depends_on", [])),
                         "dependency_of": host.dependents(name, running_only=False),
                         "service_type": "win32_own_process", "username": "LocalSystem",
                         "path": svc.get("path", f"C:\\WINNT\\system32\\{name.lower()}.exe")})
    return {"changed": False, "exists": bool(services), "services": services}


@twin("community.windows.win_file_version")
def win_file_version(host, params, check_mode, diff):
    path = params["path"]
    entry = host.file(path)
    if entry is None:
        raise ModuleFail(f"Specified path {path} does not exist")
    version = entry.get("version") or ""
    parts = (version.split(".") + ["", "", "", ""])[:4]
    return {"changed": False, "path": path, "win_file_version": {
        "path": path, "file_version": version, "product_version": version, "file_version_raw": version,
        "file_major_part": parts[0], "file_minor_part": parts[1], "file_build_part": parts[2],
        "file_private_part": parts[3]}}


@twin("ansible.windows.slurp")
def slurp(host, params, check_mode, diff):
    path = params["src"]
    entry = host.file(path)
    if entry is None:
        if host.is_dir(path):
            raise ModuleFail(f"Path {path} is a directory")
        raise ModuleFail(f"Path {path} is not found")
    return {"changed": False, "content": base64.b64encode(file_bytes(host, entry)).decode(), "encoding": "base64",
            "source": path}
