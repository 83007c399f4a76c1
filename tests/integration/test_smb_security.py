"""smb sessions that cannot be forged on the wire (issue 21): signed whenever the server offers signing,
every answer's signature checked, one NTLMv2 logon attempt, NT 4.0's logon only by opt-in and never LM."""

import json

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client, probe

FLEET = """
defaults: {restart_seconds: 1}
hosts:
  - {name: plain}
  - {name: signs, smb_signing_enabled: true}
  - {name: demands, smb_signing_required: true}
  - {name: nt4, os: windowsnt4, smb_signing_enabled: true}
  - {name: w16, os: windows2016}
"""
PASSWORD = "Lab-Passw0rd!"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from conftest import Lab
    root = tmp_path_factory.mktemp("security")
    (root / "fleet.yml").write_text(FLEET)
    lab = Lab(root / "state", root / "fleet.yml")
    lab.up()
    yield lab
    lab.down()


def session(lab, name, password=PASSWORD, **options) -> client.SmbClient:
    return client.SmbClient("127.0.0.1", lab.host_state(name)["smb_port"], "Administrator", password,
                            **options).connect()


@pytest.mark.parametrize("name, signed", [("plain", False), ("signs", True), ("demands", True), ("w16", True)])
def test_a_session_is_signed_whenever_the_server_offers_it_and_says_so(lab, name, signed):
    before = lab.stats()[name]["smb"]["bad_signatures"]
    ours = session(lab, name)
    try:
        assert ours.security["signed"] is signed and ours.security["authentication"] == "NTLMv2", ours.security
        found = probe.probe(ours)  # registry, services, event log, files: every request signed, every answer checked
        assert found["errors"] == [] and found["sms"]["dlls"]["Distmgr.dll"]["version"] == "2.00.1493.3000"
    finally:
        ours.close()
    assert lab.stats()[name]["smb"]["bad_signatures"] == before  # the host accepted every signature


def test_a_signed_session_notices_a_device_that_changes_what_the_host_sent(lab):
    lab.winlab("fault", "signs", "wire_tamper")
    try:
        ours = session(lab, "signs")
        with pytest.raises(client.Unreachable, match="wrong signature .* on a signed SMB session"):
            probe.probe(ours)
        ours.close()
        unsigned = session(lab, "plain")
        lab.winlab("fault", "plain", "wire_tamper")
        found = probe.probe(unsigned)  # unsigned, the change goes unnoticed: why signing matters
        unsigned.close()
        assert found["errors"] == [] or all("signature" not in e for e in found["errors"])
    finally:
        lab.winlab("fault", "signs", "wire_tamper", "--clear")
        lab.winlab("fault", "plain", "wire_tamper", "--clear")


def test_the_host_refuses_a_request_whose_signature_is_wrong(lab):
    ours = session(lab, "signs")
    try:
        server = ours.conn.getSMBServer()
        server._SigningSessionKey = b"\x00" * 16  # pylint: disable=protected-access  # a forger without the key
        before = lab.stats()["signs"]["smb"]["bad_signatures"]
        with pytest.raises(Exception):
            ours.conn.listPath("C$", "\\*")
        assert lab.stats()["signs"]["smb"]["bad_signatures"] == before + 1
    finally:
        ours.close()


@pytest.mark.parametrize("name", ["plain", "signs", "w16"])
def test_a_wrong_password_costs_exactly_one_logon_attempt(lab, name):
    """impacket retried a failed NTLMv2 logon with NTLMv1 against 'Windows 2000' servers: two lockout counts."""
    before = lab.stats()[name]["smb"]["auth_failures"]
    with pytest.raises(client.LogonFailed):
        session(lab, name, password="wrong")
    assert lab.stats()[name]["smb"]["auth_failures"] == before + 1


def test_windows_nt_4_without_extended_security_only_by_opt_in_and_with_ntlmv2(lab):
    with pytest.raises(client.SmbError, match="offers no extended security .* ansible_smb_nt4_logon: true") as error:
        session(lab, "nt4")
    assert error.value.status == "REFUSED_LOGON"
    before = lab.stats()["nt4"]["smb"]["auth_failures"]
    assert lab.stats()["nt4"]["smb"]["auth_failures"] == before  # refused before any credentials were sent
    ours = session(lab, "nt4", nt4_logon=True)
    try:
        assert ours.security == {"signed": True, "authentication": "NTLMv2 (NT LM 0.12, no extended security)",
                                 "dialect": "smb1"}
        assert probe.probe(ours)["errors"] == []
    finally:
        ours.close()
    with pytest.raises(client.LogonFailed):
        session(lab, "nt4", password="wrong", nt4_logon=True)
    assert lab.stats()["nt4"]["smb"]["auth_failures"] == before + 1


def test_require_signing_refuses_a_host_that_does_not_offer_it(lab):
    with pytest.raises(client.SmbError, match="does not offer SMB signing and ansible_smb_require_signing is true"):
        session(lab, "plain", require_signing=True)
    ours = session(lab, "signs", require_signing=True)  # offered is enough: the session is signed
    assert ours.security["signed"]
    ours.close()


SIGNING_FLEET = """
defaults: {restart_seconds: 1, transport: smb}
hosts:
  - {name: s-01, smb_signing_enabled: true}
  - {name: s-02}
"""


def test_remediation_says_which_changes_were_signed_and_required_refuses_the_unsigned(lab_factory, bundle, tmp_path):
    from test_remediate import dll_versions, remediate, report

    lab = lab_factory(SIGNING_FLEET)
    run = remediate(lab, bundle, tmp_path / "r", "-e", "q317061_serial=100%")
    assert run.returncode == 0, run.stdout[-3000:]
    entries = report(tmp_path / "r")
    assert (entries["s-01"]["signed"], entries["s-02"]["signed"]) == (True, False)
    assert "unsigned" not in entries["s-01"]["change"]["summary"]
    assert entries["s-02"]["change"]["signed"] is False
    assert "made over an unsigned SMB session" in entries["s-02"]["change"]["summary"]
    full = json.loads((tmp_path / "r" / "q317061-remediation.json").read_text())
    assert full["summary"]["unsigned_changes"] == ["s-02"]
    assert any("unsigned SMB sessions" in n and n.endswith("s-02") for n in full["notes"])

    lab = lab_factory(SIGNING_FLEET)
    before = lab.host_state("s-02")["files"]
    run = remediate(lab, bundle, tmp_path / "q", "-e", "q317061_serial=100%", "-e", "q317061_smb_signing=required")
    entries = report(tmp_path / "q")
    assert entries["s-01"]["status"] == "fixed" and entries["s-01"]["change"]["outcome"] == "changed"
    assert entries["s-02"]["change"]["outcome"] == "refused", entries["s-02"]["change"]
    assert "EnableSecuritySignature = 1" in entries["s-02"]["change"]["summary"]
    assert lab.host_state("s-02")["files"] == before and set(dll_versions(lab.host_state("s-02")).values()) == {
        "2.00.1493.3000"}
    assert run.returncode == 2 and "1 host(s) need a person (refused before any change): s-02 (" in run.stdout
