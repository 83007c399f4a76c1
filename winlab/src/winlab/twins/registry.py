"""Twins of ansible.windows.win_regedit and ansible.windows.win_reg_stat (string values and keys)."""

from __future__ import annotations

import re

from . import ModuleFail, twin

_HIVES = {"HKLM:": "HKLM", "HKCU:": "HKCU"}
_PSDRIVE = re.compile(r"^HK(CC|CR|CU|LM|U):\\")  # the modules' own check: PSDrive form only


def host_path(path: str) -> str:
    """'HKLM:\\SOFTWARE\\x' (the modules' PSDrive form) -> 'HKLM\\SOFTWARE\\x' (the host model's).

    Like win_reg_stat and win_regedit, anything else (HKEY_LOCAL_MACHINE\\..., HKLM\\...) is refused."""
    if not _PSDRIVE.match(path):
        raise ModuleFail(f"path: {path} is not a valid registry path, see module documentation for examples.")
    hive, _, rest = path.partition("\\")
    if hive.upper() not in _HIVES:
        raise ModuleFail(f"winlab emulates the HKLM: and HKCU: hives only (got {hive})")
    return f"{_HIVES[hive.upper()]}\\{rest}".rstrip("\\")


def _stat_value(value):
    """win_reg_stat returns a REG_DWORD as UInt32 (-60 reads back as 4294967236)."""
    return value + 2**32 if isinstance(value, int) and not isinstance(value, bool) and value < 0 else value


def _type_name(value) -> str:
    return "REG_DWORD" if isinstance(value, int) else "REG_MULTI_SZ" if isinstance(value, list) else "REG_SZ"


@twin("ansible.windows.win_reg_stat")
def win_reg_stat(host, params, check_mode, diff):
    path = host_path(params["path"])
    if not host.reg_key_exists(path):
        return {"changed": False, "exists": False}
    if params["name"] is None:
        key = host._key(path)
        children = sorted({k[len(key) + 1:].split("\\")[0] for k in host.state["registry"]
                           if k.lower().startswith(key.lower() + "\\")})
        props = {n: {"value": _stat_value(v), "raw_value": _stat_value(v), "type": _type_name(v)}
                 for n, v in host.state["registry"][key].items()}
        return {"changed": False, "exists": True, "properties": props, "sub_keys": children}
    if not host.reg_has(path, params["name"]):
        return {"changed": False, "exists": False}
    value = host.reg_get(path, params["name"])
    return {"changed": False, "exists": True, "value": _stat_value(value), "raw_value": _stat_value(value),
            "type": _type_name(value)}


@twin("ansible.windows.win_regedit")
def win_regedit(host, params, check_mode, diff):
    path, name = host_path(params["path"]), params["name"]
    if params["type"] not in ("string", "dword"):
        raise ModuleFail(f"winlab's win_regedit twin handles string and dword values, not {params['type']}")
    if params["state"] == "absent":
        if name is None:
            key = host._key(path)
            if key is None:
                return {"changed": False}
            if not check_mode:
                for k in [k for k in host.state["registry"] if k.lower() == key.lower()
                          or k.lower().startswith(key.lower() + "\\")]:
                    del host.state["registry"][k]
            return {"changed": True, "diff": {"before": f"[{params['path']}]\n", "after": ""}} if diff else {"changed": True}
        if not host.reg_has(path, name):
            return {"changed": False}
        before = host.reg_get(path, name)
        if not check_mode:
            host.reg_delete(path, name)
        result = {"changed": True}
        if diff:
            result["diff"] = {"before": f"[{params['path']}]\n\"{name}\"=\"{before}\"\n", "after": f"[{params['path']}]\n"}
        return result
    data = params["data"]
    data = "" if data is None and params["type"] == "string" else data
    if params["type"] == "dword":
        data = int(data)
    elif not isinstance(data, str):
        data = str(data)
    if name is None:
        changed = not host.reg_key_exists(path)
        if changed and not check_mode:
            host.state["registry"][path] = {}
            host._reg_touch(path)
        return {"changed": changed, "data_changed": False, "data_type_changed": False}
    present = host.reg_has(path, name)
    before = host.reg_get(path, name)
    changed = not present or before != data
    if changed and not check_mode:
        host.reg_set(path, name, data)
    result = {"changed": changed, "data_changed": present and before != data, "data_type_changed": False}
    if diff and changed:
        prior = f"\"{name}\"=\"{before}\"\n" if present else ""
        result["diff"] = {"before": f"[{params['path']}]\n{prior}", "after": f"[{params['path']}]\n\"{name}\"=\"{data}\"\n"}
    return result
