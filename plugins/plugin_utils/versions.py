"""SMS 2.0 file version rules (KB Q213410, Q266130, Q313839, Q318834, Q319207).

Versions read 2.00.<build>.<revision>. For build 1493 (SP2 and later) the
revision's thousands digit is the service pack, the hundreds digit 4-9 an
international client pack, and 001-399 a hotfix. No Ansible import here.
"""

from __future__ import annotations

import dataclasses
import re

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)\.(\d+)\s*$")

FIX_REVISION_SP3 = 3240  # KB Q317061: 2.00.1493.3240
SMS20_BUILDS = {1239: 0, 1380: 1, 1493: None}  # build -> service pack (None: read the revision)


@dataclasses.dataclass(frozen=True, order=True)
class SmsVersion:
    major: int
    minor: int
    build: int
    revision: int

    @classmethod
    def parse(cls, text: str | None) -> "SmsVersion | None":
        """Parse '2.00.1493.3240' (also '2.0.1493.3241', '2.000.1380.1000'); None if unreadable."""
        if not isinstance(text, str):
            return None
        match = _VERSION.match(text)
        return cls(*(int(g) for g in match.groups())) if match else None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor:02d}.{self.build}.{self.revision:04d}"

    @property
    def is_sms20(self) -> bool:
        return self.major == 2 and self.minor == 0 and self.build in SMS20_BUILDS

    @property
    def service_pack(self) -> int:
        fixed = SMS20_BUILDS.get(self.build)
        return fixed if fixed is not None else self.revision // 1000

    @property
    def international_client_pack(self) -> bool:
        return 4 <= (self.revision // 100) % 10 <= 9

    @property
    def hotfix_number(self) -> int:
        """The hotfix part of the revision (1-399), 0 for a plain service pack build."""
        low = self.revision % 1000
        return low if 1 <= low <= 399 else 0


@dataclasses.dataclass(frozen=True)
class FixPolicy:
    """Which builds count as carrying the Q317061 fix.

    sp4_hrp_revision: the SP4 Hotfix Rollup Package revision (Q323206). No value
      is published in our sources, so the default None means no SP4 build counts
      as fixed: SP4 reverts SP3 hotfixes (Q313839).
    later_service_packs_fixed: SP5 (revision >= 5000) and later are assumed to
      contain the fix, because the HRP that first fixed it predates them.
    """

    sp4_hrp_revision: int | None = None
    later_service_packs_fixed: bool = True


def dll_has_fix(version: SmsVersion, policy: FixPolicy) -> bool:
    """Whether one Baseutil.dll/Distmgr.dll version carries the Q317061 fix."""
    if not version.is_sms20:
        return False
    sp = version.service_pack
    if sp == 3:
        return version.revision >= FIX_REVISION_SP3
    if sp == 4:
        return policy.sp4_hrp_revision is not None and version.revision >= policy.sp4_hrp_revision
    if sp >= 5:
        return policy.later_service_packs_fixed
    return False


def service_pack_name(version: SmsVersion) -> str:
    return "RTM" if version.service_pack == 0 else f"SP{version.service_pack}"
