"""\\PIPE\\lsarpc, as far as Samba's `net rpc` needs it: every `net rpc` command first opens the policy
(LsarOpenPolicy, opnum 6, which Samba 4.17 sends; OpenPolicy2, 44, for other clients) and asks the
account domain (level 5); `rpcclient lsaquery` asks the primary domain (level 3)."""

import hashlib
import struct

from impacket.dcerpc.v5 import lsad, ndr
from impacket.dcerpc.v5.dtypes import NULL
from impacket.dcerpc.v5.ndr import NDRCALL

from .engine import Interface

STATUS_INVALID_HANDLE = 0xC0000008
STATUS_INVALID_INFO_CLASS = 0xC0000003


class _OneWchar(ndr.NDRPOINTER):
    """[unique] wchar_t *SystemName points at ONE character ('\\\\'); impacket reads a string there."""
    referent = (("Data", ndr.NDRUSHORT),)


class LsarOpenPolicy(NDRCALL):
    opnum = 6
    structure = (("SystemName", _OneWchar), ("ObjectAttributes", lsad.LSAPR_OBJECT_ATTRIBUTES),
                 ("DesiredAccess", lsad.ACCESS_MASK))


def machine_sid(site) -> str:
    """A stable machine SID per host (S-1-5-21-a-b-c), as every Windows 2000 server has one."""
    a, b, c = struct.unpack("<3L", hashlib.sha256(site.computer_name.encode()).digest()[:12])
    return f"S-1-5-21-{a}-{b}-{c}"


def _open(pipe, stub, request_class, response_class):
    request_class(stub)  # unpacks, or the engine answers with a bad-stub fault
    response = response_class()
    response["PolicyHandle"] = pipe.new_handle("policy")
    response["ErrorCode"] = 0
    return response


def _query(pipe, stub, request_class=lsad.LsarQueryInformationPolicy,
           response_class=lsad.LsarQueryInformationPolicyResponse):
    request = request_class(stub)
    response = response_class()
    level = request["InformationClass"]
    if request["PolicyHandle"] not in pipe.handles:
        response["PolicyInformation"] = NULL
        response["ErrorCode"] = STATUS_INVALID_HANDLE
        return response
    if level not in (3, 5):
        response["PolicyInformation"] = NULL
        response["ErrorCode"] = STATUS_INVALID_INFO_CLASS
        return response
    info = response["PolicyInformation"]
    info["tag"] = level
    if level == 3:  # primary domain: a workgroup member names its workgroup and has no domain SID
        info["PolicyPrimaryDomainInfo"]["Name"] = pipe.site.workgroup
        info["PolicyPrimaryDomainInfo"]["Sid"] = NULL
    else:  # account domain: the machine itself
        info["PolicyAccountDomainInfo"]["DomainName"] = pipe.site.computer_name
        info["PolicyAccountDomainInfo"]["DomainSid"].fromCanonical(machine_sid(pipe.site))
    response["ErrorCode"] = 0
    return response


def _close(pipe, stub):
    request = lsad.LsarClose(stub)
    pipe.handles.pop(request["ObjectHandle"], None)
    response = lsad.LsarCloseResponse()
    response["ObjectHandle"] = b"\x00" * 20
    response["ErrorCode"] = 0
    return response


LSARPC = Interface("lsarpc", ("12345778-1234-ABCD-EF00-0123456789AB", "0.0"), {
    0: _close,
    6: lambda pipe, stub: _open(pipe, stub, LsarOpenPolicy, lsad.LsarOpenPolicyResponse),
    7: _query,
    44: lambda pipe, stub: _open(pipe, stub, lsad.LsarOpenPolicy2, lsad.LsarOpenPolicy2Response),
    46: lambda pipe, stub: _query(pipe, stub, lsad.LsarQueryInformationPolicy2,
                                  lsad.LsarQueryInformationPolicy2Response),
})
