"""AWX's survey rules, written from AWX's source (ansible/awx, awx/api/views JobTemplateSurveySpec.
_validate_spec_data; awx/main/models/mixins.py SurveyJobTemplateMixin._survey_element_validation and
_update_unified_job_kwargs; awx/main/constants.py SURVEY_TYPE_MAPPING), for tests: the spec checks
AWX's API makes when a survey is saved, the checks of each answer at launch, and how answers and
defaults become a job's extra vars."""

from __future__ import annotations

TYPES = {"text": (str,), "textarea": (str,), "password": (str,), "multiplechoice": (str,), "multiselect": (str,),
         "integer": (int,), "float": (float, int)}


class SurveyError(ValueError):
    """AWX would refuse the launch with this message."""


def _choices(question) -> list[str]:
    choices = question.get("choices")
    if isinstance(choices, str):
        return [c for c in choices.split("\n") if c.strip()]
    return list(choices or [])


def spec_errors(survey: dict) -> list[str]:
    """What AWX's API answers (HTTP 400) to this survey spec; [] when it is stored."""
    errors = []
    for key in ("name", "description"):
        if not isinstance(survey.get(key), str):
            errors.append(f"'{key}' missing from survey spec or not a string.")
    spec = survey.get("spec")
    if not isinstance(spec, list) or not spec:
        return errors + ["'spec' doesn't contain any items."]
    seen = set()
    for i, q in enumerate(spec):
        if not isinstance(q, dict):
            errors.append(f"Survey question {i} is not a json object.")
            continue
        for key, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if key not in q:
                errors.append(f"'{key}' missing from survey question {i}.")
            elif not isinstance(q[key], kind):
                errors.append(f"'{key}' in survey question {i} expected to be {'boolean' if kind is bool else 'string'}.")
        if q.get("variable") in seen:
            errors.append(f"'variable' '{q['variable']}' duplicated in survey question {i}.")
        seen.add(q.get("variable"))
        kind = q.get("type")
        if kind not in TYPES:
            errors.append(f"'{kind}' in survey question {i} is not one of '{', '.join(TYPES)}' allowed types.")
            continue
        default = q.get("default")
        if default not in (None, "") and (not isinstance(default, TYPES[kind]) or isinstance(default, bool)
                                          and kind != "integer"):
            errors.append(f"Default value {default!r} in survey question {i} expected to be "
                          f"{'int' if kind == 'integer' else 'numeric' if kind == 'float' else 'string'}.")
        for limit in ("min", "max"):
            if limit in q and q[limit] is not None and (not isinstance(q[limit], int) or isinstance(q[limit], bool)):
                errors.append(f"The {limit} limit in survey question {i} expected to be integer.")
        if kind in ("multiplechoice", "multiselect"):
            if "choices" not in q:
                errors.append(f"Survey question {i} of type {kind} must specify choices.")
            defaults = [d for d in str(default or "").split("\n") if d.strip()]
            if kind == "multiplechoice" and len(defaults) > 1:
                errors.append(f"Multiple Choice (Single Select) can only have one default value (question {i}).")
            for d in defaults:
                if d not in _choices(q):  # exact, as AWX's test is for a list of choices
                    errors.append(f"Default choice {d} is not in the choices of survey question {i}.")
        if kind == "password" and str(default or "").startswith("$encrypted$"):
            errors.append(f"$encrypted$ is a reserved keyword for password question defaults (question {i}).")
        if default not in (None, "") and answer_errors(q, default) and kind != "multiselect":
            pass  # AWX stores it but silently drops it at launch (see extra_vars)
    return errors


def answer_errors(question: dict, value) -> list[str]:
    """What AWX says about one launch answer (_survey_element_validation); [] when accepted."""
    kind, name = question["type"], question["variable"]
    low, high = question.get("min"), question.get("max")
    if kind in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return [f"Value {value} for '{name}' expected to be a string."]
        if isinstance(low, int) and len(value) < low:
            return [f"'{name}' value {value} is too small (length is {len(value)} must be at least {low})."]
        if isinstance(high, int) and len(value) > high:
            return [f"'{name}' value {value} is too large (must be no more than {high})."]
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):  # AWX: type(value) == int
            return [f"Value {value} for '{name}' expected to be an integer."]
        if isinstance(low, int) and value < low or isinstance(high, int) and value > high:
            return [f"'{name}' value {value} is out of bounds ({low}..{high})."]
    elif kind == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return [f"Value {value} for '{name}' expected to be a numeric type."]
    elif kind == "multiplechoice":
        if value not in _choices(question):
            return [f"Value {value} for '{name}' expected to be one of {_choices(question)}."]
    elif kind == "multiselect":
        if not isinstance(value, list):
            return [f"'{name}' value is expected to be a list."]
        if any(v not in _choices(question) for v in value):
            return [f"Values {value} for '{name}' expected to be among {_choices(question)}."]
    return []


def ui_answers(survey: dict, **answers) -> dict:
    """What AWX's launch form sends: each field pre-filled with its default, the operator's answers
    over them, and nothing for a field left empty ("" or [] are omitted)."""
    sent = {q["variable"]: q["default"] for q in survey["spec"] if q.get("default") not in (None, "", [])}
    sent.update(answers)
    return {k: v for k, v in sent.items() if v not in ("", [], None)}


def extra_vars(survey: dict, answers: dict, template_vars: dict | None = None) -> dict:
    """A job's extra vars: the template's, then each valid survey default, then the launch answers
    (AWX's UI sends no answer for a field left empty). Raises SurveyError where AWX refuses the launch."""
    out = dict(template_vars or {})
    for q in survey["spec"]:
        name = q["variable"]
        if name in answers:
            errors = answer_errors(q, answers[name])
            if errors:
                raise SurveyError(errors[0])
            out[name] = answers[name]
        elif q.get("required"):
            raise SurveyError(f"'{name}' value missing")
        elif q.get("default") is not None and not answer_errors(q, q["default"]):
            out[name] = q["default"]  # an invalid default (for an integer, "") is dropped silently
    return out


def workflow_run(nodes: list[dict], outcomes: dict[str, str]) -> list[str]:
    """The nodes a workflow job runs, in order, as AWX's DAG runs them (awx/main/scheduler/dag_workflow.py): a root
    runs first; a node runs when a parent that ran ended so that the edge from it fires: success_nodes on
    "successful", failure_nodes on "failed" (a denied or timed-out approval is failed too), always_nodes either
    way. A node reached by no firing edge is marked do-not-run. `outcomes`: node -> "successful" or "failed"
    (default "successful")."""
    children = {n["identifier"]: n.get("related") or {} for n in nodes}
    parents = {c["identifier"] for n in nodes for kind in ("success_nodes", "failure_nodes", "always_nodes")
               for c in (n.get("related") or {}).get(kind, [])}
    todo = [n["identifier"] for n in nodes if n["identifier"] not in parents]
    ran = []
    while todo:
        node = todo.pop(0)
        if node in ran:
            continue
        ran.append(node)
        status = outcomes.get(node, "successful")
        fired = children[node].get("always_nodes", []) + children[node].get(
            "success_nodes" if status == "successful" else "failure_nodes", [])
        todo += [c["identifier"] for c in fired]
    return ran


def node_extra_vars(template: dict, survey: dict, workflow_vars: dict, artifacts: dict | None = None) -> dict:
    """A workflow node's job's extra vars: the template's own, its survey's defaults where nothing else gives the
    variable, then the artifacts (set_stats) of the jobs before it, then the workflow's extra vars (its survey's
    answers), which AWX passes to every node and which win (awx/main/models/workflow.py, get_job_kwargs)."""
    given = dict(artifacts or {}, **workflow_vars)
    answers = {q["variable"]: given[q["variable"]] for q in survey["spec"] if q["variable"] in given}
    out = extra_vars(survey, answers, template.get("extra_vars"))
    out.update(given)
    return out
