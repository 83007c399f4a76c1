"""Every rule of DESIGN.md section 5, and every trap of section 1, as a table."""

import pytest
from probe_factory import drive, probe

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import (
    classify, configured_exifs_letter, dated_failures, decompression_failures, line_time, parse_time,
    predict_decompression_drive)
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.versions import FixPolicy

M = "\\??\\BackOfficeStorage"
SMALL_M = [drive("C", free=2 * 2**30), drive("D", free=6 * 2**30), drive("M", free=2**30, target=M)]
M_IS_CDROM = [drive("C", 2**30), drive("M", 2**31, type="cdrom", fs="CDFS"), drive("N", 2**34, target=M)]
NO_M = [drive("C", free=2 * 2**30), drive("D", free=6 * 2**30)]
FAILURE = "Cannot decompress package D:\\SMSPKG\\P0100007.PCK to M:\\_S M4YZ5.TMP, CTool return code = 4 "
# The probe's host booted 2026-11-20 08:00 UTC: a failure after that is current, one from 2002 is history.
LOG_FAIL_M = [FAILURE + "$$<SMS_DISTRIBUTION_MANAGER><Sat Nov 21 10:00:00.000 2026 Eastern Standard Time>"
              "<thread=225 (0xE1)>"]
LOG_OLD_M = [FAILURE + "$$<SMS_DISTRIBUTION_MANAGER><Mon Mar 04 10:00:00.000 2002 Eastern Standard Time>"
             "<thread=225 (0xE1)>"]
RUNNING = [{"name": n, "state": "running", "dependents": []} for n in
           ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR", "Winmgmt")]
UNFINISHED = {"journal": "C:\\SMSFleet\\Q317061\\journal.json", "present": True, "readable": True,
              "phase": "restarting", "started": "2026-11-21T09:00:00Z", "stopped": ["SMS_EXECUTIVE"], "replaced": []}

CASES = [
    # id, probe overrides, policy, status, exposure, remedies
    ("no SMS", dict(sms__installed=False, sms__install_dir=None), None, "not_applicable", "none", []),
    ("SMS 2003 not 2.0", dict(dll_version="2.50.2726.0018"), None, "not_applicable", "none", []),
    ("no EXIFS", dict(exifs__service_present=False, exifs__drive_letter_present=False, exifs__drive_letter=None,
                      exifs__exchange_version=None, drives=NO_M), None, "not_applicable", "none", []),
    ("DLL missing", dict(sms__dlls__Distmgr_dll=None), None, "unknown", "none", []),
    ("version unreadable", dict(distmgr_version="000"), None, "unknown", "none", []),
    ("platform unknown", dict(sms__platform=None), None, "unknown", "none", []),
    ("SP3 hotfix 3240", dict(dll_version="2.00.1493.3240"), None, "fixed", "none", []),
    ("later SP3 hotfix Q319207", dict(baseutil_version="2.00.1493.3253", distmgr_version="2.00.1493.3257"),
     None, "fixed", "none", []),
    ("SP4 reverts hotfix", dict(dll_version="2.00.1493.4000"), None, "vulnerable", "affected_now",
     ["workaround", "install_sp4_hrp"]),
    ("SP4 at HRP build", dict(dll_version="2.00.1493.4100"), FixPolicy(sp4_hrp_revision=4100), "fixed", "none", []),
    ("SP5 assumed fixed", dict(dll_version="2.00.1493.5000"), None, "fixed", "none", []),
    ("SP5 not assumed", dict(dll_version="2.00.1493.5000"), FixPolicy(later_service_packs_fixed=False),
     "vulnerable", "affected_now", ["workaround", "install_sp4_hrp"]),
    ("blank letter, still mounted", dict(exifs__drive_letter=""), None, "pending_reboot", "affected_now",
     ["hotfix", "workaround"]),
    ("blank letter, rebooted", dict(exifs__drive_letter="", drives=NO_M), None, "mitigated", "none", []),
    ("Exchange 2003 no letter", dict(exifs__drive_letter_present=False, exifs__drive_letter=None,
                                     exifs__exchange_version="6.5", drives=NO_M), None, "mitigated", "none", []),
    ("Exchange 2000 default M", dict(exifs__drive_letter_present=False, exifs__drive_letter=None), None,
     "vulnerable", "affected_now", ["hotfix", "workaround"]),
    ("vulnerable SP3 English i386", {}, None, "vulnerable", "affected_now", ["hotfix", "workaround"]),
    ("vulnerable SP3 Alpha", dict(sms__platform="Alpha"), None, "vulnerable", "affected_now", ["hotfix", "workaround"]),
    ("IFS small: latent", dict(drives=SMALL_M), None, "vulnerable", "latent", ["hotfix", "workaround"]),
    ("IFS small but log failures", dict(drives=SMALL_M, distmgr_log__lines=LOG_FAIL_M), None, "vulnerable",
     "affected_now", ["hotfix", "workaround"]),
    ("IFS small, failures only before the last boot", dict(drives=SMALL_M, distmgr_log__lines=LOG_OLD_M), None,
     "vulnerable", "latent", ["hotfix", "workaround"]),
    ("unfinished transaction, fixed DLLs: never fixed", dict(dll_version="2.00.1493.3240", transaction=UNFINISHED),
     None, "unknown", "none", []),
    ("unreadable journal", dict(transaction=dict(UNFINISHED, readable=False, phase=None, error="unreadable: x")),
     None, "unknown", "none", []),
    ("finished transaction", dict(dll_version="2.00.1493.3240", transaction=dict(UNFINISHED, phase="done")),
     None, "fixed", "none", []),
    ("SMS services stopped, fixed DLLs: never fixed", dict(dll_version="2.00.1493.3240", services=[
        dict(RUNNING[0], state="stopped")] + RUNNING[1:]), None, "unknown", "none", []),
    ("WMI stop pending", dict(services=RUNNING[:3] + [dict(RUNNING[3], state="stoppending")]), None, "unknown",
     "none", []),
    ("all SMS services running", dict(services=RUNNING), None, "vulnerable", "affected_now", ["hotfix", "workaround"]),
    ("English by language ID on a German server", dict(dll_language="Englisch (Vereinigte Staaten)"), None,
     "vulnerable", "affected_now", ["hotfix", "workaround"]),
    ("letter N (M taken)", dict(exifs__drive_letter="N", drives=M_IS_CDROM),
     None, "vulnerable", "affected_now", ["hotfix", "workaround"]),
    ("SharePoint Portal Server EXIFS", dict(exifs__exchange_version=None, exifs__sharepoint_portal_server=True),
     None, "vulnerable", "affected_now", ["hotfix", "workaround"]),
    ("partial install", dict(baseutil_version="2.00.1493.3240"), None, "vulnerable", "affected_now",
     ["hotfix", "workaround"]),
    ("earlier hotfix Q309381", dict(distmgr_version="2.00.1493.3197"), None, "vulnerable", "affected_now",
     ["hotfix", "workaround"]),
    ("SP3 German", dict(dll_language="German (Germany)"), None, "vulnerable", "affected_now",
     ["workaround", "install_sp4_hrp"]),
    ("SP3 language unknown", dict(dll_language=None), None, "vulnerable", "affected_now",
     ["workaround", "install_sp4_hrp"]),
    ("SP2 needs SP3 first", dict(dll_version="2.00.1493.2000"), None, "vulnerable", "affected_now",
     ["workaround", "upgrade_to_sp3"]),
    ("SP1 needs SP3 first", dict(dll_version="2.00.1380.1000"), None, "vulnerable", "affected_now",
     ["workaround", "upgrade_to_sp3"]),
    ("Full Version absent (secondary)", dict(sms__full_version=None, sms__full_version_present=False,
                                             sms__site_type="secondary", dll_version="2.00.1493.3240"),
     None, "fixed", "none", []),
]


def _apply_none_dll(overrides):
    # probe() walks dotted paths; a DLL entry name contains a dot, so map it here.
    out = dict(overrides)
    if "sms__dlls__Distmgr_dll" in out:
        out.pop("sms__dlls__Distmgr_dll")
        p = probe(**out)
        p["sms"]["dlls"]["Distmgr.dll"] = {"path": "D:\\SMS\\bin\\i386\\Distmgr.dll", "exists": False,
                                           "version": None, "size": None, "sha256": None, "language": None,
                                           "language_id": None, "modified": None}
        return p
    return probe(**out)


@pytest.mark.parametrize("overrides, policy, status, exposure, remedies",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classification_table(overrides, policy, status, exposure, remedies):
    verdict = classify(_apply_none_dll(overrides), policy)
    assert (verdict.status, verdict.exposure, verdict.remedies) == (status, exposure, remedies), verdict.reasons
    assert verdict.reasons, "every verdict explains itself"


def test_reasons_cite_evidence_and_kb():
    v = classify(probe(dll_version="2.00.1493.4000"))
    text = " ".join(v.reasons)
    assert "2.00.1493.4000" in text and "Q313839" in text and "Q323206" in text


def test_partial_install_is_named():
    v = classify(probe(baseutil_version="2.00.1493.3240"))
    assert any("Partial install" in r and "Baseutil.dll" in r for r in v.reasons)


def test_missing_full_version_is_explained_not_fatal():
    v = classify(probe(sms__full_version=None, sms__full_version_present=False))
    assert v.status == "vulnerable"
    assert any("Q267258" in r for r in v.reasons)


def test_other_letter_cites_q245822():
    v = classify(probe(exifs__drive_letter="N", drives=[drive("C", 2**30), drive("N", 2**34, target=M)]))
    assert v.exifs_drive == "N" and any("Q245822" in r for r in v.reasons)


def test_missing_dll_reason_names_path():
    v = classify(_apply_none_dll({"sms__dlls__Distmgr_dll": None}))
    assert v.reasons == ["Distmgr.dll is missing from D:\\SMS\\bin\\i386\\Distmgr.dll."]


@pytest.mark.parametrize("exifs, letter", [
    (dict(service_present=False), None),
    (dict(service_present=True, drive_letter_present=False, exchange_version="6.0"), "M"),
    (dict(service_present=True, drive_letter_present=False, exchange_version="6.5"), None),
    (dict(service_present=True, drive_letter_present=True, drive_letter=""), None),
    (dict(service_present=True, drive_letter_present=True, drive_letter="n:"), "N"),
    (dict(service_present=True, drive_letter_present=True, drive_letter=" "), None),
])
def test_configured_letter(exifs, letter):
    assert configured_exifs_letter(exifs) == letter


def test_prediction_ignores_non_ntfs_and_non_fixed_but_counts_the_ifs_drive():
    drives = [drive("C", 2**30), drive("E", 2**40, fs="FAT32"), drive("F", 2**40, type="network"),
              drive("M", 2**32, type="fixed", fs="NTFS", target=M), drive("Z", 2**41, type="cdrom", fs="CDFS")]
    assert predict_decompression_drive(drives, "M") == "M"
    assert predict_decompression_drive(drives[:3], None) == "C"
    assert predict_decompression_drive([], None) is None


def test_log_parsing_counts_per_drive():
    lines = LOG_FAIL_M * 3 + ["Cannot decompress package D:\\SMSPKG\\X.PCK to d:\\_S 1.TMP, CTool return code = 4",
                              "Successfully decompressed package"]
    assert decompression_failures(lines) == {"M": 3, "D": 1}


def test_an_unfinished_transaction_is_explained():
    v = classify(probe(dll_version="2.00.1493.3240", transaction=UNFINISHED))
    assert "unfinished DLL transaction (phase restarting" in v.reasons[0] and "recover" in v.reasons[0]


def test_stopped_services_are_named():
    v = classify(probe(services=[dict(RUNNING[1], state="stopped")]))
    assert v.reasons == ["SMS services are not running (SMS_EXECUTIVE stopped): Distribution Manager does not work "
                         "whatever the DLL versions; start them, or find who stopped them."]


def test_platform_reason_says_when_the_os_cannot_run_sms20():
    v = classify(probe(sms__platform=None, os_version="10.0.17763.0"))
    assert v.status == "unknown" and "Windows 10.0.17763.0, on which SMS 2.0 cannot be a site server" in v.reasons[0]
    assert "bin\\i386 or bin\\Alpha folder under D:\\SMS" in v.reasons[0]


@pytest.mark.parametrize("language_id, language, english", [
    (0x0409, "Englisch (Vereinigte Staaten)", True),   # the ID decides, not the localized name
    (0x0809, "English (United Kingdom)", True),
    (0x0407, "English (United States)", False),
    (None, "English (United States)", True),            # no ID: the name is the fallback
    (None, None, None),
])
def test_language_comes_from_the_numeric_id(language_id, language, english):
    raw = probe()
    for dll in raw["sms"]["dlls"].values():
        dll.update(language_id=language_id, language=language)
    remedies = classify(raw).remedies
    assert ("hotfix" in remedies) is bool(english)


def test_history_failures_are_reported_as_history():
    v = classify(probe(drives=SMALL_M, distmgr_log__lines=LOG_OLD_M))
    assert v.decompression_failures == {} and v.decompression_failures_history == {"M": 1}
    assert v.log_evidence == "history" and any("history, not current exposure" in r for r in v.reasons)


def test_logging_off_means_the_log_proves_nothing():
    v = classify(probe(drives=SMALL_M, distmgr_log__logging_enabled=False))
    assert v.log_evidence == "logging_off" and any("proves nothing" in r and "Enabled=0" in r for r in v.reasons)
    v = classify(probe(drives=SMALL_M, distmgr_log__present=False))
    assert v.log_evidence == "no_log"


def test_a_fixed_host_with_a_blank_drive_letter_warns_about_owa():
    v = classify(probe(dll_version="2.00.1493.3240", exifs__drive_letter=""))
    assert v.status == "fixed" and v.owa_at_risk
    assert "Outlook Web Access" in v.notes[0] and "next restart" in v.notes[0]
    assert not classify(probe(dll_version="2.00.1493.3240")).owa_at_risk


@pytest.mark.parametrize("line, bias, utc", [
    ("x $$<SMS_DISTRIBUTION_MANAGER><Mon Mar 04 10:00:00.000 2002 Eastern Standard Time><thread=1>", 300,
     "2002-03-04T15:00:00+00:00"),
    ("x $$<SMS_DISTRIBUTION_MANAGER><Fri Oct 15 17:09:46.507 1999 Pacific Daylight Time><thread=225 (0xE1)>", 420,
     "1999-10-16T00:09:46+00:00"),
    ("x $$<SMS_DISTRIBUTION_MANAGER><Sat Nov  1 01:02:03.000 2026 Coordinated Universal Time><thread=1>", 0,
     "2026-11-01T01:02:03+00:00"),
    ("no time here", 0, None),
])
def test_log_line_times(line, bias, utc):
    when = line_time(line, bias)
    assert (when.isoformat() if when else None) == utc


def test_undated_failures_count_as_current():
    current, history = dated_failures([FAILURE], parse_time("2026-11-20T08:00:00Z"), 0)
    assert current == {"M": 1} and history == {}


def test_dotnet_round_trip_times_parse():
    assert parse_time("2026-11-20T08:00:00.1234567Z").isoformat() == "2026-11-20T08:00:00.123456+00:00"
    assert parse_time("nonsense") is None and parse_time(None) is None


def smb_drive(letter, free=None):
    """A drive as the smb probe sees it: no DOS device target; no share, no size (None)."""
    return {"letter": letter, "type": "fixed" if free is not None else None, "file_system": "NTFS" if free else None,
            "label": "", "size": free and free * 2, "free": free, "target": None}


def test_over_smb_the_ifs_drive_is_told_by_its_configured_letter_and_its_unknown_space_is_said():
    v = classify(probe(drives=[smb_drive("C", 2**30), smb_drive("D", 2**32), smb_drive("M")],
                       distmgr_log__lines=[]))
    assert v.status == "vulnerable" and v.exifs_drive == "M"
    assert v.exposure == "latent" and v.predicted_decompression_drive is None  # M: may have the most: unknown
    assert any("free space of the IFS drive M: cannot be read" in r and "the predicted drive is unknown" in r
               and "of the other drives it would pick D:" in r for r in v.reasons)
    with_failure = classify(probe(drives=[smb_drive("C", 2**30), smb_drive("M")], distmgr_log__lines=LOG_FAIL_M))
    assert with_failure.exposure == "affected_now"  # the log proves it even without the space


@pytest.mark.parametrize("drives, record, status", [
    ([smb_drive("C", 2**30), smb_drive("M")], {}, "pending_reboot"),               # blanked, M: (default) still there
    ([smb_drive("C", 2**30), smb_drive("N")], {"original_recorded": True, "original_drive_letter": "N"},
     "pending_reboot"),                                                           # the recorded original is mounted
    ([smb_drive("C", 2**30)], {"original_recorded": True, "original_drive_letter": "M"}, "mitigated"),  # rebooted
    # An administrative share at M:: the IFS drive not restarted yet, or a real disk that took M: at a later boot.
    # The EXIFS Parameters key's LastWriteTime against the boot (2026-11-20T08:00) tells which.
    ([smb_drive("C", 2**30), smb_drive("M", 2**33)], {"parameters_written": "2026-11-19T08:00:00+00:00"},
     "mitigated"),                                                                # blanked before the boot: a real disk
    ([smb_drive("C", 2**30), smb_drive("M", 2**33)], {"parameters_written": "2026-11-21T08:00:00+00:00"},
     "pending_reboot"),                                                           # blanked since: still the IFS drive
    ([smb_drive("C", 2**30), smb_drive("M", 2**33)], {}, "pending_reboot"),      # no time: never call it gone
])
def test_over_smb_a_blanked_letter_is_pending_until_the_booted_letter_is_gone(drives, record, status):
    changes = {f"exifs__{k}": v for k, v in record.items()}
    assert classify(probe(exifs__drive_letter="", drives=drives, distmgr_log__lines=[], **changes)).status == status


@pytest.mark.parametrize("error", [
    "registry HKLM\\SOFTWARE\\Microsoft\\SMS\\Identification: the winreg pipe (RPC) of s does not answer",
    "registry HKLM\\SYSTEM\\CurrentControlSet\\Services\\EXIFS: Access is denied",
])
def test_an_unreadable_registry_is_unknown_never_not_applicable(error):
    v = classify(probe(sms__installed=False, sms__install_dir=None, errors=[error]))
    assert v.status == "unknown" and error in v.reasons[0]
