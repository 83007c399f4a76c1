"""Print the pip version ansible-test bootstraps into its sanity venvs."""

import types

from ansible_test._internal.python_requirements import get_venv_packages

print(get_venv_packages(types.SimpleNamespace(version="3.12"))["pip"])
