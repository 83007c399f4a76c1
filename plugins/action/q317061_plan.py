# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide, on the controller, what remediation does to one host (plugin_utils/plans.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import factcache, plans, variables

POLICY_OPTIONS = plans.POLICY_OPTIONS


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("facts", "result") + POLICY_OPTIONS)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        spec = {"facts": {"type": "dict"}, "result": {"type": "dict"}}
        spec.update({name: {"type": "raw"} for name in POLICY_OPTIONS})
        dummy, args = self.validate_argument_spec(argument_spec=spec, mutually_exclusive=[("facts", "result")],
                                                  required_one_of=[("facts", "result")])
        try:
            # An option left out takes the host's own q317061_* variable (as the playbooks do).
            policy = plans.policy_from_vars({f"q317061_{name}": args[name] if args[name] is not None else
                                             variables.host_value(task_vars, f"q317061_{name}",
                                                                  self._templar)
                                             for name in POLICY_OPTIONS})
            work_dir = variables.normalise("q317061_work_dir", variables.host_value(task_vars, "q317061_work_dir",
                                                                                    self._templar))
        except plans.PolicyError as error:
            result.update(failed=True, msg=f"invalid remediation policy for this host: {error}; nothing was changed")
            return result
        facts = args["facts"] if args["facts"] is not None else plans.facts_from_result(args["result"])
        plan, warnings = plans.plan_with_policy(facts, policy, work_dir, (task_vars or {}).get("inventory_hostname"))
        result.update(changed=False, msg=plan["reason"], ansible_facts={"q317061_plan": plan})
        if warnings:
            result["warnings"] = warnings
        return factcache.plain_facts(result)  # a fact cache decodes every data tag again at each read
