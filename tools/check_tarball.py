"""Fail when the built collection tarball carries anything that is not collection content."""

import sys
import tarfile

FORBIDDEN_PREFIXES = ("tests/", "winlab/", "bench/", "tools/", ".venv/", ".lab/", ".ci/",
                      "inventories/lab/", "molecule/", "requirements/")
FORBIDDEN_NAMES = {"Makefile", "pytest.ini", "ansible.cfg", ".gitignore", ".python-version"}
REQUIRED = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "meta/runtime.yml"}


def main(path):
    with tarfile.open(path) as tar:
        names = {m.name.removeprefix("./") for m in tar.getmembers()}
    bad = sorted(n for n in names
                 if n.startswith(FORBIDDEN_PREFIXES) or n.split("/")[-1] in FORBIDDEN_NAMES
                 or "__pycache__" in n)
    missing = sorted(REQUIRED - names)
    if bad or missing:
        for n in bad:
            print(f"check_tarball: {path}: must not contain {n}")
        for n in missing:
            print(f"check_tarball: {path}: missing {n}")
        return 1
    print(f"check_tarball: {path}: {len(names)} entries, no test or lab files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
