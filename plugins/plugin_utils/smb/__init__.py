"""The smb transport's knowledge of Windows, in plain Python over impacket (no Ansible import).

Windows 2000 has no WinRM and no PowerShell; what it does answer, with no agent, is SMB with the
standard RPC interfaces on named pipes. These modules do from the controller what the PowerShell
modules do on the host, and produce the same results:

- client.py: one logged-on SMB session: files on the administrative shares, named pipes.
- registry.py, services.py, server.py: winreg (MS-RRP), svcctl (MS-SCMR), srvsvc (MS-SRVS).
- probe.py: the raw probe dictionary of q317061_probe.ps1, same keys and meanings.
- dlls.py: the DLL transaction by the contract of plugin_utils/transaction.py.
- exifs.py, restart.py: the workaround's registry values and the remote restart.
"""

import importlib

PRELOAD = ("impacket.smbconnection", "impacket.dcerpc.v5.transport", "impacket.dcerpc.v5.rrp",
           "impacket.dcerpc.v5.scmr", "impacket.dcerpc.v5.srvs", "impacket.dcerpc.v5.even",
           "impacket.dcerpc.v5.rpcrt", "impacket.uuid")
MODULES = ("client", "pipes", "signing", "smb1", "registry", "services", "server", "eventlog", "probe", "dlls",
           "exifs", "security")


def preload() -> bool:
    """Import impacket and the smb transport's modules now. Called in Ansible's main process (by the filter
    that templates a play's `hosts:`), so every worker forked for a host finds them imported instead of
    spending about 0.15 CPU-seconds importing impacket again (docs/benchmarks.md). False without impacket."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        return False  # a worker: importing here would be the cost the preload saves, paid once more
    try:
        for name in PRELOAD:
            importlib.import_module(name)
        for name in MODULES:
            importlib.import_module(f"{__name__}.{name}")
    except ImportError:
        return False
    return True
