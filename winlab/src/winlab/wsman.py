"""WS-Management shell protocol (the subset pywinrm and ansible-core use).

Create, Command, Send, Receive, Signal and Delete on the windows/shell/cmd
resource. Commands run through an `executor(command, args, stdin) -> (rc, out, err)`
in a worker thread; Receive returns output once the command is done, or a
Running state so the client polls again. Anything else gets a WS-Man fault.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import uuid
import xml.etree.ElementTree as ET

from .transport import DropConnection

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = SHELL + "/Command"
ACTION_SEND = SHELL + "/Send"
ACTION_RECEIVE = SHELL + "/Receive"
ACTION_SIGNAL = SHELL + "/Signal"
RECEIVE_WAIT = 2.0  # seconds a Receive waits for a running command before answering "Running"


@dataclasses.dataclass
class Command:
    id: str
    command: str
    args: str
    expects_stdin: bool
    stdin: bytearray = dataclasses.field(default_factory=bytearray)
    task: asyncio.Task | None = None
    result: tuple[int, bytes, bytes] | None = None
    delivered: bool = False


@dataclasses.dataclass
class Shell:
    id: str
    commands: dict[str, Command] = dataclasses.field(default_factory=dict)


class WSManError(Exception):
    def __init__(self, code: str, subcode: str, reason: str, wsman_code: int = 2150858778):
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.wsman_code = code, subcode, reason, wsman_code


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" '
        'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer">'
        f'<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>'
        f'<a:RelatesTo>{relates_to}</a:RelatesTo><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>'
        f'</s:Header><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def fault(error: WSManError, relates_to: str = "") -> bytes:
    reason = error.reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = (
        f'<s:Fault><s:Code><s:Value>s:{error.code}</s:Value><s:Subcode><s:Value>w:{error.subcode}</s:Value>'
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{error.wsman_code}" Machine="winlab"><f:Message>{reason}</f:Message></f:WSManFault>'
        '</s:Detail></s:Fault>'
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


class ShellService:
    """The shells and commands of one emulated host."""

    def __init__(self, executor, on_command=None, should_drop=None, max_shells: int = 30):
        self._executor = executor
        self._on_command = on_command or (lambda: None)
        self._should_drop = should_drop or (lambda: False)
        self.shells: dict[str, Shell] = {}
        self.max_shells = max_shells
        self.shells_created = 0
        self.commands_run = 0

    async def handle(self, body: bytes) -> tuple[int, bytes]:
        relates_to = ""
        try:
            root = ET.fromstring(body)
            header = root.find("s:Header", NS)
            action = (header.findtext("a:Action", "", NS) if header is not None else "").strip()
            relates_to = (header.findtext("a:MessageID", "", NS) if header is not None else "").strip()
            shell_id = ""
            if header is not None:
                for sel in header.findall("w:SelectorSet/w:Selector", NS):
                    if sel.get("Name") == "ShellId":
                        shell_id = (sel.text or "").strip()
            payload = root.find("s:Body", NS)
            if action == ACTION_CREATE:
                return 200, self._create(relates_to)
            if action not in (ACTION_DELETE, ACTION_COMMAND, ACTION_SEND, ACTION_RECEIVE, ACTION_SIGNAL):
                raise WSManError("Sender", "ActionNotSupported",
                                 f"winlab does not support the WS-Man action {action!r}.", 2150858754)
            shell = self.shells.get(shell_id)
            if shell is None:
                raise WSManError("Sender", "InvalidSelectors", f"The shell {shell_id or '(none)'} does not exist.",
                                 2150858843)
            if action == ACTION_DELETE:
                del self.shells[shell_id]
                return 200, _envelope(ACTION_DELETE + "Response", relates_to, "")
            if action == ACTION_COMMAND:
                return 200, self._command(shell, header, payload, relates_to)
            if action == ACTION_SEND:
                return 200, self._send(shell, payload, relates_to)
            if action == ACTION_RECEIVE:
                return 200, await self._receive(shell, payload, relates_to)
            return 200, self._signal(shell, payload, relates_to)
        except WSManError as error:
            return 500, fault(error, relates_to)
        except ET.ParseError as error:
            return 400, fault(WSManError("Sender", "SchemaValidationError", f"malformed SOAP envelope: {error}"))

    def _create(self, relates_to: str) -> bytes:
        if len(self.shells) >= self.max_shells:
            raise WSManError("Receiver", "QuotaLimit", "The WS-Management service cannot process the request. "
                             "The maximum number of concurrent shells for this user has been exceeded.", 2150859174)
        shell = Shell(id=str(uuid.uuid4()).upper())
        self.shells[shell.id] = shell
        self.shells_created += 1
        body = (
            '<x:ResourceCreated><a:Address>http://localhost/wsman</a:Address><a:ReferenceParameters>'
            f'<w:ResourceURI>{SHELL}/cmd</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">{shell.id}'
            '</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>'
            f'<rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId></rsp:Shell>'
        )
        return _envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", relates_to, body)

    def _command(self, shell: Shell, header, payload, relates_to: str) -> bytes:
        line = payload.find("rsp:CommandLine", NS)
        if line is None:
            raise WSManError("Sender", "SchemaValidationError", "Command without rsp:CommandLine")
        options = {o.get("Name"): (o.text or "").strip().upper() for o in header.findall("w:OptionSet/w:Option", NS)}
        command = Command(id=str(uuid.uuid4()).upper(), command=(line.findtext("rsp:Command", "", NS) or "").strip(),
                          args=(line.findtext("rsp:Arguments", "", NS) or "").strip(),
                          # WINRS_CONSOLEMODE_STDIN=FALSE: the client will Send stdin and close it.
                          expects_stdin=options.get("WINRS_CONSOLEMODE_STDIN") == "FALSE")
        shell.commands[command.id] = command
        self.commands_run += 1
        self._on_command()
        if not command.expects_stdin:
            self._start(command)
        body = f'<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>'
        return _envelope(ACTION_COMMAND + "Response", relates_to, body)

    def _start(self, command: Command) -> None:
        loop = asyncio.get_running_loop()
        command.task = loop.create_task(self._run(command))

    async def _run(self, command: Command) -> None:
        loop = asyncio.get_running_loop()
        command.result = await loop.run_in_executor(None, self._executor, command.command, command.args,
                                                    bytes(command.stdin))

    def _send(self, shell: Shell, payload, relates_to: str) -> bytes:
        stream = payload.find("rsp:Send/rsp:Stream", NS)
        if stream is None:
            raise WSManError("Sender", "SchemaValidationError", "Send without rsp:Stream")
        command = shell.commands.get(stream.get("CommandId", ""))
        if command is None:
            raise WSManError("Sender", "InvalidSelectors", "Send for an unknown command")
        if command.task is not None:
            raise WSManError("Sender", "InvalidParameter", "stdin is already closed for this command")
        command.stdin += base64.b64decode(stream.text or "")
        if stream.get("End", "false").lower() == "true":
            self._start(command)
        return _envelope(ACTION_SEND + "Response", relates_to, "<rsp:SendResponse/>")

    async def _receive(self, shell: Shell, payload, relates_to: str) -> bytes:
        desired = payload.find("rsp:Receive/rsp:DesiredStream", NS)
        command = shell.commands.get(desired.get("CommandId", "") if desired is not None else "")
        if command is None:
            raise WSManError("Sender", "InvalidSelectors", "Receive for an unknown command")
        if command.task is None:
            raise WSManError("Sender", "InvalidParameter", "Receive before stdin was closed")
        if command.result is None:
            await asyncio.wait({command.task}, timeout=RECEIVE_WAIT)
        if command.task.done() and command.task.exception() is not None:
            error = command.task.exception()
            command.result = (1, b"", f"winlab internal error: {error!r}".encode())
        if command.result is None:
            body = (f'<rsp:ReceiveResponse><rsp:CommandState CommandId="{command.id}" '
                    f'State="{SHELL}/CommandState/Running"/></rsp:ReceiveResponse>')
            return _envelope(ACTION_RECEIVE + "Response", relates_to, body)
        if self._should_drop():
            raise DropConnection()
        rc, out, err = command.result
        command.delivered = True
        streams = "".join(
            f'<rsp:Stream Name="{name}" CommandId="{command.id}">{base64.b64encode(data).decode()}</rsp:Stream>'
            for name, data in (("stdout", out), ("stderr", err)) if data
        ) + "".join(f'<rsp:Stream Name="{n}" CommandId="{command.id}" End="true"></rsp:Stream>'
                    for n in ("stdout", "stderr"))
        body = (f'<rsp:ReceiveResponse>{streams}<rsp:CommandState CommandId="{command.id}" '
                f'State="{SHELL}/CommandState/Done"><rsp:ExitCode>{rc}</rsp:ExitCode></rsp:CommandState>'
                '</rsp:ReceiveResponse>')
        return _envelope(ACTION_RECEIVE + "Response", relates_to, body)

    def _signal(self, shell: Shell, payload, relates_to: str) -> bytes:
        signal = payload.find("rsp:Signal", NS)
        command_id = signal.get("CommandId", "") if signal is not None else ""
        shell.commands.pop(command_id, None)
        return _envelope(ACTION_SIGNAL + "Response", relates_to, "<rsp:SignalResponse/>")
