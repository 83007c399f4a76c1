# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KB Q317061 workaround's registry values, over WinRM (the PowerShell module) or smb (the remote
registry, from the controller); the rules are plugin_utils/exifs.py."""

from __future__ import annotations

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import transport, variables

MODULE = "smsfleet.q317061.q317061_exifs"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec={
            "state": {"type": "str", "choices": ["hidden", "restored"], "default": "hidden"}})
        client = transport.smb_client(self._connection)
        if client is None:
            return dict(result, **self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, exifs

        try:
            refusal = transport.unsigned_refusal(client, variables.host_value(task_vars, "q317061_smb_signing",
                                                                              self._templar))
            if refusal:
                return dict(result, **refusal)
            done = dict(exifs.run(client, args["state"], self._task.check_mode), signed=client.security.get("signed"))
        except smb.Unreachable as error:
            raise AnsibleConnectionFailure(str(error)) from None
        except smb.SmbError as error:
            done = {"failed": True, "changed": False, "msg": str(error)}
        if not self._task.diff:
            done.pop("diff", None)
        return dict(result, **done)
