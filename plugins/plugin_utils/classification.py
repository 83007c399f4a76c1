"""Q317061 status of one host from the raw probe facts (DESIGN.md section 5).

First match wins: not_applicable, unknown, fixed, pending_reboot, mitigated,
vulnerable. Every decision adds a sentence to `reasons` that cites the evidence
and the KB article, so a report reader can check the verdict by hand.
No Ansible import here.
"""

from __future__ import annotations

import dataclasses
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


def mounted_exifs_letter(drives: list[dict], configured: str | None) -> str | None:
    """The letter the IFS drive is mounted at now (Q245822: M:, or the next free letter)."""
    for drive in drives:
        if IFS_TARGET.lower() in (drive.get("target") or "").lower():
            return drive["letter"].upper()
    # Without DOS device targets, fall back to the configured letter being present.
    if configured and all(d.get("target") is None for d in drives):
        if any(d["letter"].upper() == configured for d in drives):
            return configured
    return None


def predict_decompression_drive(drives: list[dict], ifs_letter: str | None) -> str | None:
    """Distribution Manager picks the fixed NTFS drive with the most free space;
    with the bug it also counts the IFS drive as one (KB Q317061, CAUSE)."""
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


def classify(probe: dict, policy: FixPolicy | None = None) -> Verdict:
    policy = policy or FixPolicy()
    sms = probe.get("sms") or {}
    exifs = probe.get("exifs") or {}
    drives = probe.get("drives") or []
    dlls = sms.get("dlls") or {}

    versions = {name: (dlls.get(name) or {}).get("version") for name in DLLS}
    parsed = {name: SmsVersion.parse(text) for name, text in versions.items()}
    verdict = Verdict(status="unknown", versions=versions)

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
    ifs_letter = mounted_exifs_letter(drives, configured)
    verdict.exifs_drive = ifs_letter
    if not exifs.get("service_present") and ifs_letter is None:
        verdict.status = "not_applicable"
        verdict.reasons.append("No Exchange Installable File System (EXIFS) on this computer, so there is no IFS drive "
                               "for Distribution Manager to mistake for a fixed drive (KB Q317061).")
        return verdict

    # 2. unknown
    if sms.get("platform") not in HOTFIX_PLATFORMS:
        verdict.reasons.append(f"The SMS platform could not be determined (got {sms.get('platform')!r}); "
                               "SMS 2.0 ships bin\\i386 and bin\\Alpha only.")
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
    if all(fixed.values()):
        verdict.status = "fixed"
        verdict.reasons.append(f"Both DLLs carry the fix ({versions_text}): {_fix_rule(service_pack, policy)}.")
        return verdict

    failures = decompression_failures((probe.get("distmgr_log") or {}).get("lines"))
    verdict.decompression_failures = failures
    predicted = predict_decompression_drive(drives, ifs_letter)
    verdict.predicted_decompression_drive = predicted

    if any(fixed.values()):
        done = [n for n, ok in fixed.items() if ok]
        verdict.reasons.append(f"Partial install: only {', '.join(done)} carries the fix ({versions_text}); "
                               "Baseutil.dll and Distmgr.dll must be replaced together.")
    else:
        verdict.reasons.append(f"Neither DLL carries the fix ({versions_text}): {_not_fixed_rule(service_pack, policy)}.")

    # 4. pending_reboot / 5. mitigated
    blank = exifs.get("drive_letter_present") and not (exifs.get("drive_letter") or "").strip()
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
    else:
        verdict.exposure = "latent"
        verdict.reasons.append(f"Distribution Manager currently picks {predicted or 'no'}: for decompression; "
                               f"it turns to the IFS drive as soon as that has the most free space.")

    verdict.remedies = _remedies(parsed, sms, dlls, verdict)
    return verdict


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
    languages = [(dlls.get(n) or {}).get("language") for n in DLLS]
    if any(lang is None or not str(lang).strip() for lang in languages):
        return None
    return all(str(lang).lower().startswith("english") for lang in languages)


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
