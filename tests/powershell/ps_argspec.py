"""Read a PowerShell module's Ansible argument spec with a real PowerShell grammar.

The spec is the hashtable assigned to `$spec` in the module source. We parse the
file with tree-sitter-pwsh and turn that hashtable literal into Python data, so
the comparison with the documentation never relies on a hand-copied spec.
"""

import tree_sitter
import tree_sitter_pwsh

LANGUAGE = tree_sitter.Language(tree_sitter_pwsh.language())


class UnsupportedExpression(ValueError):
    """The spec uses a construct we cannot evaluate statically."""


def parse(source: bytes) -> tree_sitter.Tree:
    return tree_sitter.Parser(LANGUAGE).parse(source)


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or MISSING node, as 'line:col: text' (1-based)."""
    errors = []

    def walk(node):
        if node.type == "ERROR" or node.is_missing:
            row, col = node.start_point
            what = "missing " + node.type if node.is_missing else "unexpected " + repr(node.text[:40].decode(errors="replace"))
            errors.append(f"{row + 1}:{col + 1}: {what}")
            if node.type == "ERROR":
                return
        for child in node.children:
            walk(child)

    walk(parse(source).root_node)
    return errors


def _only_child(node, wrappers=("pipeline", "pipeline_chain", "unary_expression", "assignment_value",
                                "string_literal", "argument_expression", "expression_with_unary_operator")):
    while node.type in wrappers and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _value(node):
    node = _only_child(node)
    text = node.text.decode()
    if node.type == "hash_literal_expression":
        return _hashtable(node)
    if node.type == "array_literal_expression":
        return [_value(c) for c in node.named_children]
    if node.type == "array_expression":  # @( ... )
        inner = [c for c in node.named_children if c.type == "statement_list"]
        if not inner:
            return []
        items = []
        for stmt in inner[0].named_children:
            value = _value(stmt)
            items.extend(value if isinstance(value, list) else [value])
        return items
    if node.type in ("expandable_string_literal", "verbatim_string_characters", "verbatim_string_literal"):
        if "$" in text.strip("'") and text.startswith('"'):
            raise UnsupportedExpression(f"interpolated string {text}")
        return text[1:-1]
    if node.type == "variable":
        lowered = text.lower()
        if lowered in ("$true", "$false"):
            return lowered == "$true"
        if lowered == "$null":
            return None
        raise UnsupportedExpression(f"variable {text}")
    if node.type in ("decimal_integer_literal", "integer_literal"):
        return int(text)
    if node.type == "real_literal":
        return float(text)
    raise UnsupportedExpression(f"{node.type} {text[:40]!r}")


def _hashtable(node):
    result = {}
    body = [c for c in node.named_children if c.type == "hash_literal_body"]
    for entry in (body[0].named_children if body else []):
        if entry.type != "hash_entry":
            continue
        key_node = entry.child_by_field_name("key") or entry.named_children[0]
        key = key_node.text.decode().strip("'\"")
        value_node = [c for c in entry.named_children if c is not key_node][0]
        result[key] = _value(value_node)
    return result


def module_spec(source: bytes) -> dict:
    """The hashtable assigned to $spec, as Python data."""
    found = []

    def walk(node):
        if node.type == "assignment_expression":
            left = node.named_children[0].text.decode().strip().lower()
            if left == "$spec":
                value = [c for c in node.named_children if c.type == "assignment_value"][0]
                found.append(_value(value))
                return
        for child in node.children:
            walk(child)

    walk(parse(source).root_node)
    if len(found) != 1:
        raise UnsupportedExpression(f"expected exactly one '$spec = @{{...}}' assignment, found {len(found)}")
    return found[0]


NORMALISED_KEYS = ("type", "required", "default", "choices", "elements", "aliases", "no_log")
DEFAULTS = {"type": "str", "required": False, "default": None, "choices": None, "elements": None,
            "aliases": None, "no_log": False}


def _normalise(option: dict) -> dict:
    out = {}
    for key in NORMALISED_KEYS:
        value = option.get(key, DEFAULTS[key])
        if key in ("choices", "aliases") and value is not None:
            value = sorted(value if isinstance(value, list) else [value], key=str)
        out[key] = value
    return out


def compare_options(spec_options: dict, doc_options: dict, path: str = "") -> list[str]:
    """Differences between a ps1 spec's options and the documented options (recursive)."""
    problems = []
    spec_options = spec_options or {}
    doc_options = doc_options or {}
    for name in sorted(set(spec_options) - set(doc_options)):
        problems.append(f"option {path}{name} is in the argument spec but not documented")
    for name in sorted(set(doc_options) - set(spec_options)):
        problems.append(f"option {path}{name} is documented but not in the argument spec")
    for name in sorted(set(spec_options) & set(doc_options)):
        spec, doc = _normalise(spec_options[name]), _normalise(doc_options[name])
        for key in NORMALISED_KEYS:
            if key == "no_log":
                continue  # no_log is a spec concern; documentation does not carry it
            if spec[key] != doc[key]:
                problems.append(f"option {path}{name}: {key} is {spec[key]!r} in the spec but {doc[key]!r} in the docs")
        sub_spec = spec_options[name].get("options")
        sub_doc = doc_options[name].get("suboptions")
        if sub_spec or sub_doc:
            problems.extend(compare_options(sub_spec, sub_doc, f"{path}{name}."))
    return problems
