import pathlib
import sys

from ansible.plugins.loader import init_plugin_loader

sys.path.insert(0, str(pathlib.Path(__file__).parent))
# Before any test imports the collection: then it is loaded through Ansible's collection finder, with
# its metadata, and plugin loaders (connection_loader.get) find its plugins by FQCN.
init_plugin_loader()
