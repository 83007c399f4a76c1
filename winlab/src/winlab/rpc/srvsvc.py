"""\\PIPE\\srvsvc (MS-SRVS): server info, shares, disks and statistics, from the host model."""

from impacket.dcerpc.v5 import srvs
from impacket.dcerpc.v5.dtypes import NULL

from .engine import Interface

ERROR_INVALID_LEVEL = 124
NERR_NET_NAME_NOT_FOUND = 2310
SERVER_TYPE = 0x00009003  # WORKSTATION | SERVER | SERVER_NT | NT


def _w(text: str) -> str:
    return text + "\x00"


def _server_info(pipe, stub):
    request = srvs.NetrServerGetInfo(stub)
    level, site = request["Level"], pipe.site
    response = srvs.NetrServerGetInfoResponse()
    response["InfoStruct"]["tag"] = level
    if level not in (100, 101, 102):
        response["InfoStruct"]["tag"] = 101
        response["InfoStruct"]["ServerInfo101"] = NULL
        response["ErrorCode"] = ERROR_INVALID_LEVEL
        return response
    info = response["InfoStruct"][f"ServerInfo{level}"]
    prefix = f"sv{level}_"
    info[prefix + "platform_id"] = 500
    info[prefix + "name"] = _w(site.computer_name)
    if level >= 101:
        major, minor = site.os_version
        info[prefix + "version_major"], info[prefix + "version_minor"] = major, minor
        info[prefix + "type"] = SERVER_TYPE
        info[prefix + "comment"] = _w(site.comment)
    if level == 102:
        info["sv102_users"], info["sv102_disc"], info["sv102_hidden"] = 0xFFFFFFFF, 15, 0
        info["sv102_announce"], info["sv102_anndelta"], info["sv102_licenses"] = 240, 3000, 0
        info["sv102_userpath"] = _w("c:\\")
    response["ErrorCode"] = 0
    return response


def _fill(entry, level: int, share: tuple, uses: int = 0):
    """A SHARE_INFO_<level> (or the matching arm of a union) from (name, type, remark, path)."""
    name, kind, remark, path = share
    prefix = f"shi{level}_"
    entry[prefix + "netname"] = _w(name)
    if level >= 1:
        entry[prefix + "type"], entry[prefix + "remark"] = kind, _w(remark)
    if level >= 2:
        entry[prefix + "permissions"], entry[prefix + "max_uses"], entry[prefix + "current_uses"] = 0, 0xFFFFFFFF, uses
        entry[prefix + "path"], entry[prefix + "passwd"] = _w(path), NULL
    if level == 502:
        entry["shi502_reserved"], entry["shi502_security_descriptor"] = 0, NULL
    return entry


SHARE_INFO = {0: srvs.SHARE_INFO_0, 1: srvs.SHARE_INFO_1, 2: srvs.SHARE_INFO_2, 502: srvs.SHARE_INFO_502}


def _share_enum(pipe, stub):
    request = srvs.NetrShareEnum(stub)  # NetrShareEnumSticky (36) has the same layout
    level = request["InfoStruct"]["Level"]
    response = srvs.NetrShareEnumResponse()
    response["InfoStruct"]["Level"] = level
    union = response["InfoStruct"]["ShareInfo"]
    union["tag"] = level
    resume = NULL if request.fields["ResumeHandle"].fields["ReferentID"] == 0 else 0
    if level not in (0, 1, 2, 502):
        response["InfoStruct"]["Level"], union["tag"], union["Level1"] = 1, 1, NULL
        response["TotalEntries"], response["ResumeHandle"], response["ErrorCode"] = 0, resume, ERROR_INVALID_LEVEL
        return response
    with pipe.site.lock:
        shares = pipe.site.shares()
    container = union[f"Level{level}"]
    container["EntriesRead"] = len(shares)
    for share in shares:
        container["Buffer"].append(_fill(SHARE_INFO[level](), level, share))
    response["TotalEntries"], response["ResumeHandle"], response["ErrorCode"] = len(shares), resume, 0
    return response


def _share_get_info(pipe, stub):
    request = srvs.NetrShareGetInfo(stub)
    name, level = request["NetName"].rstrip("\x00"), request["Level"]
    response = srvs.NetrShareGetInfoResponse()
    with pipe.site.lock:
        share = next((s for s in pipe.site.shares() if s[0].upper() == name.upper()), None)
    if share is None or level not in (0, 1, 2, 502):
        response["InfoStruct"]["tag"] = 1
        response["InfoStruct"]["ShareInfo1"] = NULL
        response["ErrorCode"] = NERR_NET_NAME_NOT_FOUND if share is None else ERROR_INVALID_LEVEL
        return response
    response["InfoStruct"]["tag"] = level
    _fill(response["InfoStruct"][f"ShareInfo{level}"], level, share, uses=1)
    response["ErrorCode"] = 0
    return response


def _disk_enum(pipe, stub):
    srvs.NetrServerDiskEnum(stub)
    with pipe.site.lock:
        disks = pipe.site.disks()
    response = srvs.NetrServerDiskEnumResponse()
    for letter in disks + [""]:  # Windows appends one empty entry: EntriesRead = total + 1
        info = srvs.DISK_INFO()
        info["Disk"] = (letter + ":" if letter else "") + "\x00"
        response["DiskInfoStruct"]["Buffer"].append(info)
    response["DiskInfoStruct"]["EntriesRead"] = len(disks) + 1
    response["TotalEntries"], response["ResumeHandle"], response["ErrorCode"] = len(disks), 0, 0
    return response


def _statistics(pipe, stub):
    srvs.NetrServerStatisticsGet(stub)
    response = srvs.NetrServerStatisticsGetResponse()
    stats = response["InfoStruct"]
    for key in ("sts0_fopens", "sts0_devopens", "sts0_jobsqueued", "sts0_sopens", "sts0_stimedout", "sts0_serrorout",
                "sts0_pwerrors", "sts0_permerrors", "sts0_syserrors", "sts0_bytessent_low", "sts0_bytessent_high",
                "sts0_bytesrcvd_low", "sts0_bytesrcvd_high", "sts0_avresponse", "sts0_reqbufneed", "sts0_bigbufneed"):
        stats[key] = 0
    with pipe.site.lock:  # when the Server service started, or its statistics were last cleared (MS-SRVS 2.2.4.39)
        state = pipe.site.host.state
        stats["sts0_start"] = int(state.get("server_started") or state["boot_time"])
    response["ErrorCode"] = 0
    return response


SRVSVC = Interface("srvsvc", ("4B324FC8-1670-01D3-1278-5A47BF6EE188", "3.0"), {
    15: _share_enum, 16: _share_get_info, 21: _server_info, 23: _disk_enum, 24: _statistics, 36: _share_enum,
})
