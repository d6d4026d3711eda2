"""Frictionless Data Package descriptor (``datapackage.json``) of a release."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lumbung.config import Paths
from lumbung.opendata.metadata import LICENSE, PUBLISHER, Dataset, attributions

if TYPE_CHECKING:
    from lumbung.opendata.release import Release

PROFILE = "tabular-data-package"


def table_schema(dataset: Dataset) -> dict:
    fields = []
    for column in dataset.columns:
        spec = {"name": column.name, "type": column.frictionless_type,
                "description": column.description or ""}
        if not column.nullable:
            spec["constraints"] = {"required": True}
        if column.name in dataset.accepted_values:
            spec.setdefault("constraints", {})["enum"] = list(
                dataset.accepted_values[column.name])
        fields.append(spec)
    schema: dict = {"fields": fields, "missingValues": [""]}
    if dataset.primary_key:
        schema["primaryKey"] = list(dataset.primary_key)
    if dataset.foreign_keys:
        schema["foreignKeys"] = [
            {"fields": list(key.fields),
             # "" is this resource itself (Table Schema)
             "reference": {"resource": "" if key.mart == dataset.name else key.mart,
                           "fields": list(key.reference_fields)}}
            for key in dataset.foreign_keys
        ]
    return schema


def descriptor(paths: Paths, release: Release, described: list[Dataset]) -> dict:
    files = {f.mart: f for f in release.files}
    released = {d.name for d in described}
    resources = []
    for dataset in described:
        file = files[dataset.name]
        schema = table_schema(dataset)
        # a foreign key to a mart that is not in this release cannot be checked: leave it out
        schema["foreignKeys"] = [k for k in schema.get("foreignKeys", [])
                                 if k["reference"]["resource"] in released | {""}]
        if not schema["foreignKeys"]:
            del schema["foreignKeys"]
        resources.append({
            "name": dataset.name,
            "title": dataset.title,
            "description": dataset.description,
            "path": file.csv,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": file.csv_bytes,
            "hash": f"sha256:{file.csv_sha256}",
            "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
            "schema": schema,
            "keywords": list(dataset.keywords),
            # not Table Schema: the other formats of the same table, and its row count
            "lumbung:rows": file.rows,
            "lumbung:parquet": file.parquet,
        })
    return {
        "profile": PROFILE,
        "name": f"lumbung-release-{release.publication_id}",
        "title": "Lumbung open data release: village data of Lampung province",
        "description": (
            "Every published mart of Lumbung, the village data warehouse of the Smart Village "
            "(Desa Berjaya) programme of Lampung province, Indonesia, as of publication "
            f"{release.publication_id}. Regions are identified by Kemendagri codes (not BPS "
            "codes). Each table is also released as Parquet (lumbung:parquet)."),
        "version": str(release.publication_id),
        "created": release.published_at.isoformat(),
        "keywords": ["Lampung", "desa", "Smart Village", "Satu Data Indonesia"],
        "licenses": [LICENSE],
        "contributors": [{"title": PUBLISHER["name"], "path": PUBLISHER["url"],
                          "role": "publisher"}],
        "sources": [{"title": a.title + (f" ({', '.join(a.licences)})" if a.licences else ""),
                     "path": a.release_path} for a in attributions(paths)],
        "resources": resources,
    }
