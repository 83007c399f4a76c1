"""Every user variable: accepted forms (including AWX survey answers) and refused ones, as a table."""

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import variables
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.variables import RULES, VariableError, normalise

PINS = {"i386/Baseutil.dll": "A" * 64}
ACCEPTED = [
    # variable, given, normalised
    ("q317061_targets", "site_servers", "site_servers"),
    ("q317061_targets", "p01\np02", "p01:p02"),  # AWX multiselect: newline-joined
    ("q317061_targets", ["p01", "p02"], "p01:p02"),
    ("q317061_targets", "", "all"),
    ("q317061_smb_signing", " required ", "required"),  # unanswered optional survey question
    ("q317061_strategy", "hotfix", "hotfix"),
    ("q317061_strategy", None, "auto"),
    ("q317061_allow_workaround", "yes", True),
    ("q317061_allow_workaround", "False", False),
    ("q317061_allow_workaround", 1, True),
    ("q317061_reboot", True, True),
    ("q317061_reboot", "", False),
    ("q317061_hotfix_method", "installer", "installer"),
    ("q317061_admin_console", "refuse", "refuse"),
    ("q317061_hotfix_source", "/srv/hotfixes/Q317061", "/srv/hotfixes/Q317061"),
    ("q317061_hotfix_source", "https://repo.example.com/Q317061.zip", "https://repo.example.com/Q317061.zip"),
    ("q317061_hotfix_archive_sha256", "AB" * 32, "ab" * 32),
    ("q317061_hotfix_archive_sha256", "", ""),
    ("q317061_hotfix_ca_path", "/etc/pki/corp-ca.pem", "/etc/pki/corp-ca.pem"),
    ("q317061_hotfix_sha256", PINS, {"i386/Baseutil.dll": "a" * 64}),
    ("q317061_hotfix_sha256", "", {}),
    ("q317061_hotfix_sha256", '{"Q317061.exe": "' + "b" * 64 + '"}', {"Q317061.exe": "b" * 64}),
    ("q317061_hotfix_sha256", "i386/Distmgr.dll: " + "c" * 64, {"i386/Distmgr.dll": "c" * 64}),
    ("q317061_installer_arguments", "/q /z", "/q /z"),
    ("q317061_work_dir", "D:\\Ops\\Q317061\\", "D:\\Ops\\Q317061"),
    ("q317061_work_dir", "c:\\SMSFleet", "C:\\SMSFleet"),
    ("q317061_service_stop_timeout", "300", 300),
    ("q317061_service_stop_timeout", 1, 1),
    ("q317061_reboot_timeout", 1800, 1800),
    ("q317061_installer_timeout", "600", 600),
    ("q317061_serial", "1,25%,100%", [1, "25%", "100%"]),  # a survey's text answer
    ("q317061_serial", "1, 25%, 100%", [1, "25%", "100%"]),
    ("q317061_serial", "[1, '25%', '100%']", [1, "25%", "100%"]),
    ("q317061_serial", [1, "25%", "100%"], [1, "25%", "100%"]),
    ("q317061_serial", 5, [5]),
    ("q317061_serial", "100%", ["100%"]),
    ("q317061_serial", None, [1, "25%", "100%"]),
    ("q317061_max_fail_percentage", "50%", 50),
    ("q317061_max_fail_percentage", 0, 0),
    ("q317061_max_fail_percentage", "100", 100),
    ("q317061_report_dir", "/srv/reports", "/srv/reports"),
    ("q317061_report_basename", "weekly-audit.2026", "weekly-audit.2026"),
    ("q317061_report_from_cache", "true", True),
    ("q317061_sp4_hrp_revision", 4200, 4200),
    ("q317061_sp4_hrp_revision", "4200", 4200),
    ("q317061_sp4_hrp_revision", "2.00.1493.4200", 4200),
    ("q317061_sp4_hrp_revision", "", None),  # an empty optional survey answer is unset
    ("q317061_later_service_packs_fixed", "no", False),
    ("q317061_rollback_reboot", False, False),
    ("q317061_approved_plan", {"version": 1, "hosts": {"smsp01": "0123456789abcdef"}},
     {"version": 1, "hosts": {"smsp01": "0123456789abcdef"}}),
    ("q317061_approved_plan", "", None),
    ("q317061_report_template", "~/report.html.j2", "~/report.html.j2"),
]
REFUSED = [
    # variable, given, words in the message
    ("q317061_targets", ":", "host pattern"),
    ("q317061_smb_signing", "maybe", "one of preferred, required (got 'maybe')"),
    ("q317061_strategy", "yolo", "one of auto, hotfix, workaround, audit (got 'yolo')"),
    ("q317061_allow_workaround", "maybe", "true or false (got 'maybe')"),
    ("q317061_reboot", 2, "true or false (got 2)"),
    ("q317061_hotfix_method", "msi", "one of manual, installer"),
    ("q317061_admin_console", "kill", "one of close, refuse"),
    ("q317061_hotfix_sha256", {"i386/Base.dll": "a" * 64}, "unknown key 'i386/Base.dll'"),
    ("q317061_hotfix_sha256", {"Q317061.exe": "abc"}, "Q317061.exe is not 64 hexadecimal digits"),
    ("q317061_hotfix_sha256", ["a"], "mapping of bundle files"),
    ("q317061_installer_arguments", "/q\n& del *", "one line of printable text"),
    ("q317061_work_dir", "SMSFleet", "absolute Windows folder"),
    ("q317061_work_dir", "C:\\", "absolute Windows folder"),
    ("q317061_work_dir", "C:\\SMS\\..\\Windows", "no '..'"),
    ("q317061_work_dir", "C:\\SMSFleet\\CON", "'CON' is a DOS device name"),
    ("q317061_work_dir", "C:\\nul.txt\\Q317061", "'nul.txt' is a DOS device name"),
    ("q317061_work_dir", "C:\\SMSFleet\\com1.log", "'com1.log' is a DOS device name"),
    ("q317061_work_dir", "C:\\SMSFleet\\\u202eTXT.exe", "U+202E is an invisible or control character"),
    ("q317061_work_dir", "C:\\SMS\u200bFleet", "U+200B is an invisible or control character"),
    ("q317061_targets", "\x00", "host pattern"),
    ("q317061_targets", [], "it names no host or group"),
    ("q317061_targets", ":::", "it names no host or group"),
    ("q317061_work_dir", "C:\\Temp\\a*b", "absolute Windows folder"),
    ("q317061_work_dir", "\\\\server\\share\\x", "absolute Windows folder"),
    ("q317061_service_stop_timeout", 0, "from 1 to 3600"),
    ("q317061_service_stop_timeout", "2 minutes", "from 1 to 3600"),
    ("q317061_service_stop_timeout", True, "from 1 to 3600"),
    ("q317061_reboot_timeout", -1, "from 10 to 86400"),
    ("q317061_installer_timeout", 5, "from 60 to 86400"),
    ("q317061_serial", 0, "batch size (1 to 100,000)"),
    ("q317061_serial", -1, "batch size"),
    ("q317061_serial", 10**12, "batch size"),
    ("q317061_serial", "abc", "batch size"),
    ("q317061_serial", "0%", "percentage"),
    ("q317061_serial", "150%", "percentage"),
    ("q317061_serial", [1, True], "batch size"),
    ("q317061_max_fail_percentage", -1, "from 0 to 100"),
    ("q317061_max_fail_percentage", 101, "from 0 to 100"),
    ("q317061_max_fail_percentage", "half", "from 0 to 100"),
    ("q317061_report_basename", "../../etc/x", "file name without a folder"),
    ("q317061_report_basename", "a/b", "file name without a folder"),
    ("q317061_report_from_cache", "sometimes", "true or false"),
    ("q317061_sp4_hrp_revision", 0, "from 4001 to 4999"),
    ("q317061_sp4_hrp_revision", -1, "from 4001 to 4999"),
    ("q317061_sp4_hrp_revision", 3240, "from 4001 to 4999"),
    ("q317061_sp4_hrp_revision", "soon", "from 4001 to 4999"),
    ("q317061_later_service_packs_fixed", "perhaps", "true or false"),
    ("q317061_rollback_reboot", "later", "true or false"),
    ("q317061_approved_plan", {"hosts": {"smsp01": "0123456789abcdef"}}, "artifact of a check-mode remediation"),
    ("q317061_approved_plan", {"version": 1, "hosts": {"smsp01": "not-a-digest"}}, "malformed digests for smsp01"),
    ("q317061_approved_plan", "yes", "artifact of a check-mode remediation"),
    ("q317061_hotfix_source", "/srv/a\nb", "controller folder"),
    ("q317061_hotfix_source", "http://repo/Q317061.zip", "only https URLs are accepted"),
    ("q317061_hotfix_archive_sha256", "sha256:abc", "64 hexadecimal digits"),
    ("q317061_hotfix_ca_path", "a\x00b", "PEM file"),
    ("q317061_report_dir", ["reports"], "folder on the controller"),
    ("q317061_report_template", "x\x00.j2", "Jinja2 template file"),
]


@pytest.mark.parametrize("name, given, expected", ACCEPTED, ids=[f"{a[0]}={a[1]!r}" for a in ACCEPTED])
def test_accepted_forms(name, given, expected):
    assert normalise(name, given) == expected


@pytest.mark.parametrize("name, given, words", REFUSED, ids=[f"{r[0]}={r[1]!r}" for r in REFUSED])
def test_refused_forms_name_the_variable_and_the_accepted_form(name, given, words):
    with pytest.raises(VariableError) as error:
        normalise(name, given)
    assert str(error.value).startswith(f"{name}: must be ")
    assert words in str(error.value)


def test_every_rule_is_exercised_both_ways():
    """A rule without an accepted and a refused case is a rule nobody checked."""
    assert set(RULES) <= {a[0] for a in ACCEPTED}
    assert set(RULES) <= {r[0] for r in REFUSED}


def test_every_default_is_accepted_by_its_own_rule():
    for name, rule in RULES.items():
        if rule.default not in (None, "", {}):
            assert normalise(name, rule.default) == rule.default, name


def test_settings_collects_every_problem_at_once():
    settings, errors = variables.settings({"q317061_serial": "x", "q317061_strategy": "y", "q317061_reboot": "yes"})
    assert len(errors) == 2 and settings["reboot"] is True
    assert [e.split(":")[0] for e in errors] == ["q317061_strategy", "q317061_serial"]


def test_scope_splits_host_and_run_settings():
    host, dummy = variables.settings({}, scope="host")
    run, dummy = variables.settings({}, scope="run")
    assert "strategy" in host and "serial" not in host and "serial" in run and "strategy" not in run


def test_the_retired_record_key_is_refused_with_the_reason():
    dummy, errors = variables.settings({"q317061_record_key": "HKLM:\\SOFTWARE\\Microsoft\\SMS\\Identification"})
    assert errors == ["q317061_record_key: no longer accepted: the rollback record now lives under the collection's "
                      "fixed key HKLM\\SOFTWARE\\smsfleet\\Q317061; remove this variable"]


def test_misspelled_names_are_warned_with_a_suggestion():
    warnings = variables.unknown(["q317061_alow_workaround", "q317061_plan", "q317061_strategy", "other"])
    assert warnings == ["q317061_alow_workaround is not a variable of smsfleet.q317061 and is ignored; "
                        "did you mean q317061_allow_workaround?"]


def test_host_value_templates_only_a_variable_that_is_set():
    class Templar:
        def template(self, value):
            return value.replace("{{ base }}", "D:\\Fleet")

    host_vars = {"q317061_work_dir": "{{ base }}\\Q317061"}
    assert variables.host_value(host_vars, "q317061_work_dir", Templar()) == "D:\\Fleet\\Q317061"
    assert variables.host_value(host_vars, "q317061_reboot", None) is None  # unset: the templar is not touched
    assert variables.host_value(None, "q317061_reboot", None) is None
