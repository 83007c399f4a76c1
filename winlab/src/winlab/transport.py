"""Transport layer: a tiny asyncio HTTP/1.1 server, one listener per host.

Only what WinRM clients use: POST /wsman with Content-Length bodies, keep-alive,
HTTP Basic auth (wrong credentials get 401 and nothing runs), optional TLS.
One event loop serves every host, so 1,000 endpoints cost 1,000 sockets, not
1,000 threads. Link faults (latency, bandwidth, dropped connections) live here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import ssl
import typing as t

log = logging.getLogger(__name__)

Handler = t.Callable[[bytes], t.Awaitable[tuple[int, bytes]]]

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 500: "Internal Server Error"}


class DropConnection(Exception):
    """Raised by a handler to close the TCP connection without an answer (a link fault)."""


class Endpoint:
    """One emulated host's WinRM listener."""

    def __init__(self, host: str, port: int, username: str, password: str, handler: Handler,
                 ssl_context: ssl.SSLContext | None = None, link=None):
        self.host, self.port = host, port
        self._credentials = f"{username}:{password}".encode()
        self._handler = handler
        self._ssl = ssl_context
        self.link = link  # object with .latency (s) and .bandwidth (bytes/s or 0)
        self.bytes_in = 0
        self.bytes_out = 0
        self.requests = 0
        self.auth_failures = 0
        self._server: asyncio.base_events.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self._ssl,
                                                  reuse_address=True, backlog=64)
        self.port = self._server.sockets[0].getsockname()[1]  # the real port when 0 was asked for

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            for writer in list(self._clients):  # idle keep-alive connections would hold wait_closed() open
                writer.close()
            await self._server.wait_closed()

    def _authorised(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._credentials)

    async def _delay(self, size: int) -> None:
        link = self.link
        if link is None:
            return
        wait = link.latency + (size / link.bandwidth if link.bandwidth else 0)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                method, path, _ = (request_line.decode("latin-1").split(" ", 2) + ["", ""])[:3]
                length = headers.get("content-length")
                body = await reader.readexactly(int(length)) if length and length.isdigit() else b""
                self.bytes_in += len(request_line) + len(body)
                self.requests += 1
                await self._delay(len(body))
                if not self._authorised(headers):
                    self.auth_failures += 1
                    status, payload, extra = 401, b"", {"WWW-Authenticate": 'Basic realm="WSMAN"'}
                elif method != "POST":
                    status, payload, extra = 405, b"", {}
                elif path.split("?")[0].rstrip("/").lower() != "/wsman":
                    status, payload, extra = 404, b"", {}
                else:
                    try:
                        status, payload = await self._handler(body)
                    except DropConnection:
                        log.info("%s:%s: dropping connection (fault)", self.host, self.port)
                        break
                    extra = {"Content-Type": "application/soap+xml;charset=UTF-8"}
                await self._delay(len(payload))
                head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Length: {len(payload)}",
                        "Server: Microsoft-HTTPAPI/2.0 (winlab)"]
                head += [f"{k}: {v}" for k, v in extra.items()]
                data = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
                self.bytes_out += len(data)
                writer.write(data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        except Exception:  # a bug in winlab must not kill the listener
            log.exception("%s:%s: request failed", self.host, self.port)
        finally:
            self._clients.discard(writer)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
