#!/usr/bin/env bash
set -euo pipefail
echo "make demo: nothing to demo yet (the emulated fleet and the playbooks land in later issues)"
