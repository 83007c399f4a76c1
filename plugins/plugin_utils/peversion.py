"""A DLL's FileVersion and language from its version resource, read with pefile on the controller.

Over WinRM the probe asks Windows (FileVersionInfo, VerQueryValue); over smb the controller reads
the file itself. Only what the version resource needs crosses the wire: the headers, then the
section that holds the resource directory, placed at their offsets in an otherwise empty image
that pefile parses as usual. No Ansible import here.
"""

from __future__ import annotations

from typing import Callable

FIRST_BYTES = 1024  # SizeOfHeaders of almost every DLL: DOS, NT and section headers
HEADER_BYTES = 4096
MAX_RESOURCE_BYTES = 4 * 1024 * 1024  # a resource section larger than this is read no further

# VerLanguageName's names for the languages SMS 2.0 shipped in (Windows 2000 wording varies: the
# probe over WinRM reports the host's own; classification only ever uses the numeric ID).
LANGUAGES = {
    0x0409: "English (United States)", 0x0407: "German (Germany)", 0x040C: "French (France)",
    0x0411: "Japanese (Japan)", 0x0410: "Italian (Italy)", 0x0C0A: "Spanish (Spain)", 0x040A: "Spanish (Spain)",
    0x0412: "Korean (Korea)", 0x0804: "Chinese (Simplified)", 0x0404: "Chinese (Traditional)",
    0x0416: "Portuguese (Brazil)", 0x041D: "Swedish (Sweden)", 0x0413: "Dutch (Netherlands)",
    0x0406: "Danish (Denmark)", 0x040B: "Finnish (Finland)", 0x0414: "Norwegian (Bokmal)",
    0x0415: "Polish (Poland)", 0x0419: "Russian (Russia)", 0x0405: "Czech (Czech Republic)",
    0x040E: "Hungarian (Hungary)", 0x040D: "Hebrew (Israel)", 0x0401: "Arabic (Saudi Arabia)",
    0x0408: "Greek (Greece)", 0x041F: "Turkish (Turkey)", 0x0816: "Portuguese (Portugal)",
}


class PeError(ValueError):
    """Not a PE image, or its headers point outside the file."""


def version_of(pe) -> str | None:
    """FileVersion as Windows formats it for SMS (2.00.1493.3240); None without a version resource
    or when every part is 0 (FileVersionInfo's answer for a file it could not read)."""
    fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
    if not fixed:
        return None
    info = fixed[0]
    parts = (info.FileVersionMS >> 16, info.FileVersionMS & 0xFFFF, info.FileVersionLS >> 16, info.FileVersionLS & 0xFFFF)
    if not any(parts):
        return None
    return f"{parts[0]}.{parts[1]:02d}.{parts[2]}.{parts[3]:04d}"


def language_id_of(pe) -> int | None:
    """The first language of VarFileInfo\\Translation, as VerQueryValue reads it."""
    for info in getattr(pe, "FileInfo", None) or []:
        for entry in info if isinstance(info, list) else [info]:
            for var in getattr(entry, "Var", None) or []:
                translation = (getattr(var, "entry", None) or {}).get(b"Translation")
                if translation:
                    return int(translation.split()[0], 16) & 0xFFFF
    return None


def language_name(language_id: int | None) -> str | None:
    if language_id is None:
        return None
    return LANGUAGES.get(language_id, f"Language {language_id:#06x}")


def read_version_info(read: Callable[[int, int], bytes], size: int) -> dict:
    """{version, language_id, language, bytes_read} of a PE file of `size` bytes, reading through
    read(offset, length). Raises PeError for a file that is not a PE image."""
    import pefile  # controller requirement (requirements.txt)

    head = read(0, min(FIRST_BYTES, size))
    try:
        header = pefile.PE(data=head, fast_load=True)
        if len(header.sections) < header.FILE_HEADER.NumberOfSections and size > len(head):
            head = read(0, min(HEADER_BYTES, size))  # a longer header: read the whole section table
            header = pefile.PE(data=head, fast_load=True)
    except pefile.PEFormatError as error:
        raise PeError(f"not a valid PE file ({error})") from None
    total = len(head)
    image = bytearray(size)
    image[:len(head)] = head
    directory = header.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]]
    section = header.get_section_by_rva(directory.VirtualAddress) if directory.VirtualAddress else None
    if section is not None:
        start, length = section.PointerToRawData, min(section.SizeOfRawData, MAX_RESOURCE_BYTES)
        if start + length > size:
            raise PeError(f"its resource section ends at byte {start + length}, past the end of the file ({size})")
        data = read(start, length)
        total += len(data)
        image[start:start + len(data)] = data
    try:
        pe = pefile.PE(data=bytes(image), fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    except pefile.PEFormatError as error:
        raise PeError(f"not a valid PE file ({error})") from None
    version = version_of(pe)
    language_id = language_id_of(pe) if version else None
    return {"version": version, "language_id": language_id, "language": language_name(language_id),
            "bytes_read": total}
