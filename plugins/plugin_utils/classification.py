"""Q317061 status of one host from the raw probe facts (DESIGN.md section 5).

First match wins: not_applicable, unknown, fixed, pending_reboot, mitigated,
vulnerable. Every decision adds a sentence to `reasons` that cites the evidence
and the KB article, so a report reader can check the verdict by hand.
No Ansible import here.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from .versions import FixPolicy, SmsVersion, dll_has_fix, service_pack_name

DLLS = ("Baseutil.dll", "Distmgr.dll")
HOTFIX_PLATFORMS = ("i386", "Alpha")
STATUSES = ("not_applicable", "unknown", "fixed", "pending_reboot", "mitigated", "vulnerable")
EXPOSURES = ("affected_now", "latent", "none")
REMEDIES = ("hotfix", "workaround", "install_sp4_hrp", "upgrade_to_sp3")
IFS_TARGET = "BackOfficeStorage"
# distmgr.log: "Cannot decompress package D:\SMSPKG\P0100007.PCK to M:\_S M4YZ5.TMP, CTool return code = 4"
_DECOMPRESS_FAILURE = re.compile(r"cannot decompress package .*? to ([A-Za-z]):\\", re.IGNORECASE)
# Every SMS log line ends with its local time: $$<SMS_DISTRIBUTION_MANAGER><Mon Mar 04 10:00:00.000 2002 Eastern ...>
_LOG_TIME = re.compile(r"<(\w{3} \w{3} +\d{1,2} \d{1,2}:\d{2}:\d{2})(?:\.\d+)? (\d{4})(?: [^>]*)?>")
# Services without which Distribution Manager does not run at all (KB Q199816 order), and WMI.
CORE_SERVICES = ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR", "Winmgmt")
ENGLISH_PRIMARY_LANGUAGE = 0x09  # low 10 bits of a Windows language ID (0x0409 English, United States)


@dataclasses.dataclass
class Verdict:
    status: str
    exposure: str = "none"
    remedies: list[str] = dataclasses.field(default_factory=list)
    reasons: list[str] = dataclasses.field(default_factory=list)
    predicted_decompression_drive: str | None = None
    exifs_drive: str | None = None
    versions: dict[str, str | None] = dataclasses.field(default_factory=dict)
    service_pack: str | None = None
    decompression_failures: dict[str, int] = dataclasses.field(default_factory=dict)
    decompression_failures_history: dict[str, int] = dataclasses.field(default_factory=dict)
    log_evidence: str = "none"
    notes: list[str] = dataclasses.field(default_factory=list)
    owa_at_risk: bool = False

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def decompression_failures(lines: list[str]) -> dict[str, int]:
    """Count distmgr.log decompression failures per target drive letter."""
    counts: dict[str, int] = {}
    for line in lines or []:
        match = _DECOMPRESS_FAILURE.search(line)
        if match:
            letter = match.group(1).upper()
            counts[letter] = counts.get(letter, 0) + 1
    return counts


def parse_time(text) -> datetime.datetime | None:
    """An ISO 8601 time from a probe (.NET writes seven fraction digits), as aware UTC; None if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def line_time(line: str, bias_minutes) -> datetime.datetime | None:
    """When an SMS log line was written, in UTC (the line carries local time; UTC = local + bias)."""
    match = _LOG_TIME.search(line or "")
    if not match:
        return None
    try:
        local = datetime.datetime.strptime(" ".join(match.group(1).split()) + " " + match.group(2), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    bias = bias_minutes if isinstance(bias_minutes, int) and not isinstance(bias_minutes, bool) else 0
    return (local + datetime.timedelta(minutes=bias)).replace(tzinfo=datetime.timezone.utc)


def dated_failures(lines: list[str], since: datetime.datetime | None, bias_minutes) -> tuple[dict, dict]:
    """(current, history): failures at or after `since` (the last boot or DLL change) are current; earlier
    ones are history. Undated lines count as current, so evidence is never discarded on a guess."""
    current, history = [], []
    for line in lines or []:
        when = line_time(line, bias_minutes)
        (history if since and when and when < since else current).append(line)
    return decompression_failures(current), decompression_failures(history)


def evidence_cutoff(probe: dict) -> datetime.datetime | None:
    """The later of the last boot and the last DLL change: log lines older than this describe the past."""
    dlls = ((probe.get("sms") or {}).get("dlls") or {}).values()
    times = [parse_time(probe.get("boot_time"))] + [parse_time((d or {}).get("modified")) for d in dlls]
    times = [t for t in times if t]
    return max(times) if times else None


def configured_exifs_letter(exifs: dict) -> str | None:
    """The drive letter EXIFS will take at the next boot, or None for none.

    Exchange 2000 takes M: when DriveLetter is absent; an empty value hides the
    drive (the KB workaround); Exchange 2003 has no drive letter unless set.
    """
    if not exifs.get("service_present"):
        return None
    if exifs.get("drive_letter_present"):
        value = (exifs.get("drive_letter") or "").strip().rstrip(":")
        return value[:1].upper() or None
    version = exifs.get("exchange_version") or ""
    return None if version.startswith("6.5") else "M"


def booted_exifs_letter(exifs: dict, configured: str | None) -> str | None:
    """The letter EXIFS most likely took at the last boot, when DOS device targets cannot be read
    (over smb): the configured one; with DriveLetter blanked since, the original the workaround
    recorded, else Exchange 2000's default M: (blanked by hand, or recorded absent)."""
    if configured or not exifs.get("service_present"):
        return configured
    original = (exifs.get("original_drive_letter") or "").strip().rstrip(":")[:1].upper()
    return original or configured_exifs_letter(dict(exifs, drive_letter_present=False))


def mounted_exifs_letter(drives: list[dict], configured: str | None, exifs: dict | None = None,
                         boot_time: str | None = None) -> str | None:
    """The letter the IFS drive is mounted at now (Q245822: M:, or the next free letter)."""
    for drive in drives:
        if IFS_TARGET.lower() in (drive.get("target") or "").lower():
            return drive["letter"].upper()
    if not drives or any(d.get("target") is not None for d in drives):
        return None  # DOS device targets were read (WinRM), and none is the IFS drive's
    # Without DOS device targets (smb): the letter EXIFS took at boot, if that drive is still listed.
    exifs = exifs or {}
    letter = booted_exifs_letter(exifs, configured)
    listed = next((d for d in drives if letter and d["letter"].upper() == letter), None)
    if listed is None:
        return None
    if listed.get("free") is None or letter == configured:
        return letter  # no administrative share (no real disk), or the letter EXIFS is told to take
    # An administrative share at the letter EXIFS took at boot while DriveLetter says otherwise: the IFS drive
    # (still mounted until the restart the change needs) or a real disk that took the letter at a later boot.
    # The EXIFS Parameters key's LastWriteTime tells them apart: changed since the last boot means no restart yet.
    written, booted = parse_time(exifs.get("parameters_written")), parse_time(boot_time)
    if written and booted and written <= booted:
        return None
    return letter  # changed since the boot, or unknown: never call the drive gone without knowing


def ifs_free_unknown(drives: list[dict], ifs_letter: str | None) -> bool:
    """Whether the IFS drive is mounted but its free space cannot be read (over smb, no administrative share)."""
    return bool(ifs_letter) and any(d["letter"].upper() == ifs_letter and d.get("free") is None for d in drives)


def predict_decompression_drive(drives: list[dict], ifs_letter: str | None) -> str | None:
    """Distribution Manager picks the fixed NTFS drive with the most free space;
    with the bug it also counts the IFS drive as one (KB Q317061, CAUSE). None when that cannot be
    told: no candidate, or the IFS drive's free space is unknown (it may well have the most)."""
    if ifs_free_unknown(drives, ifs_letter):
        return None
    return _most_free(drives, ifs_letter)


def _most_free(drives: list[dict], ifs_letter: str | None) -> str | None:
    candidates = [d for d in drives
                  if d.get("free") is not None and (
                      (d.get("type") == "fixed" and (d.get("file_system") or "").upper() == "NTFS")
                      or d["letter"].upper() == ifs_letter)]
    if not candidates:
        return None
    return max(candidates, key=lambda d: (d["free"], d["letter"]))["letter"].upper()


def _owner(exifs: dict) -> str:
    version = exifs.get("exchange_version") or ""
    if version.startswith("6.5"):
        return "Exchange 2003"
    if version.startswith("6.0"):
        return "Exchange 2000"
    if exifs.get("sharepoint_portal_server"):
        return "SharePoint Portal Server 2001 (KB Q303716)"
    return "an unidentified product"


REGISTRY_ERRORS = tuple(f"registry hklm\\{key}".lower() for key in (
    "SOFTWARE\\Microsoft\\SMS", "SYSTEM\\CurrentControlSet\\Services\\EXIFS", "SOFTWARE\\Microsoft\\Exchange"))
VALUE_CHARACTERS = 4096  # no SMS, EXIFS or Exchange value the verdict reads is longer; the probes cap at this too
# The values the verdict reads: where they come from, and the form Windows keeps them in. Anything else (a
# REG_MULTI_SZ DriveLetter is a list, a REG_BINARY one a list of numbers) is a host the collection cannot judge.
VALUE_SHAPES = (
    (("exifs", "drive_letter"), "SYSTEM\\CurrentControlSet\\Services\\EXIFS\\Parameters\\DriveLetter", str),
    (("exifs", "original_drive_letter"), "SOFTWARE\\smsfleet\\Q317061\\OriginalDriveLetter", str),
    (("exifs", "exchange_version"), "SOFTWARE\\Microsoft\\Exchange\\Setup\\MsiProductMajor and MsiProductMinor", str),
    (("sms", "install_dir"), "SOFTWARE\\Microsoft\\SMS\\Identification\\Installation Directory", str),
    (("sms", "site_code"), "SOFTWARE\\Microsoft\\SMS\\Identification\\Site Code", str),
    (("sms", "parent_site_code"), "SOFTWARE\\Microsoft\\SMS\\Identification\\Parent Site Code", str),
    (("sms", "full_version"), "SOFTWARE\\Microsoft\\SMS\\Setup\\Full Version", str),
    (("time_bias_minutes",), "SYSTEM\\CurrentControlSet\\Control\\TimeZoneInformation\\ActiveTimeBias", int),
    (("distmgr_log", "path"), "SOFTWARE\\Microsoft\\SMS\\Tracing\\SMS_DISTRIBUTION_MANAGER\\TraceFilename", str),
)
_KIND = {str: "a string (REG_SZ)", int: "a number (REG_DWORD)"}


def _describe(value) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} (REG_MULTI_SZ or REG_BINARY)"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"a {type(value).__name__}"
    return _KIND.get(type(value), type(value).__name__)


def unexpected_values(probe: dict) -> list[str]:
    """The values the verdict reads that are not of the type or size Windows keeps them in, each by its name
    and what it is: such a host is unknown, whichever transport read it (both probes give the same forms)."""
    found = []
    for path, name, kind in VALUE_SHAPES:
        value = probe
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            found.append(f"HKLM\\{name} is {_describe(value)}, where Windows keeps {_KIND[kind]}")
        elif isinstance(value, str) and len(value) > VALUE_CHARACTERS:
            found.append(f"HKLM\\{name} is {len(value)} characters long, more than any value it holds")
    return found


def classify(probe: dict, policy: FixPolicy | None = None) -> Verdict:
    policy = policy or FixPolicy()
    sms = probe.get("sms") or {}
    exifs = probe.get("exifs") or {}
    drives = probe.get("drives") or []
    dlls = sms.get("dlls") or {}

    versions = {name: (dlls.get(name) or {}).get("version") for name in DLLS}
    parsed = {name: SmsVersion.parse(text) for name, text in versions.items()}
    verdict = Verdict(status="unknown", versions=versions)

    # 0. unknown: without the registry, "not installed" cannot be told from "could not be read"
    unreadable = [e for e in probe.get("errors") or [] if e.lower().startswith(REGISTRY_ERRORS)]
    if unreadable:
        verdict.reasons.append("The registry keys that say whether SMS and EXIFS are installed could not be read: "
                               + "; ".join(unreadable[:3]))
        return verdict
    odd = unexpected_values(probe)
    if odd:
        verdict.reasons.append("Registry values the verdict depends on are not what Windows keeps there, so the host "
                               "cannot be judged until someone looks: " + "; ".join(odd[:3]))
        return verdict

    # 1. not_applicable
    if not sms.get("installed"):
        verdict.status = "not_applicable"
        verdict.reasons.append("No SMS site server is installed (no SMS Installation Directory in the registry).")
        return verdict
    readable = [v for v in parsed.values() if v is not None]
    if readable and not any(v.is_sms20 for v in readable):
        verdict.status = "not_applicable"
        verdict.reasons.append(f"The SMS DLLs are version {readable[0]}, not SMS 2.0; KB Q317061 applies to SMS 2.0 only.")
        return verdict
    configured = configured_exifs_letter(exifs)
    ifs_letter = mounted_exifs_letter(drives, configured, exifs, probe.get("boot_time"))
    verdict.exifs_drive = ifs_letter
    if not exifs.get("service_present") and ifs_letter is None:
        verdict.status = "not_applicable"
        verdict.reasons.append("No Exchange Installable File System (EXIFS) on this computer, so there is no IFS drive "
                               "for Distribution Manager to mistake for a fixed drive (KB Q317061).")
        return verdict

    # 2. unknown
    if _unsafe_state(probe, verdict):
        return verdict
    if sms.get("platform") not in HOTFIX_PLATFORMS:
        verdict.reasons.append(_no_platform(probe))
        return verdict
    for name in DLLS:
        info = dlls.get(name) or {}
        if not info.get("exists"):
            verdict.reasons.append(f"{name} is missing from {info.get('path') or 'the SMS bin folder'}.")
        elif parsed[name] is None:
            verdict.reasons.append(f"The version of {name} could not be read (got {versions[name]!r}).")
    if verdict.reasons:
        return verdict

    versions_text = ", ".join(f"{n} {versions[n]}" for n in DLLS)
    latest = max(parsed.values(), key=lambda v: v.service_pack)
    service_pack = latest.service_pack
    verdict.service_pack = service_pack_name(latest)
    fixed = {name: dll_has_fix(v, policy) for name, v in parsed.items()}
    if not sms.get("full_version_present"):
        verdict.reasons.append("HKLM\\SOFTWARE\\Microsoft\\SMS\\Setup\\Full Version is absent (normal on some "
                               "secondary sites, KB Q267258); the DLL file versions were used instead.")

    # 3. fixed
    blank = exifs.get("drive_letter_present") and not (exifs.get("drive_letter") or "").strip()
    if all(fixed.values()):
        verdict.status = "fixed"
        verdict.reasons.append(f"Both DLLs carry the fix ({versions_text}): {_fix_rule(service_pack, policy)}.")
        if blank and exifs.get("service_present"):
            verdict.owa_at_risk = True
            mounted = f"the IFS drive {ifs_letter}: is still mounted but" if ifs_letter else "no IFS drive is mounted and"
            verdict.notes.append(f"EXIFS DriveLetter is blank although the hotfix makes the workaround unnecessary: "
                                 f"{mounted} it disappears at the next restart, and Outlook Web Access with it; "
                                 "restore DriveLetter if OWA is used (rollback.yml restores what the workaround "
                                 "recorded).")
        return verdict

    log = probe.get("distmgr_log") or {}
    failures, history = dated_failures(log.get("lines"), evidence_cutoff(probe), probe.get("time_bias_minutes"))
    verdict.decompression_failures, verdict.decompression_failures_history = failures, history
    predicted = predict_decompression_drive(drives, ifs_letter)
    verdict.predicted_decompression_drive = predicted

    if any(fixed.values()):
        done = [n for n, ok in fixed.items() if ok]
        verdict.reasons.append(f"Partial install: only {', '.join(done)} carries the fix ({versions_text}); "
                               "Baseutil.dll and Distmgr.dll must be replaced together.")
    else:
        verdict.reasons.append(f"Neither DLL carries the fix ({versions_text}): {_not_fixed_rule(service_pack, policy)}.")

    # 4. pending_reboot / 5. mitigated
    if blank and ifs_letter:
        verdict.status = "pending_reboot"
        verdict.reasons.append(f"EXIFS DriveLetter is blank but the IFS drive is still mounted as {ifs_letter}:; "
                               "the workaround takes effect only after a restart (KB Q317061, WORKAROUND step 4).")
    elif configured is None and ifs_letter is None:
        verdict.status = "mitigated"
        why = "blank" if blank else "not set and Exchange 2003 assigns no letter by default"
        verdict.reasons.append(f"EXIFS DriveLetter is {why} and no IFS drive is mounted, so Distribution Manager "
                               "cannot pick it (KB Q317061 workaround in effect).")
        return verdict
    else:
        verdict.status = "vulnerable"
        letter = ifs_letter or configured
        verdict.reasons.append(f"The IFS drive of {_owner(exifs)} is "
                               f"{'mounted as' if ifs_letter else 'configured as'} {letter}: "
                               + ("(not M:, see KB Q245822)." if letter != "M" else "."))

    # Exposure
    on_ifs = failures.get(ifs_letter, 0) if ifs_letter else 0
    if ifs_letter and (predicted == ifs_letter or on_ifs):
        verdict.exposure = "affected_now"
        if predicted == ifs_letter:
            verdict.reasons.append(f"{ifs_letter}: has the most free space of the drives Distribution Manager treats as "
                                   "fixed, so packages are decompressed there and never arrive.")
        if on_ifs:
            verdict.reasons.append(f"distmgr.log shows {on_ifs} decompression failure(s) on {ifs_letter}:.")
    elif ifs_free_unknown(drives, ifs_letter):
        verdict.exposure = "latent"
        others = _most_free(drives, ifs_letter)
        verdict.reasons.append(f"The free space of the IFS drive {ifs_letter}: cannot be read (over smb it has no "
                               "administrative share), so which drive Distribution Manager picks now cannot be told "
                               f"(the predicted drive is unknown); of the other drives it would pick {others or 'none'}:. "
                               "Latent at least.")
    else:
        verdict.exposure = "latent"
        verdict.reasons.append(f"Distribution Manager currently picks {predicted or 'no'}: for decompression; "
                               f"it turns to the IFS drive as soon as that has the most free space.")
    _log_evidence(log, failures, history, ifs_letter, verdict)
    verdict.remedies = _remedies(parsed, sms, dlls, verdict)
    return verdict


def _log_evidence(log: dict, failures: dict, history: dict, ifs_letter: str | None, verdict: Verdict) -> None:
    """Say what distmgr.log can and cannot prove (tracing is off by default in SMS 2.0)."""
    past = history.get(ifs_letter, 0) if ifs_letter else 0
    if past:
        verdict.reasons.append(f"distmgr.log also shows {past} decompression failure(s) on {ifs_letter}: from before "
                               "the last restart or DLL change; they are history, not current exposure.")
    if failures.get(ifs_letter or "", 0):
        verdict.log_evidence = "current"
    elif log.get("logging_enabled") is False:
        verdict.log_evidence = "logging_off"
        verdict.reasons.append("Distribution Manager's tracing is off (HKLM\\SOFTWARE\\Microsoft\\SMS\\Tracing\\"
                               "SMS_DISTRIBUTION_MANAGER Enabled=0, the SMS 2.0 default), so a log without failures "
                               "proves nothing.")
    elif not log.get("present") and not log.get("rolled_over_present"):
        verdict.log_evidence = "no_log"
        verdict.reasons.append(f"There is no distmgr.log ({log.get('path') or 'no path'}), so the log proves nothing.")
    else:
        verdict.log_evidence = "history" if past else "none"


def _unsafe_state(probe: dict, verdict: Verdict) -> bool:
    """An unfinished transaction or stopped SMS services: the DLL versions alone cannot say the host works."""
    journal = probe.get("transaction") or {}
    where = journal.get("journal") or "the work folder"
    if journal.get("present") and journal.get("readable") is False:
        verdict.reasons.append(f"The DLL transaction journal {where} cannot be read ({journal.get('error')}); "
                               "check the host by hand before anything changes it.")
        return True
    if journal.get("present") and journal.get("phase") not in ("done", "rolled_back"):
        verdict.reasons.append(f"An unfinished DLL transaction (phase {journal.get('phase')}, started "
                               f"{journal.get('started')}) is recorded in {where}: SMS services may be stopped or the "
                               "DLLs half-replaced. remediate.yml and rollback.yml recover it before anything else.")
        return True
    down = [f"{s['name']} {s.get('state')}" for s in probe.get("services") or []
            if s.get("name") in CORE_SERVICES and s.get("state") != "running"]
    if down:
        verdict.reasons.append(f"SMS services are not running ({', '.join(down)}): Distribution Manager does not "
                               "work whatever the DLL versions; start them, or find who stopped them.")
        return True
    return False


def _no_platform(probe: dict) -> str:
    sms = probe.get("sms") or {}
    text = (f"The SMS platform could not be determined: no bin\\i386 or bin\\Alpha folder under "
            f"{sms.get('install_dir')}; SMS 2.0 ships those two only.")
    major = str(probe.get("os_version") or "").split(".", maxsplit=1)[0]
    if major.isdigit() and int(major) >= 6:
        text += (f" This computer runs Windows {probe.get('os_version')}, on which SMS 2.0 cannot be a site server "
                 "(it runs on Windows NT 4.0 and Windows 2000).")
    return text


def _fix_rule(service_pack: int, policy: FixPolicy) -> str:
    if service_pack == 3:
        return "SP3 builds 2.00.1493.3240 and later contain the Q317061 hotfix"
    if service_pack == 4:
        return f"SP4 builds at or above the configured SP4 HRP revision {policy.sp4_hrp_revision} (KB Q323206)"
    return "service packs after SP4 are treated as fixed (configurable assumption)"


def _not_fixed_rule(service_pack: int, policy: FixPolicy) -> str:
    if service_pack == 3:
        return "SP3 builds below 2.00.1493.3240 predate the Q317061 hotfix"
    if service_pack == 4:
        hrp = ("no SP4 Hotfix Rollup Package revision is configured"
               if policy.sp4_hrp_revision is None else f"the SP4 HRP revision is {policy.sp4_hrp_revision}")
        return f"SP4 reverts SP3 hotfixes (KB Q313839) and {hrp} (KB Q323206)"
    if service_pack >= 5:
        return "later service packs are not treated as fixed by the current policy"
    return f"SMS 2.0 {'RTM' if service_pack == 0 else f'SP{service_pack}'} predates the fix, which needs SP3"


def _is_english(dlls: dict) -> bool | None:
    """From the version resource's numeric language ID (0x0409); the localized name is a fallback only
    ("Englisch (Vereinigte Staaten)" on a German server)."""
    answers = []
    for name in DLLS:
        info = dlls.get(name) or {}
        lang_id = info.get("language_id")
        if isinstance(lang_id, int) and not isinstance(lang_id, bool):
            answers.append(lang_id & 0x3FF == ENGLISH_PRIMARY_LANGUAGE)
        elif isinstance(info.get("language"), str) and info["language"].strip():
            answers.append(info["language"].strip().lower().startswith("english"))
        else:
            return None
    return all(answers)


def _remedies(parsed: dict, sms: dict, dlls: dict, verdict: Verdict) -> list[str]:
    lines = {v.service_pack for v in parsed.values()}
    english = _is_english(dlls)
    remedies = []
    if lines == {3} and english and sms.get("platform") in HOTFIX_PLATFORMS:
        remedies.append("hotfix")
    elif lines == {3}:
        verdict.reasons.append("The Q317061 hotfix is English-only; the DLL language is "
                               f"{'unknown' if english is None else 'not English'}, so only the workaround applies.")
    remedies.append("workaround")
    if max(lines) >= 4 or (lines == {3} and "hotfix" not in remedies):
        remedies.append("install_sp4_hrp")
    elif max(lines) < 3:
        remedies.append("upgrade_to_sp3")
    return remedies
