"""Fleet report for Q317061: one entry per host, a summary, and JSON/CSV/HTML renderings.

Pure Python (no Ansible import; Jinja2 renders the HTML). Credentials never appear: entries
are built from the verdict and a whitelist of evidence fields only. What hosts report is
data, never markup or formulas: HTML is autoescaped, CSV cells that a spreadsheet would run
as a formula are neutralised, and control characters are shown escaped.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import pathlib
import re
import tempfile

from .plans import first_that_ran, unreachable

STATUS_ORDER = ("vulnerable", "pending_reboot", "unknown", "unreachable", "mitigated", "fixed", "not_applicable")
EXPOSURE_ORDER = ("affected_now", "latent", "none")
OUTCOME_LABELS = {"changed": "changed", "recovered": "recovered", "unchanged": "unchanged", "failed": "FAILED",
                  "refused": "refused, needs a person", "manual": "manual action needed",
                  "not_attempted": "not attempted"}
CSV_FIELDS = ("host", "site", "site_type", "transport", "signed", "status", "exposure", "remedies", "baseutil_version", "distmgr_version",
              "service_pack", "exifs_drive", "predicted_decompression_drive", "log_evidence", "change", "error", "reasons", "notes",
              "checked_at", "source", "run_mode")
STATUS_COLOURS = {"vulnerable": "#c0392b", "pending_reboot": "#d35400", "unknown": "#7f8c8d",
                  "unreachable": "#2c3e50", "mitigated": "#2980b9", "fixed": "#27ae60", "not_applicable": "#95a5a6"}
TEMPLATE = pathlib.Path(__file__).with_name("report.html.j2")
NO_TARGETS = "No host was targeted: nothing was checked."
OWA_NOTE = ("Outlook Web Access: the EXIFS DriveLetter is blank on fixed hosts, so their IFS drive (and OWA, which "
            "uses it) disappears at the next restart; restore the DriveLetter if OWA is used (rollback.yml restores "
            "what the workaround recorded): ")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def host_entry(host: str, facts: dict | None, error: str | None = None, unreachable: bool = False,
               change: dict | None = None, source: str = "probe") -> dict:
    """One report row from a host's q317061 facts, or from the error that stopped the probe.

    source: "probe" (this run) or "cache" (a fact cache; checked_at says how old the verdict is)."""
    if facts is None:
        status = "unreachable" if unreachable else "unknown"
        facts = {"status": status, "exposure": "none", "remedies": [],
                 "reasons": [f"{'Host unreachable' if unreachable else 'Probe failed'}: {error or 'no result'}"]}
    site = facts.get("site") or {}
    versions = facts.get("versions") or {}
    return {
        "host": host,
        "computer_name": facts.get("computer_name"),
        "site": site.get("code"),
        "site_type": site.get("type"),
        "parent_site": site.get("parent"),
        "transport": facts.get("transport"),
        # Over smb whether the session was signed (the report says where changes were made unsigned).
        "signed": (facts.get("session") or {}).get("signed"),
        "status": facts["status"],
        "exposure": facts.get("exposure", "none"),
        "remedies": list(facts.get("remedies") or []),
        "reasons": list(facts.get("reasons") or []),
        "notes": list(facts.get("notes") or []),
        "owa_at_risk": bool(facts.get("owa_at_risk")),
        "versions": {"Baseutil.dll": versions.get("Baseutil.dll"), "Distmgr.dll": versions.get("Distmgr.dll")},
        "service_pack": facts.get("service_pack"),
        "platform": facts.get("platform"),
        "exifs_drive": facts.get("exifs_drive"),
        "predicted_decompression_drive": facts.get("predicted_decompression_drive"),
        "log_evidence": facts.get("log_evidence"),  # None where no verdict weighed the log (not judged, not exposed)
        "decompression_failures": facts.get("decompression_failures") or {},
        "decompression_failures_history": facts.get("decompression_failures_history") or {},
        "checked_at": facts.get("checked_at"),
        "source": source,
        "error": error,
        "change": change,
    }


def entry_from_hostvars(host: str, registered, cached_facts: dict | None, change: dict | None = None,
                        fresh_since: str | None = None) -> dict:
    """A host's row from what this run registered, else from the host's facts, else from the fact cache.

    registered: one registered probe result, or a list of them (newest first: the first that ran
    wins, e.g. the re-audit of a changed host before its first probe). A probe that ran wins; an
    unreachable host or a failed probe is reported with its error (an old cached verdict would hide
    that the host cannot be checked now). Facts checked at or after `fresh_since` (the run's start)
    are this run's probe: the audit registers only failures. A host with no result in this run
    (skipped, or not targeted) falls back to the cache."""
    result = first_that_ran(registered)
    if unreachable(result):
        return host_entry(host, None, error=result.get("msg", "unreachable"), unreachable=True, change=change)
    if result.get("failed"):
        return host_entry(host, None, error=result.get("msg", "failed"), change=change)
    facts = (result.get("ansible_facts") or {}).get("q317061")
    if facts is not None:
        return host_entry(host, facts, change=change)
    if cached_facts is not None:
        fresh = fresh_since is not None and checked_since(cached_facts, fresh_since)
        return host_entry(host, cached_facts, change=change, source="probe" if fresh else "cache")
    return host_entry(host, None, error="no result in this run and none in the fact cache", change=change)


def checked_since(facts: dict, since: str) -> bool:
    """Whether the verdict was checked at or after `since` (ISO 8601 times, whole seconds, UTC)."""
    try:
        return datetime.datetime.fromisoformat(str(facts.get("checked_at"))) >= datetime.datetime.fromisoformat(since)
    except (TypeError, ValueError):
        return False


def summarise(entries: list[dict]) -> dict:
    by_status = {s: 0 for s in STATUS_ORDER}
    by_exposure = {e: 0 for e in EXPOSURE_ORDER}
    sites: dict[str, dict] = {}
    for e in entries:
        by_status[e["status"]] = by_status.get(e["status"], 0) + 1
        by_exposure[e["exposure"]] = by_exposure.get(e["exposure"], 0) + 1
        site = sites.setdefault(e["site"] or "(none)", {s: 0 for s in STATUS_ORDER} | {"hosts": 0})
        site[e["status"]] = site.get(e["status"], 0) + 1
        site["hosts"] += 1
    return {"hosts": len(entries), "by_status": by_status, "by_exposure": by_exposure,
            "by_site": dict(sorted(sites.items())),
            "changed": sum(1 for e in entries if (e.get("change") or {}).get("changed")),
            "by_outcome": _outcomes(entries),
            "unchecked": sorted(e["host"] for e in entries if _unchecked(e)),
            "unknown": sorted(e["host"] for e in entries if e["status"] == "unknown" and not _unchecked(e)),
            "failed": sorted(e["host"] for e in entries
                             if (e.get("change") or {}).get("outcome") in ("failed", "not_attempted")),
            "refused": sorted(e["host"] for e in entries if (e.get("change") or {}).get("outcome") == "refused"),
            "manual": sorted(e["host"] for e in entries if (e.get("change") or {}).get("outcome") == "manual"),
            "owa_at_risk": sorted(e["host"] for e in entries if e.get("owa_at_risk")),
            "unsigned_changes": sorted(e["host"] for e in entries if (e.get("change") or {}).get("changed")
                                       and (e.get("change") or {}).get("signed") is False),
            "workaround_applied": sorted(e["host"] for e in entries if (e.get("change") or {}).get("action") ==
                                         "workaround" and (e.get("change") or {}).get("changed"))}


def _unchecked(entry: dict) -> bool:
    """The host could not be checked in this run (unreachable, or its probe failed)."""
    return entry["source"] == "probe" and entry.get("error") is not None


def _outcomes(entries: list[dict]) -> dict:
    """Remediation outcomes (changed, unchanged, failed, manual, not_attempted); empty for an audit."""
    counts: dict[str, int] = {}
    for e in entries:
        outcome = (e.get("change") or {}).get("outcome")
        if outcome:
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def build(entries: list[dict], title: str = "KB Q317061 fleet audit", now: datetime.datetime | None = None,
          notes: list[str] | None = None, check_mode: bool = False) -> dict:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    entries = sorted(entries, key=lambda e: (STATUS_ORDER.index(e["status"]) if e["status"] in STATUS_ORDER else 99,
                                             e["site"] or "", e["host"]))
    summary = summarise(entries)
    notes = list(notes or [])
    if summary["owa_at_risk"]:
        notes.append(OWA_NOTE + ", ".join(summary["owa_at_risk"]))
    if summary["unsigned_changes"]:
        notes.append("Changes were made over unsigned SMB sessions (the hosts offer no SMB signing; "
                     "q317061_smb_signing: required refuses that) on: " + ", ".join(summary["unsigned_changes"]))
    if summary["workaround_applied"]:
        notes.append("The workaround was applied (Outlook Web Access may stop working) on: "
                     + ", ".join(summary["workaround_applied"]))
    return {"title": title, "generated_at": now.isoformat(timespec="seconds"), "check_mode": check_mode,
            "notes": notes, "summary": summary, "hosts": entries}


PROBLEM_HOSTS, PROBLEM_WHY = 50, 160  # a final message names this many hosts, each with this much of why


def problems(report: dict) -> list[str]:
    """Why this run is not a success (empty when it is): the exit code follows this list, and each line
    names every host it is about, with why (docs/remediation.md, "When a run fails")."""
    s, rows = report["summary"], {e["host"]: e for e in report["hosts"]}

    def named(hosts, why):
        shown = [f"{h} ({_short(why(rows[h]))})" for h in hosts[:PROBLEM_HOSTS]]
        return ", ".join(shown) + (f", and {len(hosts) - PROBLEM_HOSTS} more" if len(hosts) > PROBLEM_HOSTS else "")
    out = []
    if s["hosts"] == 0:
        out.append(NO_TARGETS)
    elif len(s["unchecked"]) == s["hosts"]:
        out.append(f"no host could be checked: {named(s['unchecked'], _error)}")
    elif s["unchecked"]:
        out.append(f"{len(s['unchecked'])} host(s) could not be checked: {named(s['unchecked'], _error)}")
    if s["unknown"]:
        out.append(f"{len(s['unknown'])} host(s) are unknown (their Q317061 status could not be read): "
                   f"{named(s['unknown'], _reason)}")
    if s["failed"]:
        out.append(f"{len(s['failed'])} host(s) failed or were not attempted: {named(s['failed'], _change)}")
    if s["refused"]:
        out.append(f"{len(s['refused'])} host(s) need a person (refused before any change): "
                   f"{named(s['refused'], _change)}")
    return out


def _short(text) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= PROBLEM_WHY else text[:PROBLEM_WHY - 3] + "..."


def _error(entry: dict) -> str:
    return entry.get("error") or _reason(entry)


def _reason(entry: dict) -> str:
    return next(iter(entry.get("reasons") or []), entry["status"])


def _change(entry: dict) -> str:
    return (entry.get("change") or {}).get("summary") or ""


def printable(value):
    """Control characters from hosts are shown escaped (\\x1b), never passed to a terminal or a page."""
    if isinstance(value, str):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    return value


def cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR would start a formula."""
    text = printable("" if value is None else str(value))
    return "'" + text if text.startswith(_FORMULA) else text


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    mode = "check" if report.get("check_mode") else "real"
    for e in report["hosts"]:
        change = e.get("change") or {}
        row = {
            "host": e["host"], "site": e["site"], "site_type": e["site_type"], "transport": e.get("transport"),
            "signed": e.get("signed"),
            "status": e["status"],
            "exposure": e["exposure"], "remedies": " ".join(e["remedies"]),
            "baseutil_version": e["versions"]["Baseutil.dll"], "distmgr_version": e["versions"]["Distmgr.dll"],
            "service_pack": e["service_pack"], "exifs_drive": e["exifs_drive"],
            "predicted_decompression_drive": e["predicted_decompression_drive"], "log_evidence": e.get("log_evidence"),
            "change": change.get("summary"), "error": e["error"], "reasons": " ".join(e["reasons"]),
            "notes": " ".join(e.get("notes") or []), "checked_at": e.get("checked_at"),
            "source": e.get("source", "probe"), "run_mode": mode,
        }
        writer.writerow({k: cell(v) for k, v in row.items()})
    return out.getvalue()


ARTIFACT_HOSTS = 200  # host lists in the artifact stop here (AWX keeps artifacts in its database)


def artifact(report: dict, paths: dict) -> dict:
    """The run's summary for AWX (set_stats): job artifacts, and extra vars of later workflow nodes.
    Counts, not rows; host lists capped; no secrets (nothing a report does not show)."""
    s = report["summary"]

    def hosts(names):
        return names[:ARTIFACT_HOSTS] + ([f"... and {len(names) - ARTIFACT_HOSTS} more"] if len(names) > ARTIFACT_HOSTS
                                         else [])
    return {"title": report["title"], "check_mode": bool(report.get("check_mode")), "generated_at": report["generated_at"],
            "hosts": s["hosts"], "by_status": s["by_status"], "by_exposure": s["by_exposure"],
            "by_outcome": s["by_outcome"], "changed": s["changed"], "manual": hosts(s["manual"]),
            "failed": hosts(s["failed"]), "unchecked": hosts(s["unchecked"]), "unknown": hosts(s["unknown"]),
            "refused": hosts(s["refused"]),
            "workaround_applied": hosts(s["workaround_applied"]), "report": dict(paths),
            "lines": summary_lines(report)}


def summary_lines(report: dict) -> list[str]:
    s = report["summary"]
    counts = ", ".join(f"{k} {v}" for k, v in s["by_status"].items() if v)
    exposure = ", ".join(f"{k} {v}" for k, v in s["by_exposure"].items() if v)
    lines = [("CHECK MODE, nothing was changed: " if report.get("check_mode") else "")
             + f"{s['hosts']} hosts: {counts or 'none'}", f"exposure: {exposure or 'none'}"]
    outcomes = s.get("by_outcome") or {}
    if outcomes:
        done = [f"{label} {outcomes[key]}" for key, label in OUTCOME_LABELS.items() if outcomes.get(key)]
        lines.append("this run: " + ", ".join(done))
    return printable(lines + list(report.get("notes") or []))


def to_html(report: dict, template: str | os.PathLike | None = None) -> str:
    import jinja2  # Ansible's own templating library, always on the controller

    path = pathlib.Path(template) if template else TEMPLATE
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(path.parent)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(path.name).render(report=printable(report), colours=STATUS_COLOURS,
                                              statuses=STATUS_ORDER, exposures=EXPOSURE_ORDER,
                                              outcome_labels=OUTCOME_LABELS)


def basename(name: str, check_mode: bool) -> str:
    """A check-mode report goes beside a real run's report, never over it."""
    return f"{name}-check" if check_mode else name


def check_destination(folder: str, template: str | None) -> list[str]:
    """Problems that would stop the report being written, found before any host is touched."""
    problems = []
    folder = os.path.abspath(os.path.expanduser(folder))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".q317061-write-test-"):
            pass
    except OSError as error:
        problems.append(f"q317061_report_dir: cannot write reports to {folder}: {error.strerror or error}")
    if template and not os.path.isfile(os.path.expanduser(template)):
        problems.append(f"q317061_report_template: {template} is not a file")
    elif template:  # rendered now against a sample, so a broken template stops the run before any host changes
        try:
            to_html(sample(), os.path.expanduser(template))
        except Exception as error:  # noqa: BLE001 - a template can fail in any of Jinja2's ways
            problems.append(f"q317061_report_template: {template} cannot render a report: "
                            f"{type(error).__name__}: {error}")
    return problems


def sample() -> dict:
    """A report with one row of each kind a run writes (a changed host, a failed one, one that could not be
    checked), for trying a replacement template before the run."""
    changed = {"status": "fixed", "exposure": "none", "remedies": [], "reasons": ["Both DLLs carry the fix."],
               "site": {"code": "LAB", "type": "primary"},
               "versions": {"Baseutil.dll": "2.00.1493.3240", "Distmgr.dll": "2.00.1493.3240"},
               "transport": "smb", "checked_at": "2026-12-01T00:00:00+00:00", "owa_at_risk": True}
    rows = [host_entry("sample-01", changed, change={"action": "hotfix", "outcome": "changed", "changed": True,
                                                     "summary": "hotfix: Distmgr.dll 3000 -> 3240", "before": {},
                                                     "after": {}}),
            host_entry("sample-02", dict(changed, status="vulnerable", exposure="affected_now", remedies=["hotfix"]),
                       change={"action": "hotfix", "outcome": "failed", "changed": False, "summary": "FAILED",
                               "before": None, "after": None}),
            host_entry("sample-03", None, error="no answer", unreachable=True)]
    return build(rows, title="sample", notes=["a note"], now=datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc))


class ReportError(OSError):
    """Some of the report set could not be written; the message says which parts were."""


def write_set(report: dict, folder: str, name: str, template: str | None = None) -> dict:
    """Write <name>.json, .csv and .html atomically; returns their paths. The JSON and CSV come first and
    do not depend on the HTML: a template that fails now (it rendered the sample) costs only the HTML."""
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for ext, render in (("json", lambda: to_json(report)), ("csv", lambda: to_csv(report)),
                        ("html", lambda: to_html(report, os.path.expanduser(template) if template else None))):
        try:
            text = render()
        except Exception as error:  # noqa: BLE001 - the template's failure, after the others were written
            raise ReportError(f"the {ext.upper()} report could not be rendered ({type(error).__name__}: {error}); "
                              f"written: {', '.join(paths.values()) or 'nothing'}") from error
        path = os.path.join(folder, f"{name}.{ext}")
        partial = os.path.join(folder, f".{name}.{ext}.{os.getpid()}.tmp")
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
        paths[ext] = path
    return paths
