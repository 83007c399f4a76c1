"""Twin of ansible.windows.win_copy for the modes its action plugin uses for single files.

The action plugin asks (`_copy_mode=query`) which files differ by SHA-1, puts each
one into the remote temp folder, then moves it into place (`_copy_mode=single`).
"""

from __future__ import annotations

import hashlib

from . import ModuleFail, file_bytes, twin, win_join


def _sha1(host, entry: dict) -> str:
    return entry.get("sha1") or hashlib.sha1(file_bytes(host, entry)).hexdigest()



@twin("ansible.windows.win_copy", private=("files", "directories", "symlinks"))
def win_copy(host, params, check_mode, diff):
    mode = params.get("_copy_mode", "single")
    if mode == "query":
        changed = []
        for f in params.get("files") or []:
            path = win_join(params["dest"], f["dest"])
            if host.is_dir(path):  # like the module: a folder at dest receives the file under its own name
                path = win_join(path, f["src"].replace("\\", "/").rsplit("/", 1)[-1])
            entry = host.file(path)
            if entry is None or (params["force"] and _sha1(host, entry) != f["checksum"]):
                changed.append(f)
        if params.get("directories"):
            raise ModuleFail("winlab's win_copy twin copies single files; directories are not emulated")
        return {"changed": False, "files": changed, "directories": [], "symlinks": []}
    if mode != "single":
        raise ModuleFail(f"winlab does not emulate win_copy _copy_mode={mode}")
    dest = params["dest"]
    if dest.endswith("\\") or dest.endswith("/") or host.is_dir(dest):
        dest = win_join(dest.rstrip("\\/"), params["_original_basename"])
    parent = dest.rsplit("\\", 1)[0]
    if host.file(parent):
        raise ModuleFail(f"object at destination parent dir '{parent}' is currently a file")
    host.copy_file(params["src"], dest)
    dirs = host.state.setdefault("dirs", [])
    if parent.lower() not in (d.lower() for d in dirs):
        dirs.append(parent)
    entry = host.file(dest)
    return {"changed": True, "dest": dest, "checksum": _sha1(host, entry), "size": entry.get("size"),
            "original_basename": params["_original_basename"], "operation": "file_copy"}
