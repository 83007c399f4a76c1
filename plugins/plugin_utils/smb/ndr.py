"""MS-RRP's remote shutdown calls, which impacket has no classes for.

impacket finds a call's reply class by name in the module of the request class
(`<Request>Response`), so the classes are made on first use and kept in this module's namespace
(made lazily: impacket is a controller requirement, imported only when the smb transport runs).
"""

from __future__ import annotations


def shutdown_request():
    """A new BaseInitiateSystemShutdown request (opnum 24, which Windows 2000 has)."""
    if "BaseInitiateSystemShutdown" not in globals():
        from impacket.dcerpc.v5 import rrp
        from impacket.dcerpc.v5.dtypes import BOOLEAN, DWORD, ULONG
        from impacket.dcerpc.v5.ndr import NDRCALL

        class BaseInitiateSystemShutdown(NDRCALL):
            opnum = 24
            structure = (("ServerName", rrp.PREGISTRY_SERVER_NAME), ("lpMessage", rrp.PRRP_UNICODE_STRING),
                         ("dwTimeout", DWORD), ("bForceAppsClosed", BOOLEAN), ("bRebootAfterShutdown", BOOLEAN))

        class BaseInitiateSystemShutdownResponse(NDRCALL):
            structure = (("ErrorCode", ULONG),)

        for cls in (BaseInitiateSystemShutdown, BaseInitiateSystemShutdownResponse):
            cls.__module__ = __name__
            globals()[cls.__name__] = cls
    return globals()["BaseInitiateSystemShutdown"]()
