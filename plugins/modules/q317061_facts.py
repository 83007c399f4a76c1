#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_facts
short_description: Classify an SMS 2.0 site server for KB Q317061 (status, exposure, remedies)
version_added: 0.1.0
description:
  - Runs M(smsfleet.q317061.q317061_probe) once on the host and classifies the raw facts on the controller
    into C(ansible_facts.q317061).
  - C(status), first match wins, C(not_applicable) (no SMS 2.0 site server or no EXIFS), C(unknown) (a needed fact
    could not be read), C(fixed) (both DLLs carry the fix), C(pending_reboot) (DriveLetter blank but the IFS drive
    still mounted), C(mitigated) (no IFS drive letter configured or mounted), C(vulnerable).
  - SP4 builds are fixed only at or above O(sp4_hrp_revision), because SP4 reverts SP3 hotfixes (KB Q313839).
  - An unfinished DLL transaction in O(work_dir) or stopped SMS services make the host C(unknown), never C(fixed).
  - Changes nothing on the host unless O(recover) is true; safe in check mode (no recovery then).
  - This is an action plugin; the documentation lives here.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
    details: Reads only; an unfinished transaction is reported, not recovered, in check mode.
  diff_mode:
    support: none
  platform:
    platforms: windows
  facts:
    support: full
options:
  sp4_hrp_revision:
    description:
      - Revision (last part of 2.00.1493.xxxx) of the SMS 2.0 SP4 Hotfix Rollup Package (KB Q323206) build of
        C(Baseutil.dll) and C(Distmgr.dll). SP4 builds at or above it count as fixed.
      - No value is published in the KB articles, so by default no SP4 build counts as fixed.
      - 4001 to 4999, or a full version like C(2.00.1493.4200); an empty string is unset.
      - When left out, the host's C(q317061_sp4_hrp_revision) variable (as the playbooks do).
    type: int
  later_service_packs_fixed:
    description:
      - Whether builds of later service packs (revision 5000 and above) count as fixed.
      - When left out, the host's C(q317061_later_service_packs_fixed) variable, else C(true).
    type: bool
    default: true
  log_tail_bytes:
    description:
      - How many bytes at the end of C(distmgr.log) are searched for decompression failures.
    type: int
    default: 262144
  work_dir:
    description:
      - The remediation work folder whose C(journal.json) the probe reads.
      - When left out, the host's C(q317061_work_dir) variable, else the default.
    type: path
    default: C:\SMSFleet\Q317061
  recover:
    description:
      - Recover an unfinished DLL transaction found by the probe (M(smsfleet.q317061.q317061_dlls) with
        C(state=recovered)), then probe again. Reports C(changed) when it recovered something.
    type: bool
    default: false
  unreachable:
    description:
      - How a host that cannot be reached (including refused credentials and a connection dropped during the probe)
        is returned.
      - V(unreachable) is Ansible's usual result. V(failed) returns a failure with C(q317061_unreachable=true) and
        the error in C(msg), so a block's C(rescue) can keep the error of each host that could not be checked
        without registering every host's result; C(audit.yml) and C(remediate.yml) use this.
    type: str
    choices: [unreachable, failed]
    default: unreachable
  plan:
    description:
      - Also decide what remediation does to the host, as M(smsfleet.q317061.q317061_plan) would with the host's
        policy variables (C(q317061_strategy), C(q317061_allow_workaround), C(q317061_reboot),
        C(q317061_hotfix_method), C(q317061_admin_console)), and return it as C(ansible_facts.q317061_plan).
      - A host that cannot be reached or probed gets its plan too (for a human), so one task per host
        probes and decides; C(remediate.yml) uses this.
    type: bool
    default: false
notes:
  - Supports check mode.
seealso:
  - module: smsfleet.q317061.q317061_probe
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Classify every site server
  smsfleet.q317061.q317061_facts:

- name: Count SP4 sites with the HRP build 4200 as fixed
  smsfleet.q317061.q317061_facts:
    sp4_hrp_revision: 4200

- name: Show the verdict
  ansible.builtin.debug:
    msg: "{{ ansible_facts.q317061.status }}: {{ ansible_facts.q317061.reasons | join(' ') }}"
"""

RETURN = r"""
q317061_unreachable:
  description: The host could not be reached; C(msg) holds the error. The result is a failure.
  returned: when the host could not be reached and O(unreachable=failed)
  type: bool
  sample: true
ansible_facts:
  description: Facts added to the host.
  returned: success
  type: dict
  contains:
    q317061:
      description: The verdict, its reasons and the raw evidence.
      type: dict
      sample:
        status: vulnerable
        exposure: affected_now
        remedies: [hotfix, workaround]
        reasons: ["Neither DLL carries the fix (Baseutil.dll 2.00.1493.3000, Distmgr.dll 2.00.1493.3000): ..."]
        predicted_decompression_drive: M
        exifs_drive: M
        service_pack: SP3
        versions: {Baseutil.dll: 2.00.1493.3000, Distmgr.dll: 2.00.1493.3000}
        decompression_failures: {M: 3}
        site: {code: P01, type: primary, parent: null}
        platform: i386
        computer_name: SITE01
        policy: {sp4_hrp_revision: null, later_service_packs_fixed: true}
        checked_at: '2026-11-24T18:00:00+00:00'
        probe: {}
"""
