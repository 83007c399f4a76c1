#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_report
short_description: Write the KB Q317061 fleet report (JSON, CSV, HTML) on the controller
version_added: 0.1.0
description:
  - Reads each host's registered M(smsfleet.q317061.q317061_facts) result (or its cached C(ansible_facts.q317061))
    and writes C(<basename>.json), C(<basename>.csv) and a self-contained C(<basename>.html) into O(dest),
    each atomically.
  - Unreachable hosts appear with status C(unreachable), failed probes with status C(unknown); both carry the error.
  - What hosts report is data - the HTML is autoescaped (Jinja2), CSV cells that would start a spreadsheet formula
    are neutralised, control characters are shown escaped.
  - Returns RV(problems), the reasons the run is not a success (hosts not checked, failed or not attempted, or
    none targeted); the playbooks fail on them after the report is written.
  - Runs on the controller only (action plugin); no credentials or raw probe data are written. It writes in
    check mode too - a check-mode run passes O(check_mode) and its own O(basename) so the report is labelled
    and never replaces a real run's.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: partial
    details: Writes the report files on the controller in check mode too, named and labelled as a prediction.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  hosts:
    description: Inventory hostnames to report on.
    type: list
    elements: str
    required: true
  dest:
    description: Directory for the report files (created when missing).
    type: path
    required: true
  result_var:
    description:
      - Names of the variables holding each host's q317061_facts results (registered, or kept by a rescue), newest
        first; the first that ran wins (the re-audit of a changed host, then its first probe).
    type: list
    elements: str
    default: [q317061_audit]
  change_var:
    description:
      - Name of a per-host variable describing what remediation changed (a dict with C(changed) and C(summary)).
      - A host without it that has a plan (C(ansible_facts.q317061_plan)) was not attempted, and its record is made
        from the plan here (the rollout stopped before its wave, the pre-flight refused, or nothing was planned).
    type: str
  refused:
    description: Why the controller's pre-flight refused the hotfix bundle, for the records made from plans.
    type: str
  fresh_since:
    description:
      - The run's start (ISO 8601, as the settings task returns it in C(run.started)). A host with no registered
        result whose C(ansible_facts.q317061) was checked at or after it is reported from this run's probe
        (C(source=probe)); older facts are the fact cache's (C(source=cache)).
      - C(audit.yml) and C(remediate.yml) register only the results of hosts that could not be checked and read the
        others' facts. A report from the fact cache leaves it out, as it probed nothing.
    type: str
  basename:
    description: File name without extension.
    type: str
    default: q317061-audit
  title:
    description: Report title.
    type: str
    default: KB Q317061 fleet audit
  template:
    description: A Jinja2 template file replacing the built-in HTML template (C(plugins/plugin_utils/report.html.j2)).
    type: path
  check_mode:
    description: The run was in check mode - label every format as a prediction.
    type: bool
    default: false
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Write the report set
  smsfleet.q317061.q317061_report:
    hosts: "{{ ansible_play_hosts_all }}"
    dest: "{{ playbook_dir }}/reports"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
paths:
  description: The files written, by extension.
  returned: success
  type: dict
  sample: {json: reports/q317061-audit.json, csv: reports/q317061-audit.csv, html: reports/q317061-audit.html}
summary:
  description: Counts by status, exposure and site.
  returned: always
  type: dict
  sample: {hosts: 42, by_status: {vulnerable: 12, fixed: 10}, by_exposure: {affected_now: 8}, by_site: {}, changed: 0}
lines:
  description: A short human summary, one line each.
  returned: always
  type: list
  elements: str
  sample: ["42 hosts: vulnerable 12, fixed 10", "exposure: affected_now 8, latent 4, none 30"]
problems:
  description: Why the run is not a success; empty when it is.
  returned: always
  type: list
  elements: str
  sample: ["1 host(s) could not be checked: p01-03"]
"""
