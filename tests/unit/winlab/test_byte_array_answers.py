"""winlab's ElfrReadELW and service enumeration answers, packed with struct, are the messages impacket
packs for the same values (but for padding and referent ids), and impacket's client reads them back."""

import pytest
from impacket.dcerpc.v5 import even, scmr
from ndr_match import mark_referents, same_but_referents_and_padding

from winlab.rpc import eventlog, svcctl


@pytest.mark.parametrize("buffer, read, needed, status", [
    (b"\x30\x00\x00\x00" + bytes(range(44)), 48, 0, 0), (b"\x00" * 4096, 0, 0, 0xC0000011),
    (b"\x00" * 7, 0, 120, 0xC0000023), (b"", 0, 0, 0xC0000008)])
def test_an_event_log_read_answer_is_impacket_s(buffer, read, needed, status):
    theirs = even.ElfrReadELWResponse()
    theirs["Buffer"], theirs["NumberOfBytesRead"], theirs["MinNumberOfBytesNeeded"] = buffer, read, needed
    theirs["ErrorCode"] = status
    ours = eventlog._read_answer(buffer, read, needed, status)  # pylint: disable=protected-access
    assert same_but_referents_and_padding(ours, theirs.getData())
    back = even.ElfrReadELWResponse(ours)
    assert b"".join(back["Buffer"]) == buffer and back["NumberOfBytesRead"] == read and back["ErrorCode"] == status


@pytest.mark.parametrize("resume", [True, False])
@pytest.mark.parametrize("cb", [64, 10])  # the buffer fits, or ERROR_MORE_DATA and the size needed
def test_a_service_enumeration_answer_is_impacket_s(monkeypatch, resume, cb):
    buf = bytes(range(40))
    ours = svcctl._enum_reply(buf, cb, 3, resume=resume)  # pylint: disable=protected-access
    mark_referents(monkeypatch)
    theirs = scmr.REnumServicesStatusWResponse()
    fits = cb >= len(buf)
    theirs["lpBuffer"] = (buf if fits else b"").ljust(cb, b"\x00")
    theirs["pcbBytesNeeded"], theirs["lpServicesReturned"] = 0 if fits else len(buf), 3 if fits else 0
    theirs["lpResumeIndex"] = 0 if resume else scmr.NULL
    theirs["ErrorCode"] = 0 if fits else 234
    assert same_but_referents_and_padding(ours, theirs.getData())
    assert scmr.REnumServicesStatusWResponse(ours)["ErrorCode"] == theirs["ErrorCode"]


def test_a_dependent_services_answer_is_impacket_s():
    buf = bytes(range(36))
    theirs = scmr.REnumDependentServicesWResponse()
    theirs["lpServices"], theirs["pcbBytesNeeded"], theirs["lpServicesReturned"], theirs["ErrorCode"] = buf, 0, 1, 0
    assert same_but_referents_and_padding(svcctl._enum_reply(buf, 36, 1), theirs.getData())  # pylint: disable=protected-access
