"""The registry calls rrp_wire packs are the ones impacket packs (the same fields at the same offsets; only
impacket's random referent ids and debugging pad bytes differ), impacket reads them back as what was
asked, and rrp_wire reads impacket's answers (as winlab and Samba send them) as impacket reads them."""

import struct

import pytest
from impacket.dcerpc.v5 import rrp
from ndr_match import mark_referents, query_multiple_request, same_but_referents_and_padding, set_handle

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import rrp_wire

HANDLE = bytes(range(20))


@pytest.fixture(name="windows_referents")
def fixture_windows_referents(monkeypatch):
    mark_referents(monkeypatch)


def hkey(field, handle=HANDLE):
    set_handle(field, handle)


@pytest.mark.parametrize("subkey", ["SOFTWARE\\Microsoft\\SMS\\Identification", "SYSTEM", "A"])
def test_an_open_key_is_packed_as_impacket_packs_it(windows_referents, subkey):
    theirs = rrp.BaseRegOpenKey()
    hkey(theirs["hKey"])
    theirs["lpSubKey"], theirs["dwOptions"], theirs["samDesired"] = subkey + "\x00", 0, 0x02000200
    ours = rrp_wire.open_key(HANDLE, subkey, 0x02000200)
    assert same_but_referents_and_padding(ours, theirs.getData())
    read = rrp.BaseRegOpenKey(ours)
    assert read["hKey"].getData() == HANDLE and read["lpSubKey"] == subkey + "\x00"
    assert (read["dwOptions"], read["samDesired"]) == (0, 0x02000200)


@pytest.mark.parametrize("name, size", [("Installation Directory", 128), ("Ab", 6), ("", 1024)])
def test_a_query_value_is_packed_as_impacket_packs_it(windows_referents, name, size):
    theirs = rrp.BaseRegQueryValue()
    hkey(theirs["hKey"])
    theirs["lpValueName"] = name + "\x00"
    theirs["lpData"], theirs["lpcbData"], theirs["lpcbLen"] = b" " * size, size, size
    ours = rrp_wire.query_value(HANDLE, name, size)
    assert same_but_referents_and_padding(ours, theirs.getData())
    read = rrp.BaseRegQueryValue(ours)
    assert read["lpValueName"] == name + "\x00" and read["lpcbData"] == read["lpcbLen"] == size


@pytest.mark.parametrize("names", [["Site Code", "Installation Directory"], ["A", "Bc", "Def", "Ghij"]])
def test_a_multiple_query_is_packed_as_impacket_packs_it(windows_referents, names):
    theirs = query_multiple_request(HANDLE, names, 64)
    ours = rrp_wire.query_multiple(HANDLE, names, 64)
    assert same_but_referents_and_padding(ours, theirs.getData())
    read = rrp.BaseRegQueryMultipleValues(ours)
    assert [e["ve_valuename"] for e in read["val_listIn"]] == [n + "\x00" for n in names]
    assert read["num_vals"] == len(names) and read["ldwTotsize"] == 64


def test_an_open_key_answer_is_read_as_impacket_reads_it():
    answer = rrp.BaseRegOpenKeyResponse()
    hkey(answer["phkResult"], bytes(range(100, 120)))
    answer["ErrorCode"] = 0
    assert rrp_wire.open_key_answer(answer.getData()) == (bytes(range(100, 120)), 0)
    answer["ErrorCode"] = 2
    assert rrp_wire.open_key_answer(answer.getData())[1] == 2


def query_value_answer(kind=1, data=b"C\x00:\x00\x00\x00", size=None, error=0):
    answer = rrp.BaseRegQueryValueResponse()
    answer["lpType"] = kind if kind is not None else rrp.NULL
    answer["lpData"] = list(data) if data is not None else rrp.NULL
    answer["lpcbData"] = len(data or b"") if size is None else size
    answer["lpcbLen"] = len(data or b"")
    answer["ErrorCode"] = error
    return answer.getData()


def test_a_query_value_answer_is_read_as_impacket_reads_it():
    assert rrp_wire.query_value_answer(query_value_answer()) == {"type": 1, "data": b"C\x00:\x00\x00\x00", "size": 6,
                                                                 "error": 0}
    # ERROR_MORE_DATA: no data, the size the value needs
    assert rrp_wire.query_value_answer(query_value_answer(None, None, 9000, 234)) == {
        "type": None, "data": None, "size": 9000, "error": 234}
    odd = query_value_answer(4, b"\x01\x00\x00")  # an odd length: the next pointer is aligned
    assert rrp_wire.query_value_answer(odd)["data"] == b"\x01\x00\x00"


def query_multiple_answer(values: dict, error=0, names=True, buffer=True):
    answer = rrp.BaseRegQueryMultipleValuesResponse()
    data = b""
    for name, raw in values.items():
        entry = rrp.RVALENT()
        entry["ve_valuename"] = name + "\x00" if names else rrp.NULL
        entry["ve_valuelen"], entry["ve_valueptr"], entry["ve_type"] = len(raw), len(data), 1
        data += raw
        answer["val_listOut"].append(entry)
    answer["lpvalueBuf"] = list(data) if buffer else rrp.NULL
    answer["ldwTotsize"], answer["ErrorCode"] = len(data), error
    return answer.getData(), data


@pytest.mark.parametrize("names", [True, False])
def test_a_multiple_query_answer_is_read_as_impacket_reads_it(names):
    values = {"Site Code": "LAB\x00".encode("utf-16le"), "X": b"\x01\x02\x03", "Installation Directory": b"D\x00"}
    stub, data = query_multiple_answer(values, names=names)
    read = rrp_wire.query_multiple_answer(stub)
    theirs = rrp.BaseRegQueryMultipleValuesResponse(stub)
    assert read["buffer"] == data == b"".join(theirs["lpvalueBuf"])
    assert read["entries"] == [(e["ve_valuelen"], e["ve_valueptr"], e["ve_type"]) for e in theirs["val_listOut"]]
    assert (read["total"], read["error"]) == (len(data), 0)
    stub, dummy = query_multiple_answer(values, error=234, buffer=False)
    assert rrp_wire.query_multiple_answer(stub)["buffer"] is None
    assert rrp_wire.query_multiple_answer(stub)["error"] == 234


@pytest.mark.parametrize("cut", [1, 4, 9, 30])
def test_a_cut_or_padded_answer_is_refused(cut):
    stub, dummy = query_multiple_answer({"A": b"\x01\x00\x00\x00"})
    with pytest.raises(ValueError):
        rrp_wire.query_multiple_answer(stub[:-cut])
    with pytest.raises(ValueError):
        rrp_wire.query_value_answer(query_value_answer()[:-cut])
    with pytest.raises(ValueError):
        rrp_wire.query_value_answer(query_value_answer() + b"\x01\x00\x00\x00")  # data after the status
    assert rrp_wire.query_value_answer(query_value_answer() + b"\x00" * 4)["error"] == 0  # padding is no data


def test_an_array_that_claims_more_than_it_holds_is_refused():
    stub = bytearray(query_value_answer())
    struct.pack_into("<L", stub, 16, 7)  # lpData's actual count above its maximum
    with pytest.raises(ValueError):
        rrp_wire.query_value_answer(bytes(stub))
    with pytest.raises(ValueError):
        rrp_wire.open_key(b"short", "A", 1)


def test_a_raw_handle_reaches_the_calls_impacket_still_packs_whole():
    from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import registry

    request = rrp.BaseRegCreateKey()
    request["hKey"] = registry.impacket_handle(HANDLE)
    assert request.getData()[:20] == HANDLE
