"""Every variable a user can set, in one table: its form, its default, and how it is checked.

Values arrive from inventories, `-e`, play vars and AWX surveys (text and multiple-choice answers
as strings, integers as integers, multiselect as newline-joined strings, an unanswered optional
question as an empty string). `normalise` turns each accepted form into one value and refuses
everything else with a message that names the variable and the accepted form, so a bad value
stops the run before any host is touched. No Ansible import here.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
import urllib.parse

from . import approval

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
SERIAL_MAX = 100_000  # larger batches mean nothing for any fleet; Ansible spins on absurd values (10**12)
SHA256_KEYS = ("i386/Baseutil.dll", "i386/Distmgr.dll", "Alpha/Baseutil.dll", "Alpha/Distmgr.dll", "Q317061.exe")
# Registered results and facts the playbooks set themselves: not user settings, never warned about.
INTERNAL = frozenset((
    "q317061", "q317061_after", "q317061_audit", "q317061_before", "q317061_bundle", "q317061_change",
    "q317061_changes", "q317061_exifs", "q317061_exifs_rollback", "q317061_expected", "q317061_failed_hosts",
    "q317061_guard", "q317061_hotfix_plans", "q317061_installer", "q317061_item_errors", "q317061_outcomes",
    "q317061_plan", "q317061_predicted", "q317061_preflight", "q317061_record_key", "q317061_recovery",
    "q317061_regedit", "q317061_report", "q317061_report_hosts", "q317061_restart", "q317061_restored",
    "q317061_result", "q317061_rollback_dlls", "q317061_rollback_plan", "q317061_run", "q317061_settings",
    "q317061_staged", "q317061_summary", "q317061_unreadable", "q317061_verify",
))


class VariableError(ValueError):
    """A variable has a value the collection cannot use."""


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    default: object
    accepted: str
    scope: str  # "host": may differ per host (inventory); "run": one value for the run (extra or play vars)
    doc: str
    choices: tuple = ()
    minimum: int | None = None
    maximum: int | None = None


def _rule(name, kind, default, accepted, scope, doc, **extra) -> Rule:
    return Rule(f"q317061_{name}", kind, default, accepted, scope, doc, **extra)


RULES = {r.name: r for r in (
    _rule("targets", "pattern", "all", "an Ansible host pattern such as all, site_servers or 'p01:&primary'", "run",
          "Which hosts the playbooks target."),
    _rule("strategy", "choice", "auto", "one of auto, hotfix, workaround, audit", "host",
          "auto: hotfix where it applies, else the workaround where allowed; audit: change nothing.",
          choices=("auto", "hotfix", "workaround", "audit")),
    _rule("allow_workaround", "bool", False, "true or false", "host",
          "May the workaround (blank EXIFS DriveLetter) be applied? Outlook Web Access may stop working."),
    _rule("reboot", "bool", False, "true or false", "host", "May the workaround restart the server?"),
    _rule("hotfix_method", "choice", "manual", "one of manual, installer", "host",
          "manual: the KB's manual steps as one transaction; installer: Q317061.exe (Intel only).",
          choices=("manual", "installer")),
    _rule("admin_console", "choice", "close", "one of close, refuse", "host",
          "A running SMS Administrator console is closed, or the host fails before anything changes.",
          choices=("close", "refuse")),
    _rule("smb_signing", "choice", "preferred", "one of preferred, required", "host",
          "Changes over smb: preferred makes them over an unsigned session where the host offers no SMB signing, "
          "and the report says so; required refuses them until the host signs.",
          choices=("preferred", "required")),
    _rule("hotfix_source", "source", "", "a controller folder holding the bundle in the KB layout, or an https URL "
          "of a .zip or .tar.gz of it", "run",
          "Where the hotfix bundle is (checked by the pre-flight before any host is touched)."),
    _rule("hotfix_archive_sha256", "sha256", "", "64 hexadecimal digits: the SHA-256 of the archive at the https "
          "q317061_hotfix_source", "run", "Pins the downloaded bundle archive (required with an https source)."),
    _rule("hotfix_ca_path", "local_file", "", "a PEM file of CA certificates on the controller", "run",
          "CAs that sign the https bundle server's certificate (default: the controller's own)."),
    _rule("hotfix_sha256", "pins", {}, "a mapping of bundle files (i386/Baseutil.dll, ..., Q317061.exe) to "
          "64-hex-digit SHA-256 values", "run", "SHA-256 pins for the bundle's files."),
    _rule("installer_arguments", "text", "/q", "one line of printable text", "host",
          "Unattended arguments of Q317061.exe.", maximum=200),
    _rule("installer_timeout", "int", 1800, "a whole number of seconds from 60 to 86400", "host",
          "Seconds Q317061.exe may run before the task fails.", minimum=60, maximum=86400),
    _rule("work_dir", "windows_path", "C:\\SMSFleet\\Q317061",
          "an absolute Windows folder such as C:\\SMSFleet\\Q317061 (a drive letter, at least one folder, "
          "no '..', none of < > \" / | ? *, no DOS device names such as CON or NUL.txt, and no control or "
          "invisible characters)", "host",
          "Working folder on the site server: staged files, backup, journal."),
    _rule("service_stop_timeout", "int", 120, "a whole number of seconds from 1 to 3600", "host",
          "Seconds to wait for each service to stop or start.", minimum=1, maximum=3600),
    _rule("reboot_timeout", "int", 900, "a whole number of seconds from 10 to 86400", "host",
          "Seconds to wait for a restarted server to answer again.", minimum=10, maximum=86400),
    _rule("serial", "serial", [1, "25%", "100%"], f"a batch size (1 to {SERIAL_MAX:,}), a percentage "
          "(1% to 100%), or a list of them such as 1,25%,100%", "run", "The waves of a rollout."),
    _rule("max_fail_percentage", "percent", 0, "a whole number from 0 to 100 (a trailing % is allowed)", "run",
          "The rollout stops after a wave in which more than this share of hosts failed.", minimum=0, maximum=100),
    _rule("report_dir", "local_path", "reports", "a folder on the controller that can be written", "run",
          "Where the report set is written."),
    _rule("report_basename", "basename", "", "a file name without a folder: letters, digits, '.', '_' and '-'",
          "run", "File name of the report set (default: q317061-audit, -remediation or -rollback)."),
    _rule("report_template", "local_file", "", "a Jinja2 template file on the controller", "run",
          "Replaces the HTML report's template."),
    _rule("report_from_cache", "bool", False, "true or false", "run",
          "audit.yml: write the report from the fact cache without contacting any host."),
    _rule("sp4_hrp_revision", "hrp", None, "an SP4 revision from 4001 to 4999, or a full version like "
          "2.00.1493.4200", "host", "SP4 builds at or above this revision count as fixed (SP4 HRP, KB Q323206)."),
    _rule("later_service_packs_fixed", "bool", True, "true or false", "host",
          "Builds of SP5 and later count as fixed (documented assumption)."),
    _rule("rollback_reboot", "bool", True, "true or false", "host",
          "rollback.yml: may the server restart so EXIFS mounts its drive again?"),
    _rule("approved_plan", "approval", None, "the q317061_approved_plan artifact of a check-mode remediation "
          "(AWX passes it from the campaign's plan node)", "run",
          "remediate.yml: change only the hosts whose fresh plan is the approved one (plugin_utils/approval.py)."),
)}
RETIRED = {
    "q317061_record_key": "the rollback record now lives under the collection's fixed key "
                          "HKLM\\SOFTWARE\\smsfleet\\Q317061; remove this variable",
}


def _fail(rule: Rule, value, why: str | None = None) -> VariableError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return VariableError(f"{rule.name}: must be {rule.accepted} (got {shown}{'; ' + why if why else ''})")


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalise(name: str, value):
    """The value to use for `name`, or its default when unset (None, or an empty survey answer)."""
    if name in RETIRED:
        raise VariableError(f"{name}: no longer accepted: {RETIRED[name]}")
    rule = RULES[name]
    if _is_empty(value) or (rule.kind == "pins" and value == {}):
        return rule.default
    return _KINDS[rule.kind](rule, value)


def _bool(rule, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(rule, value)


def _choice(rule, value):
    if isinstance(value, str) and value.strip() in rule.choices:
        return value.strip()
    raise _fail(rule, value)


def _int(rule, value):
    if isinstance(value, bool):
        raise _fail(rule, value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not rule.minimum <= value <= rule.maximum:
        raise _fail(rule, value)
    return value


def _percent(rule, value):
    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1]
    return _int(rule, value)


def _hrp(rule, value):
    if isinstance(value, str) and re.fullmatch(r"\s*2\.0+\.1493\.\d+\s*", value):
        value = value.strip().rsplit(".", 1)[1]
    return _int(dataclasses.replace(rule, minimum=4001, maximum=4999), value)


def _text(rule, value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > rule.maximum or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _fail(rule, value)
    return value.strip()


_WINDOWS_PATH = re.compile(r"^[A-Za-z]:\\[^<>:\"/|?*\x00-\x1f]+$")
# Names Win32 maps to devices in every folder, with any extension ("nul.txt" is NUL): a backup written
# there is written to no file at all.
_DEVICE_NAME = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9]|CONIN\$|CONOUT\$|CLOCK\$)(\..*)?$", re.IGNORECASE)


def _windows_path(rule, value):
    if not isinstance(value, str):
        raise _fail(rule, value)
    path = value.strip().rstrip("\\")
    parts = path.split("\\")[1:]
    if (not _WINDOWS_PATH.match(path) or len(path) > 200 or any(p in ("", ".", "..") for p in parts)
            or any(p != p.strip() or p.endswith(".") for p in parts)):
        raise _fail(rule, value)
    device = next((p for p in parts if _DEVICE_NAME.match(p.strip())), None)
    if device:
        raise _fail(rule, value, f"{device!r} is a DOS device name, not a folder")
    hidden = next((c for c in path if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Cn")), None)
    if hidden:  # bidi overrides (U+202E) and zero-width characters make a path read as another one
        raise _fail(rule, value, f"U+{ord(hidden):04X} is an invisible or control character")
    return path[0].upper() + path[1:]


def _local_path(rule, value):
    if not isinstance(value, str) or "\n" in value or "\x00" in value:
        raise _fail(rule, value)
    return value.strip()


def _source(rule, value):
    path = _local_path(rule, value)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", path):
        parsed = urllib.parse.urlsplit(path)
        if parsed.scheme.lower() != "https" or not parsed.hostname or re.search(r"\s", path):
            raise _fail(rule, value, "only https URLs are accepted")
    return path


def _sha256(rule, value):
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f]{64}", value.strip()):
        raise _fail(rule, value)
    return value.strip().lower()


def _basename(rule, value):
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value.strip()):
        raise _fail(rule, value)
    return value.strip()


def _pattern(rule, value):
    original = value
    if isinstance(value, list):
        value = ":".join(str(v) for v in value)
    if not isinstance(value, str) or "\x00" in value:
        raise _fail(rule, original)
    parts = [p.strip() for p in re.split(r"[\n:]", value.strip()) if p.strip()]  # multiselect: newline-joined
    if not parts:
        raise _fail(rule, original, "it names no host or group")
    return ":".join(parts)


def _serial_item(rule, item, original):
    if isinstance(item, bool):
        raise _fail(rule, original)
    text = str(item).strip().strip("'\"") if not isinstance(item, int) else item
    if isinstance(text, str) and re.fullmatch(r"\d+%", text) and 1 <= int(text[:-1]) <= 100:
        return f"{int(text[:-1])}%"
    if isinstance(text, str) and re.fullmatch(r"\d+", text):
        text = int(text)
    if isinstance(text, int) and 1 <= text <= SERIAL_MAX:
        return text
    raise _fail(rule, original)


def _serial(rule, value):
    items = value if isinstance(value, list) else None
    if items is None and isinstance(value, (int, str)) and not isinstance(value, bool):
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = [part for part in re.split(r"[\s,]+", text) if part]
    if not items:
        raise _fail(rule, value)
    return [_serial_item(rule, item, value) for item in items]


def _pins(rule, value):
    if isinstance(value, str):
        value = _parse_pins_text(rule, value)
    if not isinstance(value, dict):
        raise _fail(rule, value)
    pins = {}
    for key, digest in value.items():
        if key not in SHA256_KEYS:
            raise _fail(rule, value, f"unknown key {key!r}")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9A-Fa-f]{64}", digest.strip()):
            raise _fail(rule, value, f"{key} is not 64 hexadecimal digits")
        pins[key] = digest.strip().lower()
    return pins


def _parse_pins_text(rule, text: str) -> dict:
    """A survey's textarea: 'i386/Baseutil.dll: <hash>' or '=' per line (JSON works too)."""
    import json
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            raise _fail(rule, text) from None
    pins = {}
    for line in text.splitlines():
        key, sep, digest = line.replace("=", ":", 1).partition(":")
        if not sep:
            raise _fail(rule, text)
        pins[key.strip()] = digest.strip()
    return pins


def _approval(rule, value):
    try:
        return approval.validate(value)
    except approval.ApprovalError as error:
        raise _fail(rule, value, str(error)) from None


def _local_file(rule, value):
    return _local_path(rule, value)


_KINDS = {"bool": _bool, "choice": _choice, "int": _int, "percent": _percent, "hrp": _hrp, "text": _text,
          "windows_path": _windows_path, "local_path": _local_path, "source": _source, "basename": _basename,
          "pattern": _pattern, "serial": _serial, "pins": _pins, "local_file": _local_file,
          "sha256": _sha256, "approval": _approval}


def settings(values: dict, scope: str | None = None) -> tuple[dict, list[str]]:
    """Normalised settings (without the prefix) from a mapping of variables; returns (settings, errors).

    scope None takes every rule; "host" or "run" only those rules."""
    out, errors = {}, []
    for name in RETIRED:
        if values.get(name) is not None:
            errors.append(f"{name}: no longer accepted: {RETIRED[name]}")
    for name, rule in RULES.items():
        if scope and rule.scope != scope:
            continue
        try:
            out[name[len("q317061_"):]] = normalise(name, values.get(name))
        except VariableError as error:
            errors.append(str(error))
    url = str(out.get("hotfix_source") or "").lower().startswith("https://")
    if url and not out.get("hotfix_archive_sha256") and "q317061_hotfix_archive_sha256" not in " ".join(errors):
        errors.append("q317061_hotfix_archive_sha256: required when q317061_hotfix_source is an https URL (the "
                      "archive's SHA-256, 64 hexadecimal digits)")
    return out, errors


def host_value(task_vars: dict | None, name: str, templar):
    """An action's own host variable `name`, resolved by the action's templar; None when unset (the templar is
    not touched then). Actions read settings so rather than from templated arguments (docs/benchmarks.md)."""
    value = (task_vars or {}).get(name)
    return None if value is None else templar.template(value)


def unknown(names) -> list[str]:
    """Warnings for q317061_* names that are neither settings nor the playbooks' own (likely typos)."""
    warnings = []
    for name in sorted(names):
        if not name.startswith("q317061_") or name in RULES or name in INTERNAL or name in RETIRED:
            continue
        close = difflib.get_close_matches(name, list(RULES), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"{name} is not a variable of smsfleet.q317061 and is ignored{hint}")
    return warnings
