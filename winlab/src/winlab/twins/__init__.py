"""Module twins: one Python function per module the collection runs, by FQCN.

Each twin receives arguments already checked against the real module's
documented options (read from the installed collection), and returns what the
module's RETURN documents. An unknown module fails with
"winlab does not emulate <fqcn>", never a fake success.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib

import yaml

from ..content import file_bytes, meta_from_bytes  # noqa: F401  (twins import file_bytes from here)
from ..host import ConnectionLost, Host, HostError

TWINS: dict = {}
ALIASES = {"ansible.legacy.setup": "ansible.windows.setup", "ansible.builtin.setup": "ansible.windows.setup",
           "ansible.legacy.win_ping": "ansible.windows.win_ping", "ansible.legacy.async_status": "ansible.windows.async_status",
           "ansible.builtin.async_status": "ansible.windows.async_status"}


def twin(fqcn: str, check_mode: bool = True, private: tuple = ()):
    """Register a twin. check_mode=False: like the real module, it is skipped in check mode.
    private: undocumented arguments the module's own action plugin passes (win_copy's `files`)."""
    def register(func):
        func.supports_check_mode = check_mode
        func.private = frozenset(private)
        TWINS[fqcn] = func
        return func
    return register


class ModuleFail(Exception):
    def __init__(self, msg: str, **result):
        super().__init__(msg)
        self.result = dict(result, msg=msg)


@functools.lru_cache(maxsize=None)
def documented_options(fqcn: str) -> dict:
    """The options of the real module, from its DOCUMENTATION (.py) or .yml."""
    namespace, collection, name = fqcn.split(".", 2)
    spec = importlib.util.find_spec(f"ansible_collections.{namespace}.{collection}")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleFail(f"winlab cannot find collection {namespace}.{collection} to check {fqcn}'s arguments")
    modules = pathlib.Path(list(spec.submodule_search_locations)[0]) / "plugins" / "modules"
    yml = modules / f"{name}.yml"
    if yml.exists():
        doc = yaml.safe_load(yml.read_text())["DOCUMENTATION"]
    else:
        import ast
        tree = ast.parse((modules / f"{name}.py").read_text())
        doc = next(yaml.safe_load(ast.literal_eval(n.value)) for n in tree.body if isinstance(n, ast.Assign)
                   and any(getattr(t, "id", "") == "DOCUMENTATION" for t in n.targets))
    return doc.get("options") or {}


BOOLEANS_TRUE = ("y", "yes", "on", "1", "true", "t", "1.0")  # Ansible.Basic's ParseBool
BOOLEANS_FALSE = ("n", "no", "off", "0", "false", "f", "0.0")


def _convert(name: str, value, kind: str):
    """Ansible.Basic's conversions (ParseBool, ParseInt, ParseList, ParseStr...): what they accept, they convert;
    what they refuse fails the module as it does."""
    def refuse(detail=""):
        raise ModuleFail(f"argument for {name} is of type {type(value).__name__} and we were unable to convert to "
                         f"{kind}{': ' + detail if detail else ''}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in BOOLEANS_TRUE or text in BOOLEANS_FALSE:
            return text in BOOLEANS_TRUE
        refuse(f"The value '{text}' is not a valid boolean. Valid booleans include: "
               f"{', '.join(BOOLEANS_TRUE + BOOLEANS_FALSE)}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        refuse()
    if kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            refuse()
    if kind == "list":
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [part.strip() for part in value.split(",")]  # "a, b" is the list [a, b]
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        refuse()
    if kind == "dict":
        if isinstance(value, dict):
            return value
        refuse()
    if kind in ("str", "path"):
        if isinstance(value, (dict, list)):
            refuse()
        return value if isinstance(value, str) else str(value)
    return value


def _check(fqcn: str, options: dict, args: dict, where: str = "") -> dict:
    names = {}
    for opt, spec in options.items():
        names[opt] = opt
        for alias in spec.get("aliases") or []:
            names[alias] = opt
    found = f" found in {where}" if where else ""
    params = {}
    for key, value in args.items():
        if key not in names:
            raise ModuleFail(f"Unsupported parameters for ({fqcn}) module: {key}{found}. "
                             f"Supported parameters include: {', '.join(sorted(options))}")
        params[names[key]] = value
    for opt, spec in options.items():
        if opt not in params or params[opt] is None:
            if spec.get("required"):
                raise ModuleFail(f"missing required arguments: {opt}{found}")
            params[opt] = spec.get("default")
            continue
        kind = spec.get("type", "str")
        value = params[opt] = _convert(f"{where}.{opt}" if where else opt, params[opt], kind)
        if kind == "list" and spec.get("elements"):
            value = params[opt] = [_convert(opt, item, spec["elements"]) for item in value]
            if spec["elements"] == "dict" and spec.get("suboptions"):
                value = params[opt] = [_check(fqcn, spec["suboptions"], item, f"{where + '.' if where else ''}{opt}")
                                       for item in value]
        elif kind == "dict" and spec.get("suboptions"):
            value = params[opt] = _check(fqcn, spec["suboptions"], value, opt)
        if spec.get("choices") and (value if isinstance(value, list) else [value]) and any(
                v not in spec["choices"] for v in (value if isinstance(value, list) else [value])):
            raise ModuleFail(f"value of {opt} must be one of: {', '.join(map(str, spec['choices']))}, got: {value}"
                             f"{found}")
    return params


def check_arguments(fqcn: str, args: dict, private: frozenset = frozenset()) -> dict:
    """Apply the documented defaults and reject what the real module would reject, by Ansible.Basic's rules
    (sub-options of list elements, comma-separated lists split, bad booleans refused).

    Keys starting with '_' (ansible internals, action-plugin modes) and `private`
    names are passed through in params['_internal'] unchecked."""
    internal = {k: v for k, v in args.items() if k.startswith("_") or k in private}
    params = _check(fqcn, documented_options(fqcn), {k: v for k, v in args.items() if k not in internal})
    params["_internal"] = internal
    return params


# The one twin whose process a dropped shell can kill mid-work (the others finish in one step).
KILLED_WITH_THE_SHELL = {"smsfleet.q317061.q317061_dlls": "replacing"}


def run(fqcn: str, host: Host, args: dict, is_async: bool = False) -> dict:
    fqcn = ALIASES.get(fqcn, fqcn)
    func = TWINS.get(fqcn)
    if func is None:
        return {"failed": True, "msg": f"winlab does not emulate {fqcn}", "changed": False}
    faults = host.state.get("faults") or {}
    dropping = faults.get("drop_on_module") == fqcn
    if dropping and not is_async and fqcn in KILLED_WITH_THE_SHELL:
        # WinRM deletes the shell when the connection drops, and the module's process with it.
        host.state["kill_module_at"] = KILLED_WITH_THE_SHELL[fqcn]
    try:
        params = check_arguments(fqcn, args, func.private)
        internal = params.pop("_internal")
        check_mode = bool(internal.get("_ansible_check_mode"))
        params.update({k: v for k, v in internal.items() if not k.startswith("_ansible_")})
        if check_mode and not func.supports_check_mode:
            return {"changed": False, "skipped": True, "msg": f"remote module ({fqcn}) does not support check mode"}
        result = func(host, params, check_mode=check_mode, diff=bool(internal.get("_ansible_diff")))
    except ModuleFail as failure:
        result = dict(failure.result, failed=True)
        result.setdefault("changed", False)
    except HostError as error:
        result = {"failed": True, "changed": False, "msg": str(error)}
    except ConnectionLost:
        faults.pop("drop_on_module", None) if dropping else None
        raise
    finally:
        host.state.pop("kill_module_at", None)
    result.setdefault("changed", False)
    if dropping:  # the module ran to its end (async, or nothing to kill); its reply never arrives
        faults.pop("drop_on_module")
        raise ConnectionLost(f"connection dropped after {fqcn} ran")
    result["invocation"] = {"module_args": {k: v for k, v in args.items() if not k.startswith("_ansible_")}}
    return result


def win_join(folder: str, name: str) -> str:
    """Join a Windows folder and a name; '.' or '' means the current folder (win_copy's relative dest).
    Forward slashes are separators too (win_copy's action plugin sends 'C:/Temp' for C:\\Temp\\x)."""
    folder, name = folder.replace("/", "\\"), name.replace("/", "\\")
    return name if folder in (".", "") else f"{folder.rstrip(chr(92))}\\{name}"


def file_meta_from_bytes(host: Host, path: str, content: bytes) -> dict:
    return meta_from_bytes(host, content)


from . import async_status, dlls, exifs, installer, ping, registry, setup, stock_info, q317061, win_copy  # noqa: E402,F401  (register the twins)
