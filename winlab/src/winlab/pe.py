"""Synthetic PE DLLs with real version resources, and reading them back.

winlab's hotfix bundles and emulated SMS binaries are small but genuine PE
files: `pefile` parses their machine type and VS_VERSIONINFO, and padding makes
them exactly the size the KB lists.
"""

from __future__ import annotations

import random
import struct

MACHINES = {"i386": 0x014C, "Alpha": 0x0184}
LANGUAGES = {0x0409: "English (United States)", 0x0407: "German (Germany)", 0x040C: "French (France)",
             0x0411: "Japanese (Japan)", 0x0410: "Italian (Italy)", 0x0C0A: "Spanish (Spain)"}
FILE_ALIGN = 0x200
SECTION_ALIGN = 0x1000


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(key: str, value: bytes, children: bytes = b"", text: bool = False, value_len: int | None = None) -> bytes:
    head_key = _pad4(struct.pack("<HHH", 0, 0, 0) + (key + "\0").encode("utf-16-le"))
    body = head_key + _pad4(value) + children
    vlen = value_len if value_len is not None else (len(value) // 2 if text else len(value))
    return struct.pack("<HHH", len(body), vlen, 1 if text else 0) + body[6:]


def _string(key: str, value: str) -> bytes:
    return _pad4(_block(key, (value + "\0").encode("utf-16-le"), text=True))


def version_resource(version: str, lang: int, name: str = "") -> bytes:
    a, b, c, d = (int(p) for p in version.split("."))
    ms, ls = (a << 16) | b, (c << 16) | d
    fixed = struct.pack("<13I", 0xFEEF04BD, 0x00010000, ms, ls, ms, ls, 0x3F, 0, 0x40004, 2, 0, 0, 0)
    table_key = f"{lang:04x}04b0"
    strings = b"".join(_string(k, v) for k, v in (
        ("CompanyName", "Microsoft Corporation"), ("FileDescription", name or "SMS component"),
        ("FileVersion", version), ("ProductName", "Microsoft Systems Management Server"),
        ("ProductVersion", version)))
    table = _pad4(_block(table_key, b"", strings, text=True))
    string_info = _pad4(_block("StringFileInfo", b"", table, text=True))
    var = _pad4(_block("Translation", struct.pack("<HH", lang, 0x04B0)))
    var_info = _pad4(_block("VarFileInfo", b"", var, text=True))
    return _block("VS_VERSION_INFO", fixed, string_info + var_info)


def _resource_section(version_data: bytes, lang: int, rva: int) -> bytes:
    # Three directory levels (type -> id -> language) then one data entry.
    def directory(entry_id: int, offset: int, is_dir: bool) -> bytes:
        return struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 1) + struct.pack("<II", entry_id, offset | (0x80000000 if is_dir else 0))
    level1 = directory(16, 0x18, True)         # RT_VERSION
    level2 = directory(1, 0x30, True)          # resource id 1
    level3 = directory(lang, 0x48, False)      # language -> data entry at 0x48
    data_offset = 0x58
    entry = struct.pack("<IIII", rva + data_offset, len(version_data), 0, 0)
    return level1 + level2 + level3 + entry + version_data


def build_dll(platform: str, version: str, size: int, language: str = "English (United States)",
              name: str = "") -> bytes:
    """A PE DLL for `platform` carrying `version`, padded to exactly `size` bytes."""
    lang = next((k for k, v in LANGUAGES.items() if v == language), 0x0409)
    machine = MACHINES[platform]
    headers_size = FILE_ALIGN
    rsrc_rva = SECTION_ALIGN
    rsrc = _resource_section(version_resource(version, lang, name), lang, rsrc_rva)
    raw_size = len(rsrc) + (-len(rsrc) % FILE_ALIGN)
    dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x40)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", machine, 1, 0x3A9E5B40, 0, 0, 224, 0x2102)  # DLL | 32BIT | EXEC
    data_dirs = [(0, 0)] * 16
    data_dirs[2] = (rsrc_rva, len(rsrc))
    optional = struct.pack("<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII", 0x10B, 6, 0, 0, raw_size, 0, 0, 0, 0, 0x10000000,
                           SECTION_ALIGN, FILE_ALIGN, 4, 0, 0, 0, 4, 0, 0,
                           rsrc_rva + raw_size + (-raw_size % SECTION_ALIGN), headers_size, 0, 2, 0,
                           0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    optional += b"".join(struct.pack("<II", *d) for d in data_dirs)
    section = struct.pack("<8sIIIIIIHHI", b".rsrc", len(rsrc), rsrc_rva, raw_size, headers_size, 0, 0, 0, 0,
                          0x40000040)
    header = dos + coff + optional + section
    image = header + b"\0" * (headers_size - len(header)) + rsrc + b"\0" * (raw_size - len(rsrc))
    if size < len(image):
        raise ValueError(f"a PE with this version resource needs at least {len(image)} bytes")
    return image + _filler(size - len(image), f"{platform} {version} {language} {name}")


def _filler(length: int, seed: str) -> bytes:
    """The rest of the file, as compressible as real code and data (gzip keeps about half of an x86 DLL):
    each 4 KiB page half noise, half zeros. All zeros would flatter any compression of staged files."""
    noise = random.Random(seed).randbytes((length + 4095) // 4096 * 2048)
    pages = (noise[i:i + 2048] + bytes(2048) for i in range(0, len(noise), 2048))
    return b"".join(pages)[:length]


def read_version_info(content: bytes) -> dict:
    """Version, language and machine of a PE file; {} when it is not one."""
    if not content.startswith(b"MZ"):
        return {}
    import pefile
    try:
        pe = pefile.PE(data=content, fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    except pefile.PEFormatError:
        return {}
    machine = {v: k for k, v in MACHINES.items()}.get(pe.FILE_HEADER.Machine, hex(pe.FILE_HEADER.Machine))
    info = {"machine": machine}
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if fixed:
        f = fixed[0]
        info["version"] = (f"{f.FileVersionMS >> 16}.{f.FileVersionMS & 0xFFFF:02d}."
                           f"{f.FileVersionLS >> 16}.{f.FileVersionLS & 0xFFFF:04d}")
    for file_info in getattr(pe, "FileInfo", None) or []:
        for entry in file_info:
            for var in getattr(entry, "Var", []) or []:
                translation = var.entry.get(b"Translation")
                if translation:
                    lang = int(translation.split()[0], 16) & 0xFFFF
                    info["language"] = LANGUAGES.get(lang, f"LCID {lang:#06x}")
    return info
