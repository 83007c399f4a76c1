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
