#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_settings
short_description: Check every q317061 variable and what a run targets, before any host is touched
version_added: 0.2.0
description:
  - Runs on the controller only (action plugin); it never connects to a host.
  - Checks every C(q317061_*) variable a user can set - for the run (extra vars, play vars, AWX survey answers) and
    for each targeted host (inventory) - by the one table of rules in C(plugins/plugin_utils/variables.py), and
    fails listing every problem with the variable's name and the accepted form. Unanswered optional survey
    questions (empty strings) count as unset.
  - Checks that the report folder can be written and that a replacement report template exists.
  - Warns about C(q317061_*) names that are not variables of the collection (likely typos).
  - Returns the targeted hosts within C(--limit), the normalised settings of the run and of each host, the
    report's name (a check-mode report of remediate or rollback gets C(-check)) and title.
  - When no host is targeted it writes an empty, labelled report and fails - a run that checked nothing is not a
    success.
  - Used as the first task of C(audit.yml), C(remediate.yml) and C(rollback.yml), on C(all:localhost) with
    C(run_once), so C(--limit) decides which hosts the run targets.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: partial
    details: Checks only; when no host is targeted it writes the empty report that says so, in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  playbook:
    description: Which playbook runs (decides the report's default name and title).
    type: str
    required: true
    choices: [audit, remediate, rollback]
  targets:
    description:
      - The hosts matching C(q317061_targets), for example
        C("{{ query('ansible.builtin.inventory_hostnames', q317061_targets | default('all')) }}").
        Only those among the play's hosts (what C(--limit) leaves) are targeted; C(localhost) never is.
    type: list
    elements: str
    required: true
notes:
  - Supports check mode.
seealso:
  - module: smsfleet.q317061.q317061_report
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Check every q317061 variable and list the targeted hosts
  smsfleet.q317061.q317061_settings:
    playbook: audit
    targets: "{{ query('ansible.builtin.inventory_hostnames', q317061_targets | default('all')) }}"
  run_once: true
  delegate_to: localhost
  register: q317061_run
"""

RETURN = r"""
targets:
  description: The targeted hosts, sorted.
  returned: success
  type: list
  elements: str
  sample: [p01-01, p01-02]
run:
  description: The run's settings, normalised (names without the C(q317061_) prefix), plus the report's name and title.
  returned: success
  type: dict
  sample: {serial: [1, "25%", "100%"], max_fail_percentage: 0, report_dir: /srv/reports,
           basename: q317061-remediation-check, title: "KB Q317061 remediation (check mode: nothing was changed)",
           check_mode: true, hotfix_source: /srv/hotfixes/Q317061, hotfix_sha256: {}, targets: all}
hosts:
  description: Each targeted host's settings, normalised.
  returned: success
  type: dict
  sample: {p01-01: {strategy: auto, allow_workaround: false, reboot: false, work_dir: 'C:\SMSFleet\Q317061'}}
paths:
  description: Where the empty report was written when no host was targeted.
  returned: when no host is targeted
  type: dict
"""
