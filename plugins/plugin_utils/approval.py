"""The plan an approver approved, and holding a later run to it.

In the AWX campaign (docs/awx.md) a check-mode run plans the fleet, a person approves that plan,
and the real run comes after. Without a check, the real run would decide again from what the
hosts are *then*: a host upgraded, a DLL replaced or an IFS drive letter changed in between would
get a change nobody approved. So the check-mode run publishes, per host, a digest of the plan's own
evidence (the decision and what it was decided on: status, DLL versions, IFS drive, platform, the
folder and method the change uses, whether it restarts), and a real run given that approval
(`q317061_approved_plan`, which AWX passes from the check-mode node's artifacts to the nodes
after it) changes a host only where its fresh plan has the same digest. A host whose evidence
differs, or that the approval does not name, is refused with the reason; nothing is changed on it.
No Ansible import here.
"""

from __future__ import annotations

import hashlib
import json
import re

VERSION = 1
# What a plan was decided on and what it will do: equal digests mean the same change on the same host state.
EVIDENCE = ("action", "method", "status", "platform", "bin_dir", "versions", "exifs_drive", "reboot")
DIGEST_CHARS = 16  # 64 bits: change detection in an artifact AWX keeps per job, not a secret
_DIGEST = re.compile(f"[0-9a-f]{{{DIGEST_CHARS}}}")


class ApprovalError(ValueError):
    """q317061_approved_plan is not an approval this collection wrote."""


def evidence(plan: dict) -> dict:
    return {name: plan.get(name) for name in EVIDENCE}


def digest(plan: dict) -> str:
    text = json.dumps(evidence(plan), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]


def proposal(plans: dict[str, dict], generated_at: str | None = None) -> dict:
    """What a check-mode run hands to AWX for approval: every planned host's digest, and who gets what."""
    actions: dict[str, list[str]] = {}
    for host in sorted(plans):
        actions.setdefault(plans[host].get("action") or "none", []).append(host)
    return {"version": VERSION, "generated_at": generated_at, "hosts": {h: digest(plans[h]) for h in sorted(plans)},
            "changes": {a: hosts for a, hosts in actions.items() if a in ("hotfix", "workaround")}}


def validate(approved) -> dict | None:
    """The approval as given (None when there is none), or ApprovalError saying what is wrong with it."""
    if approved is None or approved == "" or approved == {}:
        return None
    if not isinstance(approved, dict) or approved.get("version") != VERSION or not isinstance(approved.get("hosts"), dict):
        raise ApprovalError("must be the q317061_approved_plan artifact of a check-mode remediation (version "
                            f"{VERSION}, with a digest per host), as AWX passes it from the plan node")
    bad = [h for h, d in approved["hosts"].items() if not isinstance(h, str) or not isinstance(d, str)
           or not _DIGEST.fullmatch(d)]
    if bad:
        raise ApprovalError(f"has malformed digests for {', '.join(map(str, bad[:5]))}")
    return approved


def hold(plan: dict, host: str, approved: dict | None) -> dict:
    """The plan to carry out on `host`: the same plan when it is the approved one (or there is no approval);
    otherwise a refusal that changes nothing and says why."""
    if approved is None or plan.get("action") not in ("hotfix", "workaround"):
        return plan  # nothing would change on this host: there is nothing to hold it to
    wanted = approved["hosts"].get(host)
    if wanted == digest(plan):
        plan["approved"] = True
        return plan
    if wanted is None:
        why = "the host is not in the approved plan (the check-mode run did not plan it)"
    else:
        why = (f"the host changed since the plan was approved: it is now {plan.get('status')} with "
               f"{_versions(plan)} and would get the {plan.get('action')}, which differs from what was approved")
    return dict(plan, action="manual", refused=True, reason=f"manual action needed: {why}",
                manual="check the host, then run the campaign again (a new check-mode plan and approval)")


def _versions(plan: dict) -> str:
    versions = plan.get("versions") or {}
    return ", ".join(f"{name} {version}" for name, version in sorted(versions.items())) or "no DLL versions"
