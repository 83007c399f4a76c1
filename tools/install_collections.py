"""Extract pinned collections from the `ansible` wheel into the venv.

Galaxy cannot be reached from our machines, but PyPI can, and the `ansible`
package ships ansible.windows and friends. We download the pinned wheel once,
check its SHA-256, and unpack only the collections listed in the spec file.
"""

import hashlib
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile


def read_spec(path):
    spec = {"collection": []}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split(None, 1)
        if key == "collection":
            spec["collection"].append(value)
        else:
            spec[key] = value
    return spec


def main(spec_path):
    spec = read_spec(spec_path)
    cache = pathlib.Path(sys.prefix) / "cache" / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    name, version = spec["wheel"].split("==")
    wheel = cache / f"{name}-{version}-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary", ":all:", "-d", str(cache), spec["wheel"]],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != spec["sha256"]:
        wheel.unlink()
        sys.exit(f"install_collections: {wheel.name} has SHA-256 {digest}, expected {spec['sha256']}")

    target = pathlib.Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for fqcn in spec["collection"]:
            ns, coll = fqcn.split(".")
            prefix = f"ansible_collections/{ns}/{coll}/"
            members = [n for n in names if n.startswith(prefix)]
            if not members:
                sys.exit(f"install_collections: {fqcn} is not in {wheel.name}")
            dest = target / ns / coll
            shutil.rmtree(dest, ignore_errors=True)
            for member in members:
                archive.extract(member, target.parent)
            print(f"install_collections: {fqcn} from {wheel.name}")


if __name__ == "__main__":
    main(sys.argv[1])
