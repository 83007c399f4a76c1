"""The winlab process: every emulated host of a fleet in one asyncio event loop.

Started in the background by `winlab up`; controlled over a small JSON-lines
socket on loopback whose port is recorded in <state dir>/winlab.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import signal
import threading
import time
import uuid

from . import fleet as fleet_mod
from . import psrun
from .host import ConnectionLost, Host
from .smb.server import SmbFront
from .state import StateDir
from .tls import LabCA
from .transport import Endpoint
from .wsman import ShellService

log = logging.getLogger("winlab")


class Link:
    def __init__(self, latency_ms: int = 0, bandwidth_kbps: int = 0):
        self.latency = latency_ms / 1000.0
        self.bandwidth = bandwidth_kbps * 1024 // 8


class EmulatedHost:
    """Glue: a Host model behind a ShellService behind an Endpoint."""

    def __init__(self, state: dict, store: StateDir, bind: str, ssl_context=None):
        self.host = Host(state, blobs=store.blobs)
        self.store = store
        self.lock = threading.RLock()
        self.pending_drop = False
        self.smb_stats = {"connections": 0, "requests": 0, "bytes_in": 0, "bytes_out": 0, "auth_failures": 0,
                          "logoffs": 0, "bad_uid": 0, "oplock_breaks": 0, "bad_signatures": 0}
        self.smb_commands: dict[str, int] = {}  # requests by SMB command: what a client's cost is made of
        faults = state.get("faults") or {}
        self.link = Link(faults.get("latency_ms", 0), faults.get("bandwidth_kbps", 0))
        self.shells = ShellService(self._execute, on_command=self._on_command, should_drop=self._should_drop)
        self.endpoint = Endpoint(bind, state.get("port") or 0, state["username"], state["password"],
                                 self._handle, ssl_context=ssl_context, link=self.link)

    async def _handle(self, body: bytes):
        from .transport import DropConnection
        with self.lock:
            up = self.host.is_up()
        if not up:
            raise DropConnection()
        return await self.shells.handle(body)

    def _on_command(self) -> None:
        faults = self.host.state.get("faults") or {}
        remaining = faults.get("drop_after_commands")
        if remaining is not None:
            if remaining <= 0:
                self.pending_drop = True
                faults.pop("drop_after_commands")
            else:
                faults["drop_after_commands"] = remaining - 1

    def command_drops_now(self) -> bool:
        """An SMB command counts against drop_after_commands as a WinRM command does."""
        with self.lock:
            faults = self.host.state.get("faults") or {}
            remaining = faults.get("drop_after_commands")
            if remaining is None:
                return False
            if remaining <= 0:
                faults.pop("drop_after_commands")
                self.store.save_host(self.host.state)
                return True
            faults["drop_after_commands"] = remaining - 1
            return False

    def link_delay(self, size: int) -> None:
        """The slow-link faults on SMB (a connection's own thread, so it may sleep)."""
        wait = self.link.latency + (size / self.link.bandwidth if self.link.bandwidth else 0)
        if wait > 0:
            time.sleep(wait)

    def _should_drop(self) -> bool:
        if self.pending_drop:
            self.pending_drop = False
            return True
        return False

    def _execute(self, command: str, args: str, stdin: bytes):
        with self.lock:
            try:
                return psrun.execute(self.host, command, args, stdin)
            except ConnectionLost:
                self.pending_drop = True  # the Receive that would carry the reply drops instead
                return 1, b"", b""
            finally:
                self.store.save_host(self.host.state)

    def apply_link_faults(self) -> None:
        faults = self.host.state.get("faults") or {}
        self.link.latency = faults.get("latency_ms", 0) / 1000.0
        self.link.bandwidth = faults.get("bandwidth_kbps", 0) * 1024 // 8

    def stats(self) -> dict:
        return {"shells": self.shells.shells_created, "open_shells": len(self.shells.shells),
                "commands": self.shells.commands_run, "requests": self.endpoint.requests,
                "bytes_in": self.endpoint.bytes_in, "bytes_out": self.endpoint.bytes_out,
                "auth_failures": self.endpoint.auth_failures, "smb": dict(self.smb_stats),
                "smb_commands": dict(sorted(self.smb_commands.items()))}


class Fleet:
    def __init__(self, state_dir: str):
        self.store = StateDir(state_dir)
        self.meta = self.store.read_meta()
        self.bind = self.meta.get("bind", "127.0.0.1")
        self.hosts: dict[str, EmulatedHost] = {}
        self.stopping = asyncio.Event()
        self.ssl_context = LabCA(self.store.root).server_context() if self.meta.get("https") else None
        self.smb = SmbFront()

    def build_states(self) -> list[dict]:
        specs = fleet_mod.load(self.meta["fleet"])
        now = time.time()
        return [fleet_mod.initial_state(spec, self.bind, 0, now) for spec in specs]

    async def start(self) -> None:
        states = self.store.load_hosts() or self.build_states()
        for state in states:
            await self._add(state)
        self.smb.start()
        self.meta["ports"] = {name: h.endpoint.port for name, h in self.hosts.items()}

    async def _add(self, state: dict) -> None:
        emulated = EmulatedHost(state, self.store, self.bind, self.ssl_context)
        try:
            await emulated.endpoint.start()
        except OSError:
            emulated.endpoint.port = 0  # the recorded port is taken: take a new one
            await emulated.endpoint.start()
        state["address"], state["port"] = self.bind, emulated.endpoint.port
        state["smb_port"] = self.smb.add(emulated, self.bind, state.get("smb_port") or 0)
        self.store.save_host(state)
        self.hosts[state["name"]] = emulated

    async def stop(self) -> None:
        for h in self.hosts.values():
            await h.endpoint.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.smb.stop)

    # -- control operations ------------------------------------------------
    def op_status(self, _req):
        now = time.time()
        out = []
        for name, h in self.hosts.items():
            with h.lock:
                up = h.host.is_up(now)
                out.append({"name": name, "address": h.endpoint.host, "port": h.endpoint.port, "up": up,
                            "smb_port": h.host.state.get("smb_port"), "transport": h.host.state.get("transport"),
                            "group": h.host.state.get("group"), "boot_time": h.host.state["boot_time"],
                            "faults": h.host.state.get("faults") or {}})
        return {"hosts": out}

    def op_stats(self, _req):
        return {"hosts": {name: h.stats() for name, h in self.hosts.items()}}

    def op_fault(self, req):
        h = self._host(req["host"])
        kind, value = req["kind"], req.get("value")
        if kind in fleet_mod.EVENT_FAULTS:
            return self._event(req["host"], h, kind, req.get("clear"))
        with h.lock:
            faults = copy.deepcopy(h.host.state.get("faults") or {})  # a rejected value must never stick
            if req.get("clear"):
                faults.pop(kind, None)
            elif fleet_mod.FAULT_KINDS.get(kind) is list:  # one item per call
                faults.setdefault(kind, []).append(value)
            else:
                faults[kind] = value
            fleet_mod.validate_faults(faults, lambda field, message: _reject(req["host"], field, message))
            h.host.state["faults"] = faults
            if req.get("clear") and kind == "restart_never_returns" and h.host.state.get("down_until") == float("inf"):
                h.host.state["down_until"] = time.time() + float(h.host.state.get("restart_seconds", 3))
            if req.get("clear") and kind == "hang_on_stop":  # the hung service's process finally ends
                for svc in h.host.state["services"].values():
                    if svc["state"] == "stoppending":
                        svc["state"] = "stopped"
            h.apply_link_faults()
            self.store.save_host(h.host.state)
        return {"host": req["host"], "faults": faults}

    def _event(self, name: str, h: EmulatedHost, kind: str, clear: bool) -> dict:
        """Something that happens now, not a state: the Server service restarted (its sessions end, its
        statistics start again) or someone cleared its statistics on the console."""
        if clear:
            raise ValueError(f"fault: host {name}: {kind}: an event cannot be cleared")
        with h.lock:
            h.host.state["server_started"] = time.time()
            self.store.save_host(h.host.state)
        if kind == "server_service_restarted":
            self.smb.drop_all(name)
        return {"host": name, "faults": h.host.state.get("faults") or {}, "event": kind}

    def op_distribute(self, req):
        package = req.get("package") or f"LAB{uuid.uuid4().hex[:5].upper()}"
        results = {}
        for name, h in self.hosts.items():
            with h.lock:
                if not h.host.is_up():
                    results[name] = {"arrived": False, "drive": None, "reason": "host is down"}
                    continue
                results[name] = h.host.distribute(package)
                self.store.save_host(h.host.state)
        return {"package": package, "hosts": results}

    def op_upgrade(self, req):
        """An SMS service pack or hotfix installed outside this collection (SMS Setup replaces both DLLs)."""
        h = self._host(req["host"])
        with h.lock:
            changed = h.host.install_sms_build(req["version"])
            self.store.save_host(h.host.state)
        return {"host": req["host"], "files": changed}

    def op_host(self, req):
        h = self._host(req["host"])
        with h.lock:
            return {"state": h.host.snapshot()}

    def op_reset(self, _req):
        fresh = {s["name"]: s for s in self.build_states()}
        for name, h in self.hosts.items():
            with h.lock:
                state = fresh[name]
                state["address"], state["port"] = h.endpoint.host, h.endpoint.port
                state["smb_port"] = h.host.state.get("smb_port")
                h.host.state.clear()
                h.host.state.update(state)  # initial_state has booted it (and kept a pending EXIFS letter)
                h.apply_link_faults()
                self.store.save_host(h.host.state)
        return {"reset": len(self.hosts)}

    def op_shutdown(self, _req):
        self.stopping.set()
        return {"stopping": True}

    def _host(self, name):
        if name not in self.hosts:
            raise KeyError(f"no host named {name!r} in this fleet")
        return self.hosts[name]

    async def control(self, reader, writer):
        try:
            line = await reader.readline()
            req = json.loads(line)
            op = getattr(self, f"op_{req.get('op')}", None)
            if op is None:
                reply = {"error": f"unknown control operation {req.get('op')!r}"}
            else:
                try:
                    reply = await asyncio.get_running_loop().run_in_executor(None, op, req)
                except (KeyError, ValueError) as error:
                    reply = {"error": str(error).strip("'\"")}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()


def _reject(host: str, field: str, message: str):
    raise ValueError(f"fault: host {host}: {field}: {message}")


async def serve(state_dir: str) -> None:
    fleet = Fleet(state_dir)
    await fleet.start()
    control = await asyncio.start_server(fleet.control, "127.0.0.1", 0)
    fleet.meta.update(control_port=control.sockets[0].getsockname()[1], pid=os.getpid(), started=time.time())
    fleet.store.write_meta(fleet.meta)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, fleet.stopping.set)
    log.info("winlab: %d hosts up", len(fleet.hosts))

    async def ticker():  # emulated time passes even when nobody talks to a host
        while not fleet.stopping.is_set():
            await asyncio.sleep(0.5)
            for h in fleet.hosts.values():
                state = h.host.state
                if any(state.get(k) is not None for k in ("restart_at", "down_until", "store_ready_at")):
                    with h.lock:
                        h.host.tick()
                        fleet.store.save_host(h.host.state)
    tick_task = asyncio.create_task(ticker())
    await fleet.stopping.wait()
    tick_task.cancel()
    control.close()
    await fleet.stop()
    for h in fleet.hosts.values():
        fleet.store.save_host(h.host.state)
    fleet.meta.pop("pid", None)
    fleet.meta.pop("control_port", None)
    fleet.store.write_meta(fleet.meta)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="winlab-server")
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("impacket").setLevel(logging.WARNING)  # one line per connection otherwise
    asyncio.run(serve(args.state_dir))


if __name__ == "__main__":
    main()
