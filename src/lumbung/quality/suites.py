"""The gate's rules, one suite per dataset, and the GX File Data Context written from them.

Every rule of the gate is declared here, readable in one place. ``write_context`` (run by
``expectations/build_context.py``) writes the committed context under ``expectations/gx``
from these declarations, deterministically: fixed ids and a fixed order, so a change of rule
is a reviewable diff of JSON. Nothing here connects to a database; Great Expectations is
imported only inside ``write_context``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lumbung.quality.apbdes_rules import apbdes_suites
from lumbung.quality.bumdes_rules import bumdes_suites
from lumbung.quality.idm_rules import idm_suite
from lumbung.quality.mart_rules import mart_suites
from lumbung.quality.ojk_rules import ojk_suites
from lumbung.quality.survey_rules import survey_suite
from lumbung.sources import kemendagri

DATASOURCE = "warehouse"
CONNECTION_VARIABLE = "LUMBUNG_GX_CONNECTION_STRING"
DOCS_VARIABLE = "LUMBUNG_GX_DOCS_DIR"
DOCS_SITE = "lumbung_gate"
BATCH_DEFINITION = "whole_table"
GATE_SCHEMA = "audit"
CRITICAL = "critical"
WARNING = "warning"
MIN_ROWS = "min_rows"
MAX_ROWS = "max_rows"
ROW_NUMBER = "_row_number"  # the CSV line a row came from, reported with unexpected values

# COMPLETE lists every unexpected value (the tables are a few thousand rows), and
# unexpected_index_column_names adds the CSV line of each.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_NUMBER],
    "return_unexpected_index_query": False,
}
# Marts have no CSV line to point at; COMPLETE keeps the offending rows of query rules.
MART_RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE"}

# Lampung lies within about 3.7-6.2 S and 103.6-105.9 E (islands of the Sunda Strait
# included); the box adds a margin so only misplaced or swapped coordinates are flagged.
LAT_RANGE = (-6.5, -3.5)
LNG_RANGE = (103.3, 106.3)

# Code shapes. The suites use \d{n}; SQL inside UnexpectedRowsExpectation queries spells the
# same shapes without braces, because GX formats those queries with str.format.
REGENCY_CODE = r"^\d{2}\.\d{2}$"
DISTRICT_CODE = r"^\d{2}\.\d{2}\.\d{2}$"
VILLAGE_CODE = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
_SQL_REGENCY_CODE = r"^\d\d\.\d\d$"
_SQL_DISTRICT_CODE = r"^\d\d\.\d\d\.\d\d$"
_SQL_VILLAGE_CODE = r"^\d\d\.\d\d\.\d\d\.\d\d\d\d$"
_SQL_DECIMAL = r"^-?\d+(\.\d+)?$"

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "lumbung:expectations")


@dataclass(frozen=True)
class Rule:
    """One expectation: its GX class, arguments, severity and a short human name."""

    rule: str
    expectation: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: str = CRITICAL

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def meta(self) -> dict[str, str]:
        return {"severity": self.severity, "rule": self.rule}


@dataclass(frozen=True)
class SuiteSpec:
    """The rules for one dataset of one source, checked on its gate view."""

    source: str
    dataset: str
    name: str
    rules: tuple[Rule, ...]
    # A batch suite reads its gate view audit.gate_<name>; a mart suite names its table.
    schema: str = GATE_SCHEMA
    table: str | None = None
    # What a batch's partition key is for this dataset, as people call it: "edition", "year",
    # "regency/year" for a key "1812/2024". Gate messages name the partition with it.
    partition: str = "partition"

    @property
    def view(self) -> str:
        return self.table or f"gate_{self.name}"

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


def stable_id(*parts: str) -> str:
    """A UUID derived from names, so a rebuilt context keeps its ids."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


# --- rule builders -------------------------------------------------------------------------


def _matches(column: str, regex: str, rule: str) -> Rule:
    return Rule(rule, "ExpectColumnValuesToMatchRegex", {"column": column, "regex": regex})


def _present(column: str) -> tuple[Rule, ...]:
    return (
        Rule(f"{column} present", "ExpectColumnValuesToNotBeNull", {"column": column}),
        _matches(column, r"\S", f"{column} not blank"),
    )


def _unique(column: str) -> Rule:
    return Rule(f"{column} unique", "ExpectColumnValuesToBeUnique", {"column": column})


def _in_set(column: str, values: list[str]) -> Rule:
    return Rule(
        f"{column} in {{{', '.join(values)}}}",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": values},
    )


def _row_count() -> Rule:
    return Rule(
        "row count in expected range",
        "ExpectTableRowCountToBeBetween",
        {"min_value": {"$PARAMETER": MIN_ROWS}, "max_value": {"$PARAMETER": MAX_ROWS}},
    )


def _no_rows(rule: str, query: str, description: str, severity: str = CRITICAL) -> Rule:
    """A rule broken by every row the query returns; its first column names the row."""
    return Rule(
        rule,
        "UnexpectedRowsExpectation",
        {"unexpected_rows_query": " ".join(query.split()), "description": description},
        severity,
    )


def _derived(column: str, expected_sql: str, code_sql: str, description: str) -> Rule:
    """``column`` must equal an expression of ``code``; judged only where code is well formed
    (the format rule reports the others)."""
    return _no_rows(
        f"{column} matches code",
        f"""
        select code, {column} from {{batch}}
        where code ~ '{code_sql}' and {column} is distinct from {expected_sql}
        """,
        description,
    )


def _parent_exists(parent_view: str, parent_label: str) -> Rule:
    return _no_rows(
        f"parent {parent_label} exists",
        f"""
        select b.code, b.parent_code
        from {{batch}} as b
        left join {GATE_SCHEMA}.{parent_view} as p
            on p.code = b.parent_code and p._edition = b._edition
        where p.code is null
        """,
        f"parent_code is the code of a {parent_label} accepted by the gate for the same edition",
    )


def _centroid_in_province() -> Rule:
    lat_lo, lat_hi = LAT_RANGE
    lng_lo, lng_hi = LNG_RANGE
    return _no_rows(
        "centroid in Lampung",
        f"""
        select code, lat_centroid, lng_centroid
        from (
            select code, lat_centroid, lng_centroid,
                case when trim(lat_centroid) ~ '{_SQL_DECIMAL}'
                    then cast(trim(lat_centroid) as numeric) end as lat,
                case when trim(lng_centroid) ~ '{_SQL_DECIMAL}'
                    then cast(trim(lng_centroid) as numeric) end as lng
            from {{batch}}
        ) as c
        where (coalesce(trim(lat_centroid), '') <> '' or coalesce(trim(lng_centroid), '') <> '')
            and not coalesce(
                lat between {lat_lo} and {lat_hi} and lng between {lng_lo} and {lng_hi}, false
            )
        """,
        f"a centroid, when given, is a decimal latitude in [{lat_lo}, {lat_hi}] and longitude "
        f"in [{lng_lo}, {lng_hi}] (a box around Lampung)",
        WARNING,
    )


# --- the suites ----------------------------------------------------------------------------

SOURCE = "kemendagri_region"

SUITES: tuple[SuiteSpec, ...] = (
    SuiteSpec(
        SOURCE,
        "regencies",
        "kemendagri_regencies",
        (
            Rule("code present", "ExpectColumnValuesToNotBeNull", {"column": "code"}),
            _matches("code", REGENCY_CODE, "code format"),
            _unique("code"),
            _matches("code_10", r"^\d{4}$", "code_10 format"),
            _derived(
                "code_10",
                "replace(code, '.', '')",
                _SQL_REGENCY_CODE,
                "code_10 is code without its dots",
            ),
            *_present("name"),
            _in_set("type", ["kabupaten", "kota"]),
            _row_count(),
            _centroid_in_province(),
        ),
        partition="edition",
    ),
    SuiteSpec(
        SOURCE,
        "districts",
        "kemendagri_districts",
        (
            Rule("code present", "ExpectColumnValuesToNotBeNull", {"column": "code"}),
            _matches("code", DISTRICT_CODE, "code format"),
            _unique("code"),
            _matches("code_10", r"^\d{6}$", "code_10 format"),
            _derived(
                "code_10",
                "replace(code, '.', '')",
                _SQL_DISTRICT_CODE,
                "code_10 is code without its dots",
            ),
            *_present("name"),
            _derived(
                "parent_code",
                "left(code, 5)",
                _SQL_DISTRICT_CODE,
                "parent_code is the regency part of code (its first 5 characters)",
            ),
            _parent_exists("accepted_kemendagri_regencies", "regency"),
            _row_count(),
            _centroid_in_province(),
        ),
        partition="edition",
    ),
    SuiteSpec(
        SOURCE,
        "villages",
        "kemendagri_villages",
        (
            Rule("code present", "ExpectColumnValuesToNotBeNull", {"column": "code"}),
            _matches("code", VILLAGE_CODE, "code format"),
            _unique("code"),
            _matches("code_10", r"^\d{10}$", "code_10 format"),
            _derived(
                "code_10",
                "replace(code, '.', '')",
                _SQL_VILLAGE_CODE,
                "code_10 is code without its dots",
            ),
            _unique("code_10"),
            *_present("name"),
            _in_set("type", ["desa", "kelurahan"]),
            _derived(
                "type",
                "case left(split_part(code, '.', 4), 1) "
                "when '1' then 'kelurahan' when '2' then 'desa' end",
                _SQL_VILLAGE_CODE,
                "the village part of code starts with 1 for a kelurahan, 2 for a desa",
            ),
            _derived(
                "parent_code",
                "left(code, 8)",
                _SQL_VILLAGE_CODE,
                "parent_code is the district part of code (its first 8 characters)",
            ),
            _parent_exists("accepted_kemendagri_districts", "district"),
            _derived(
                "regency_code",
                "left(code, 5)",
                _SQL_VILLAGE_CODE,
                "regency_code is the regency part of code (its first 5 characters)",
            ),
            _row_count(),
            _centroid_in_province(),
        ),
        partition="edition",
    ),
    idm_suite(),  # IDM responses (lumbung.quality.idm_rules), gated many batches at a time
    *apbdes_suites(),  # APBDes Siskeudes exports and flat template (quality.apbdes_rules)
    survey_suite(),  # Smart Village survey responses (quality.survey_rules)
    *bumdes_suites(),  # BUMDes registry pages and yearly reports (quality.bumdes_rules)
    *ojk_suites(),  # OJK access reports and KUR per district (quality.ojk_rules)
    *mart_suites(),  # every published mart, audited in the build schema (quality.mart_rules)
)


def suite_for(source: str, dataset: str) -> SuiteSpec:
    if source == SOURCE:
        # The synthetic supplement of ``lumbung generate --scale`` fills the raw tables of the
        # dataset it extends (so the same gate view) and is held to the same rules.
        dataset = kemendagri.real_dataset(dataset)
    for spec in SUITES:
        if spec.source == source and spec.dataset == dataset:
            return spec
    raise KeyError(f"no quality suite for {source} {dataset}")


# --- the File Data Context -----------------------------------------------------------------

_HEADER = """\
# Great Expectations File Data Context of the Lumbung quality gate.
# Generated by expectations/build_context.py from src/lumbung/quality/suites.py: edit the
# rules there and rebuild, do not edit this file by hand.
# ${LUMBUNG_GX_CONNECTION_STRING} (SQLAlchemy URL) and ${LUMBUNG_GX_DOCS_DIR} (data docs
# folder) are supplied at run time by lumbung.quality.gate; no secret is kept here.
"""

_GITIGNORE = "uncommitted/\nplugins/\n"
# What write_context owns inside the context folder (uncommitted/ is left alone).
_GENERATED = (
    "great_expectations.yml",
    ".gitignore",
    "expectations",
    "validation_definitions",
    "checkpoints",
)


def _store(base_directory: str, class_name: str, suppress_id: bool = True) -> dict:
    backend: dict[str, Any] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": base_directory,
    }
    if suppress_id:
        backend["suppress_store_backend_id"] = True
    return {"class_name": class_name, "store_backend": backend}


def project_config() -> dict[str, Any]:
    """great_expectations.yml: stores, the docs site and the warehouse datasource."""
    assets = {
        spec.name: {
            "type": "table",
            "id": stable_id("asset", spec.name),
            "table_name": spec.view,
            "schema_name": spec.schema,
            "batch_metadata": {"source": spec.source, "dataset": spec.dataset},
            "batch_definitions": {
                BATCH_DEFINITION: {
                    "id": stable_id("batch_definition", spec.name),
                    "partitioner": None,
                }
            },
        }
        for spec in SUITES
    }
    return {
        "config_version": 4.0,
        "config_variables_file_path": "uncommitted/config_variables.yml",
        "plugins_directory": None,
        "analytics_enabled": False,
        "data_context_id": stable_id("context"),
        "progress_bars": {"globally": False, "metric_calculations": False},
        "stores": {
            "expectations_store": _store("expectations/", "ExpectationsStore"),
            "validation_results_store": _store(
                "uncommitted/validations/", "ValidationResultsStore", suppress_id=False
            ),
            "checkpoint_store": _store("checkpoints/", "CheckpointStore"),
            "validation_definition_store": _store(
                "validation_definitions/", "ValidationDefinitionStore"
            ),
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": "validation_results_store",
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": "${" + DOCS_VARIABLE + "}",
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        "fluent_datasources": {
            DATASOURCE: {
                "type": "postgres",
                "id": stable_id("datasource", DATASOURCE),
                "connection_string": "${" + CONNECTION_VARIABLE + "}",
                "assets": assets,
            }
        },
    }


def _expectation(spec: SuiteSpec, rule: Rule) -> Any:
    import great_expectations as gx

    # Built as the Expectation class first, so its arguments are validated; handed to the
    # suite as a configuration because GX only keeps a preset id that way.
    cls = getattr(gx.expectations, rule.expectation)
    configuration = cls(meta=rule.meta, severity=rule.severity, **rule.kwargs).configuration
    configuration.id = stable_id("expectation", spec.name, rule.rule)
    return configuration


def write_context(project_root: Path) -> Path:
    """(Re)write the committed context under ``project_root/gx``; return that folder."""
    import great_expectations as gx

    gx_dir = project_root / "gx"
    gx_dir.mkdir(parents=True, exist_ok=True)
    for name in _GENERATED:
        target = gx_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    config_text = yaml.safe_dump(project_config(), sort_keys=False, width=100)
    (gx_dir / "great_expectations.yml").write_text(_HEADER + "\n" + config_text)
    (gx_dir / ".gitignore").write_text(_GITIGNORE)

    # Placeholders: writing suites and definitions never opens a connection.
    context = gx.get_context(
        mode="file",
        project_root_dir=project_root,
        runtime_environment={
            CONNECTION_VARIABLE: "postgresql+psycopg2://build@127.0.0.1:5432/build",
            DOCS_VARIABLE: str(gx_dir / "uncommitted" / "data_docs"),
        },
    )
    datasource = context.data_sources.get(DATASOURCE)
    for spec in SUITES:
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=spec.name,
                id=stable_id("suite", spec.name),
                expectations=[_expectation(spec, rule) for rule in spec.rules],
                meta={"source": spec.source, "dataset": spec.dataset, "view": spec.view},
            )
        )
        batch_definition = datasource.get_asset(spec.name).get_batch_definition(BATCH_DEFINITION)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=spec.name,
                id=stable_id("validation_definition", spec.name),
                data=batch_definition,
                suite=suite,
            )
        )
        context.checkpoints.add(
            gx.Checkpoint(
                name=spec.name,
                id=stable_id("checkpoint", spec.name),
                validation_definitions=[validation],
                # no actions: the gate renders the data docs itself, once per run
                # (lumbung.quality.gate.one_docs_build)
                actions=[],
                result_format=RESULT_FORMAT if spec.schema == GATE_SCHEMA else MART_RESULT_FORMAT,
            )
        )
    _pin_ids(gx_dir)
    return gx_dir


def _pin_ids(gx_dir: Path) -> None:
    """Replace the random ids GX gave suites, expectations, validation definitions and
    checkpoints with stable ones, so rebuilding an unchanged rule set changes no file."""
    replacements: dict[str, str] = {}
    for spec in SUITES:
        suite = json.loads((gx_dir / "expectations" / f"{spec.name}.json").read_text())
        replacements[suite["id"]] = stable_id("suite", spec.name)
        for expectation in suite["expectations"]:
            replacements[expectation["id"]] = stable_id(
                "expectation", spec.name, expectation["meta"]["rule"]
            )
        for kind, folder in (
            ("validation_definition", "validation_definitions"),
            ("checkpoint", "checkpoints"),
        ):
            stored = json.loads((gx_dir / folder / f"{spec.name}.json").read_text())
            replacements[stored["id"]] = stable_id(kind, spec.name)
    for folder in ("expectations", "validation_definitions", "checkpoints"):
        for path in sorted((gx_dir / folder).glob("*.json")):
            text = path.read_text()
            for old, new in replacements.items():
                text = text.replace(old, new)
            path.write_text(text.rstrip("\n") + "\n")
