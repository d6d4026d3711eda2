"""Unit tests of the quality gate: rules, committed GX context, result parsing. No database."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lumbung.quality import batch_state, checkpoints, gate, gx_context, messages, rules, suites
from lumbung.sources import kemendagri

ROOT = Path(__file__).resolve().parents[1]
GX_DIR = ROOT / "expectations" / "gx"
COMMITTED = [
    "great_expectations.yml",
    ".gitignore",
    *(
        f"{folder}/{spec.name}.json"
        for spec in suites.SUITES
        for folder in ("expectations", "validation_definitions", "checkpoints")
    ),
]


def test_every_landed_dataset_has_a_suite():
    for spec in kemendagri.DATASETS.values():
        assert suites.suite_for(spec.source, spec.dataset).view == f"gate_kemendagri_{spec.dataset}"


@pytest.mark.parametrize("spec", suites.SUITES, ids=lambda s: s.name)
def test_every_expectation_has_severity_and_rule(spec):
    stored = json.loads((GX_DIR / "expectations" / f"{spec.name}.json").read_text())
    rules = [e["meta"]["rule"] for e in stored["expectations"]]
    assert len(rules) == len(set(rules)), "rule names are unique within a suite"
    for expectation in stored["expectations"]:
        assert expectation["meta"]["severity"] in {"critical", "warning"}
        assert expectation["meta"]["severity"] == expectation["severity"]
        assert expectation["meta"]["rule"].strip()


def test_committed_context_is_what_the_rules_build(tmp_path):
    """The files in expectations/gx are exactly what build_context.py writes (and a gate run
    does not rewrite them)."""
    built = gx_context.write_context(tmp_path)
    for name in COMMITTED:
        assert (GX_DIR / name).read_text() == (built / name).read_text(), name


def test_a_context_is_read_once_until_its_files_change(tmp_path):
    context_dir = gx_context.write_context(tmp_path)
    url = "postgresql+psycopg2://u:p@127.0.0.1:5432/db"
    first = checkpoints._context(context_dir, tmp_path / "docs", url)
    assert checkpoints._context(context_dir, tmp_path / "docs", url) is first
    suite = next((context_dir / "expectations").glob("*.json"))
    suite.write_text(suite.read_text())  # rewritten, as build_context.py does
    assert checkpoints._context(context_dir, tmp_path / "docs", url) is not first


def test_context_holds_no_secret():
    config = yaml.safe_load((GX_DIR / "great_expectations.yml").read_text())
    datasource = config["fluent_datasources"][gx_context.DATASOURCE]
    assert datasource["connection_string"] == "${LUMBUNG_GX_CONNECTION_STRING}"
    site = config["data_docs_sites"][gx_context.DOCS_SITE]
    assert site["store_backend"]["base_directory"] == "${LUMBUNG_GX_DOCS_DIR}"
    assert config["stores"]["validation_results_store"]["store_backend"][
        "base_directory"
    ].startswith("uncommitted/")


def test_sql_rules_are_formattable_and_scoped_to_the_batch():
    for spec in suites.SUITES:
        for rule in spec.rules:
            query = rule.kwargs.get("unexpected_rows_query")
            if query:
                assert "{batch}" in query
                query.format(batch="audit.t")  # GX formats with str.format: no stray braces


@pytest.mark.parametrize(
    ("regex", "good", "bad"),
    [
        (rules.VILLAGE_CODE, "18.01.04.2001", ["18.01.4.2001", "18.01.04.200", "1801042001"]),
        (rules.DISTRICT_CODE, "18.01.04", ["18.1.04", "18.01.04.2001", ""]),
        (rules.REGENCY_CODE, "18.71", ["18.7", "1871", "18.71 "]),
    ],
)
def test_code_shapes(regex, good, bad):
    assert re.search(regex, good)
    assert not any(re.search(regex, b) for b in bad)


def test_row_count_bounds():
    assert batch_state.row_count_bounds(None) == {"min_rows": 1, "max_rows": None}
    assert batch_state.row_count_bounds(2651) == {"min_rows": 2385, "max_rows": 2917}
    assert batch_state.row_count_bounds(15) == {"min_rows": 13, "max_rows": 17}
    assert batch_state.row_count_bounds(1) == {"min_rows": 1, "max_rows": 2}


def test_gx_connection_string():
    url = "postgresql://lumbung:p%40ss%3Aw@127.0.0.1:55432/lumbung"
    assert checkpoints.gx_connection_string(url) == (
        "postgresql+psycopg2://lumbung:p%40ss%3Aw@127.0.0.1:55432/lumbung"
    )


def _item(rule: str, kind: str, kwargs: dict, result: dict, severity: str = "critical") -> dict:
    return {
        "success": False,
        "expectation_config": {
            "type": kind,
            "kwargs": kwargs,
            "meta": {"rule": rule, "severity": severity},
            "severity": severity,
        },
        "result": result,
        "exception_info": {"raised_exception": False},
    }


VILLAGES = suites.suite_for("region", "villages")


def test_failures_name_rule_values_and_lines():
    validation = {
        "statistics": {"evaluated_expectations": 15},
        "results": [
            _item(
                "centroid in Lampung",
                "unexpected_rows_expectation",
                {},
                {
                    "observed_value": 1,
                    "details": {
                        "unexpected_rows": [
                            {
                                "code": "18.01.04.2004",
                                "lat_centroid": "105.2",
                                "lng_centroid": "-5.3",
                            }
                        ]
                    },
                },
                severity="warning",
            ),
            _item(
                "code unique",
                "expect_column_values_to_be_unique",
                {"column": "code"},
                {
                    "unexpected_count": 2,
                    "unexpected_list": ["18.01.04.2001"] * 2,
                    "unexpected_index_list": [
                        {"_row_number": 2, "code": "18.01.04.2001"},
                        {"_row_number": 3, "code": "18.01.04.2001"},
                    ],
                },
            ),
            _item(
                "code format",
                "expect_column_values_to_match_regex",
                {"column": "code", "regex": rules.VILLAGE_CODE},
                {
                    "unexpected_count": 1,
                    "unexpected_list": ["18.01.4.2001"],
                    "unexpected_index_list": [{"_row_number": 2, "code": "18.01.4.2001"}],
                },
            ),
            {"success": True, "expectation_config": {"type": "x", "meta": {}}},
        ],
    }
    failures, warnings = messages.rule_failures(validation, VILLAGES)
    assert [f.rule for f in failures] == ["code format", "code unique"]  # suite order
    assert [w.rule for w in warnings] == ["centroid in Lampung"]
    result = gate.GateResult(
        batch_id=7,
        dataset="villages",
        file_path="region/edition=2025/lampung_villages.csv",
        passed=False,
        failures=failures,
        warnings=warnings,
        label="kemendagri villages",
    )
    message = result.message()
    assert message.startswith(
        "region/edition=2025/lampung_villages.csv (batch 7, kemendagri villages): "
        "[critical] code format: 1 value(s) not matching"
    )
    assert (
        "[critical] code unique: 1 duplicate value(s) on 2 row(s), e.g. '18.01.04.2001' "
        "(lines 2, 3)" in message
    )
    assert "'18.01.4.2001' (line 2)" in message
    assert "[warning] centroid in Lampung: 1 row(s), e.g. '18.01.04.2004' " in message
    assert failures[1].unexpected_count == 2 and failures[1].column == "code"


def test_warnings_alone_pass_and_errors_are_failures():
    validation = {
        "results": [
            _item(
                "row count in expected range",
                "expect_table_row_count_to_be_between",
                {"min_value": 2385, "max_value": 2917},
                {"observed_value": 2000},
            ),
            _item("parent district exists", "unexpected_rows_expectation", {}, {}),
        ]
    }
    validation["results"][1]["exception_info"] = {
        "raised_exception": True,
        "exception_message": "relation does not exist",
    }
    failures, warnings = messages.rule_failures(validation, VILLAGES)
    assert not warnings
    details = {f.rule: f.detail for f in failures}
    assert details["row count in expected range"] == "2000 row(s), expected between 2385 and 2917"
    assert details["parent district exists"] == "could not be evaluated: relation does not exist"
    passed = gate.GateResult(1, "villages", "f.csv", True, [], [], evaluated=15)
    assert passed.message() == "f.csv (batch 1, villages): passed 15 expectation(s)"
    with pytest.raises(gate.GateFailed, match=r"1 problem\(s\)"):
        gate.raise_for_failures(
            [passed, gate.GateResult(2, "villages", "g.csv", False, failures, [])]
        )
    gate.raise_for_failures([passed])


def test_importing_the_gate_does_not_import_great_expectations():
    code = "import sys, lumbung.quality.gate; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _batch_label(source: str, dataset: str, partition_key: str) -> str:
    batch = batch_state.Batch(7, source, dataset, partition_key, "some/file", "loaded")
    return messages.batch_label(suites.suite_for(source, dataset), batch)


@pytest.mark.parametrize(
    ("source", "dataset", "key", "named"),
    [
        ("region", "villages", "2025", "edition 2025"),
        ("survey", "responses", "2024", "year 2024"),
        ("idm", "idm", "2024/1801042001", "year 2024, village 1801042001"),
        ("apbdes", "siskeudes", "1812/2024", "regency 1812, year 2024"),
        ("apbdes", "flat", "1801/2023", "regency 1801, year 2023"),
        ("bumdes", "registry", "2024-06-30", "snapshot 2024-06-30"),
        ("bumdes", "annual_reports", "2023", "year 2023"),
        ("ojk", "access_points", "2024-06", "month 2024-06"),
        ("ojk", "kur", "2024-Q2", "quarter 2024-Q2"),
    ],
)
def test_gate_messages_name_the_partition_as_the_source_does(source, dataset, key, named):
    label = _batch_label(source, dataset, key)
    assert label.endswith(", " + named)
    assert ("edition" in label) == (source == "region")


def test_every_suite_names_its_partition():
    assert all(spec.partition != "partition" for spec in suites.SUITES)


def test_a_key_of_another_shape_is_still_shown_whole():
    assert messages.partition_label("regency/year", "2024") == "regency/year 2024"


def _quality_imports() -> dict[str, set[str]]:
    """Each module of lumbung.quality and the modules of lumbung it imports (anywhere in it,
    lazily or not), by name."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "src" / "lumbung" / "quality").glob("*.py")):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lumbung"):
                imported.add(node.module)
                assert not any(a.name.startswith("_") for a in node.names), (path.name, node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names if a.name.startswith("lumbung"))
        graph[path.stem] = imported
    return graph


def test_quality_modules_import_each_other_without_a_cycle():
    graph = _quality_imports()
    assert graph["rules"] == set(), "rules.py imports nothing of lumbung"
    prefix = "lumbung.quality."
    edges = {m: {i.removeprefix(prefix) for i in imported if i.startswith(prefix)}
             for m, imported in graph.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module not in done:
            for target in edges.get(module, ()):
                visit(target, (*path, module))
            done.add(module)

    for module in edges:
        visit(module, ())


def _by_batch_item(rule: rules.Rule, rows: list[dict], observed: int) -> dict:
    """A failed batch-aware rule as GX reports it: its first rows, their number."""
    return {
        "success": False,
        "expectation_config": {"type": "unexpected_rows_expectation", "kwargs": rule.kwargs,
                               "meta": rule.meta, "severity": rule.severity},
        "result": {"observed_value": observed, "details": {"unexpected_rows": rows}},
        "exception_info": {"raised_exception": False},
    }


def _offending(batch: int, line: int, value, count: int, values: int) -> dict:
    return {"_batch_id": batch, "_row_number": line, "skema": value,
            rules.BATCH_COUNT: count, rules.BATCH_VALUES: values}


def test_rules_by_batch_split_and_speak_as_column_rules():
    """A column rule by batch returns a few rows per batch carrying the batch's counts; each
    batch's view says what the column expectation said of it alone."""
    from lumbung.quality.many_batches import counted, split_by_batch

    in_set = rules.in_set_by_batch("skema", ["Mikro", "Kecil"])
    unique = rules.unique_by_batch("skema")
    spec = rules.SuiteSpec("ojk", "kur", "ojk_kur", (in_set, unique))
    rows = [_offending(7, 3, "Besar", 9, 2), _offending(7, 4, "Sedang", 9, 2),
            _offending(8, 2, "Besar", 1, 1)]
    duplicates = [_offending(8, n, "Mikro", 6, 1) for n in (2, 5, 6, 9)]
    validation = {"results": [_by_batch_item(in_set, rows, 3),
                              _by_batch_item(unique, duplicates, 4)]}
    per_batch, settled = split_by_batch(validation, [7, 8, 9])
    assert settled == {7, 8, 9}
    assert per_batch[9]["results"] == []

    failures, _ = messages.rule_failures(per_batch[7], spec)
    assert [f.describe() for f in failures] == [
        "[critical] skema in {Mikro, Kecil}: 9 value(s) not in {Mikro, Kecil}, "
        "e.g. 'Besar' (line 3), 'Sedang' (line 4)"]
    assert failures[0].column == "skema" and failures[0].unexpected_count == 9
    failures, _ = messages.rule_failures(per_batch[8], spec)
    assert [f.describe() for f in failures][1] == (
        "[critical] skema unique: 1 duplicate value(s) on 6 row(s), e.g. 'Mikro' "
        "(lines 2, 5, 6...)")
    # one batch validated alone: the same counts as its split
    alone = counted({"results": [_by_batch_item(in_set, rows[:2], 2)]})
    assert alone["results"][0]["result"]["observed_value"] == 9


def test_rules_by_batch_quote_their_values():
    query = rules.matches_by_batch("c", r"^(?:a|b)\d{2}'$", "c format").kwargs[
        "unexpected_rows_query"]
    # GX formats the query (braces doubled) and runs it as SQLAlchemy text() (no colon)
    assert r""""c" !~ '^(a|b)\d{2}''$'""" in query.format(batch="audit.t")
    with pytest.raises(ValueError, match="colon"):
        rules.in_set_by_batch("c", ["a:b"])
