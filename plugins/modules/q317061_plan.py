#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_plan
short_description: Decide what Q317061 remediation does to a site server
version_added: 0.1.0
description:
  - Runs on the controller only (action plugin); it never connects to the host.
  - From the host's Q317061 facts (M(smsfleet.q317061.q317061_facts)) and the remediation policy, returns one
    action in RV(ansible_facts.q317061_plan) - C(none) (fixed, mitigated or not applicable, or strategy
    C(audit)), C(hotfix), C(workaround), or C(manual) with the reason and the next step for a human.
  - Policy values are validated; a malformed one fails the host with the variable's name and nothing is changed.
  - Warns that Outlook Web Access may stop working when it picks the workaround.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Decides on the controller from the facts; changes nothing anywhere.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  facts:
    description: The host's Q317061 facts (C(ansible_facts.q317061)). Exclusive with O(result).
    type: dict
  result:
    description:
      - The host's registered M(smsfleet.q317061.q317061_facts) result. A host that could not be probed
        (unreachable, failed) is planned C(manual) with the error, never changed. Exclusive with O(facts).
    type: dict
  strategy:
    description:
      - C(auto) applies the hotfix where it applies and the workaround only where allowed; C(hotfix) and
        C(workaround) apply only that remedy; C(audit) changes nothing and reports what C(auto) would do.
      - Defaults to C(auto). Accepted values are C(auto), C(hotfix), C(workaround) and C(audit).
      - This and every other policy option, when left out, take the host's C(q317061_*) variable of the same
        name (C(q317061_strategy), C(q317061_hotfix_method) for O(hotfix_method)), else the default.
    type: raw
  allow_workaround:
    description: Whether the workaround may be applied to this host (it may break Outlook Web Access). Defaults to false.
    type: raw
  reboot:
    description: Whether the workaround may restart the server. Defaults to false.
    type: raw
  hotfix_method:
    description: C(manual) (default) or C(installer) (C(Q317061.exe), Intel hosts only; Alpha hosts fall back to manual).
    type: raw
  admin_console:
    description: C(close) (default) closes a running SMS Administrator console; C(refuse) fails the host instead.
    type: raw
notes:
  - Options are typed C(raw) so a wrong value is reported with its C(q317061_*) variable name.
seealso:
  - module: smsfleet.q317061.q317061_facts
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Decide the remediation of each site server
  smsfleet.q317061.q317061_plan:
    facts: "{{ ansible_facts.q317061 }}"
    strategy: "{{ q317061_strategy | default('auto') }}"
    allow_workaround: "{{ q317061_allow_workaround | default(false) }}"
"""

RETURN = r"""
ansible_facts:
  description: The plan.
  returned: success
  type: dict
  contains:
    q317061_plan:
      description: What remediation does to this host and why.
      type: dict
      sample:
        action: hotfix
        method: manual
        reason: hotfix, manual method
        manual: null
        status: vulnerable
        platform: i386
        bin_dir: D:\SMS\bin\i386
        reboot: false
        policy: {strategy: auto, allow_workaround: false, reboot: false, method: manual, admin_console: close}
"""
