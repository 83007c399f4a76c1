"""Fleet report for Q317061: one entry per host, a summary, and JSON/CSV/HTML renderings.

Pure Python (no Ansible import). Credentials never appear: entries are built
from the verdict and a whitelist of evidence fields only.
"""

from __future__ import annotations

import csv
import datetime
import html
import io
import json

STATUS_ORDER = ("vulnerable", "pending_reboot", "unknown", "unreachable", "mitigated", "fixed", "not_applicable")
EXPOSURE_ORDER = ("affected_now", "latent", "none")
CSV_FIELDS = ("host", "site", "site_type", "status", "exposure", "remedies", "baseutil_version", "distmgr_version",
              "service_pack", "exifs_drive", "predicted_decompression_drive", "change", "error", "reasons",
              "checked_at", "source")
STATUS_COLOURS = {"vulnerable": "#c0392b", "pending_reboot": "#d35400", "unknown": "#7f8c8d",
                  "unreachable": "#2c3e50", "mitigated": "#2980b9", "fixed": "#27ae60", "not_applicable": "#95a5a6"}


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
        "status": facts["status"],
        "exposure": facts.get("exposure", "none"),
        "remedies": list(facts.get("remedies") or []),
        "reasons": list(facts.get("reasons") or []),
        "versions": {"Baseutil.dll": versions.get("Baseutil.dll"), "Distmgr.dll": versions.get("Distmgr.dll")},
        "service_pack": facts.get("service_pack"),
        "platform": facts.get("platform"),
        "exifs_drive": facts.get("exifs_drive"),
        "predicted_decompression_drive": facts.get("predicted_decompression_drive"),
        "decompression_failures": facts.get("decompression_failures") or {},
        "checked_at": facts.get("checked_at"),
        "source": source,
        "error": error,
        "change": change,
    }


def entry_from_hostvars(host: str, registered: dict | None, cached_facts: dict | None,
                        change: dict | None = None) -> dict:
    """A host's row from what this run registered, else from the fact cache.

    A probe that ran wins; an unreachable host or a failed probe is reported with its
    error (an old cached verdict would hide that the host cannot be checked now); a
    host with no result in this run (skipped, or not targeted) falls back to the cache."""
    registered = registered or {}
    ran = bool(registered) and not registered.get("skipped")
    if registered.get("unreachable"):
        return host_entry(host, None, error=registered.get("msg", "unreachable"), unreachable=True, change=change)
    if registered.get("failed"):
        return host_entry(host, None, error=registered.get("msg", "failed"), change=change)
    facts = (registered.get("ansible_facts") or {}).get("q317061") if ran else None
    if facts is not None:
        return host_entry(host, facts, change=change)
    if cached_facts is not None:
        return host_entry(host, cached_facts, change=change, source="cache")
    return host_entry(host, None, error="no result in this run and none in the fact cache", change=change)


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
            "by_outcome": _outcomes(entries)}


def _outcomes(entries: list[dict]) -> dict:
    """Remediation outcomes (changed, unchanged, failed, manual, not_attempted); empty for an audit."""
    counts: dict[str, int] = {}
    for e in entries:
        outcome = (e.get("change") or {}).get("outcome")
        if outcome:
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def build(entries: list[dict], title: str = "KB Q317061 fleet audit", now: datetime.datetime | None = None) -> dict:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    entries = sorted(entries, key=lambda e: (STATUS_ORDER.index(e["status"]) if e["status"] in STATUS_ORDER else 99,
                                             e["site"] or "", e["host"]))
    return {"title": title, "generated_at": now.isoformat(timespec="seconds"), "summary": summarise(entries),
            "hosts": entries}


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def to_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for e in report["hosts"]:
        change = e.get("change") or {}
        writer.writerow({
            "host": e["host"], "site": e["site"] or "", "site_type": e["site_type"] or "", "status": e["status"],
            "exposure": e["exposure"], "remedies": " ".join(e["remedies"]),
            "baseutil_version": e["versions"]["Baseutil.dll"] or "", "distmgr_version": e["versions"]["Distmgr.dll"] or "",
            "service_pack": e["service_pack"] or "", "exifs_drive": e["exifs_drive"] or "",
            "predicted_decompression_drive": e["predicted_decompression_drive"] or "",
            "change": change.get("summary", ""), "error": e["error"] or "", "reasons": " ".join(e["reasons"]),
            "checked_at": e.get("checked_at") or "", "source": e.get("source", "probe"),
        })
    return out.getvalue()


def summary_lines(report: dict) -> list[str]:
    s = report["summary"]
    counts = ", ".join(f"{k} {v}" for k, v in s["by_status"].items() if v)
    exposure = ", ".join(f"{k} {v}" for k, v in s["by_exposure"].items() if v)
    lines = [f"{s['hosts']} hosts: {counts}", f"exposure: {exposure}"]
    outcomes = s.get("by_outcome") or {}
    if outcomes:
        labels = {"changed": "changed", "unchanged": "unchanged", "failed": "FAILED", "manual": "manual action needed",
                  "not_attempted": "not attempted"}
        lines.append("this run: " + ", ".join(f"{labels.get(k, k)} {outcomes[k]}" for k in labels if outcomes.get(k)))
    return lines


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _checked(entry: dict) -> str:
    if not entry.get("checked_at"):
        return ""
    cached = " (from the fact cache, not probed in this run)" if entry.get("source") == "cache" else ""
    return f'<p class="meta">checked {_e(entry["checked_at"])}{cached}</p>'


def to_html(report: dict) -> str:
    s = report["summary"]

    def badge(status):
        return f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#555")}">{_e(status)}</span>'

    cards = "".join(f'<div class="card"><div class="n">{v}</div>{badge(k)}</div>' for k, v in s["by_status"].items())
    exposure = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in s["by_exposure"].items())
    site_head = "".join(f"<th>{_e(st)}</th>" for st in STATUS_ORDER)
    site_rows = "".join(
        f"<tr><th>{_e(code)}</th><td>{row['hosts']}</td>"
        + "".join(f"<td>{row.get(st, 0) or ''}</td>" for st in STATUS_ORDER)
        + "</tr>" for code, row in s["by_site"].items())
    host_rows = []
    for e in report["hosts"]:
        change = (e.get("change") or {}).get("summary") or ""
        reasons = "".join(f"<li>{_e(r)}</li>" for r in e["reasons"])
        host_rows.append(
            f'<tr class="host" data-status="{_e(e["status"])}"><td>{_e(e["host"])}</td><td>{_e(e["site"])}</td>'
            f"<td>{badge(e['status'])}</td><td>{_e(e['exposure'])}</td><td>{_e(', '.join(e['remedies']))}</td>"
            f"<td>{_e(e['versions']['Baseutil.dll'])}<br>{_e(e['versions']['Distmgr.dll'])}</td>"
            f"<td>{_e(e['exifs_drive'])}</td><td>{_e(e['predicted_decompression_drive'])}</td><td>{_e(change)}</td></tr>"
            f'<tr class="evidence"><td colspan="9"><details><summary>Evidence for {_e(e["host"])}</summary>'
            f"<ul>{reasons}</ul>{'<p class=err>' + _e(e['error']) + '</p>' if e['error'] else ''}"
            f"{_checked(e)}</details></td></tr>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(report['title'])}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222}}
h1{{margin-bottom:0}} .meta{{color:#666}}
.cards{{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}}
.card{{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;text-align:center;min-width:7em}}
.card .n{{font-size:2em;font-weight:bold}}
.badge{{color:#fff;border-radius:4px;padding:.1em .5em;font-size:.85em;white-space:nowrap}}
table{{border-collapse:collapse;margin:1em 0}} th,td{{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}}
tr.evidence td{{background:#fafafa;font-size:.9em}} .err{{color:#c0392b}}
</style></head><body>
<h1>{_e(report['title'])}</h1>
<p class="meta">Generated {_e(report['generated_at'])} &middot; {s['hosts']} hosts &middot;
KB Q317061: SMS 2.0 Distribution Manager and the Exchange 2000 IFS drive</p>
<h2>Status</h2><div class="cards">{cards}</div>
<h2>Exposure</h2><table>{exposure}</table>
<h2>Sites</h2><table><tr><th>site</th><th>hosts</th>{site_head}</tr>{site_rows}</table>
<h2>Hosts</h2>
<table id="hosts"><tr><th>host</th><th>site</th><th>status</th><th>exposure</th><th>remedies</th>
<th>Baseutil / Distmgr</th><th>IFS drive</th><th>decompression drive</th><th>change</th></tr>
{''.join(host_rows)}
</table>
</body></html>
"""
