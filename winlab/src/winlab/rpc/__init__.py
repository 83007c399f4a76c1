"""DCE/RPC over named pipes, served in-process: the PDU engine (engine.py) and the interfaces a
Windows 2000 server answers on \\PIPE\\winreg, svcctl, srvsvc and lsarpc, each acting on the host
model. Requests are unpacked with impacket's client NDR classes and answered with their
...Response classes (local classes where impacket has none or parses Windows' wire form wrongly).
A handler that raises becomes the RPC fault Windows sends for a bad stub, never a dropped pipe."""
