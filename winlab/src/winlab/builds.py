"""Ground truth of the emulated world: which SMS 2.0 DLL builds contain the Q317061 fix.

This is what the real binaries would do, independent of the collection's
detector (which must reach the same answers from the outside).
"""

import re

SP4_HRP_REVISION = 4200  # the lab's SP4 Hotfix Rollup Package build (a lab choice; see docs/winlab.md)


def has_fix(version: str | None) -> bool:
    match = re.match(r"^2\.0+\.1493\.(\d+)$", version or "")
    if not match:
        return False
    revision = int(match.group(1))
    if 3000 <= revision < 4000:
        return revision >= 3240
    if 4000 <= revision < 5000:
        return revision >= SP4_HRP_REVISION
    return revision >= 5000
