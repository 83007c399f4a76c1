"""Every rule of DESIGN.md section 5, and every trap of section 1, as a table."""

import pytest
from probe_factory import drive, probe

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import (
    classify, configured_exifs_letter, decompression_failures, predict_decompression_drive)
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.versions import FixPolicy

M = "\\??\\BackOfficeStorage"
SMALL_M = [drive("C", free=2 * 2**30), drive("D", free=6 * 2**30), drive("M", free=2**30, target=M)]
M_IS_CDROM = [drive("C", 2**30), drive("M", 2**31, type="cdrom", fs="CDFS"), drive("N", 2**34, target=M)]
NO_M = [drive("C", free=2 * 2**30), drive("D", free=6 * 2**30)]
LOG_FAIL_M = ["Cannot decompress package D:\\SMSPKG\\P0100007.PCK to M:\\_S M4YZ5.TMP, CTool return code = 4 "
              "$$<SMS_DISTRIBUTION_MANAGER><Mon Mar 04 10:00:00.000 2002 Eastern Standard Time><thread=225 (0xE1)>"]

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
                                           "version": None, "size": None, "sha256": None, "language": None}
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
