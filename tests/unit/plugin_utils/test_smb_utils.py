"""The smb transport's plain-Python pieces (plugin_utils/smb, peversion, transport): parsing and rules."""

import struct

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import peversion, transport
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client, eventlog, probe, registry, services
from winlab.pe import build_dll


@pytest.mark.parametrize("user, domain, expected", [
    ("CORP\\svc", None, ("svc", "CORP")),
    ("svc@corp.example.com", None, ("svc", "corp.example.com")),
    ("svc", "CORP", ("svc", "CORP")),
    ("svc", None, ("svc", "")),
    ("CORP\\svc", "corp", ("svc", "CORP")),          # the same domain, any case
])
def test_user_forms(user, domain, expected):
    assert client.split_user(user, domain) == expected


@pytest.mark.parametrize("user, domain, words", [
    ("", None, "needs ansible_user"),
    ("CORP\\svc", "OTHER", "names domain 'CORP' but the domain setting is 'OTHER'"),
    ("CORP\\", None, "is not DOMAIN\\user"),
    ("a\\b\\c", None, "is not DOMAIN\\user"),
])
def test_malformed_users_are_refused_not_guessed(user, domain, words):
    with pytest.raises(ValueError, match=words.replace("\\", "\\\\")):
        client.split_user(user, domain)


@pytest.mark.parametrize("path, expected", [
    ("C:\\SMS\\bin\\i386\\Distmgr.dll", ("C$", "SMS\\bin\\i386\\Distmgr.dll")),
    ("d:/SMS/Logs", ("D$", "SMS\\Logs")),
    ("C:\\", ("C$", "")),
    ("C:\\a\\..\\b", ("C$", "b")),
])
def test_windows_paths_go_to_their_drives_administrative_share(path, expected):
    assert client.share_path(path) == expected


@pytest.mark.parametrize("path", ["\\\\server\\share\\x", "SMS\\bin", "C:relative"])
def test_paths_without_a_drive_root_are_refused(path):
    with pytest.raises(client.SmbError, match="not an absolute path on a drive letter"):
        client.share_path(path)


def test_registry_values_read_as_powershell_reads_them():
    assert registry.decode(registry.REG_SZ, "D:\\SMS\x00junk".encode("utf-16le")) == "D:\\SMS"
    assert registry.decode(registry.REG_DWORD, struct.pack("<L", 0xFFFFFFC4)) == -60  # ActiveTimeBias is signed
    assert registry.decode(registry.REG_MULTI_SZ, "a\x00b\x00\x00".encode("utf-16le")) == ["a", "b"]


def test_enumerated_services_are_parsed_from_the_self_relative_buffer():
    names = ["SMS_EXECUTIVE", "SMS_SQL_MONITOR"]
    fixed, strings = b"", b""
    for i, name in enumerate(names):
        encoded = (name + "\x00").encode("utf-16le")
        at = 36 * len(names) + len(strings)
        fixed += struct.pack("<LL", at, at) + struct.pack("<7L", 0x10, (4, 1)[i], 0, 0, 0, 0, 0)
        strings += encoded
    assert services.parse_enum(fixed + strings, 2) == [("SMS_EXECUTIVE", "running"), ("SMS_SQL_MONITOR", "stopped")]


@pytest.mark.parametrize("language, language_id", [("English (United States)", 0x0409), ("German (Germany)", 0x0407)])
def test_version_and_language_from_headers_and_resources_only(language, language_id):
    data = build_dll("i386", "2.00.1493.3240", 230800, language=language, name="Distmgr.dll")
    reads = []

    def read(offset, length):
        reads.append(length)
        return data[offset:offset + length]
    got = peversion.read_version_info(read, len(data))
    assert (got["version"], got["language_id"], got["language"]) == ("2.00.1493.3240", language_id, language)
    assert sum(reads) == got["bytes_read"] < 8192 < len(data)


def test_a_file_that_is_not_a_pe_image_is_an_error():
    with pytest.raises(peversion.PeError, match="not a valid PE file"):
        peversion.read_version_info(lambda o, n: b"MZ" + bytes(4000)[o:o + n], 4002)


def test_filetimes_read_as_dotnet_writes_them():
    assert probe.iso(116444736000000000 + 10_000_000 * 86400 + 1234567) == "1970-01-02T00:00:00.1234567Z"
    assert probe.iso(0) is None


def test_hash_cache_keys_change_with_any_time_or_the_size(tmp_path):
    stat = {"size": 10, "last_write": 1, "creation": 2, "change": 3}
    key = probe.HashCache.key("SITE01", "C:\\X.dll", stat)
    assert all(probe.HashCache.key("SITE01", "C:\\X.dll", dict(stat, **{k: 99})) != key for k in stat)
    store = {key: "a" * 64}
    transport.save_hashes("site01.corp", store, str(tmp_path))
    assert transport.load_hashes("site01.corp", str(tmp_path)) == store
    assert transport.load_hashes("other", str(tmp_path)) == {}
    (tmp_path / "broken.json").write_text("{not json")
    assert transport.load_hashes("broken", str(tmp_path)) == {}


def test_a_hash_store_is_written_only_when_what_it_keeps_changed(tmp_path):
    path = tmp_path / "site01.corp.json"
    store = {"site01|c:\\x.dll|10|1|2|3": "a" * 64}
    transport.save_hashes("site01.corp", store, str(tmp_path))
    path.write_text(path.read_text() + " ")  # a mark a rewrite would take away
    transport.save_hashes("site01.corp", dict(store), str(tmp_path), loaded=transport.load_hashes("site01.corp", str(tmp_path)))
    assert path.read_text().endswith(" ")  # the same entries: not written
    grown = dict(store, **{"site01|c:\\y.dll|10|1|2|3": "b" * 64})
    transport.save_hashes("site01.corp", grown, str(tmp_path), loaded=store)
    assert transport.load_hashes("site01.corp", str(tmp_path)) == grown and not path.read_text().endswith(" ")


@pytest.mark.parametrize("hostvars, words", [
    ({"ansible_port": "445x"}, "ansible_port: must be a TCP port"),
    ({"ansible_port": 0}, "ansible_port: must be a TCP port"),
    ({"ansible_user": "CORP\\svc", "ansible_smb_domain": "OTHER"}, "names domain 'CORP'"),
    ({"ansible_user": None}, "needs ansible_user"),
    ({"ansible_smb_auth": "basic"}, "ansible_smb_auth: must be one of ntlm, kerberos"),
    ({"ansible_smb_dialect": "smb3"}, "ansible_smb_dialect: must be one of auto, smb1, smb2"),
    ({"ansible_smb_operation_timeout": "-5"}, "a whole number of seconds from 1 to 86400"),
    ({"ansible_smb_operation_timeout": 1000000000000}, "a whole number of seconds from 1 to 86400 (got 1000000000000)"),
    ({"ansible_smb_connect_timeout": "1.5"}, "a whole number of seconds from 1 to 86400"),
    ({"ansible_smb_require_signing": "maybe"}, "ansible_smb_require_signing: must be true or false (got 'maybe')"),
    ({"ansible_smb_nt4_logon": 2}, "ansible_smb_nt4_logon: must be true or false (got 2)"),
])
def test_malformed_smb_inventory_values_are_refused_before_any_host(hostvars, words):
    values = dict({"ansible_connection": "smsfleet.q317061.smb", "ansible_user": "svc", "ansible_port": 445},
                  **hostvars)
    errors = transport.check_connection(values)
    assert len(errors) == 1 and words in errors[0], errors


def test_good_smb_values_and_winrm_hosts_pass():
    assert transport.check_connection({"ansible_connection": "smsfleet.q317061.smb", "ansible_user": "CORP\\svc",
                                       "ansible_port": "139", "ansible_smb_auth": "kerberos"}) == []
    assert transport.check_connection({"ansible_connection": "winrm", "ansible_port": "nonsense"}) == []


def _record(number, when, event_id, source, strings=(), pad=0):
    names = (source + "\x00").encode("utf-16le") + "SITE01\x00".encode("utf-16le")
    body = names + b"".join((s + "\x00").encode("utf-16le") for s in strings) + b"\x00" * pad
    length = 56 + len(body) + 4
    head = struct.pack("<LLLLLLHHHHLLLLLL", length, 0x654C664C, number, when, when, event_id, 4, len(strings), 0, 0,
                       0, 56 + len(names), 0, 56 + len(names), 0, 56 + len(body))
    return head + body + struct.pack("<L", length)


def test_event_log_records_are_read_from_a_buffer_with_their_ids_without_qualifiers():
    buffer = (_record(9, 1796000005, 0x40001B7C, "Service Control Manager", ["SMS_EXECUTIVE", "running"], pad=2)
              + _record(8, 1796000000, 0x80001775, "EventLog"))
    assert eventlog.records(buffer + b"\x00" * 40) == [  # the rest of the buffer asked for is padding
        {"number": 9, "time": 1796000005, "id": 7036, "source": "Service Control Manager"},
        {"number": 8, "time": 1796000000, "id": 6005, "source": "EventLog"}]
    assert eventlog.records(b"\x00" * 64) == []  # nothing there: no record is made up


@pytest.mark.parametrize("code, name", [
    (0xC0000148, "STATUS_INVALID_LEVEL"), (0x005B0002, "STATUS_SMB_BAD_UID"), (0xC0000121, "STATUS_CANNOT_DELETE"),
    (0xC0000043, "STATUS_SHARING_VIOLATION"), (0xC0000056, "STATUS_DELETE_PENDING"), (0x12345678, "0x12345678"),
])
def test_nt_statuses_are_named_for_the_reports(code, name):
    class Error(Exception):
        def getErrorCode(self):  # noqa: N802 - impacket's name
            return code
    assert client._status(Error()) == name  # pylint: disable=protected-access


GOOD = "a" * 64


@pytest.mark.parametrize("entries, kept", [
    ({"h|c:\\d.dll|1|2|3|4": GOOD.upper()}, {"h|c:\\d.dll|1|2|3|4": GOOD}),  # a hash, in lower case
    ({"h|c:\\d.dll|1|2|3|4|pe": {"version": "2.00.1493.3000", "language_id": 1033, "language": "English"}},
     {"h|c:\\d.dll|1|2|3|4|pe": {"version": "2.00.1493.3000", "language_id": 1033, "language": "English"}}),
    ({"h|c:\\d.dll|1|2|3|4": "not a hash"}, {}),
    ({"h|c:\\d.dll|1|2|3": GOOD}, {}),  # a key the probe never writes
    ({"h|c:\\d.dll|1|2|3|4|pe": {"version": "2.0; rm -rf", "language_id": 1033, "language": "x"}}, {}),
    ({"h|c:\\d.dll|1|2|3|4|pe": {"version": "2.00.1493.3000", "language_id": True, "language": "x"}}, {}),
    ({"h|c:\\d.dll|1|2|3|4|pe": {"version": "2.00.1493.3000", "language_id": 1, "language": "x" * 101}}, {}),
    ([GOOD], {}), (None, {}),
])
def test_hashes_from_a_fact_cache_are_taken_only_in_the_shape_the_probe_writes(entries, kept):
    assert transport.valid_hashes(entries) == kept


def test_a_dll_read_once_is_known_by_its_size_and_times_with_its_version():
    cache = probe.HashCache()
    stat = {"size": 10, "last_write": 2, "creation": 1, "change": 3}
    key = probe.HashCache.key("SITE01", "C:\\SMS\\bin\\i386\\Distmgr.dll", stat)
    assert not cache.knows("site01", "c:\\sms\\bin\\i386\\distmgr.dll")
    cache.put(key, GOOD)
    cache.put_version(key, {"version": "2.00.1493.3000", "language_id": 1033, "language": "English", "extra": 1})
    assert cache.knows("site01", "c:\\sms\\bin\\i386\\distmgr.dll") and cache.get(key) == GOOD
    assert cache.version(key) == {"version": "2.00.1493.3000", "language_id": 1033, "language": "English"}
    assert cache.version(probe.HashCache.key("SITE01", "C:\\SMS\\bin\\i386\\Distmgr.dll", dict(stat, change=4))) is None
