"""What a source family declares (``SourceFamily``); each family's declaration is a module
of this package, listed in ``lumbung.families.NAMES``.

Stdlib only: DAG files and ``lumbung.assets`` import the declarations at parse time. The
modules a family consists of are named by convention (``lumbung.pipelines.<pipeline>``,
``lumbung.sources.<reader>``, ...) and imported where they are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What a failed batch does to the run (``gate_failure``). In every case the gate judges every
# batch first and each verdict is stored.
HOLD_DELIVERY = "hold_delivery"  # nothing is released unless every batch passed
FAIL_GATE = "fail_gate"  # the accepted batches are released; the gate task fails
FAIL_AT_END = "fail_at_end"  # accepted batches are released and announced; a last task fails
GATE_FAILURES = (HOLD_DELIVERY, FAIL_GATE, FAIL_AT_END)

_REGENCY = re.compile(r"^\d{4}(\d{6})?$")  # a regency code, or a village code (its first 4)


@dataclass(frozen=True)
class Regency:
    """How the regency of one of a family's batches is found (reports, workbooks, the
    comparison with earlier deliveries): ``partition_part``, the part of the partition key
    (split on ``/``) that is a regency or village code; else ``rows``, per dataset the raw
    (table, column) of village or district codes, when all of a batch's rows share one
    regency. Neither: a province-wide delivery."""

    partition_part: int | None = None
    rows: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def of_partition(self, partition_key: str) -> str | None:
        if self.partition_part is None:
            return None
        parts = (partition_key or "").split("/")
        code = parts[self.partition_part] if -len(parts) <= self.partition_part < len(parts) \
            else ""
        return code[:4] if _REGENCY.match(code) else None

    def row_columns(self, dataset: str) -> tuple[tuple[str, str], ...]:
        return dict(self.rows).get(dataset, ())


@dataclass(frozen=True)
class SourceFamily:
    """One source family: where its files land, how they are read and judged, when its DAG
    runs, what it publishes and what a change of it rebuilds."""

    # The one name users meet: lumbung ingest/generate <name>, landing/<name>/, its DAG's
    # id, audit.load_batches.source.
    name: str
    title: str  # for operators' messages
    partitioning: tuple[str, ...]  # folders under landing/<name>/ above a file, per dataset
    schedule: str
    tags: tuple[str, ...]
    freshness_days: int  # the last accepted delivery is late after this many days
    published: tuple[str, ...]  # the relations its batches feed first (schema.table)
    rebuild: tuple[str, ...]  # dbt selectors of all its batches feed (the marts build)
    gate_failure: str = FAIL_GATE
    regency: Regency = Regency()
    # Left empty, these default from the name (filled in by __post_init__):
    land_task: str = ""  # its land task's id: land_<name>_files
    module: str = ""  # lumbung.sources.<module>, lumbung.quality.<module>_rules, dbt source
    pipeline: str = ""  # lumbung.pipelines.<pipeline>
    generator: str = ""  # its lumbung generate module: lumbung.generate.<name>
    generated: bool = True  # lumbung run generates its files into an empty landing folder
    asset_paths: tuple[str, ...] = ()  # lumbung://warehouse/<path>; default the published

    def __post_init__(self) -> None:
        if self.gate_failure not in GATE_FAILURES:
            raise ValueError(f"{self.name}: gate_failure {self.gate_failure!r}")
        defaults = {"land_task": f"land_{self.name}_files", "module": self.name,
                    "pipeline": self.name, "generator": f"lumbung.generate.{self.name}"}
        for attribute, default in defaults.items():
            if not getattr(self, attribute):
                object.__setattr__(self, attribute, default)

    @property
    def folder(self) -> str:
        """Its landing folder, under the landing root."""
        return self.name

    @property
    def pipeline_module(self) -> str:
        return f"lumbung.pipelines.{self.pipeline}"

    @property
    def reader_module(self) -> str:
        """The module with its readers and its ``RAW_TABLES``."""
        return f"lumbung.sources.{self.module}"

    @property
    def rules_module(self) -> str:
        """The module whose ``suites()`` are its quality gate's suites."""
        return f"lumbung.quality.{self.module}_rules"

    @property
    def assets(self) -> tuple[str, ...]:
        """Paths of its Airflow Assets (``lumbung://warehouse/<path>``)."""
        return self.asset_paths or tuple(p.replace(".", "/") for p in self.published)

    @property
    def land_doc(self) -> str:
        where = ", ".join(f"landing/{self.folder}/{p}/" for p in self.partitioning)
        return f"Land each file under {where} as one batch."

    @property
    def ingest_depth(self) -> int:
        """How many folders a file lies below the landing root."""
        return 1 + max(p.count("/") + 1 for p in self.partitioning)
