"""The quality report: one self-contained HTML page for auditors.

Inline CSS, inline SVG charts, no script, no font or image to fetch: it opens from a USB
stick on a machine without network. The markup is also well-formed XML, so tools (and the
tests) can read its tables. Sections: what arrived per source and regency, the files with
problems, failed checks with examples, why rows were quarantined, the trend against earlier
runs, and the cross-checks computed by the marts (IDM, APBDes identities, BUMDes vs APBDes).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from html import escape
from pathlib import Path
from urllib.parse import quote

from lumbung.reports.charts import PALETTE, bar_chart, line_chart
from lumbung.reports.model import PROVINCE, ReportData
from lumbung.reports.queries import Section

EXAMPLES = 5  # example rows shown per quarantine reason

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{margin-bottom:0}h2{border-bottom:2px solid #2f6f9f;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef3f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.kpi td{font-size:16px}.muted{color:#666}.bad{color:#b83b5e;font-weight:bold}
.ok{color:#4c9a2a;font-weight:bold}code{font-size:12px;word-break:break-all}
nav a{margin-right:1em}.charts svg{margin:0 1em 1em 0}
"""


def _cell(value: object) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    if isinstance(value, float | Decimal):
        return f'<td class="n">{value:,.2f}</td>'
    text = str(value)
    return f"<td>{escape(text)}</td>"


def table(table_id: str, header: list[str], rows: Iterable[Iterable[object]],
          raw_html: set[int] | None = None) -> str:
    """A table; columns in ``raw_html`` carry markup built (and escaped) by the caller."""
    raw_html = raw_html or set()
    out = [f'<table id="{table_id}"><thead><tr>'
           + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{v}</td>" if i in raw_html else _cell(v)
                                    for i, v in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def reason_class(reason: str) -> str:
    """A quarantine reason without its particulars (numbers, member), for grouping."""
    head = re.split(r"[:(]", reason, maxsplit=1)[0].strip() or reason
    return re.sub(r"\d+", "N", head)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f} %" if whole else ""


def _link(href: str, text: str) -> str:
    """A link; a relative file path is percent-encoded (workbook names have spaces)."""
    if not href.startswith("#"):
        href = quote(href)
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def _overview(data: ReportData) -> str:
    received = sum(b.received for b in data.batches)
    quarantined = sum(b.quarantined for b in data.batches)
    rows = [
        ("files landed (latest version of each)", len(data.batches)),
        ("rows received", received),
        ("rows loaded", sum(b.loaded for b in data.batches)),
        ("rows quarantined", quarantined),
        ("files rejected at landing", sum(b.status == "rejected" for b in data.batches)),
        ("files stopped by the quality gate", sum(b.status == "failed" for b in data.batches)),
        ("files not yet through the gate",
         sum(b.status in ("received", "loaded", "validating") for b in data.batches)),
        ("failed checks", len(data.checks)),
        ("regencies with something to fix", len(data.problem_regencies())),
    ]
    return table("overview", ["", "count"], rows).replace("<table ", '<table class="kpi" ', 1)


def _outputs(data: ReportData, out_dir: Path, workbooks: dict[str, str]) -> str:
    items = []
    if data.docs_index:
        href = os.path.relpath(data.docs_index, out_dir)
        items.append(f"<li>Great Expectations Data Docs (every validation, expectation by "
                     f"expectation): {_link(href, href)}</li>")
    else:
        items.append("<li>Great Expectations Data Docs: not built yet in this state "
                     "folder.</li>")
    if workbooks:
        links = ", ".join(_link(f"workbooks/{name}", name) for name in workbooks.values())
        items.append(f"<li>Workbooks for the people who fix the source data, one per regency "
                     f"(quarantined rows and failed checks): {links}</li>")
    else:
        items.append("<li>Workbooks: none, no regency has anything to fix.</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _charts(data: ReportData) -> str:
    by_source: dict[str, int] = defaultdict(int)
    for r in data.quarantined:
        by_source[r.source] += 1
    by_regency: dict[str, int] = defaultdict(int)
    for r in data.quarantined:
        by_regency[data.regency_label(r.regency or PROVINCE).split(" (")[0]] += 1
    refused: dict[str, int] = defaultdict(int)
    for b in data.batches:
        if b.status in ("rejected", "failed"):
            refused[f"{b.source} ({b.status})"] += 1
    charts = [
        bar_chart("Quarantined rows per source", sorted(by_source.items())),
        bar_chart("Quarantined rows per regency", sorted(by_regency.items()), color=PALETTE[1]),
        bar_chart("Files rejected or stopped by the gate", sorted(refused.items()),
                  color=PALETTE[3]),
    ]
    shown = [c for c in charts if c]
    return f'<div class="charts">{"".join(shown)}</div>' if shown else ""


def _accounting(data: ReportData) -> str:
    rows = [(src, data.regency_label(reg), files, rec, loaded, quar, _share(quar, rec), rej,
             failed)
            for src, reg, files, rec, loaded, quar, rej, failed in data.accounting()]
    return (
        "<p>Rows of each file count under the file's regency; files covering several "
        "regencies (OJK, the BUMDes registry, the region master) count under the province. "
        "Every row received is either loaded or quarantined.</p>"
        + table("accounting", ["source", "regency", "files", "rows received", "rows loaded",
                               "rows quarantined", "quarantined share", "files rejected",
                               "files stopped by the gate"], rows)
    )


def _problems_by_regency(data: ReportData, workbooks: dict[str, str]) -> str:
    rows = []
    for reg, src, quar, rej, failed in data.problems_by_regency():
        name = workbooks.get(reg)
        rows.append((reg, escape(data.regency_label(reg).split(" ", 1)[1]), src, quar, rej,
                     failed, _link(f"workbooks/{name}", name) if name else ""))
    return (
        "<p>Each quarantined row under the regency of its own village code (else its file's); "
        "the same split as the workbooks.</p>"
        + table("problems_by_regency", ["regency code", "regency", "source",
                                        "rows quarantined", "files rejected",
                                        "files stopped by the gate", "workbook"], rows,
                raw_html={1, 6})
    )


def _problem_files(data: ReportData) -> str:
    files = [b for b in data.batches if b.has_problems]
    clean = len(data.batches) - len(files)
    rows = [(b.file_path, b.source, b.dataset, data.regency_label(b.regency), b.status,
             b.received, b.loaded, b.quarantined, b.reason) for b in files]
    return (
        f"<p>{len(files):,} file(s) with problems; {clean:,} other file(s) landed without "
        "any.</p>"
        + table("problem_files", ["file", "source", "dataset", "regency", "status",
                                  "rows received", "rows loaded", "rows quarantined",
                                  "reason"], rows)
    )


def _failed_checks(data: ReportData) -> str:
    if not data.checks:
        return '<p class="ok">No check failed.</p>'
    rows = [(c.file_path, c.source, c.dataset, data.regency_label(c.regency), c.rule,
             c.severity, c.column, c.unexpected_count, "; ".join(c.examples), c.detail)
            for c in data.checks]
    return table("failed_checks", ["file", "source", "dataset", "regency", "rule", "severity",
                                   "column", "unexpected rows", "examples", "detail"], rows)


def _quarantine_reasons(data: ReportData) -> str:
    groups: dict[tuple, list] = defaultdict(list)
    for r in data.quarantined:
        groups[(r.source, r.dataset, r.column or "", reason_class(r.reason))].append(r)
    if not groups:
        return '<p class="ok">No row was quarantined.</p>'
    rows = []
    for (source, dataset, column, reason), members in sorted(groups.items()):
        examples = "<br/>".join(
            f"<code>{escape(m.file_path)}:{m.row_number}</code> "
            + escape(repr(m.value) if m.value is not None else m.reason)
            for m in members[:EXAMPLES])
        rows.append((source, dataset, column, reason, len(members), examples))
    return table("quarantine_reasons", ["source", "dataset", "column", "reason", "rows",
                                        "examples (file:row value)"], rows, raw_html={5})


def _trend(data: ReportData) -> str:
    if not data.trend:
        return "<p>Nothing landed yet.</p>"
    days = sorted({t.day for t in data.trend})
    sources = sorted({t.source for t in data.trend})
    share: dict[str, list[float | None]] = {s: [None] * len(days) for s in sources}
    for t in data.trend:
        share[t.source][days.index(t.day)] = (100 * t.quarantined / t.received
                                              if t.received else 0.0)
    parts = [
        "<p>From the audit tables (every batch ever landed), per landing day.</p>",
        line_chart("Quarantined share of rows received, per source and day", days, share,
                   unit=" %"),
        table("trend", ["day", "source", "files", "rows received", "rows quarantined",
                        "quarantined share", "files rejected", "files stopped by the gate"],
              [(t.day, t.source, t.files, t.received, t.quarantined,
                _share(t.quarantined, t.received), t.rejected, t.failed) for t in data.trend]),
    ]
    if data.check_trend:
        parts.append(line_chart(
            "Validations passed, per day", [r[0] for r in data.check_trend],
            {"passed %": [100 * r[2] / r[1] if r[1] else None for r in data.check_trend]},
            unit=" %"))
        parts.append(table("check_trend", ["day", "validations", "passed",
                                           "critical failures", "warnings"],
                           data.check_trend))
    else:
        parts.append('<p class="muted">Rule-level validation history (audit.dq_runs) is not '
                     "recorded in this warehouse.</p>")
    return "".join(parts)


def _section(section: Section, section_id: str) -> str:
    head = f'<h2 id="{section_id}">{escape(section.title)}</h2>'
    if section.unavailable:
        return head + f'<p class="muted">{escape(section.unavailable)}</p>'
    parts = [head]
    if section.summary:
        parts.append("<p>" + ", ".join(f"{escape(k)}: {v:,}" for k, v in section.summary)
                     + "</p>")
    if not section.total:
        parts.append('<p class="ok">None found.</p>')
        return "".join(parts)
    parts.append(f'<p class="bad">{section.total:,} found'
                 + (f", the first {len(section.rows):,} listed" if section.total > len(section.rows)
                    else "") + ".</p>")
    parts.append(table(f"{section_id}_rows", section.columns, section.rows))
    return "".join(parts)


SECTION_IDS = ("idm_inconsistencies", "apbdes_identity_breaks", "cross_source")


def render(data: ReportData, out_dir: Path, workbooks: dict[str, str]) -> str:
    """The page; ``workbooks`` maps regency code to the workbook's file name."""
    scope = (f"files landed since {data.since:%Y-%m-%d %H:%M %Z}" if data.since
             else "the latest version of every file ever landed")
    nav = "".join(_link(f"#{i}", t) for i, t in (
        ("outputs", "outputs"), ("accounting", "per source and regency"),
        ("problems", "per regency"), ("files", "files with problems"),
        ("checks", "failed checks"), ("quarantine", "quarantine reasons"),
        ("trend-section", "trend"), *zip(SECTION_IDS, ("IDM", "APBDes", "BUMDes vs APBDes"),
                                           strict=True)))
    body = [
        "<h1>Lumbung data quality report</h1>",
        f'<p class="muted">Generated {data.generated_at:%Y-%m-%d %H:%M:%S} UTC; scope: '
        f"{escape(scope)}.</p>",
        f"<nav>{nav}</nav>",
        _overview(data),
        '<h2 id="outputs">Auditor outputs</h2>', _outputs(data, out_dir, workbooks),
        _charts(data),
        '<h2 id="accounting">Rows received, loaded and quarantined per source and regency</h2>',
        _accounting(data),
        '<h2 id="problems">Problems per regency</h2>', _problems_by_regency(data, workbooks),
        '<h2 id="files">Files with problems</h2>', _problem_files(data),
        '<h2 id="checks">Failed checks</h2>', _failed_checks(data),
        '<h2 id="quarantine">Why rows were quarantined</h2>', _quarantine_reasons(data),
        '<h2 id="trend-section">Trend against earlier runs</h2>', _trend(data),
        *(_section(s, i) for s, i in zip(data.sections, SECTION_IDS, strict=True)),
    ]
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8"/>'
            "<title>Lumbung data quality report</title>"
            f"<style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n")
