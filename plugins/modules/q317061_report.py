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
    and writes C(<basename>.json), C(<basename>.csv) and a self-contained C(<basename>.html) into O(dest).
  - Unreachable hosts appear with status C(unreachable), failed probes with status C(unknown); both carry the error.
  - Runs on the controller only (action plugin); no credentials or raw probe data are written.
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
    description: Name of the variable each host registered the q317061_facts result in.
    type: str
    default: q317061_audit
  change_var:
    description: Name of a per-host variable describing what remediation changed (a dict with C(changed) and C(summary)).
    type: str
  basename:
    description: File name without extension.
    type: str
    default: q317061-audit
  title:
    description: Report title.
    type: str
    default: KB Q317061 fleet audit
notes:
  - In check mode nothing is written unless the task sets C(check_mode=false).
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
  returned: changed
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
"""
