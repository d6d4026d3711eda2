"""DCAT-AP catalog (``catalog.jsonld``) of a release: what CKAN's DCAT harvesters read."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lumbung.config import Paths
from lumbung.opendata.metadata import (
    LANGUAGE,
    LICENSE,
    ORIGIN_COLUMN,
    PUBLISHER,
    Dataset,
    attributions,
)

if TYPE_CHECKING:
    from lumbung.opendata.release import Release

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "spdx": "http://spdx.org/rdf/terms#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
}
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
MEDIA_TYPE = "http://www.iana.org/assignments/media-types/"
LANG = "http://publications.europa.eu/resource/authority/language/ENG"


def api_url() -> str:
    """Where ``lumbung api`` is reached (LUMBUNG_API_URL; default its local address)."""
    configured = os.environ.get("LUMBUNG_API_URL")
    if configured:
        return configured.rstrip("/")
    return f"http://127.0.0.1:{os.environ.get('LUMBUNG_API_PORT', '8000')}"


def files_url(release: Release) -> str:
    """Where the release's files are downloaded from: LUMBUNG_RELEASE_URL (the folder that
    holds ``<publication id>/``, as a web server publishes it), else the folder itself."""
    configured = os.environ.get("LUMBUNG_RELEASE_URL")
    if configured:
        return f"{configured.rstrip('/')}/{release.publication_id}/"
    return release.folder.resolve().as_uri() + "/"


def _text(value: str) -> dict:
    return {"@value": value, "@language": LANGUAGE}


def _date(value: str, kind: str = "date") -> dict:
    return {"@value": value, "@type": f"xsd:{kind}"}


def _distribution(url: str, title: str, file_type: str, media: str, license_: dict,
                  download: bool = True, **extra) -> dict:
    node = {
        "@id": url + "#distribution",
        "@type": "dcat:Distribution",
        "dct:title": _text(title),
        "dcat:accessURL": {"@id": url},
        "dct:format": {"@id": FILE_TYPE + file_type},
        "dcat:mediaType": {"@id": MEDIA_TYPE + media},
        "dct:license": license_,
        **extra,
    }
    if download:
        node["dcat:downloadURL"] = {"@id": url}
    return node


def catalog(paths: Paths, release: Release, described: list[Dataset]) -> dict:
    api, base = api_url(), files_url(release)
    modified = _date(release.published_at.isoformat(), "dateTime")
    license_ = {"@id": LICENSE["path"]}
    publisher = {"@id": PUBLISHER["url"], "@type": "foaf:Agent",
                 "foaf:name": PUBLISHER["name"]}
    files = {f.mart: f for f in release.files}
    entries = []
    for dataset in described:
        file = files[dataset.name]
        node = {
            "@id": f"{api}/datasets/{dataset.name}",
            "@type": "dcat:Dataset",
            "dct:identifier": dataset.name,
            "dct:title": _text(dataset.title),
            "dct:description": _text(dataset.description),
            "dcat:keyword": [_text(k) for k in dataset.keywords],
            "dct:publisher": publisher,
            "dct:modified": modified,
            "dct:issued": modified,
            "dct:license": license_,
            "dct:language": {"@id": LANG},
            "dct:conformsTo": {"@id": base + "datapackage.json"},
            "dct:provenance": {
                "@type": "dct:ProvenanceStatement",
                "rdfs:label": _text(
                    "Built by Lumbung from: " + "; ".join(a.title for a in attributions(paths))
                    + (f". Column {ORIGIN_COLUMN} tells rows of real data from rows of "
                       "generated stand-in data." if ORIGIN_COLUMN in dataset.column_names
                       else ".")),
            },
            "dcat:distribution": [
                _distribution(base + file.csv, f"{dataset.name} (CSV)", "CSV", "text/csv",
                              license_, **{"dcat:byteSize": _date(str(file.csv_bytes),
                                                                   "nonNegativeInteger"),
                                           "spdx:checksum": {
                                               "@type": "spdx:Checksum",
                                               "spdx:algorithm": {
                                                   "@id": "spdx:checksumAlgorithm_sha256"},
                                               "spdx:checksumValue": file.csv_sha256}}),
                _distribution(base + file.parquet, f"{dataset.name} (Parquet)", "PARQUET",
                              "application/vnd.apache.parquet", license_),
                _distribution(f"{api}/datasets/{dataset.name}/rows",
                              f"{dataset.name} (API, JSON or CSV pages)", "JSON",
                              "application/json", license_, download=False,
                              **{"dcat:accessService": {
                                  "@id": f"{api}/",
                                  "@type": "dcat:DataService",
                                  "dct:title": _text("Lumbung read-only API"),
                                  "dcat:endpointURL": {"@id": f"{api}/"},
                                  "dcat:endpointDescription": {"@id": f"{api}/openapi.json"},
                              }}),
            ],
        }
        if file.years:
            node["dct:temporal"] = {
                "@type": "dct:PeriodOfTime",
                "dcat:startDate": _date(f"{file.years[0]}-01-01"),
                "dcat:endDate": _date(f"{file.years[1]}-12-31"),
            }
        if file.regions:
            node["dct:spatial"] = [
                {"@type": "dct:Location", "dct:identifier": code,
                 "skos:prefLabel": _text(f"Kemendagri region {code}")}
                for code in file.regions
            ]
        entries.append(node)
    return {
        "@context": CONTEXT,
        "@id": f"{api}/catalog",
        "@type": "dcat:Catalog",
        "dct:title": _text("Lumbung: village data of Lampung province"),
        "dct:description": _text(
            "Open data releases of Lumbung, the village data warehouse of the Smart Village "
            "(Desa Berjaya) programme of Lampung province, Indonesia. Regions are identified "
            "by Kemendagri codes."),
        "dct:publisher": publisher,
        "dct:modified": modified,
        "dct:license": license_,
        "dct:language": {"@id": LANG},
        "foaf:homepage": {"@id": base},
        "dcat:dataset": entries,
    }
