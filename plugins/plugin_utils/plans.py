"""What remediation does to one host, from its Q317061 verdict and the policy.

The policy comes from inventory or extra vars (docs/remediation.md), checked by the
rules of variables.py, so a malformed value stops the run with the variable's name
before any host is touched. No Ansible import here.
"""

from __future__ import annotations

import dataclasses

from .classification import configured_exifs_letter
from .variables import VariableError, normalise

ACTIONS = ("none", "hotfix", "workaround", "manual")
UNTOUCHED = ("fixed", "mitigated", "not_applicable")
# KB Q199816: Site Component Manager restarts the other SMS services, so it stops first.
# The module restarts exactly the ones that were running, in reverse order.
SMS_STOP_ORDER = ("SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "SMS_SQL_MONITOR", "SMS_SITE_BACKUP",
                  "SMS_NT_LOGON_DISCOVERY_AGENT", "SMS_LICENSE_SERVER")
WMI_SERVICE = "Winmgmt"
SIGNING_STEPS = ("enable SMB signing on the server: HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters "
                 "EnableSecuritySignature = 1 (REG_DWORD; or the policy 'Microsoft network server: Digitally sign "
                 "communications (if client agrees)'), then restart the Server service or the host (KB887429); or "
                 "set q317061_smb_signing: preferred for this host")

PolicyError = VariableError  # a policy variable has a value we cannot use


@dataclasses.dataclass(frozen=True)
class Policy:
    strategy: str = "auto"
    allow_workaround: bool = False
    reboot: bool = False
    method: str = "manual"
    admin_console: str = "close"
    smb_signing: str = "preferred"


# The plan's options, each also a host variable q317061_<name> (q317061_plan and q317061_facts plan=true).
POLICY_OPTIONS = ("strategy", "allow_workaround", "reboot", "hotfix_method", "admin_console", "smb_signing")


def policy_from_vars(values: dict) -> Policy:
    """Build the policy from q317061_* variables (missing or empty ones take the defaults)."""
    def get(name):
        return normalise(f"q317061_{name}", values.get(f"q317061_{name}"))

    return Policy(strategy=get("strategy"), allow_workaround=get("allow_workaround"), reboot=get("reboot"),
                  method=get("hotfix_method"), admin_console=get("admin_console"), smb_signing=get("smb_signing"))


def plan_with_policy(facts: dict, policy: "Policy", work_dir: str | None = None,
                     host: str | None = None) -> tuple[dict, list[str]]:
    """plan_host, with the policy the plan was made under recorded in it; and the warnings to show with it.

    Each warning names the host: ansible-core shows a warning text once per run, so one without the
    name would be seen for the first host only."""
    plan = plan_host(facts, policy, work_dir)
    plan["policy"] = {name: getattr(policy, name) for name in ("strategy", "allow_workaround", "reboot", "method",
                                                               "admin_console", "smb_signing")}
    warnings = []
    if plan["action"] == "workaround":
        warnings.append(f"{host or facts.get('computer_name') or 'this host'}: the Q317061 workaround hides the "
                        "Exchange IFS drive; Outlook Web Access may stop working on this server (KB Q317061)")
    return plan, warnings


def bin_dir(facts: dict) -> str | None:
    sms = (facts.get("probe") or {}).get("sms") or {}
    if not sms.get("install_dir") or sms.get("platform") not in ("i386", "Alpha"):
        return None
    return f"{sms['install_dir'].rstrip(chr(92))}\\bin\\{sms['platform']}"


_NEXT_STEP = {
    "install_sp4_hrp": "install the SMS 2.0 SP4 Hotfix Rollup Package (KB Q323206)",
    "upgrade_to_sp3": "upgrade the site to SMS 2.0 SP3, then apply the Q317061 hotfix",
    "workaround": "allow the workaround (q317061_allow_workaround: true; Outlook Web Access may stop working)",
}


def unreachable(result: dict) -> bool:
    """A q317061_facts result of a host that could not be reached: Ansible's own, or the failure that
    unreachable=failed returns so that a block's rescue keeps it."""
    return bool(result.get("unreachable") or result.get("q317061_unreachable"))


def first_that_ran(registered) -> dict:
    """The first of one or more q317061_facts results (newest first) that ran, or {}."""
    candidates = registered if isinstance(registered, list) else [registered]
    return next((r for r in candidates if isinstance(r, dict) and r and not r.get("skipped")), {})


def facts_from_result(result: dict | None) -> dict:
    """A host's facts from its registered q317061_facts result; a host that could not be checked
    is `unreachable` or `unknown` with the error, so it is planned for a human, never changed."""
    result = result or {}
    facts = (result.get("ansible_facts") or {}).get("q317061")
    lost = unreachable(result)
    if facts and not result.get("failed") and not lost:
        return facts
    status = "unreachable" if lost else "unknown"
    what = "Host unreachable" if lost else "Probe failed"
    return {"status": status, "reasons": [f"{what}: {result.get('msg') or 'no result'}"]}


def work_dir_problem(work_dir: str | None, facts: dict) -> str | None:
    """Why the hotfix's work folder (backups, journal, staged files) cannot be on this host's drive, or None.

    On the IFS drive the backups vanish with it when the workaround or a restart removes the letter; on a
    drive the host lacks, or one that is no local fixed disk, nothing could be written or kept there; over
    smb a drive without an administrative share cannot be written at all."""
    if not work_dir or len(work_dir) < 2 or work_dir[1] != ":":
        return None
    letter = work_dir[0].upper()
    probe = facts.get("probe") or {}
    ifs = {x for x in (facts.get("exifs_drive"), configured_exifs_letter(probe.get("exifs") or {})) if x}
    if letter in ifs:
        return (f"the work folder {work_dir} is on the Exchange IFS drive {letter}:; the backups would vanish with "
                "it when the drive letter goes (the KB Q317061 workaround, a restart)")
    drives = [d for d in probe.get("drives") or [] if isinstance(d, dict) and d.get("letter")]
    drive = next((d for d in drives if str(d["letter"]).upper() == letter), None)
    if drives and drive is None:
        return f"the work folder {work_dir} is on {letter}:, a drive this host does not have"
    if drive and drive.get("type") not in (None, "fixed"):
        return f"the work folder {work_dir} is on {letter}:, a {drive['type']} drive, not a local fixed disk"
    if drive and facts.get("transport") == "smb" and drive.get("free") is None:
        return f"the work folder {work_dir} is on {letter}:, which has no administrative share ({letter}$) over smb"
    return None


def plan_host(facts: dict, policy: Policy, work_dir: str | None = None) -> dict:
    """The remediation of one host: {action, method, reason, manual, platform, bin_dir, status}; with
    `work_dir`, a hotfix whose work folder cannot be used is refused (nothing is changed, a person acts)."""
    status = facts.get("status", "unknown")
    remedies = list(facts.get("remedies") or [])
    plan = {"action": "none", "method": None, "reason": "", "manual": None, "status": status,
            "platform": facts.get("platform"), "bin_dir": bin_dir(facts), "reboot": policy.reboot,
            "services": list(SMS_STOP_ORDER), "wmi_service": WMI_SERVICE,
            "versions": dict(facts.get("versions") or {}), "exifs_drive": facts.get("exifs_drive"), "rollback": True,
            # False: over smb and unsigned (the change record says so); True signed; None over WinRM.
            "signed": (facts.get("session") or {}).get("signed") if facts.get("transport") == "smb" else None,
            "recovered": facts.get("recovered")}  # what the probe's recovery did before this plan: a change too
    if status in UNTOUCHED:
        plan["reason"] = f"left untouched: the host is {status}"
        return plan
    if status == "unreachable":
        return _manual(plan, "the host could not be checked (" + " ".join(facts.get("reasons") or []) + ")",
                       "make it reachable (credentials, network, WinRM or SMB) and run again")
    if status == "unknown":
        return _manual(plan, "the Q317061 status is unknown (" + " ".join(facts.get("reasons") or []) + ")",
                       "inspect the host by hand")
    chosen = _choose(status, remedies, policy)
    if policy.strategy == "audit":
        plan["reason"] = f"strategy audit: would {_describe(chosen, policy)}" if chosen else "strategy audit"
        if not chosen:
            return _manual(plan, "no remedy the policy allows applies", _next_steps(remedies, policy))
        return plan
    if chosen is None:
        return _manual(plan, _why_not(status, remedies, policy), _next_steps(remedies, policy))
    problem = work_dir_problem(work_dir, facts) if chosen == "hotfix" else None
    if problem:
        plan["refused"] = True
        return _manual(plan, problem, "set q317061_work_dir for this host to a folder on a local fixed disk that is "
                                      "not the IFS drive (the default is C:\\SMSFleet\\Q317061) and run again")
    if plan["signed"] is False and policy.smb_signing == "required":
        plan["refused"] = True
        return _manual(plan, f"the {chosen} would be made over an unsigned SMB session (the host offers no SMB "
                             "signing) and q317061_smb_signing is required", SIGNING_STEPS)
    plan["action"] = chosen
    if chosen == "hotfix":
        plan["method"] = policy.method
        if policy.method == "installer" and facts.get("transport") == "smb":
            plan["method"] = "manual"
            plan["reason"] = ("hotfix, manual method: the Hotfix Installer must run on the host, and the smb transport "
                              "runs no programs there (only the manual method works over smb)")
        elif policy.method == "installer" and facts.get("platform") != "i386":
            plan["method"] = "manual"
            plan["reason"] = "hotfix, manual method: the Hotfix Installer runs on Intel only (KB Q317061)"
        elif policy.method == "installer" and facts.get("admin_console_running"):
            return _manual(plan, "the SMS Administrator console is running and the Hotfix Installer cannot close it "
                                 "(KB Q317061 step 4)", "quit the console, or use q317061_hotfix_method: manual")
        elif policy.method == "installer":
            plan["rollback"] = False
            plan["reason"] = ("hotfix, installer method (no rollback: Q317061.exe keeps no backup this collection "
                              "can restore; use the manual method for a way back)")
        else:
            plan["reason"] = f"hotfix, {policy.method} method"
    else:
        plan["reason"] = ("workaround: finish it with a restart" if status == "pending_reboot"
                          else "workaround: blank the EXIFS DriveLetter")
        if not policy.reboot:
            plan["reason"] += "; q317061_reboot is false, so the host stays pending_reboot until restarted"
    return plan


def _choose(status: str, remedies: list[str], policy: Policy) -> str | None:
    hotfix = "hotfix" in remedies
    workaround = "workaround" in remedies and policy.allow_workaround
    if status == "pending_reboot" and not policy.reboot:
        workaround = False  # the registry is already done; only a restart would help
    if policy.strategy in ("auto", "audit"):
        return "hotfix" if hotfix else "workaround" if workaround else None
    if policy.strategy == "hotfix":
        return "hotfix" if hotfix else None
    return "workaround" if workaround else None


def _describe(action: str, policy: Policy) -> str:
    return f"apply the hotfix ({policy.method} method)" if action == "hotfix" else "apply the workaround"


def _why_not(status: str, remedies: list[str], policy: Policy) -> str:
    if policy.strategy in ("auto", "hotfix") and "hotfix" not in remedies:
        why = "the Q317061 hotfix does not apply (it is for English SMS 2.0 SP3 only)"
        if policy.strategy == "hotfix":
            return why + " and the strategy is hotfix"
        if not policy.allow_workaround:
            return why + " and the workaround is not allowed"
        return why + " and the restart that finishes the workaround is not allowed (q317061_reboot: false)"
    if not policy.allow_workaround:
        return "the strategy is workaround but q317061_allow_workaround is false for this host"
    return "the workaround is already set and only a restart is missing, but q317061_reboot is false"


def _next_steps(remedies: list[str], policy: Policy) -> str:
    steps = [_NEXT_STEP[r] for r in remedies if r in _NEXT_STEP and not (r == "workaround" and policy.allow_workaround)]
    if "workaround" in remedies and policy.allow_workaround and not policy.reboot:
        steps.append("restart the server to finish the workaround")
    return "; or ".join(steps) or "inspect the host by hand"


def _manual(plan: dict, why: str, steps: str) -> dict:
    plan.update(action="manual", reason=f"manual action needed: {why}", manual=steps)
    return plan


def change_record(plan: dict, result: dict | None = None, error: str | None = None, attempted: bool = True,
                  refused: str | None = None) -> dict:
    """What remediation did to one host, for the report's `change` column.

    outcome: changed, unchanged, failed (after something changed, or not known not to have), refused (a
    precondition stopped it and nothing changed: the console is open, a DLL is in use, another run holds
    the host, the work folder cannot be used; a person must act, and it does not count against
    q317061_max_fail_percentage), manual (the policy leaves it to a person), or not_attempted (planned,
    but the rollout stopped before this host's wave, or the controller's pre-flight refused the hotfix
    bundle, `refused`, so no host was changed).
    """
    action = plan.get("action", "none")
    result = result or {}
    record = {"action": action, "changed": False, "outcome": "unchanged", "summary": plan.get("reason", ""),
              "before": None, "after": None, "signed": result.get("signed", plan.get("signed"))}
    record = _with_recovery(_outcome(record, plan, action, result, error, attempted, refused), plan.get("recovered"))
    if record["changed"] and record["signed"] is False:
        record["summary"] += "; made over an unsigned SMB session (the host offers no SMB signing: q317061_smb_signing)"
    return record


def _outcome(record: dict, plan: dict, action: str, result: dict, error, attempted: bool, refused) -> dict:
    if action == "manual":
        record.update(outcome="refused" if plan.get("refused") else "manual",
                      summary=f"{plan['reason']}; next: {plan.get('manual')}")
        return record
    if action != "none" and refused:
        first = refused.strip().splitlines()[0] if refused.strip() else "refused"
        record.update(outcome="not_attempted", summary=f"planned ({plan.get('reason')}) but not attempted: the "
                                                       f"controller's pre-flight refused the run ({first})")
        return record
    if action != "none" and not attempted:
        record.update(outcome="not_attempted", summary=f"planned ({plan.get('reason')}) but not attempted: "
                                                       "the rollout stopped before this host's wave")
        return record
    record["before"], record["after"] = result.get("before"), result.get("after")
    if error and result.get("refused") and not result.get("changed"):  # a precondition: nothing was changed
        record.update(outcome="refused", summary=f"{action} refused before any change, a person is needed: {error}")
        return record
    if error:
        record.update(outcome="failed", changed=bool(result.get("changed")), summary=f"{action} FAILED: {error}")
        return record
    if result.get("changed"):
        versions = _versions(record)
        record.update(outcome="changed", changed=True,
                      summary=f"{plan['reason']}: {versions}" if versions else plan["reason"])
    elif action != "none":
        record["summary"] = f"{action}: nothing to change"
    return record


def _with_recovery(record: dict, recovered) -> dict:
    """A recovery of an interrupted transaction before the plan is a change the run made, and is reported as
    one: what followed keeps its outcome (a refusal stays a refusal), but nothing is "unchanged"."""
    if not isinstance(recovered, dict) or not recovered:
        return record
    done = (f"recovered a transaction interrupted during phase {recovered.get('phase')} "
            f"({str(recovered.get('action', '')).replace('_', ' ')})")
    record["summary"] = f"{done}; then {record['summary']}" if record["summary"] else done
    record["changed"] = True
    if record["outcome"] == "unchanged":
        record["outcome"] = "changed"
    return record


def _versions(record: dict) -> str:
    before, after = record.get("before") or {}, record.get("after") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ""
    return ", ".join(f"{k} {before.get(k)} -> {after.get(k)}" for k in sorted(after) if before.get(k) != after.get(k))
