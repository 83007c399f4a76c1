# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Agentless SMB/RPC connection for SMS 2.0 site servers that have no WinRM (Windows NT 4.0/2000/2003)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: smb
author: smsfleet maintainers (@smsfleet)
short_description: Reach Windows 2000 site servers over SMB and Windows RPC, with no agent
version_added: 0.2.0
description:
  - Connects to a Windows host the way its administrators did before WinRM existed - SMB (TCP 445, or 139 with
    NetBIOS) with the standard RPC interfaces on named pipes (remote registry, service control manager, server
    service) and the administrative shares (C(C$), C(ADMIN$)). Nothing is installed on the host.
  - This is the transport for the hosts where KB Q317061 exists - SMS 2.0 with Exchange 2000 runs only on
    Windows 2000 Server, which has neither WinRM nor PowerShell, and ansible-core refuses Windows hosts below
    PowerShell 5.1.
  - Over this connection only the collection's own actions do work - M(smsfleet.q317061.q317061_facts),
    M(smsfleet.q317061.q317061_dlls), M(smsfleet.q317061.q317061_exifs), M(smsfleet.q317061.q317061_restart) - and
    files move with C(put_file)/C(fetch_file) over the administrative shares. It runs no commands and no modules
    (M(ansible.builtin.command) or M(ansible.windows.win_ping) fail with a message that says so), and C(become) does
    not apply.
  - SMB1 (C(NT LM 0.12)) is what Windows 2000 speaks; SMB2 is used where the host offers it.
requirements:
  - impacket (Python library, on the controller; see the collection's requirements.txt)
  - pefile (Python library, on the controller)
options:
  remote_addr:
    description: The host name or IP address of the host.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_smb_host
  port:
    description:
      - TCP port of the SMB server - 445 (direct SMB) or 139 (NetBIOS session service, for hosts where 445 is
        closed).
    type: int
    default: 445
    vars:
      - name: ansible_port
      - name: ansible_smb_port
    keyword:
      - name: port
  remote_user:
    description:
      - The account, as C(DOMAIN\user), C(user@domain) or a plain C(user) (with O(domain), or a local account of
        the host). It must be an administrator of the host (administrative shares, service control, registry).
    type: str
    vars:
      - name: ansible_user
      - name: ansible_smb_user
    keyword:
      - name: remote_user
  password:
    description: The account's password.
    type: str
    vars:
      - name: ansible_password
      - name: ansible_smb_password
  domain:
    description:
      - The account's domain, when O(remote_user) does not name one. A different domain in O(remote_user) is an
        error, never a guess.
    type: str
    default: ''
    env:
      - name: ANSIBLE_SMB_DOMAIN
    vars:
      - name: ansible_smb_domain
  auth:
    description:
      - C(ntlm) (NTLMv2 only, one attempt per connection - never NTLMv1, LM or a password in plain text) or
        C(kerberos) (a ticket from O(kdc), or from the credential cache named by C(KRB5CCNAME)).
    type: str
    choices: [ntlm, kerberos]
    default: ntlm
    env:
      - name: ANSIBLE_SMB_AUTH
    vars:
      - name: ansible_smb_auth
  kdc:
    description: The Kerberos KDC (a domain controller) when O(auth=kerberos); default is the domain's DNS name.
    type: str
    env:
      - name: ANSIBLE_SMB_KDC
    vars:
      - name: ansible_smb_kdc
  dialect:
    description: C(auto) negotiates the best the host offers; C(smb1) or C(smb2) insist on one.
    type: str
    choices: [auto, smb1, smb2]
    default: auto
    env:
      - name: ANSIBLE_SMB_DIALECT
    vars:
      - name: ansible_smb_dialect
  require_signing:
    description:
      - Every session is signed whenever the host offers SMB signing (Windows 2000 offers it when its
        C(LanmanServer) C(EnableSecuritySignature) is 1), and every answer's signature is checked.
      - With C(true), a host whose session cannot be signed is refused for everything, audits included. To refuse
        only changes over unsigned sessions, set C(q317061_smb_signing=required) instead.
      - C(true) or C(false) only; any other value is an error, never taken for false.
    type: raw
    default: false
    env:
      - name: ANSIBLE_SMB_REQUIRE_SIGNING
    vars:
      - name: ansible_smb_require_signing
  nt4_logon:
    description:
      - Allow the logon to a server without extended security (Windows NT 4.0), with NTLMv2 and LMv2 responses in
        the NT LM 0.12 session setup; without it such a server is refused, because its default logon would be LM
        or NTLMv1. The server must accept NTLMv2 (NT 4.0 SP4 or later, C(LMCompatibilityLevel)).
      - C(true) or C(false) only.
    type: raw
    default: false
    env:
      - name: ANSIBLE_SMB_NT4_LOGON
    vars:
      - name: ansible_smb_nt4_logon
  connect_timeout:
    description: Seconds to wait for the TCP connection and the logon (1 to 86400).
    type: int
    default: 30
    vars:
      - name: ansible_smb_connect_timeout
  operation_timeout:
    description:
      - Seconds to wait for any one SMB or RPC reply once logged on (1 to 86400). A connection that stops
        answering (it went half-open) is noticed after this long.
    type: int
    default: 60
    vars:
      - name: ansible_smb_operation_timeout
notes:
  - Supported hosts are listed in the collection's README - Windows NT 4.0, 2000 and 2003 over this connection;
    Windows with PowerShell 5.1 over C(ansible.builtin.winrm) or C(ansible.builtin.psrp).
  - Paths are Windows paths on a drive letter (C(C:\SMSFleet\x)); each goes to its drive's administrative share.
"""

EXAMPLES = r"""
# inventories/production/group_vars/windows2000.yml
ansible_connection: smsfleet.q317061.smb
ansible_user: CORP\svc-smsfleet
ansible_password: "{{ vault_smsfleet_password }}"
ansible_smb_operation_timeout: 120
"""

import os

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.transport import MAX_SECONDS, strict_bool

display = Display()
WHAT_WORKS = ("smsfleet.q317061.q317061_facts, q317061_dlls, q317061_exifs and q317061_restart, and copying files "
              "(put_file/fetch_file)")


class Connection(ConnectionBase):
    """SMB and Windows RPC, from the controller."""

    transport = "smsfleet.q317061.smb"
    module_implementation_preferences = (".ps1", ".exe", "")
    allow_executable = False
    has_pipelining = False
    # Actions that know this transport ask for its client; everything else must not think it can run code.
    is_smsfleet_smb = True

    def __init__(self, *args, **kwargs):
        self._shell_type = "powershell"
        self._client = None
        super().__init__(*args, **kwargs)

    def _settings(self) -> dict:
        try:
            user, domain = smb.split_user(self.get_option("remote_user"), self.get_option("domain"))
        except ValueError as error:
            raise AnsibleError(f"smb connection to {self.get_option('remote_addr')}: {error}") from None
        port = self.get_option("port")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise AnsibleError(f"smb connection: ansible_port must be a TCP port (445 or 139), got {port!r}")
        flags = {}
        for name in ("require_signing", "nt4_logon"):
            flags[name] = strict_bool(self.get_option(name))
            if flags[name] is None:
                raise AnsibleError(f"smb connection: ansible_smb_{name} must be true or false, got "
                                   f"{self.get_option(name)!r}")
        for name in ("connect_timeout", "operation_timeout"):
            seconds = self.get_option(name)
            if not isinstance(seconds, int) or not 0 < seconds <= MAX_SECONDS:
                raise AnsibleError(f"smb connection: ansible_smb_{name} must be a whole number of seconds from 1 to "
                                   f"{MAX_SECONDS}, got {seconds!r}")
        return {"host": self.get_option("remote_addr"), "port": port, "user": user, "domain": domain,
                "password": self.get_option("password") or "", "kerberos": self.get_option("auth") == "kerberos",
                "kdc": self.get_option("kdc"), "connect_timeout": self.get_option("connect_timeout"),
                "operation_timeout": self.get_option("operation_timeout"), "dialect": self.get_option("dialect"),
                "require_signing": flags["require_signing"], "nt4_logon": flags["nt4_logon"]}

    def _connect(self):
        if self._client is None:
            settings = self._settings()
            display.vvv(f"SMB CONNECT {settings['domain']}\\{settings['user']}@{settings['host']}:{settings['port']} "
                        f"({'kerberos' if settings['kerberos'] else 'ntlm'})", host=settings["host"])
            try:
                self._client = smb.SmbClient(**settings).connect()
            except smb.SmbError as error:
                raise AnsibleConnectionFailure(str(error)) from None
            display.vvv(f"SMB CONNECTED ({self._client.dialect})", host=settings["host"])
            self._connected = True
        return self

    def smb_client(self) -> smb.SmbClient:
        """The logged-on session, for the collection's actions."""
        self._connect()
        return self._client

    def exec_command(self, cmd, in_data=None, sudoable=True):
        raise AnsibleError(f"the smsfleet.q317061.smb connection runs no commands or modules (Windows 2000 has no "
                           f"PowerShell or WinRM); over smb, use {WHAT_WORKS}. Tried to run: {cmd[:80]}")

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        display.vvv(f"SMB PUT {in_path} TO {out_path}", host=self.get_option("remote_addr"))
        if not os.path.isfile(in_path):
            raise AnsibleError(f"file or module does not exist: {in_path}")
        with open(in_path, "rb") as handle:
            data = handle.read()
        try:
            self.smb_client().write(out_path, data)
        except smb.Unreachable as error:
            raise AnsibleConnectionFailure(str(error)) from None
        except smb.SmbError as error:
            raise AnsibleError(f"failed to copy {in_path} to {out_path}: {error}") from None

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        display.vvv(f"SMB FETCH {in_path} TO {out_path}", host=self.get_option("remote_addr"))
        try:
            data = self.smb_client().read(in_path)[0]
        except smb.Unreachable as error:
            raise AnsibleConnectionFailure(str(error)) from None
        except smb.SmbError as error:
            raise AnsibleError(f"failed to fetch {in_path}: {error}") from None
        with open(out_path, "wb") as handle:
            handle.write(data)

    def reset(self):
        self.close()
        self._connect()

    def close(self):
        if self._client is not None:
            self._client.close()
        self._client = None
        self._connected = False
