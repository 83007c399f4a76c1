"""winlab's registry answers framed with struct (winreg_wire.py) are the ones impacket packs for the same
result (only referent ids and pad bytes differ: Windows' 0x00020000, +4, ... and zeros), impacket's client
reads them as it read the answers winlab built with its classes, and requests impacket packs (random
referent ids, debugging pads) are read right. Driven through the real handlers on a real host model."""

import threading
import time
import types

import pytest
from impacket.dcerpc.v5 import rrp
from ndr_match import mark_referents, query_multiple_request, same_but_referents_and_padding, set_handle

from winlab import fleet
from winlab.host import Host
from winlab.rpc import winreg, winreg_wire
from winlab.rpc.engine import RpcPipe

IDENTIFICATION = "SOFTWARE\\Microsoft\\SMS\\Identification"


@pytest.fixture(name="pipe")
def fixture_pipe():
    spec = fleet.expand({"hosts": [{"name": "w2k"}]})[0]
    site = types.SimpleNamespace(host=Host(fleet.initial_state(spec, "127.0.0.1", 0, time.time())),
                                 lock=threading.Lock(), save=lambda: None, rpc_call=lambda *a: None)
    return RpcPipe("winreg", [winreg.WINREG], site)


def hkey(field, handle: bytes):
    set_handle(field, handle)


def hklm(pipe) -> bytes:
    return pipe.new_handle("HKLM")


def opened(pipe, subkey: str) -> bytes:
    request = rrp.BaseRegOpenKey()
    hkey(request["hKey"], hklm(pipe))
    request["lpSubKey"], request["dwOptions"], request["samDesired"] = subkey + "\x00", 0, 0x02000000
    return winreg._open_key(pipe, request.getData())  # pylint: disable=protected-access


@pytest.mark.parametrize("subkey, error", [(IDENTIFICATION, 0), ("SOFTWARE\\Nowhere", 2), ("", 0)])
def test_an_open_key_answer(pipe, subkey, error):
    answer = rrp.BaseRegOpenKeyResponse(opened(pipe, subkey))
    assert answer["ErrorCode"] == error
    handle = answer["phkResult"].getData()
    assert (pipe.handles.get(handle) is not None) == (not error)


def test_an_open_key_with_a_stale_handle_or_the_32_bit_view_on_windows_2000(pipe):
    request = rrp.BaseRegOpenKey()
    hkey(request["hKey"], b"\x00" * 20)
    request["lpSubKey"], request["dwOptions"], request["samDesired"] = IDENTIFICATION + "\x00", 0, 0x02000000
    assert rrp.BaseRegOpenKeyResponse(winreg._open_key(pipe, request.getData()))["ErrorCode"] == 6
    hkey(request["hKey"], hklm(pipe))
    request["samDesired"] = 0x02000200  # KEY_WOW64_32KEY: an access right no key grants on Windows 2000
    assert rrp.BaseRegOpenKeyResponse(winreg._open_key(pipe, request.getData()))["ErrorCode"] == 5


def query_value(pipe, handle, name, size, null_data=False):
    request = rrp.BaseRegQueryValue()
    hkey(request["hKey"], handle)
    request["lpValueName"] = name + "\x00"
    request["lpData"] = rrp.NULL if null_data else b" " * size
    request["lpcbData"], request["lpcbLen"] = size, size
    return winreg._query_value(pipe, request.getData())  # pylint: disable=protected-access


def expected_query_value(kind, data, size, error):
    answer = rrp.BaseRegQueryValueResponse()
    answer["lpType"] = kind if kind is not None else rrp.NULL
    answer["lpData"] = list(data) if data is not None else rrp.NULL
    answer["lpcbData"] = answer["lpcbLen"] = size if size is not None else rrp.NULL
    answer["ErrorCode"] = error
    return answer.getData()


@pytest.mark.parametrize("name, size, null_data, expected", [
    ("Installation Directory", 128, False, (1, "C:\\SMS\x00".encode("utf-16le"), 14, 0)),
    ("installation directory", 4, False, (1, None, 14, 234)),  # too small: ERROR_MORE_DATA and the size
    ("Installation Directory", 0, True, (1, None, 14, 0)),  # no buffer: the size only
    ("Site Type", 4, False, (4, b"\x01\x00\x00\x00", 4, 0)),
    ("Missing", 128, False, (None, None, None, 2)),
])
def test_a_query_value_answer_is_the_one_impacket_packs(pipe, monkeypatch, name, size, null_data, expected):
    handle = rrp.BaseRegOpenKeyResponse(opened(pipe, IDENTIFICATION))["phkResult"].getData()
    ours = query_value(pipe, handle, name, size, null_data)
    mark_referents(monkeypatch)
    assert same_but_referents_and_padding(ours, expected_query_value(*expected))
    read = rrp.BaseRegQueryValueResponse(ours)
    assert read["ErrorCode"] == expected[3]


def query_multiple(pipe, handle, names, size, null_buffer=False):
    request = query_multiple_request(handle, names, size, null_buffer)
    return winreg._query_multiple(pipe, request.getData())  # pylint: disable=protected-access


def expected_multiple(names, entries, buffer, total, error):
    answer = rrp.BaseRegQueryMultipleValuesResponse()
    for name, (length, offset, kind) in zip(names, entries):
        entry = rrp.RVALENT()
        entry["ve_valuename"] = name + "\x00"
        entry["ve_valuelen"], entry["ve_valueptr"], entry["ve_type"] = length, offset, kind
        answer["val_listOut"].append(entry)
    answer["lpvalueBuf"] = list(buffer) if buffer is not None else rrp.NULL
    answer["ldwTotsize"], answer["ErrorCode"] = total, error
    return answer.getData()


LAB, SMS = "LAB\x00".encode("utf-16le"), "C:\\SMS\x00".encode("utf-16le")


@pytest.mark.parametrize("names, size, expected", [
    (["Site Code", "Installation Directory"], 1024, ([(8, 0, 1), (14, 8, 1)], LAB + SMS, 22, 0)),
    (["site code", "Site Type"], 1024, ([(8, 0, 1), (4, 8, 4)], LAB + b"\x01\x00\x00\x00", 12, 0)),
    (["Site Code", "Installation Directory"], 10, ([(8, 0, 1), (14, 8, 1)], None, 22, 234)),  # too small
    (["Site Code", "Parent Site Code"], 1024, ([(8, 0, 1), (0, 0, 0)], None, 8, 2)),  # one missing: all fail
])
def test_a_multiple_query_answer_is_the_one_impacket_packs(pipe, monkeypatch, names, size, expected):
    handle = rrp.BaseRegOpenKeyResponse(opened(pipe, IDENTIFICATION))["phkResult"].getData()
    ours = query_multiple(pipe, handle, names, size)
    mark_referents(monkeypatch)
    assert same_but_referents_and_padding(ours, expected_multiple(names, *expected))
    read = rrp.BaseRegQueryMultipleValuesResponse(ours)
    assert [e["ve_valuename"] for e in read["val_listOut"]] == [n + "\x00" for n in names]
    assert read["ErrorCode"] == expected[3]


def test_a_multiple_query_on_a_stale_handle_or_without_a_buffer(pipe):
    answer = rrp.BaseRegQueryMultipleValuesResponse(query_multiple(pipe, b"\x00" * 20, ["Site Code", "X"], 64))
    assert answer["ErrorCode"] == 6
    handle = rrp.BaseRegOpenKeyResponse(opened(pipe, IDENTIFICATION))["phkResult"].getData()
    answer = rrp.BaseRegQueryMultipleValuesResponse(query_multiple(pipe, handle, ["Site Code", "Site Type"], 64,
                                                                   null_buffer=True))
    assert answer["ErrorCode"] == 234 and answer["ldwTotsize"] == 12


@pytest.mark.parametrize("cut", [1, 8, 24, 40])
def test_a_cut_request_is_bad_stub_data(pipe, cut):
    request = rrp.BaseRegOpenKey()
    hkey(request["hKey"], hklm(pipe))
    request["lpSubKey"], request["dwOptions"], request["samDesired"] = IDENTIFICATION + "\x00", 0, 0x02000000
    with pytest.raises(ValueError):
        winreg_wire.open_key_request(request.getData()[:-cut])
