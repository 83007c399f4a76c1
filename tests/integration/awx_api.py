"""A stand-in of AWX's REST API (/api/v2/) for the awx.awx modules awx/configure.yml runs, so that its
idempotence (changed=0 on a second run) is tested here, where no AWX can run.

It answers as AWX's Django REST framework views answer, in the ways that decide the modules' change
detection (docs/awx.md, "How each part was checked", says where each rule comes from in AWX's own
source, awx/api/serializers.py and awx/main/models):
- each resource has the serializer's fields and their defaults; a field a serializer does not have is
  ignored in a POST or PATCH (DRF), never stored, never echoed;
- secret inputs of a credential (`password` of Machine, and every `secret: true` field of a credential
  type) and non-empty secret fields of a notification configuration come back as `$encrypted$`;
- `extra_vars` is stored as the text it was sent as; a survey spec as it was posted, a password
  question's default as `$encrypted$`;
- a list answers {count, next, previous, results}, filtered by field equality (`name`, `organization`,
  `type`, `identifier`, `workflow_job_template`, ...), `or__` pairs joined by or;
- an association sub-endpoint (`credentials/`, `success_nodes/`, `notification_templates_error/`, a
  team's `roles/`) answers 204 to {id} and to {id, disassociate: true};
- creating a project starts an update that has succeeded by the time anyone polls it;
- an approval node's template is made by `create_approval_template/` and is found through the node.
Every request is kept (`requests`), so a test can say what a second run sent.
"""

from __future__ import annotations

import copy
import http.server
import json
import re
import threading
import urllib.parse

ENCRYPTED = "$encrypted$"
API = "/api/v2/"

# endpoint -> (type, {field: default}). Foreign keys hold ids. Read from AWX's serializers (devel).
RESOURCES = {
    "organizations": ("organization", {"name": "", "description": "", "max_hosts": 0, "custom_virtualenv": None,
                                       "default_environment": None}),
    "execution_environments": ("execution_environment", {"name": "", "description": "", "organization": None,
                                                         "image": "", "managed": False, "credential": None,
                                                         "pull": ""}),
    "credential_types": ("credential_type", {"name": "", "description": "", "kind": "", "namespace": None,
                                             "managed": False, "inputs": {}, "injectors": {}}),
    "credentials": ("credential", {"name": "", "description": "", "organization": None, "credential_type": None,
                                   "managed": False, "inputs": {}, "kind": "", "cloud": False, "kubernetes": False}),
    "projects": ("project", {"name": "", "description": "", "local_path": "", "scm_type": "", "scm_url": "",
                             "scm_branch": "", "scm_refspec": "", "scm_clean": False, "scm_track_submodules": False,
                             "scm_delete_on_update": False, "credential": None, "timeout": 0,
                             "scm_revision": "", "organization": None, "scm_update_on_launch": False,
                             "scm_update_cache_timeout": 0, "allow_override": False, "custom_virtualenv": None,
                             "default_environment": None, "signature_validation_credential": None,
                             "status": "successful"}),
    "inventories": ("inventory", {"name": "", "description": "", "organization": None, "kind": "",
                                  "host_filter": None, "variables": "", "prevent_instance_group_fallback": False}),
    "inventory_sources": ("inventory_source", {"name": "", "description": "", "source": "", "source_path": "",
                                               "source_vars": "", "scm_branch": "", "credential": None,
                                               "enabled_var": "", "enabled_value": "", "host_filter": "",
                                               "overwrite": False, "overwrite_vars": False,
                                               "custom_virtualenv": None, "timeout": 0, "verbosity": 1,
                                               "limit": "", "inventory": None, "update_on_launch": False,
                                               "update_cache_timeout": 0, "source_project": None,
                                               "execution_environment": None}),
    "job_templates": ("job_template", {
        "name": "", "description": "", "job_type": "run", "inventory": None, "project": None, "playbook": "",
        "scm_branch": "", "forks": 0, "limit": "", "verbosity": 0, "extra_vars": "", "job_tags": "",
        "force_handlers": False, "skip_tags": "", "start_at_task": "", "timeout": 0, "use_fact_cache": False,
        "organization": None, "execution_environment": None, "host_config_key": "", "ask_scm_branch_on_launch": False,
        "ask_diff_mode_on_launch": False, "ask_variables_on_launch": False, "ask_limit_on_launch": False,
        "ask_tags_on_launch": False, "ask_skip_tags_on_launch": False, "ask_job_type_on_launch": False,
        "ask_verbosity_on_launch": False, "ask_inventory_on_launch": False, "ask_credential_on_launch": False,
        "ask_execution_environment_on_launch": False, "ask_labels_on_launch": False, "ask_forks_on_launch": False,
        "ask_job_slice_count_on_launch": False, "ask_timeout_on_launch": False,
        "ask_instance_groups_on_launch": False, "survey_enabled": False, "become_enabled": False,
        "diff_mode": False, "allow_simultaneous": False, "custom_virtualenv": None, "job_slice_count": 1,
        "webhook_service": "", "webhook_credential": None, "prevent_instance_group_fallback": False}),
    "schedules": ("schedule", {"name": "", "description": "", "rrule": "", "unified_job_template": None,
                               "enabled": True, "extra_data": {}, "inventory": None, "scm_branch": None,
                               "job_type": None, "job_tags": None, "skip_tags": None, "limit": None,
                               "diff_mode": None, "verbosity": None, "execution_environment": None, "forks": None,
                               "job_slice_count": None, "timeout": None}),
    "notification_templates": ("notification_template", {"name": "", "description": "", "organization": None,
                                                         "notification_type": "", "notification_configuration": {},
                                                         "messages": None}),
    "teams": ("team", {"name": "", "description": "", "organization": None}),
    "workflow_job_templates": ("workflow_job_template", {
        "name": "", "description": "", "extra_vars": "", "organization": None, "survey_enabled": False,
        "allow_simultaneous": False, "ask_variables_on_launch": False, "inventory": None, "limit": None,
        "scm_branch": None, "ask_inventory_on_launch": False, "ask_scm_branch_on_launch": False,
        "ask_limit_on_launch": False, "webhook_service": "", "webhook_credential": None,
        "ask_labels_on_launch": False, "ask_skip_tags_on_launch": False, "ask_tags_on_launch": False,
        "skip_tags": None, "job_tags": None}),
    "workflow_job_template_nodes": ("workflow_job_template_node", {
        "extra_data": {}, "inventory": None, "scm_branch": None, "job_type": None, "job_tags": None,
        "skip_tags": None, "limit": None, "diff_mode": None, "verbosity": None, "execution_environment": None,
        "forks": None, "job_slice_count": None, "timeout": None, "workflow_job_template": None,
        "unified_job_template": None, "all_parents_must_converge": False, "identifier": ""}),
    "workflow_approval_templates": ("workflow_approval_template", {"name": "", "description": "", "timeout": 0}),
    "project_updates": ("project_update", {"status": "successful", "failed": False, "project": None}),
}
NOTIFY = ("notification_templates_started", "notification_templates_success", "notification_templates_error")
ASSOCIATIONS = {  # the association sub-lists of each resource (related keys in AWX's serializers)
    "organizations": NOTIFY + ("notification_templates_approvals", "instance_groups", "galaxy_credentials"),
    "projects": NOTIFY,
    "inventories": ("instance_groups",),
    "inventory_sources": NOTIFY,
    "job_templates": ("credentials", "labels", "instance_groups") + NOTIFY,
    "schedules": ("credentials", "labels", "instance_groups"),
    "workflow_job_templates": ("labels",) + NOTIFY + ("notification_templates_approvals",),
    "workflow_job_template_nodes": ("success_nodes", "failure_nodes", "always_nodes", "credentials", "labels",
                                    "instance_groups"),
}
READ_ONLY = {
    "organizations": ("custom_virtualenv",), "execution_environments": ("managed",),
    "credential_types": ("managed", "namespace"), "credentials": ("managed", "kind", "cloud", "kubernetes"),
    "projects": ("scm_revision", "custom_virtualenv", "status"), "job_templates": ("organization", "custom_virtualenv"),
    "inventory_sources": ("custom_virtualenv",)}
CREATE_ONLY = {"inventory_sources": ("inventory",), "workflow_job_template_nodes": ("workflow_job_template",),
               "execution_environments": ("organization",)}
CHAR_NULL = {"inventories": ("kind",)}
UNIFIED = ("projects", "inventory_sources", "job_templates", "workflow_job_templates", "workflow_approval_templates")
SURVEYS = ("job_templates", "workflow_job_templates")
# Secret inputs (the Machine type's, and any `secret: true` field of a custom type) and notification secrets.
MACHINE_SECRETS = {"password", "ssh_key_data", "ssh_key_unlock", "become_password"}
NOTIFICATION_SECRETS = {"email": {"password"}, "slack": {"token"}, "webhook": {"password"}}
NOTIFICATION_DEFAULTS = {"email": {"timeout": 30},  # configuration keys a backend adds when they are missing
                         "webhook": {"http_method": "POST", "disable_ssl_verification": False, "username": "",
                                     "password": ""}}
ROLES = {"organizations": ("admin", "execute", "project_admin", "inventory_admin", "credential_admin",
                           "workflow_admin", "notification_admin", "job_template_admin",
                           "execution_environment_admin", "auditor", "member", "read", "approval"),
         "credentials": ("admin", "use", "read"),
         "projects": ("admin", "use", "update", "read"),
         "inventories": ("admin", "update", "adhoc", "use", "read"),
         "teams": ("admin", "member", "read"),
         "job_templates": ("admin", "execute", "read"),
         "workflow_job_templates": ("admin", "execute", "read", "approval")}


class Api:
    """The stand-in's state: objects by endpoint, roles, every request seen."""

    def __init__(self):
        self.objects: dict[str, dict[int, dict]] = {endpoint: {} for endpoint in RESOURCES}
        self.associations: dict[tuple, list[int]] = {}
        self.surveys: dict[tuple, dict] = {}
        self.roles: dict[int, dict] = {}
        self.next_id = 1
        self.requests: list[tuple[str, str, object]] = []
        self.lock = threading.Lock()
        self.objects["credential_types"][self._id()] = self._machine_type()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _machine_type(self) -> dict:
        inputs = {"fields": [{"id": "username", "label": "Username", "type": "string"},
                             {"id": "password", "label": "Password", "type": "string", "secret": True,
                              "ask_at_runtime": True}]}
        return {"id": 1, "name": "Machine", "description": "", "kind": "ssh", "namespace": "ssh", "managed": True,
                "inputs": inputs, "injectors": {}}

    # -- objects as the API shows them -----------------------------------------
    def show(self, endpoint: str, obj: dict) -> dict:
        kind = RESOURCES[endpoint][0]
        out = copy.deepcopy(obj)
        url = f"{API}{endpoint}/{obj['id']}/"
        out.update(type=kind, url=url, related=self._related(endpoint, obj, url),
                   summary_fields=self._summary(endpoint, obj))
        if endpoint == "credentials":
            out["inputs"] = self._masked_inputs(obj)
            out["kind"] = self.objects["credential_types"].get(obj.get("credential_type"), {}).get("namespace")
        if endpoint == "notification_templates":
            secrets = NOTIFICATION_SECRETS.get(obj.get("notification_type"), set())
            out["notification_configuration"] = {k: ENCRYPTED if k in secrets and v not in ("", None) else v
                                                 for k, v in obj["notification_configuration"].items()}
        return out

    def _masked_inputs(self, credential: dict) -> dict:
        kind = self.objects["credential_types"].get(credential.get("credential_type"), {})
        secret = {f["id"] for f in kind.get("inputs", {}).get("fields", []) if f.get("secret")}
        if kind.get("name") == "Machine":
            secret |= MACHINE_SECRETS
        return {k: ENCRYPTED if k in secret and v not in ("", None) else v for k, v in credential["inputs"].items()}

    def _related(self, endpoint: str, obj: dict, url: str) -> dict:
        related = {name: f"{url}{name}/" for name in ASSOCIATIONS.get(endpoint, ())}
        if endpoint in SURVEYS:
            related["survey_spec"] = f"{url}survey_spec/"
        if endpoint == "workflow_job_templates":
            related["workflow_nodes"] = f"{url}workflow_nodes/"
        if endpoint == "workflow_job_template_nodes" and obj.get("unified_job_template"):
            where = self._unified_endpoint(obj["unified_job_template"])
            related["unified_job_template"] = f"{API}{where}/{obj['unified_job_template']}/"
        if endpoint == "projects" and obj.get("_update"):
            related["current_update"] = related["last_update"] = f"{API}project_updates/{obj['_update']}/"
        if endpoint == "workflow_approval_templates":
            related["nodes"] = f"{url}nodes/"
        return related

    def _summary(self, endpoint: str, obj: dict) -> dict:
        summary = {}
        if endpoint in ROLES:
            summary["object_roles"] = {f"{name}_role": {"id": obj["_roles"][name], "name": name.title()}
                                       for name in ROLES[endpoint]}
        if endpoint == "projects" and obj.get("_update"):  # what awx.awx.project (wait: true) polls
            summary["current_update"] = {"id": obj["_update"], "status": "successful", "failed": False}
        return summary

    def _unified_endpoint(self, ident: int) -> str:
        return next(e for e in UNIFIED if ident in self.objects[e])

    # -- the operations ---------------------------------------------------------
    def create(self, endpoint: str, body: dict) -> dict | str:
        """The new object, or what AWX answers 400 with."""
        fields = RESOURCES[endpoint][1]
        if endpoint == "credentials" and not any(body.get(k) for k in ("organization", "user", "team")):
            return "a credential needs an organization, a user or a team"
        obj = {"id": self._id(), **copy.deepcopy(fields)}
        self._store(endpoint, obj, body, creating=True)
        if endpoint in ROLES:
            obj["_roles"] = {}
            for name in ROLES[endpoint]:
                role = self._id()
                obj["_roles"][name] = role
                self.roles[role] = {"id": role, "name": name, "resource": (endpoint, obj["id"])}
        if endpoint == "projects":
            update = self._id()
            self.objects["project_updates"][update] = {
                "id": update, "status": "successful", "failed": False, "project": obj["id"]}
            obj["_update"] = update
        self.objects[endpoint][obj["id"]] = obj
        return obj

    def update(self, endpoint: str, obj: dict, body: dict) -> dict:
        self._store(endpoint, obj, body, creating=False)
        return obj

    def _store(self, endpoint: str, obj: dict, body: dict, creating: bool) -> None:
        """The body's fields as AWX's serializer and model store them."""
        fields = RESOURCES[endpoint][1]
        for key, value in body.items():
            kept = key in fields and key not in READ_ONLY.get(endpoint, ())
            if not kept or (key in CREATE_ONLY.get(endpoint, ()) and not creating):
                continue  # DRF ignores a field its serializer does not have, or has read-only
            value = copy.deepcopy(value)
            if endpoint == "credentials" and key == "inputs":
                # "$encrypted$" keeps the stored secret; an empty secret is not kept
                value = {k: obj["inputs"].get(k) if v == ENCRYPTED else v for k, v in value.items() if v != ""}
            if endpoint == "notification_templates" and key == "notification_configuration":
                old = obj.get("notification_configuration") or {}
                value = {k: old.get(k) if v == ENCRYPTED else v for k, v in value.items()}
                for default, given in NOTIFICATION_DEFAULTS.get(body.get("notification_type") or
                                                                obj.get("notification_type"), {}).items():
                    value.setdefault(default, given)
            if endpoint == "notification_templates" and key == "messages" and not creating:
                value = {**(obj.get("messages") or {}), **(value or {})} if value else obj.get("messages")
            if key in CHAR_NULL.get(endpoint, ()) and value is None:
                value = ""  # CharNullField / ChoiceNullField
            obj[key] = value
        if endpoint == "job_templates" and obj.get("project") in self.objects["projects"]:
            obj["organization"] = self.objects["projects"][obj["project"]]["organization"]  # JobTemplate.save

    def listing(self, endpoint: str, query: dict) -> list[dict]:
        if endpoint == "unified_job_templates":
            candidates = [(e, o) for e in UNIFIED for o in self.objects[e].values()]
        else:
            candidates = [(endpoint, o) for o in self.objects[endpoint].values()]
        shown = [self.show(e, o) for e, o in candidates]
        ors = {k[4:]: v for k, v in query.items() if k.startswith("or__")}
        plain = {k: v for k, v in query.items() if not k.startswith("or__") and k not in ("page", "page_size")}

        def matches(item):
            if any(str(item.get(k)) != v for k, v in plain.items()):
                return False
            return not ors or any(str(item.get(k)) == v for k, v in ors.items())

        return sorted((item for item in shown if matches(item)), key=lambda i: i["id"])


class Handler(http.server.BaseHTTPRequestHandler):
    api: Api

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-API-Product-Name", "AWX")
        self.send_header("X-API-Product-Version", "24.6.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self):  # pylint: disable=invalid-name
        self._route("GET")

    def do_POST(self):  # pylint: disable=invalid-name
        self._route("POST")

    def do_PATCH(self):  # pylint: disable=invalid-name
        self._route("PATCH")

    def do_DELETE(self):  # pylint: disable=invalid-name
        self._route("DELETE")

    def _route(self, method: str):
        parsed = urllib.parse.urlparse(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        body = self._body() if method in ("POST", "PATCH") else None
        api = self.api
        with api.lock:
            api.requests.append((method, parsed.path, body if body is not None else query))
            code, answer = route(api, method, parsed.path, query, body)
        self._send(code, answer)


def route(api: Api, method: str, path: str, query: dict, body):  # noqa: C901 - one table of AWX's URLs
    parts = [p for p in path[len(API):].split("/") if p] if path.startswith(API) else None
    if not parts:
        return 404, {"detail": "Not found."}
    endpoint = parts[0]
    if endpoint == "tokens":
        return (201, {"id": 1, "token": "stand-in-token"}) if method == "POST" else (204, None)
    if endpoint == "roles":
        return _role(api, method, parts, body)
    if endpoint not in RESOURCES and endpoint != "unified_job_templates":
        return 404, {"detail": "Not found."}
    if len(parts) == 1:
        if method == "GET":
            results = api.listing(endpoint, query)
            return 200, {"count": len(results), "next": None, "previous": None, "results": results}
        if method == "POST" and endpoint != "unified_job_templates":
            made = api.create(endpoint, body or {})
            return (400, {"__all__": [made]}) if isinstance(made, str) else (201, api.show(endpoint, made))
        return 405, {"detail": f'Method "{method}" not allowed.'}
    if not re.fullmatch(r"\d+", parts[1]):
        return 404, {"detail": "Not found."}
    obj = api.objects.get(endpoint, {}).get(int(parts[1]))
    if obj is None:
        return 404, {"detail": "Not found."}
    if len(parts) == 2:
        if method == "GET":
            return 200, api.show(endpoint, obj)
        if method == "PATCH":
            return 200, api.show(endpoint, api.update(endpoint, obj, body or {}))
        if method == "DELETE":
            del api.objects[endpoint][obj["id"]]
            return 204, None
        return 405, {"detail": f'Method "{method}" not allowed.'}
    sub = parts[2]
    key = (endpoint, obj["id"], sub)
    if sub == "survey_spec" and endpoint in SURVEYS:
        if method == "GET":
            return 200, copy.deepcopy(api.surveys.get(key, {}))
        if method == "POST":
            spec = copy.deepcopy(body or {})
            for question in spec.get("spec", []):
                if question.get("type") == "password" and question.get("default"):
                    question["default"] = ENCRYPTED
            api.surveys[key] = spec
            return 200, None
        if method == "DELETE":
            api.surveys.pop(key, None)
            return 200, None
    if sub == "create_approval_template" and endpoint == "workflow_job_template_nodes" and method == "POST":
        template = api.create("workflow_approval_templates", body or {})
        obj["unified_job_template"] = template["id"]
        return 201, api.show("workflow_approval_templates", template)
    if sub in ASSOCIATIONS.get(endpoint, ()):  # a list of associated objects: 204 to an (dis)association
        answer = _associated(api, method, key, _association_target(endpoint, sub), body)
        if answer is not None:
            return answer
    return 404, {"detail": "Not found."}


def _associated(api: Api, method: str, key: tuple, target: str, body):
    """An association sub-list: GET lists the associated objects, POST {id} associates, {id, disassociate}
    disassociates, both 204."""
    linked = api.associations.setdefault(key, [])
    if method == "GET":
        results = [api.show(target, api.objects[target][i]) for i in linked if i in api.objects.get(target, {})]
        return 200, {"count": len(results), "next": None, "previous": None, "results": results}
    if method == "POST":
        ident = int((body or {}).get("id", 0))
        if (body or {}).get("disassociate"):
            if ident in linked:
                linked.remove(ident)
        elif ident not in linked:
            linked.append(ident)
        return 204, None
    return None


def _role(api: Api, method: str, parts: list[str], body):
    """/roles/<id>/teams/ and /roles/<id>/users/: who holds a role (awx.awx.role grants by associating)."""
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) not in api.roles or parts[2] not in ("teams", "users"):
        return 404, {"detail": "Not found."}
    answer = _associated(api, method, ("roles", int(parts[1]), parts[2]), parts[2], body)
    return answer if answer is not None else (405, {"detail": f'Method "{method}" not allowed.'})


def _association_target(endpoint: str, sub: str) -> str:
    if sub.startswith("notification_templates"):
        return "notification_templates"
    if sub.endswith("_nodes"):
        return "workflow_job_template_nodes"
    return {"galaxy_credentials": "credentials"}.get(sub, sub)


class StandIn:
    """The stand-in, served on a free port of 127.0.0.1 for as long as the `with` lasts."""

    def __init__(self):
        self.api = Api()
        handler = type("BoundHandler", (Handler,), {"api": self.api})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
