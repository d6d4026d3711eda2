"""BPS-style statistical metadata (Peraturan BPS 5/2020) of a release: MS-Ind for every
indicator of the catalogue, MS-Var for every released variable; JSON and one offline HTML
page."""

from __future__ import annotations

import csv
import html as html_lib
from typing import TYPE_CHECKING

from lumbung.config import Paths
from lumbung.opendata.metadata import LICENSE, PUBLISHER, Dataset

if TYPE_CHECKING:
    from lumbung.opendata.release import Release

CATALOGUE_SEED = "ref_indicator_catalogue.csv"
# The programme's dimensions (DOMAIN: Smart Village indicators named by the province).
DIMENSIONS = {
    "A": "Smart Institution", "B": "Smart Infrastructure", "C": "Smart Service Delivery",
    "D": "Smart Technology and Innovation", "E": "Smart Societies", "F": "Smart Economy",
}
# How each scoring rule of the catalogue turns a value into a 0-1 score (dbt macro
# smart_village_score); p is the indicator's rule_parameter.
RULE_FORMULAS = {
    "idm_score": "score = value / 5 (an IDM indicator score 0-5)",
    "yes_no": "score = 1 when the answer is yes, 0 when it is no",
    "positive": "score = 1 when value > 0, else 0",
    "ratio_capped": "score = min(value / p, 1)",
    "share_at_most": "score = 1 when value <= p, else (1 - value) / (1 - p)",
}
AGGREGATION = ("dimension score = sum(weight x score) / sum(weight) over the dimension's "
               "indicators that have data; the share of weight with data is the dimension's "
               "completeness; the Smart Village Index is the mean of the six dimension scores")


def indicators(paths: Paths) -> list[dict]:
    """MS-Ind of every indicator in the catalogue seed (every methodology version)."""
    seed = paths.dbt_project / "seeds" / CATALOGUE_SEED
    with open(seed, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    forms = []
    for row in rows:
        rule = row.get("scoring_rule", "")
        parameter = row.get("rule_parameter") or None
        formula = RULE_FORMULAS.get(rule, rule)
        if parameter:
            formula += f", with p = {parameter}"
        dimension = row.get("dimension", "")
        forms.append({
            "form": "MS-Ind",
            "indicator_id": row.get("indicator_id"),
            "name": row.get("indicator_name"),
            "concept": f"Smart Village dimension {dimension} "
                       f"({DIMENSIONS.get(dimension, 'unknown')})",
            "definition": row.get("description"),
            "formula": f"{formula}; weight {row.get('weight')}. {AGGREGATION}.",
            "unit": "score from 0 to 1",
            "interpretation": "higher is better: 1 is the best attainable score",
            "source": f"{row.get('source')} ({row.get('field')})",
            "building_variables": [row.get("field")],
            "dimension": dimension,
            "weight": row.get("weight"),
            "level_of_estimation": "desa (village), rolled up to district, regency, province",
            "methodology_version": row.get("methodology_version"),
        })
    return forms


def variables(described: list[Dataset]) -> list[dict]:
    """MS-Var of every released column."""
    forms = []
    for dataset in described:
        keys = {f: k for k in dataset.foreign_keys for f in k.fields}
        for column in dataset.columns:
            rules = []
            if not column.nullable:
                rules.append("required (never empty)")
            if column.name in dataset.primary_key:
                rules.append("part of the row key: "
                             + ", ".join(dataset.primary_key) + " together are unique")
            if column.name in keys:
                key = keys[column.name]
                rules.append(f"a code of {key.mart}.{', '.join(key.reference_fields)}")
            classification = None
            if column.name in dataset.accepted_values:
                classification = list(dataset.accepted_values[column.name])
            elif column.name in dataset.region_columns:
                classification = "Kemendagri region code (not a BPS code)"
            forms.append({
                "form": "MS-Var",
                "dataset": dataset.name,
                "variable": column.name,
                "definition": column.description,
                "data_type": column.pg_type,
                "classification": classification,
                "validation_rules": rules,
            })
    return forms


def metadata(paths: Paths, described: list[Dataset]) -> dict:
    return {
        "standard": "BPS statistical metadata (Peraturan BPS 5/2020): MS-Ind, MS-Var",
        "producer": PUBLISHER["name"],
        "license": LICENSE["name"],
        "ms_ind": indicators(paths),
        "ms_var": variables(described),
    }


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    def cell(value) -> str:
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        return html_lib.escape("" if value is None else str(value))

    head = "".join(f"<th>{html_lib.escape(title)}</th>" for _, title in columns)
    body = "\n".join("<tr>" + "".join(f"<td>{cell(row.get(key))}</td>" for key, _ in columns)
                     + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def html(document: dict, release: Release) -> str:
    """One self-contained page (no script, no external file) of the metadata."""
    by_dataset: dict[str, list[dict]] = {}
    for form in document["ms_var"]:
        by_dataset.setdefault(form["dataset"], []).append(form)
    sections = [
        f"<h2 id='{html_lib.escape(name)}'>MS-Var: {html_lib.escape(name)}</h2>"
        + _table(forms, [("variable", "Variable"), ("definition", "Definition"),
                         ("data_type", "Type"), ("classification", "Classification"),
                         ("validation_rules", "Validation rules")])
        for name, forms in by_dataset.items()
    ]
    index = " · ".join(f"<a href='#{html_lib.escape(n)}'>{html_lib.escape(n)}</a>"
                       for n in by_dataset)
    title = f"Lumbung open data release #{release.publication_id}: statistical metadata"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html_lib.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}}
table{{border-collapse:collapse;margin-bottom:2em}}td,th{{border:1px solid #bbb;padding:.3em;
vertical-align:top;text-align:left}}th{{background:#eee}}</style></head><body>
<h1>{html_lib.escape(title)}</h1>
<p>Published {release.published_at:%Y-%m-%d %H:%M} UTC by {html_lib.escape(document["producer"])};
licence {html_lib.escape(document["license"])}. {html_lib.escape(document["standard"])}.</p>
<p>Datasets: {index}</p>
<h2>MS-Ind: indicators of the Smart Village Index</h2>
{_table(document["ms_ind"], [("indicator_id", "Indicator"), ("name", "Name"),
                             ("concept", "Concept"), ("definition", "Definition"),
                             ("formula", "Formula"), ("unit", "Unit"), ("source", "Source"),
                             ("methodology_version", "Methodology version")])}
{"".join(sections)}
</body></html>
"""
