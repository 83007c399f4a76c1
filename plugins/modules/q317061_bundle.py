#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_bundle
short_description: Check a Q317061 hotfix bundle on the controller before any host is touched
version_added: 0.1.0
description:
  - Runs on the controller only (action plugin). Reads the bundle with C(pefile).
  - The bundle has the KB Q317061 layout - C(Q317061.exe) one folder above the platform folders
    C(i386) and C(Alpha), each with C(Baseutil.dll) and C(Distmgr.dll).
  - For every platform in I(platforms) it checks that both DLLs are present, that the PE machine type matches the
    platform, that the FileVersion is 2.00.1493.3240 or a later SP3 build, that the size matches the KB table
    (for 2.00.1493.3240; later builds must be pinned by SHA-256), and that any SHA-256 pin matches.
  - With I(method=installer) it also checks C(Q317061.exe) (present, an Intel PE image, pin).
  - Any mismatch fails with a message naming each file and the difference.
  - The bytes that passed are copied into a controller cache named by their SHA-256
    (C(~/.ansible/smsfleet.q317061/bundles), private to the user), and the returned C(path) of each file is the
    cached copy (C(bundle_path) the file in the bundle). Staging reads the cache only, so a file changed in the
    bundle after the check never reaches a host.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: >-
      Checks the bundle on the controller; an https source is downloaded into the controller's archive cache in
      check mode too, because the checks need its bytes.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  source:
    description:
      - The bundle folder on the controller, or an C(https) URL of a C(.zip) or C(.tar.gz) archive of it (the KB
        layout at the archive's top or inside one top folder).
      - An archive is downloaded onto the controller, checked against O(archive_sha256), and unpacked (once per
        SHA-256) into C(~/.ansible/smsfleet.q317061/archives); names outside the archive's folder, links and
        special files are refused.
    type: str
    required: true
  archive_sha256:
    description: The SHA-256 of the archive at an C(https) O(source); required then.
    type: str
    default: ''
  ca_path:
    description: A PEM file of CAs that sign the bundle server's certificate (default - the controller's own).
    type: str
    default: ''
  platforms:
    description: The platforms that need the hotfix (C(i386), C(Alpha)). An empty list checks nothing.
    type: list
    elements: str
    required: true
  method:
    description: C(installer) also checks C(Q317061.exe).
    type: str
    choices: [manual, installer]
    default: manual
  sha256:
    description:
      - Optional SHA-256 pins, keyed by C(<platform>/<file>) (for example C(i386/Baseutil.dll)) or C(Q317061.exe).
    type: dict
    default: {}
requirements:
  - pefile (on the controller)
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Check a bundle published on an internal web server
  smsfleet.q317061.q317061_bundle:
    source: https://repo.corp.example.com/hotfixes/Q317061.zip
    archive_sha256: 9b1e4c0d7a3f2e5b8c6d4a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d
    platforms: [i386]

- name: Check the hotfix bundle for the platforms in this run
  smsfleet.q317061.q317061_bundle:
    source: /srv/hotfixes/Q317061
    platforms: [i386, Alpha]
    sha256:
      i386/Distmgr.dll: 3f1c0a9e5d0b8c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e
"""

RETURN = r"""
ansible_facts:
  description: What was checked.
  returned: success
  type: dict
  contains:
    q317061_bundle:
      description: Per platform and file - path, size, SHA-256 and FileVersion; C(installer) when checked.
      type: dict
      sample:
        i386:
          Baseutil.dll: {path: /srv/hotfixes/Q317061/i386/Baseutil.dll, size: 526272, version: 2.00.1493.3240,
                         sha256: 9b2f0c...}
"""
