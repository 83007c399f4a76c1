"""A hotfix bundle fetched from an https URL (plugin_utils/archive.py): pinned, unpacked safely, once."""

import hashlib
import io
import tarfile
import zipfile

import pytest

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import archive, variables

URL = "https://repo.example.com/Q317061.zip"


def zip_bytes(files: dict, top: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(top + name, data)
    return out.getvalue()


def opener_for(data: bytes, calls: list):
    def open_url(url):
        calls.append(url)
        return io.BytesIO(data)
    return open_url


def test_an_archive_is_checked_unpacked_and_reused(tmp_path):
    data = zip_bytes({"Q317061.exe": b"MZ", "i386/Distmgr.dll": b"x", "i386/Baseutil.dll": b"y"}, top="Q317061/")
    calls = []
    folder = archive.fetch(URL, hashlib.sha256(data).hexdigest(), opener_for(data, calls), str(tmp_path))
    assert (tmp_path / hashlib.sha256(data).hexdigest() / "Q317061" / "i386" / "Distmgr.dll").read_bytes() == b"x"
    assert folder.endswith("Q317061")  # the one top folder holds the KB layout
    again = archive.fetch(URL, hashlib.sha256(data).hexdigest().upper(), opener_for(data, calls), str(tmp_path))
    assert again == folder and len(calls) == 1  # unpacked once per SHA-256


def test_a_wrong_pin_unpacks_nothing(tmp_path):
    data = zip_bytes({"i386/Distmgr.dll": b"x"})
    with pytest.raises(archive.ArchiveError, match="not the pinned"):
        archive.fetch(URL, "0" * 64, opener_for(data, []), str(tmp_path))
    assert not (tmp_path / ("0" * 64)).exists()


@pytest.mark.parametrize("name", ["../evil.dll", "/etc/evil", "C:/Windows/evil.dll", "a/../../evil"])
def test_names_outside_the_archive_are_refused(tmp_path, name):
    data = zip_bytes({name: b"x"})
    with pytest.raises(archive.ArchiveError, match="a name outside its folder"):
        archive.fetch(URL, hashlib.sha256(data).hexdigest(), opener_for(data, []), str(tmp_path))


def test_links_in_a_tar_are_refused(tmp_path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        link = tarfile.TarInfo("i386/Distmgr.dll")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    data = out.getvalue()
    with pytest.raises(archive.ArchiveError, match="not a plain file"):
        archive.fetch(URL, hashlib.sha256(data).hexdigest(), opener_for(data, []), str(tmp_path))


@pytest.mark.parametrize("url, sha, words", [
    ("http://repo/Q317061.zip", "a" * 64, "only https URLs"),
    (URL, "", "q317061_hotfix_archive_sha256 is required"),
    (URL, "xyz", "q317061_hotfix_archive_sha256 is required"),
])
def test_plain_http_and_missing_pins_are_refused(tmp_path, url, sha, words):
    with pytest.raises(archive.ArchiveError, match=words):
        archive.fetch(url, sha, opener_for(b"", []), str(tmp_path))


@pytest.mark.parametrize("values, words", [
    ({"q317061_hotfix_source": "http://repo/x.zip"}, "only https URLs are accepted"),
    ({"q317061_hotfix_source": "ftp://repo/x.zip"}, "only https URLs are accepted"),
    ({"q317061_hotfix_source": URL}, "q317061_hotfix_archive_sha256: required when"),
    ({"q317061_hotfix_source": URL, "q317061_hotfix_archive_sha256": "12"}, "q317061_hotfix_archive_sha256: must be"),
])
def test_the_variables_of_an_https_bundle_are_checked_before_any_host(values, words):
    dummy, errors = variables.settings(values, scope="run")
    assert any(words in e for e in errors), errors


def test_an_https_bundle_with_its_pin_is_accepted():
    run, errors = variables.settings({"q317061_hotfix_source": URL, "q317061_hotfix_archive_sha256": "A" * 64},
                                     scope="run")
    assert errors == [] and run["hotfix_source"] == URL and run["hotfix_archive_sha256"] == "a" * 64
