# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart a site server and wait until it is back with the services that matter running.

Over WinRM this is ansible.windows.win_reboot (a new boot time proves the restart), then
win_service_info until each service in wait_for_services runs. Over smb it is the remote shutdown
of MS-RRP (BaseInitiateSystemShutdown), then a new SMB session whose server statistics show a new
boot time, then the service control manager until the services run.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import transport

POLL_SECONDS = 3
display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec={
            "msg": {"type": "str", "default": "Restarting for KB Q317061 (smsfleet.q317061)"},
            "reboot_timeout": {"type": "int", "default": 900},
            "pre_reboot_delay": {"type": "int", "default": 2},
            "wait_for_services": {"type": "list", "elements": "str", "default": []},
        })
        if self._task.check_mode:
            return dict(result, changed=True, rebooted=False, msg="check mode: the host would be restarted")
        started = time.monotonic()
        deadline = started + args["reboot_timeout"]
        if transport.name(self._connection) == transport.SMB:
            done = self._restart_smb(args, deadline)
        else:
            done = self._restart_winrm(args, task_vars)
        if done.get("failed"):
            return dict(result, **done)
        states = self._wait_services(args["wait_for_services"], deadline, task_vars)
        late = [name for name, state in states.items() if state not in ("running", None)]
        result.update(changed=True, rebooted=True, services=states, elapsed=int(time.monotonic() - started))
        if late:
            result.update(failed=True, msg=f"the host restarted, but {', '.join(late)} did not run within "
                                           f"{args['reboot_timeout']} seconds ({', '.join(states[n] for n in late)})")
        return result

    def _restart_winrm(self, args, task_vars):
        task = self._task.copy()
        task.args = {"reboot_timeout": args["reboot_timeout"], "msg": args["msg"],
                     "pre_reboot_delay": args["pre_reboot_delay"]}
        reboot = self._shared_loader_obj.action_loader.get(
            "ansible.windows.win_reboot", task=task, connection=self._connection, play_context=self._play_context,
            loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
        return reboot.run(task_vars=task_vars)

    def _restart_smb(self, args, deadline):
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, registry, server

        try:
            client = transport.smb_client(self._connection)
            before = server.boot_epoch(client)
            registry.Registry(client).shutdown(args["msg"], args["pre_reboot_delay"])
        except smb.Unreachable as error:
            raise AnsibleConnectionFailure(str(error)) from None
        except smb.SmbError as error:
            return {"failed": True, "changed": False, "msg": f"the restart was not started: {error}"}
        self._connection.close()
        time.sleep(args["pre_reboot_delay"] + 1)
        while time.monotonic() < deadline:
            try:
                self._connection.reset()
                if server.boot_epoch(transport.smb_client(self._connection)) != before:
                    return {}
            except (AnsibleConnectionFailure, smb.SmbError) as error:
                display.vvvv(f"q317061_restart: not back yet ({error})")
            self._connection.close()
            time.sleep(POLL_SECONDS)
        return {"failed": True, "changed": True, "rebooted": True,
                "msg": f"the host did not come back within {args['reboot_timeout']} seconds of the restart"}

    def _wait_services(self, names, deadline, task_vars) -> dict:
        """{service: state} once each runs (or is absent: None), or at the deadline."""
        states = {name: "unknown" for name in names}
        while True:
            for name in names:
                if states[name] not in ("running", None):
                    states[name] = self._service_state(name, task_vars)
            if all(s in ("running", None) for s in states.values()) or time.monotonic() >= deadline:
                return states
            time.sleep(POLL_SECONDS)

    def _service_state(self, name, task_vars):
        client = transport.smb_client(self._connection)
        if client is None:
            info = self._execute_module(module_name="ansible.windows.win_service_info", module_args={"name": name},
                                        task_vars=task_vars)
            if info.get("failed"):
                return "unknown"
            return info["services"][0]["state"] if info.get("exists") else None
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, services

        try:
            return services.Services(client).state(name)
        except smb.SmbError:
            return "unknown"
