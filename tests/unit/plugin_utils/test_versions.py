import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.versions import FixPolicy, SmsVersion, dll_has_fix

DEFAULT = FixPolicy()
HRP = FixPolicy(sp4_hrp_revision=4100)
NO_LATER = FixPolicy(later_service_packs_fixed=False)


@pytest.mark.parametrize("text, parsed", [
    ("2.00.1493.3240", (2, 0, 1493, 3240)),
    ("2.0.1493.3241", (2, 0, 1493, 3241)),       # Q318834 writes it this way
    ("2.000.1380.1000", (2, 0, 1380, 1000)),     # Q267258 writes it this way
    (" 2.00.1239.0000 ", (2, 0, 1239, 0)),
    ("000", None), ("", None), (None, None), ("2.00.1493", None), ("2.00.1493.32a0", None),
])
def test_parse(text, parsed):
    v = SmsVersion.parse(text)
    assert (v and (v.major, v.minor, v.build, v.revision)) == parsed


@pytest.mark.parametrize("text, sp, icp, hotfix, sms20", [
    ("2.00.1239.0000", 0, False, 0, True),
    ("2.00.1380.1000", 1, False, 0, True),
    ("2.00.1493.2000", 2, False, 0, True),
    ("2.00.1493.3008", 3, False, 8, True),
    ("2.00.1493.3240", 3, False, 240, True),
    ("2.00.1493.3400", 3, True, 0, True),       # ICP build (.0400-.0900, Q213410)
    ("2.00.1493.4012", 4, False, 12, True),
    ("2.50.2726.0018", None, None, None, False),  # SMS 2003
])
def test_number_meaning(text, sp, icp, hotfix, sms20):
    v = SmsVersion.parse(text)
    assert v.is_sms20 is sms20
    if sms20:
        assert (v.service_pack, v.international_client_pack, v.hotfix_number) == (sp, icp, hotfix)


@pytest.mark.parametrize("text, policy, fixed", [
    ("2.00.1493.3000", DEFAULT, False),   # SP3 RTM
    ("2.00.1493.3197", DEFAULT, False),   # Q309381 Distmgr: earlier hotfix without this fix
    ("2.00.1493.3239", DEFAULT, False),
    ("2.00.1493.3240", DEFAULT, True),    # Q317061
    ("2.00.1493.3241", DEFAULT, True),    # Q318834 Distmgr
    ("2.00.1493.3257", DEFAULT, True),    # Q319207 Distmgr
    ("2.00.1493.4000", DEFAULT, False),   # SP4 reverts SP3 hotfixes (Q313839): 4000 >= 3240 is no fix
    ("2.00.1493.4012", DEFAULT, False),
    ("2.00.1493.4099", HRP, False),
    ("2.00.1493.4100", HRP, True),        # at the configured SP4 HRP build
    ("2.00.1493.5000", DEFAULT, True),    # later service packs: documented assumption
    ("2.00.1493.5000", NO_LATER, False),  # ... which is configurable
    ("2.00.1493.2999", DEFAULT, False),   # SP2
    ("2.00.1380.1000", DEFAULT, False),   # SP1
    ("2.50.2726.0018", DEFAULT, False),   # not SMS 2.0
])
def test_dll_has_fix(text, policy, fixed):
    assert dll_has_fix(SmsVersion.parse(text), policy) is fixed


def test_str_round_trips_the_canonical_form():
    assert str(SmsVersion.parse("2.0.1493.3241")) == "2.00.1493.3241"
