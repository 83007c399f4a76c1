# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the fleet report set (JSON, CSV, HTML) on the controller from the hosts' results."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import report as rpt


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        spec = {
            "hosts": {"type": "list", "elements": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "result_var": {"type": "str", "default": "q317061_audit"},
            "change_var": {"type": "str"},
            "basename": {"type": "str", "default": "q317061-audit"},
            "title": {"type": "str", "default": "KB Q317061 fleet audit"},
        }
        dummy, args = self.validate_argument_spec(argument_spec=spec)
        hostvars = task_vars.get("hostvars", {})
        entries = []
        for host in args["hosts"]:
            hv = hostvars.get(host, {})
            change = hv.get(args["change_var"]) if args["change_var"] else None
            entries.append(rpt.entry_from_hostvars(host, hv.get(args["result_var"]),
                                                   (hv.get("ansible_facts") or {}).get("q317061"),
                                                   change=change if isinstance(change, dict) else None))
        report = rpt.build(entries, title=args["title"])
        dest = args["dest"]
        if self._task.check_mode:
            result.update(changed=False, summary=report["summary"], lines=rpt.summary_lines(report),
                          msg="check mode: report not written")
            return result
        try:
            os.makedirs(dest, exist_ok=True)
            paths = {}
            for ext, render in (("json", rpt.to_json), ("csv", rpt.to_csv), ("html", rpt.to_html)):
                path = os.path.join(dest, f"{args['basename']}.{ext}")
                tmp_path = path + ".tmp"
                with open(tmp_path, "w", encoding="utf-8") as handle:
                    handle.write(render(report))
                os.replace(tmp_path, path)
                paths[ext] = path
        except OSError as error:
            raise AnsibleActionFail(f"cannot write the Q317061 report to {dest}: {error}") from error
        result.update(changed=True, paths=paths, summary=report["summary"], lines=rpt.summary_lines(report))
        return result
