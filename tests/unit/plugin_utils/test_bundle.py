"""Controller pre-flight of the hotfix bundle: every mismatch named, nothing accepted by accident."""

import gzip
import hashlib
import pathlib

import pytest
from winlab.bundle import write_bundle  # lab bundles: genuine PE files pefile can read
from winlab.pe import build_dll

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.bundle import BundleError, check_bundle, gzip_copy


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """The default cache lives in the home folder; tests keep theirs in tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_good_bundle_reports_versions_and_hashes(tmp_path):
    write_bundle(tmp_path)
    files = check_bundle(str(tmp_path), ["i386", "Alpha"], method="installer")
    assert files["i386"]["Baseutil.dll"]["version"] == "2.00.1493.3240"
    assert files["Alpha"]["Distmgr.dll"]["size"] == 359184
    data = (tmp_path / "i386" / "Distmgr.dll").read_bytes()
    assert files["i386"]["Distmgr.dll"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["installer"]["bundle_path"].endswith("Q317061.exe")
    assert "data" not in files["installer"] and "data" not in files["i386"]["Distmgr.dll"]


def test_hosts_are_staged_from_the_checked_bytes_only(tmp_path):
    """A file swapped in the bundle after the pre-flight never reaches a host: staging reads the cache."""
    write_bundle(tmp_path / "b")
    files = check_bundle(str(tmp_path / "b"), ["i386"], cache_dir=str(tmp_path / "cache"))
    entry = files["i386"]["Distmgr.dll"]
    cached = pathlib.Path(entry["path"])
    assert cached.parent == tmp_path / "cache" and cached.name == entry["sha256"]
    assert entry["bundle_path"] == str(tmp_path / "b" / "i386" / "Distmgr.dll")
    original = (tmp_path / "b" / "i386" / "Distmgr.dll").read_bytes()
    (tmp_path / "b" / "i386" / "Distmgr.dll").write_bytes(original[:-1] + b"X")  # same size, same version
    assert cached.read_bytes() == original and hashlib.sha256(cached.read_bytes()).hexdigest() == entry["sha256"]
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0
    cached.write_bytes(b"tampered in the cache")  # a damaged cache entry is rewritten, never trusted
    write_bundle(tmp_path / "b")
    check_bundle(str(tmp_path / "b"), ["i386"], cache_dir=str(tmp_path / "cache"))
    assert cached.read_bytes() == original


@pytest.mark.parametrize("variant, platforms, message", [
    ("wrong-version", ["i386"], "i386/Distmgr.dll: FileVersion is 2.00.1493.3197, expected 2.00.1493.3240"),
    ("wrong-platform", ["i386"], "i386/Baseutil.dll: PE machine type is Alpha, expected i386"),
    ("truncated", ["Alpha"], "Alpha/Baseutil.dll: size is 405,384 bytes, KB Q317061 lists 810,768"),
    ("missing-file", ["i386"], "i386/Distmgr.dll: missing"),
])
def test_bad_bundles_are_refused_with_the_file_and_the_difference(tmp_path, variant, platforms, message):
    write_bundle(tmp_path, variant=variant)
    with pytest.raises(BundleError) as error:
        check_bundle(str(tmp_path), platforms)
    assert message in str(error.value)


def test_only_the_needed_platforms_are_checked(tmp_path):
    write_bundle(tmp_path, variant="missing-file")  # i386 Distmgr.dll missing
    assert set(check_bundle(str(tmp_path), ["Alpha"])) == {"Alpha"}


def test_sha256_pins(tmp_path):
    write_bundle(tmp_path)
    good = hashlib.sha256((tmp_path / "i386" / "Baseutil.dll").read_bytes()).hexdigest()
    check_bundle(str(tmp_path), ["i386"], pins={"i386/Baseutil.dll": good.upper()})
    with pytest.raises(BundleError, match="i386/Baseutil.dll: SHA-256 is .*, the pinned value is 00"):
        check_bundle(str(tmp_path), ["i386"], pins={"i386/Baseutil.dll": "00" * 32})
    with pytest.raises(BundleError, match="unknown key 'i386/baseutil'"):
        check_bundle(str(tmp_path), ["i386"], pins={"i386/baseutil": good})


def test_pins_of_files_the_run_does_not_stage_are_checked_too(tmp_path):
    """A pin is never silently ignored: Q317061.exe pinned under the manual method, the Alpha DLLs
    pinned for an Intel-only fleet; a mismatch or a pinned file the bundle lacks refuses the bundle."""
    write_bundle(tmp_path)
    installer = hashlib.sha256((tmp_path / "Q317061.exe").read_bytes()).hexdigest()
    alpha = hashlib.sha256((tmp_path / "Alpha" / "Distmgr.dll").read_bytes()).hexdigest()
    check_bundle(str(tmp_path), ["i386"], method="manual", pins={"Q317061.exe": installer, "Alpha/Distmgr.dll": alpha})
    with pytest.raises(BundleError, match="Q317061.exe: SHA-256 is .*, the pinned value is 11.*does not stage"):
        check_bundle(str(tmp_path), ["i386"], method="manual", pins={"Q317061.exe": "11" * 32})
    with pytest.raises(BundleError, match="Alpha/Distmgr.dll: SHA-256 is .*, the pinned value is 22"):
        check_bundle(str(tmp_path), ["i386"], pins={"Alpha/Distmgr.dll": "22" * 32})
    (tmp_path / "Q317061.exe").unlink()
    with pytest.raises(BundleError, match="Q317061.exe: pinned in q317061_hotfix_sha256 but missing from the bundle"):
        check_bundle(str(tmp_path), ["i386"], pins={"Q317061.exe": installer})
    check_bundle(str(tmp_path), ["i386"])  # nothing pinned, the manual method does not need the installer


def test_later_sp3_build_needs_a_pin(tmp_path):
    write_bundle(tmp_path)
    later = build_dll("i386", "2.00.1493.3241", 231424, name="Distmgr.dll")
    (tmp_path / "i386" / "Distmgr.dll").write_bytes(later)
    with pytest.raises(BundleError, match="build 2.00.1493.3241 is not in the KB Q317061 size table"):
        check_bundle(str(tmp_path), ["i386"])
    files = check_bundle(str(tmp_path), ["i386"], pins={"i386/Distmgr.dll": hashlib.sha256(later).hexdigest()})
    assert files["i386"]["Distmgr.dll"]["version"] == "2.00.1493.3241"


@pytest.mark.parametrize("version", ["2.00.1493.4000", "2.00.1493.3000", "2.50.2726.0018"])
def test_non_fix_builds_are_refused(tmp_path, version):
    write_bundle(tmp_path)
    (tmp_path / "i386" / "Baseutil.dll").write_bytes(build_dll("i386", version, 526272, name="Baseutil.dll"))
    with pytest.raises(BundleError, match=f"FileVersion is {version}"):
        check_bundle(str(tmp_path), ["i386"])


def test_not_a_pe_file_and_missing_folder(tmp_path):
    write_bundle(tmp_path)
    (tmp_path / "i386" / "Baseutil.dll").write_bytes(b"MZ" + b"\0" * 100)
    with pytest.raises(BundleError, match="i386/Baseutil.dll: not a valid PE file"):
        check_bundle(str(tmp_path), ["i386"])
    with pytest.raises(BundleError, match="does not exist"):
        check_bundle(str(tmp_path / "nope"), ["i386"])


def test_installer_must_be_intel(tmp_path):
    write_bundle(tmp_path)
    (tmp_path / "Q317061.exe").write_bytes(build_dll("Alpha", "2.00.1493.3240", 65536))
    with pytest.raises(BundleError, match="Q317061.exe: PE machine type is Alpha; the installer runs on Intel"):
        check_bundle(str(tmp_path), ["i386"], method="installer")


def test_the_checked_copies_get_their_gzip_copies_once(tmp_path):
    """Staging over WinRM uploads <cached>.gz: made by the pre-flight, once per run, not per host."""
    write_bundle(tmp_path / "bundle")
    files = check_bundle(str(tmp_path / "bundle"), ["i386"])
    cached = pathlib.Path(files["i386"]["Distmgr.dll"]["path"])
    packed = cached.with_name(cached.name + ".gz")
    assert gzip.decompress(packed.read_bytes()) == cached.read_bytes()
    assert packed.stat().st_size < cached.stat().st_size * 0.6  # a DLL packs to about half
    before = packed.stat().st_mtime_ns
    assert gzip_copy(str(cached)) == str(packed) and packed.stat().st_mtime_ns == before
