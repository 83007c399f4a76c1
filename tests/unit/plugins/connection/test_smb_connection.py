"""The smb connection plugin: its options, and that it never pretends it can run commands."""

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader


@pytest.fixture
def connection():
    conn = connection_loader.get("smsfleet.q317061.smb", PlayContext())
    yield conn
    conn.close()


def configure(conn, **options):
    conn.set_options(direct=dict({"remote_addr": "127.0.0.1", "remote_user": "CORP\\svc", "password": "x"}, **options))


def test_settings_come_from_the_documented_options(connection):
    configure(connection, port=139, domain="corp", auth="kerberos", kdc="dc1", operation_timeout=5)
    settings = connection._settings()
    assert (settings["user"], settings["domain"], settings["port"]) == ("svc", "CORP", 139)
    assert settings["kerberos"] is True and settings["kdc"] == "dc1" and settings["operation_timeout"] == 5
    assert connection.transport == "smsfleet.q317061.smb" and connection.is_smsfleet_smb is True


@pytest.mark.parametrize("options, words", [
    ({"port": 70000}, "ansible_port must be a TCP port"),
    ({"remote_user": "CORP\\svc", "domain": "OTHER"}, "names domain 'CORP' but the domain setting is 'OTHER'"),
    ({"remote_user": ""}, "needs ansible_user"),
])
def test_malformed_connection_settings_fail_before_any_packet(connection, options, words):
    configure(connection, **options)
    with pytest.raises(AnsibleError, match=words):
        connection._connect()


def test_commands_are_refused_with_what_works_instead(connection):
    configure(connection)
    with pytest.raises(AnsibleError, match="runs no commands or modules.*q317061_facts"):
        connection.exec_command("powershell -c whoami")


def test_nothing_listening_is_a_connection_failure(connection):
    configure(connection, port=1, connect_timeout=2)
    with pytest.raises(AnsibleConnectionFailure, match="no SMB answer from 127.0.0.1:1"):
        connection._connect()
