"""Q317061 hotfix bundles in the KB layout: Q317061.exe beside i386/ and Alpha/."""

from __future__ import annotations

import pathlib

from .fleet import KB_SIZES
from .pe import build_dll

FIX_VERSION = "2.00.1493.3240"


def write_bundle(root: pathlib.Path, variant: str = "good") -> list[pathlib.Path]:
    """Write a bundle; variants produce the mistakes pre-flight must catch."""
    root.mkdir(parents=True, exist_ok=True)
    installer = root / "Q317061.exe"
    installer.write_bytes(build_dll("i386", FIX_VERSION, 65536, name="Q317061 Hotfix Installer"))
    written = [installer]
    for (platform, name), size in sorted(KB_SIZES.items()):
        folder = root / platform
        folder.mkdir(exist_ok=True)
        version, machine, content_size = FIX_VERSION, platform, size
        if variant == "wrong-version" and name == "Distmgr.dll":
            version = "2.00.1493.3197"
        if variant == "wrong-platform" and platform == "i386" and name == "Baseutil.dll":
            machine = "Alpha"
        data = build_dll(machine, version, content_size, name=name)
        if variant == "truncated" and name == "Baseutil.dll":
            data = data[: size // 2]
        if variant == "missing-file" and platform == "i386" and name == "Distmgr.dll":
            continue
        (folder / name).write_bytes(data)
        written.append(folder / name)
    return written
