#!/usr/bin/env python3
"""Generate the scale fleet: N site servers (default 1,000) in sites of 50, a realistic mix.

Usage: scale_fleet.py [N] > scale.yml   (bench/run.sh does this for you)
"""

import sys

import yaml


def scale_fleet(count: int = 1000, per_site: int = 50) -> dict:
    mixes = [  # (share, host fields)
        (0.4, {}),
        (0.2, {"sms": {"baseutil": "2.00.1493.3240", "distmgr": "2.00.1493.3240"}}),
        (0.2, {"sms": {"baseutil": "2.00.1493.4000", "distmgr": "2.00.1493.4000"}}),
        (0.1, {"exifs_drive_letter": ""}),
        (0.1, {"exchange": "none"}),
    ]
    groups = []
    sites = (count + per_site - 1) // per_site
    for s in range(sites):
        n = min(per_site, count - s * per_site)
        share, fields = mixes[s % len(mixes)]
        del share
        host = {"sms": {"site_code": f"S{s:02d}"[:3] if s < 100 else f"{s:03d}"}}
        host = {**fields, "sms": {**fields.get("sms", {}), **host["sms"]}}
        groups.append({"name": f"site{s:03d}", "count": n, "host": host})
    return {"description": f"scale fleet: {count} site servers", "groups": groups}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    yaml.safe_dump(scale_fleet(n), sys.stdout, sort_keys=False)
