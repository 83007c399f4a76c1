"""Every PowerShell module parses with the PowerShell grammar, follows the
ansible.windows module shape, and its argument spec matches its documentation."""

import ast
import pathlib

import pytest
import yaml

from ps_argspec import compare_options, module_spec, syntax_errors

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(__file__).parent / "fixtures"
PS1_FILES = sorted(p for p in ROOT.glob("plugins/**/*.ps1")) + sorted(ROOT.glob("plugins/**/*.psm1"))
MODULES = sorted(ROOT.glob("plugins/modules/*.ps1"))


def rel(path):
    return str(path.relative_to(ROOT))


def documentation(py_path: pathlib.Path) -> dict:
    """DOCUMENTATION from a module's .py, read without importing it."""
    tree = ast.parse(py_path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    raise AssertionError(f"{py_path} has no DOCUMENTATION")


def module_problems(ps1: pathlib.Path) -> list[str]:
    source = ps1.read_bytes()
    problems = [f"syntax {e}" for e in syntax_errors(source)]
    text = source.decode("utf-8-sig")
    if "#AnsibleRequires -CSharpUtil Ansible.Basic" not in text:
        problems.append("missing '#AnsibleRequires -CSharpUtil Ansible.Basic'")
    if "[Ansible.Basic.AnsibleModule]::Create(" not in text:
        problems.append("does not create an Ansible.Basic.AnsibleModule")
    py = ps1.with_suffix(".py")
    if not py.exists():
        return problems + [f"no documentation file {py.name} beside it"]
    spec = module_spec(source)
    if spec.get("supports_check_mode") is not True:
        problems.append("argument spec does not set supports_check_mode = $true")
    doc = documentation(py)
    if doc.get("module") != ps1.stem:
        problems.append(f"documentation names module {doc.get('module')!r}, file is {ps1.stem!r}")
    problems.extend(compare_options(spec.get("options"), doc.get("options")))
    return problems


def test_the_collection_has_powershell_modules():
    # Guards against the glob silently matching nothing (e.g. after a move).
    assert MODULES, "no plugins/modules/*.ps1 found"


@pytest.mark.parametrize("ps1", PS1_FILES, ids=rel)
def test_powershell_parses_with_the_grammar(ps1):
    assert syntax_errors(ps1.read_bytes()) == []


@pytest.mark.parametrize("ps1", MODULES, ids=rel)
def test_module_spec_matches_documentation(ps1):
    assert module_problems(ps1) == []


# The checks themselves, on deliberately broken modules.

def test_a_syntax_error_is_reported_with_its_line():
    errors = syntax_errors(b"$spec = @{\n  options = @{ name = @{ type = 'str' }\n}\nif ($x {\n")
    assert errors and all(":" in e for e in errors)


def test_a_spec_is_read_from_source_not_copied():
    spec = module_spec((FIXTURES / "mismatch.ps1").read_bytes())
    assert spec["options"]["state"] == {"type": "str", "choices": ["present", "absent"], "default": "present"}
    assert spec["options"]["paths"] == {"type": "list", "elements": "str", "required": True}
    assert spec["supports_check_mode"] is True


def test_every_kind_of_mismatch_is_named():
    problems = module_problems(FIXTURES / "mismatch.ps1")
    assert "option state: default is 'present' in the spec but 'absent' in the docs" in problems
    assert "option paths: required is True in the spec but False in the docs" in problems
    assert "option timeout: type is 'int' in the spec but 'str' in the docs" in problems
    assert "option extra is in the argument spec but not documented" in problems
    assert "option ghost is documented but not in the argument spec" in problems
    assert "option mode: choices is ['a', 'b'] in the spec but ['a', 'c'] in the docs" in problems
