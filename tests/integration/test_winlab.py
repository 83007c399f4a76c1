"""winlab itself: real WinRM clients, persistence, faults and spec validation."""

import base64
import subprocess

import pytest
import winrm
import yaml

from conftest import BIN

SMALL = """
groups:
  - name: h
    count: 2
    host: {sms: {site_code: P01}}
"""


def _endpoint(lab, name):
    inv = yaml.safe_load(lab.inventory.read_text())
    for group in inv["all"]["children"]["site_servers"]["children"].values():
        if name in group["hosts"]:
            v = group["hosts"][name]
            return f"http://{v['ansible_host']}:{v['ansible_port']}/wsman", v["ansible_user"], v["ansible_password"]
    raise KeyError(name)


def test_pywinrm_runs_a_command_with_streamed_stdin(lab_factory):
    lab = lab_factory(SMALL)
    url, user, password = _endpoint(lab, "h-01")
    protocol = winrm.Protocol(url, transport="basic", username=user, password=password)
    shell = protocol.open_shell()
    try:
        # An unknown command gets a clear non-zero answer, never a fake success.
        cid = protocol.run_command(shell, "cmd.exe", ["/c", "dir"])
        out, err, rc = protocol.get_command_output(shell, cid)
        assert rc != 0 and b"winlab does not emulate the command" in err
        # stdin is streamed in chunks; the command runs once stdin is closed.
        script = "(Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToFileTime()"
        args = ["-NoProfile", "-EncodedCommand", base64.b64encode(script.encode("utf-16-le")).decode()]
        cid = protocol.run_command(shell, "PowerShell", args, console_mode_stdin=False)
        protocol.send_command_input(shell, cid, b"ignored ", end=False)
        protocol.send_command_input(shell, cid, b"input", end=True)
        out, err, rc = protocol.get_command_output(shell, cid)
        assert rc == 0 and int(out) > 116444736000000000
    finally:
        protocol.close_shell(shell)


def test_wrong_credentials_get_401_and_nothing_runs(lab_factory):
    lab = lab_factory(SMALL)
    url, user, dummy = _endpoint(lab, "h-01")
    protocol = winrm.Protocol(url, transport="basic", username=user, password="nope")
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        protocol.open_shell()
    assert lab.stats()["h-01"]["shells"] == 0


def test_win_ping_setup_and_unknown_module(lab_factory):
    lab = lab_factory(SMALL)
    assert "pong" in lab.ansible("all", "-m", "ansible.windows.win_ping", check=True).stdout
    setup = lab.ansible("h-01", "-m", "ansible.windows.setup", check=True).stdout
    assert "Microsoft Windows 2000 Server" in setup
    unknown = lab.ansible("h-01", "-m", "ansible.windows.win_whoami")
    assert unknown.returncode != 0 and "winlab does not emulate ansible.windows.win_whoami" in unknown.stdout
    bad_arg = lab.ansible("h-01", "-m", "ansible.windows.win_ping", "-a", "nonsense=1")
    assert bad_arg.returncode != 0 and "Unsupported parameters" in bad_arg.stdout


def test_state_survives_down_and_up(lab_factory):
    lab = lab_factory(SMALL)
    lab.winlab("fault", "h-01", "latency_ms", "5")
    lab.down()
    lab.up()
    assert lab.host_state("h-01")["faults"] == {"latency_ms": 5}
    assert "h-01" in lab.winlab("status").stdout


def test_distribute_reports_failures_on_the_ifs_drive(lab_factory):
    lab = lab_factory(SMALL)
    out = lab.winlab("distribute").stdout
    assert "arrived on 0/2 site servers" in out and "decompression failed on IFS drive M:" in out
    log = lab.host_state("h-01")["files"]["c:\\sms\\logs\\distmgr.log"]["text"]
    assert any("Cannot decompress package" in line and "to M:\\" in line for line in log)


@pytest.mark.parametrize("spec, message", [
    ("groups: [{name: g, count: 1, host: {sms: {platform: x86}}}]", "host g-01: sms.platform: must be i386 or Alpha"),
    ("groups: [{name: g, count: 1, host: {exifs_drive_letter: MM}}]", "host g-01: exifs_drive_letter"),
    ("groups: [{name: g, count: 1, host: {faults: {meteor: true}}}]", "host g-01: faults.meteor: unknown fault kind"),
    ("hosts: [{name: a}, {name: a}]", "host a: name: duplicate host name"),
])
def test_spec_validation_names_host_and_field(tmp_path, spec, message):
    fleet = tmp_path / "bad.yml"
    fleet.write_text(spec)
    run = subprocess.run([BIN / "winlab", "--state-dir", str(tmp_path / "s"), "up", "--fleet", str(fleet)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1 and message in run.stderr
