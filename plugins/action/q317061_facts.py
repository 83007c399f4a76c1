# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe a site server once and classify the result on the controller.

Over WinRM the q317061_probe module runs (one module execution); over smb the same probe
dictionary is read from the controller (plugin_utils/smb/probe.py). With recover=true an
unfinished DLL transaction found by the probe is recovered first (its journal decides how,
plugin_utils/transaction.py), by whichever transport reaches the host, and the host is probed again.
"""

from __future__ import annotations

import datetime
import os

from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import (approval, factcache, plans, records, transaction,
                                                                       transport, variables)
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import classify
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.versions import FixPolicy

PROBE = "smsfleet.q317061.q317061_probe"
HASHES = "q317061_hashes"  # the smb probe's DLL hashes, as a host fact for the fact cache
DLLS = "smsfleet.q317061.q317061_dlls"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("sp4_hrp_revision", "later_service_packs_fixed", "log_tail_bytes", "work_dir", "recover",
                             "plan", "unreachable"))
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        # Plain facts: a fact cache decodes every data tag again at each read of the host's variables.
        return factcache.plain_facts(self._run(tmp, task_vars))

    def _run(self, tmp, task_vars):
        result = super().run(tmp, task_vars)
        del tmp
        spec = {
            "sp4_hrp_revision": {"type": "raw"},
            "later_service_packs_fixed": {"type": "raw"},
            "log_tail_bytes": {"type": "int", "default": 262144},
            "work_dir": {"type": "raw"},
            "recover": {"type": "bool", "default": False},
            "plan": {"type": "bool", "default": False},
            "unreachable": {"type": "str", "default": "unreachable", "choices": ["unreachable", "failed"]},
        }
        dummy, args = self.validate_argument_spec(argument_spec=spec)
        # An option left out takes the host's own q317061_* variable, as the playbooks do: read here, not templated
        # from the settings play's registered table of every host, which costs far more per host.
        try:
            values = {name: variables.normalise(f"q317061_{name}", args[name] if args[name] is not None else
                                                variables.host_value(task_vars, f"q317061_{name}",
                                                                     self._templar))
                      for name in ("sp4_hrp_revision", "later_service_packs_fixed", "work_dir")}
        except variables.VariableError as error:
            result.update(failed=True, msg=f"{error}; nothing was read or changed")
            return result
        policy = FixPolicy(sp4_hrp_revision=values["sp4_hrp_revision"],
                           later_service_packs_fixed=values["later_service_packs_fixed"])
        work_dir = values["work_dir"]
        decide = approved = None
        if args["plan"]:
            try:
                approved = variables.normalise("q317061_approved_plan", variables.host_value(
                    task_vars, "q317061_approved_plan", self._templar))
            except variables.VariableError as error:
                result.update(failed=True, msg=f"{error}; nothing was read or changed")
                return result
            try:
                decide = plans.policy_from_vars({f"q317061_{name}": variables.host_value(
                    task_vars, f"q317061_{name}", self._templar) for name in plans.POLICY_OPTIONS})
            except plans.PolicyError as error:
                result.update(failed=True, msg=f"invalid remediation policy for this host: {error}; nothing was "
                                               "read or changed")
                return result
        try:
            result = self._classify(result, args, policy, work_dir, task_vars)
        except AnsibleConnectionFailure as error:
            if decide is None and args["unreachable"] != "failed":
                raise  # Ansible's own unreachable; with plan=true a host that cannot be reached still gets its plan
            result = self._unreachable(result, args, error)
        if decide is None:
            return result
        host = (task_vars or {}).get("inventory_hostname")
        plan, warnings = plans.plan_with_policy(plans.facts_from_result(result), decide, work_dir, host)
        # A campaign's real run changes only what was approved (the check-mode run's artifact; approval.py).
        plan = approval.hold(plan, host, approved)
        result.setdefault("ansible_facts", {})["q317061_plan"] = plan
        if warnings:
            result["warnings"] = list(result.get("warnings") or []) + warnings
        return result

    @staticmethod
    def _unreachable(result, args, error):
        """Ansible's unreachable result, or with unreachable=failed a failure, so that a block's rescue keeps
        the error (Ansible keeps nothing of an unreachable host, and a rescue never sees one)."""
        if args["unreachable"] == "failed":
            result.update(failed=True, changed=False, q317061_unreachable=True, msg=str(error))
        else:
            result.update(unreachable=True, changed=False, msg=str(error))
        return result

    def _classify(self, result, args, policy, work_dir, task_vars):
        """Probe (recovering first if asked), classify, and return the result with ansible_facts.q317061."""
        probe_args = {"log_tail_bytes": args["log_tail_bytes"], "work_dir": work_dir}
        probe = self._probe(probe_args, task_vars)
        if probe.get("failed") or "probe" not in probe:
            result.update(failed=True, msg=f"q317061 probe failed: {probe.get('msg', 'no probe result')}")
            return result

        journal = probe["probe"].get("transaction") or {}
        if args["recover"] and transaction.is_unfinished(journal) and journal.get("readable") and not self._task.check_mode:
            recovery = self._recover(journal["journal"], task_vars)
            result["recovered"] = recovery.get("recovered")
            if recovery.get("failed"):
                result.update(failed=True, changed=bool(recovery.get("changed")),
                              msg=f"the unfinished DLL transaction (phase {journal.get('phase')}) could not be "
                                  f"recovered: {recovery.get('msg')}")
                return result
            result["changed"] = bool(recovery.get("changed"))  # under the lock it may have been finished after all
            result["warnings"] = list(recovery.get("warnings") or [])
            probe = self._probe(probe_args, task_vars)
            if probe.get("failed") or "probe" not in probe:
                result.update(failed=True, msg=f"q317061 probe failed after the recovery: {probe.get('msg')}")
                return result

        raw = probe["probe"]
        verdict = classify(raw, policy).as_dict()
        sms = raw.get("sms") or {}
        facts = dict(
            verdict,
            computer_name=raw.get("computer_name"),
            site={"code": sms.get("site_code"), "type": sms.get("site_type"), "parent": sms.get("parent_site_code")},
            platform=sms.get("platform"),
            admin_console_running=sms.get("admin_console_running"),
            policy={"sp4_hrp_revision": policy.sp4_hrp_revision,
                    "later_service_packs_fixed": policy.later_service_packs_fixed},
            checked_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            recovered=result.get("recovered"),
            transport=transport.name(self._connection),
            session=self._session(),
            probe=raw,
        )
        result.setdefault("changed", False)
        result["ansible_facts"] = {"q317061": facts}
        if probe.get("hashes"):
            result["ansible_facts"][HASHES] = probe["hashes"]
        self._cache_for_awx(facts, task_vars)
        if raw.get("errors"):
            result.setdefault("warnings", []).extend(f"q317061 probe could not read: {e}" for e in raw["errors"])
        return result

    def _session(self) -> dict:
        """How the host was reached: over smb {signed, authentication, dialect} of the session; over WinRM
        signing is the WinRM transport's own (HTTPS or message encryption), not judged here (None)."""
        client = transport.smb_client(self._connection)
        if client is None:
            return {"signed": None, "authentication": None, "dialect": None}
        return {k: client.security.get(k) for k in ("signed", "authentication", "dialect")}

    def _probe(self, probe_args, task_vars):
        """{probe: ...} from the PowerShell module (WinRM) or read from the controller (smb)."""
        client = transport.smb_client(self._connection)
        if client is None:
            return self._execute_module(module_name=PROBE, module_args=probe_args, task_vars=task_vars)
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, probe as smbprobe

        host = self._task.delegate_to or (task_vars or {}).get("inventory_hostname") or client.host
        # The controller's hash cache, and the copy a fact cache kept (an AWX job starts in a fresh container with
        # an empty home but the fact cache of earlier jobs): either spares reading every DLL byte again.
        loaded = transport.load_hashes(host)
        store = dict(loaded)
        for key, digest in transport.valid_hashes(((task_vars or {}).get("ansible_facts") or {}).get(HASHES)).items():
            store.setdefault(key, digest)
        try:
            raw = smbprobe.probe(client, hashes=smbprobe.HashCache(store), **probe_args)
        except smb.Unreachable as error:
            raise AnsibleConnectionFailure(str(error)) from None
        transport.save_hashes(host, store, loaded=loaded)
        return {"probe": raw, "hashes": transport.valid_hashes(dict(list(store.items())[-transport.HASHES_KEPT:]))}

    def _recover(self, journal_path, task_vars):
        """state=recovered of the DLL transaction, by the transport that reaches the host."""
        client = transport.smb_client(self._connection)
        host = (task_vars or {}).get("inventory_hostname") or "localhost"
        expect = records.expect(records.load(host, ((task_vars or {}).get("ansible_facts") or {}).get(records.FACT),
                                             C.config.get_config_value("ANSIBLE_HOME")))
        if client is None:
            return self._execute_module(module_name=DLLS, task_vars=task_vars,
                                        module_args={"state": "recovered", "journal": journal_path, "expect": expect})
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils.smb import client as smb, dlls

        try:
            return dlls.Transaction(client, {"state": "recovered", "journal": journal_path, "expect": expect}).run()
        except dlls.Failed as failure:
            return failure.result
        except smb.Unreachable as error:
            raise AnsibleConnectionFailure(str(error)) from None
        except smb.SmbError as error:
            return {"failed": True, "changed": False, "msg": str(error)}

    def _cache_for_awx(self, facts, task_vars):
        """With a jsonfile fact cache (AWX turns one on for use_fact_cache), also keep the verdict where
        AWX reads facts back into its database (plugin_utils/factcache.py)."""
        if C.config.get_config_value("CACHE_PLUGIN") not in factcache.JSONFILE or self._task.check_mode:
            return
        directory = C.config.get_config_value("CACHE_PLUGIN_CONNECTION")
        host = (task_vars or {}).get("inventory_hostname")
        if directory and host:
            try:
                factcache.write_verdict(os.path.expanduser(directory), host, facts)
            except OSError as error:
                self._display.warning(f"q317061: cannot write the verdict to the fact cache {directory}: {error}")
