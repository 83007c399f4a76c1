import pathlib
import sys

import pytest

from ansible.plugins.loader import init_plugin_loader

sys.path.insert(0, str(pathlib.Path(__file__).parent))
# Before any test imports the collection: then it is loaded through Ansible's collection finder, with
# its metadata, and plugin loaders (connection_loader.get) find its plugins by FQCN.
init_plugin_loader()


@pytest.fixture(autouse=True)
def controller_home(tmp_path, monkeypatch):
    """Each test its own ANSIBLE_HOME: the action plugins keep their change records there, and a test must
    neither read another's records nor leave any in the developer's ~/.ansible."""
    home = tmp_path / "ansible-home"
    monkeypatch.setenv("ANSIBLE_HOME", str(home))
    return home
