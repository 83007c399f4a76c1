"""MS-RRP's remote shutdown calls, which impacket has no classes for.

Kept in their own module: impacket finds a call's reply class by name in the module of the
request class (`<Request>Response`), and this module is imported only when a restart is asked.
"""

from impacket.dcerpc.v5 import rrp
from impacket.dcerpc.v5.dtypes import BOOLEAN, DWORD, ULONG
from impacket.dcerpc.v5.ndr import NDRCALL


class BaseInitiateSystemShutdown(NDRCALL):
    opnum = 24
    structure = (("ServerName", rrp.PREGISTRY_SERVER_NAME), ("lpMessage", rrp.PRRP_UNICODE_STRING),
                 ("dwTimeout", DWORD), ("bForceAppsClosed", BOOLEAN), ("bRebootAfterShutdown", BOOLEAN))


class BaseInitiateSystemShutdownResponse(NDRCALL):
    structure = (("ErrorCode", ULONG),)


class BaseAbortSystemShutdown(NDRCALL):
    opnum = 25
    structure = (("ServerName", rrp.PREGISTRY_SERVER_NAME),)


class BaseAbortSystemShutdownResponse(NDRCALL):
    structure = (("ErrorCode", ULONG),)
