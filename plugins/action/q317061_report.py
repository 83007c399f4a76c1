# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the fleet report set (JSON, CSV, HTML) on the controller from the hosts' results."""

from __future__ import annotations

import os

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import factcache, plans
from ansible_collections.smsfleet.q317061.plugins.plugin_utils import report as rpt


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        spec = {
            "hosts": {"type": "list", "elements": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "result_var": {"type": "list", "elements": "str", "default": ["q317061_audit"]},
            "change_var": {"type": "str"},
            "basename": {"type": "str", "default": "q317061-audit"},
            "title": {"type": "str", "default": "KB Q317061 fleet audit"},
            "template": {"type": "path"},
            "check_mode": {"type": "bool", "default": False},
            "notes": {"type": "list", "elements": "str", "default": []},
            "refused": {"type": "str"},
            "fresh_since": {"type": "str"},
        }
        dummy, args = self.validate_argument_spec(argument_spec=spec)
        hostvars = task_vars.get("hostvars", {})
        # Results and facts are data, never templates: read them raw (templating each host's registered
        # results costs more than the rest of the report together on a big fleet).
        read = getattr(hostvars, "raw_get", None) or (lambda host: hostvars.get(host, {}))
        entries = []
        for host in args["hosts"]:
            hv = read(host)
            hv = hv if isinstance(hv, dict) else {}
            change = hv.get(args["change_var"]) if args["change_var"] else None
            registered = [hv.get(name) for name in args["result_var"]]
            if args["change_var"] and not isinstance(change, dict):
                # Never attempted: the rollout stopped first, the pre-flight refused, nothing was planned, or the
                # host could not be reached (Ansible keeps no facts of an unreachable host: planned here, for a human).
                plan = (hv.get("ansible_facts") or {}).get("q317061_plan")
                ran = plans.first_that_ran(registered)
                if not (isinstance(plan, dict) and plan) and ran:  # ({} from remediate.yml's rescue: no plan)
                    plan = plans.plan_with_policy(plans.facts_from_result(ran), plans.policy_from_vars({}))[0]
                if isinstance(plan, dict):
                    change = plans.change_record(plan, attempted=False, refused=args["refused"])
            cached = (hv.get("ansible_facts") or {}).get("q317061") or self._cached(host)
            entries.append(rpt.entry_from_hostvars(host, registered, cached, fresh_since=args["fresh_since"],
                                                   change=change if isinstance(change, dict) else None))
        report = rpt.build(entries, title=args["title"], check_mode=args["check_mode"], notes=args["notes"])
        try:
            paths = rpt.write_set(report, args["dest"], args["basename"], args["template"])
        except OSError as error:
            raise AnsibleActionFail(f"cannot write the Q317061 report to {args['dest']}: {error}") from error
        # The report is the run's record, written in check mode too (labelled, under its own name).
        problems = list(args["notes"]) + rpt.problems(report) if rpt.problems(report) else []
        result.update(changed=False, paths=paths, summary=report["summary"], lines=rpt.summary_lines(report),
                      problems=problems, artifact=rpt.artifact(report, paths))
        return result

    @staticmethod
    def _cached(host):
        """A verdict in a jsonfile fact cache that ansible-core did not load itself (AWX's layout)."""
        if C.config.get_config_value("CACHE_PLUGIN") not in factcache.JSONFILE:
            return None
        directory = C.config.get_config_value("CACHE_PLUGIN_CONNECTION")
        prefix = C.config.get_config_value("CACHE_PLUGIN_PREFIX") or ""
        return factcache.read_verdict(os.path.expanduser(directory), host, prefix) if directory else None
