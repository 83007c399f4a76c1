# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the plan a check-mode remediation hands to its approval (plugin_utils/approval.proposal)."""

from __future__ import annotations

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.approval import proposal


def q317061_proposal(targets, hostvars, generated_at=None):
    """`q317061_run.targets | smsfleet.q317061.q317061_proposal(hostvars)` -> {version, hosts, changes}."""
    plans = {}
    for host in targets or []:
        plan = ((hostvars[host] or {}).get("ansible_facts") or {}).get("q317061_plan")
        if isinstance(plan, dict) and plan:
            plans[host] = plan
    return proposal(plans, generated_at)


class FilterModule:
    def filters(self):
        return {"q317061_proposal": q317061_proposal}
