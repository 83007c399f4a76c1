# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check every q317061_* variable and what the run targets, on the controller, before any host is touched."""

from __future__ import annotations

import datetime
import os

from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import report as rpt
from ansible_collections.smsfleet.q317061.plugins.plugin_utils import transport, variables

TITLES = {"audit": "KB Q317061 fleet audit", "remediate": "KB Q317061 remediation", "rollback": "KB Q317061 rollback"}
BASENAMES = {"audit": "q317061-audit", "remediate": "q317061-remediation", "rollback": "q317061-rollback"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("playbook", "targets"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        spec = {"playbook": {"type": "str", "required": True, "choices": list(TITLES)},
                "targets": {"type": "list", "elements": "str", "required": True}}
        dummy, args = self.validate_argument_spec(argument_spec=spec)
        playbook = args["playbook"]
        hostvars = task_vars.get("hostvars") or {}

        run, errors = variables.settings(task_vars, scope="run")
        # The play runs on all:localhost, so its hosts are what --limit leaves: target only those.
        in_play = set(task_vars.get("ansible_play_hosts_all") or [])
        targets = sorted(h for h in dict.fromkeys(args["targets"]) if h in in_play and h != "localhost")
        hosts = {}
        names = {n for n in task_vars if n.startswith("q317061_")}
        for host in targets:
            own = hostvars[host]  # each lookup of hostvars[host] gathers the host's variables again: once per host
            values = {name: own.get(name) for name in (*variables.RULES, *variables.RETIRED)}
            hosts[host], found = variables.settings(values, scope="host")
            errors += [f"host {host}: {e}" for e in found if f"host {host}: {e}" not in errors]
            connection = {name: own.get(name) for name in ("ansible_connection", "ansible_port", "ansible_user",
                                                           "ansible_smb_domain", *transport.SMB_CHOICES,
                                                           *transport.SMB_SECONDS, *transport.SMB_BOOLS)}
            # The account as the connection will have it: the inventory's, else the run's `-u` (the remote_user
            # keyword, which is how an AWX Machine credential gives it).
            connection["ansible_user"] = (connection["ansible_user"] or own.get("ansible_smb_user")
                                          or self._play_context.remote_user)
            for name in (*transport.SMB_CHOICES, *transport.SMB_BOOLS, "ansible_smb_domain"):  # below the inventory
                if connection.get(name) is None and os.environ.get(name.upper()) not in (None, ""):
                    connection[name] = os.environ[name.upper()]  # ANSIBLE_SMB_*, as an AWX credential injects them
            errors += [f"host {host}: {e}" for e in transport.check_connection(connection)]
            names.update(n for n in own if str(n).startswith("q317061_"))
        result["warnings"] = variables.unknown(names)

        # The audit reads only, so --check does not make it a prediction: its report is a real audit.
        check_mode = bool(self._task.check_mode) and playbook != "audit"
        run["basename"] = rpt.basename(run.pop("report_basename", None) or BASENAMES[playbook], check_mode)
        suffix = " (check mode: nothing was changed)" if check_mode else ""
        # The run's start, in the facts' checked_at form: facts checked since are this run's probe (the report).
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        run.update(check_mode=check_mode, title=TITLES[playbook] + suffix, started=started)
        if not errors:  # (a refused value leaves its setting out of `run`)
            errors += rpt.check_destination(run["report_dir"], run["report_template"])
        if errors:
            result.update(failed=True, msg="invalid settings; no host was touched:\n- " + "\n- ".join(dict.fromkeys(errors)))
            return result
        run["report_dir"] = os.path.abspath(os.path.expanduser(run["report_dir"]))
        result.update(changed=False, targets=targets, hosts=hosts, run=run)
        if not targets:
            paths = rpt.write_set(rpt.build([], title=run["title"], notes=[rpt.NO_TARGETS], check_mode=check_mode),
                                  run["report_dir"], run["basename"], run["report_template"])
            result.update(failed=True, paths=paths,
                          msg=f"no host is targeted: q317061_targets is {run['targets']!r} and no host of the "
                              "inventory matches it within --limit; nothing was checked. Empty report: "
                              f"{paths['html']}")
        return result
