"""Extract pinned collections from `ansible` wheels into the venv.

Galaxy cannot be reached from our machines, but PyPI can, and the `ansible`
package ships ansible.windows and friends (and, up to 13.x, awx.awx). Each
pinned wheel is downloaded once, its SHA-256 checked, and only the collections
listed under it are unpacked. Spec format: blocks of `wheel`, `sha256` and
`collection` lines, one `key value` per line.
"""

import hashlib
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile


def read_spec(path):
    blocks = []
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split(None, 1)
        if key == "wheel":
            blocks.append({"wheel": value, "collection": []})
        elif not blocks:
            sys.exit(f"install_collections: {path}: '{key}' before any 'wheel' line")
        elif key == "collection":
            blocks[-1]["collection"].append(value)
        else:
            blocks[-1][key] = value
    return blocks


def extract(block, cache, target):
    name, version = block["wheel"].split("==")
    wheel = cache / f"{name}-{version}-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary", ":all:", "-d", str(cache), block["wheel"]],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != block["sha256"]:
        wheel.unlink()
        sys.exit(f"install_collections: {wheel.name} has SHA-256 {digest}, expected {block['sha256']}")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for fqcn in block["collection"]:
            ns, coll = fqcn.split(".")
            prefix = f"ansible_collections/{ns}/{coll}/"
            members = [n for n in names if n.startswith(prefix)]
            if not members:
                sys.exit(f"install_collections: {fqcn} is not in {wheel.name}")
            shutil.rmtree(target / ns / coll, ignore_errors=True)
            for member in members:
                archive.extract(member, target.parent)
            print(f"install_collections: {fqcn} from {wheel.name}")


def main(spec_path):
    cache = pathlib.Path(sys.prefix) / "cache" / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    target = pathlib.Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"
    for block in read_spec(spec_path):
        extract(block, cache, target)


if __name__ == "__main__":
    main(sys.argv[1])
