"""Running the gate's Great Expectations checkpoints and keeping their data docs.

The checkpoints are those of the committed context (``expectations/gx``, written by
``lumbung.quality.gx_context``); the warehouse URL and the docs folder are supplied at run
time. Great Expectations is imported only when a checkpoint runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import psycopg

from lumbung.config import Paths, PgUrl
from lumbung.quality.batch_state import lock_docs
from lumbung.quality.gx_context import CONNECTION_VARIABLE, DATASOURCE, DOCS_SITE, DOCS_VARIABLE
from lumbung.quality.rules import SuiteSpec

log = logging.getLogger(__name__)


def gx_connection_string(warehouse_url: str) -> str:
    """The SQLAlchemy URL GX needs for a libpq URL (postgresql://user:pw@host:port/db)."""
    return PgUrl.parse(warehouse_url).url("postgresql+psycopg2")


def prepare(context_dir: Path | None, docs_dir: Path | None) -> tuple[Path, Path]:
    """Import GX (seconds: done before taking the gate lock) and resolve the context and docs
    folders; FileNotFoundError when the context is missing."""
    with quiet_gx():
        import great_expectations  # noqa: F401

        import lumbung.quality.one_pass  # noqa: F401

    paths = Paths.from_env()
    context_dir = context_dir or paths.expectations / "gx"
    docs_dir = docs_dir or paths.gx_docs
    if not (context_dir / "great_expectations.yml").is_file():
        # GX would scaffold an empty context there; the gate must not run without its rules.
        raise FileNotFoundError(f"no Great Expectations context in {context_dir}")
    return context_dir, docs_dir


@contextmanager
def quiet_gx() -> Iterator[None]:
    """GX logs hundreds of INFO lines per run; keep task logs to its warnings."""
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def run_checkpoint(
    spec: SuiteSpec,
    connection_string: str,
    context_dir: Path,
    docs_dir: Path,
    bounds: dict[str, int | None],
    run_name: str,
) -> tuple[dict, str | None]:
    """Run the dataset's checkpoint; the suite result as a dict, and the docs index path.

    The data docs are brought up to date after the run, or once at the end of the
    enclosing :func:`one_docs_build` block."""
    from great_expectations.core.run_identifier import RunIdentifier

    from lumbung.quality.one_pass import name_rules

    name_rules(spec.name, spec.rules)
    docs_dir.mkdir(parents=True, exist_ok=True)
    with quiet_gx():
        context = _context(context_dir, docs_dir, connection_string)
        try:
            outcome = context.checkpoints.get(spec.name).run(
                expectation_parameters=dict(bounds), run_id=RunIdentifier(run_name=run_name)
            )
            ((identifier, validation),) = outcome.run_results.items()
        finally:
            context.data_sources.get(DATASOURCE).get_engine().dispose()
    docs = _DocsUpdate(context_dir, docs_dir, connection_string)
    pending = _PENDING_DOCS.get()
    if pending is None:
        with psycopg.connect(PgUrl.parse(connection_string).url(), autocommit=True) as conn:
            lock_docs(conn)
            _build_docs(docs, [identifier], {spec.name}, context)
    else:
        pending.setdefault(docs, ([], set()))
        pending[docs][0].append(identifier)
        pending[docs][1].add(spec.name)
    return validation.to_json_dict(), str(docs_index(docs_dir))


# The context last read, with its key (folders, URL, the context's files' last change):
# reading one parses all its YAML, which took longer than validating a small batch. A
# process gates one warehouse, so one is kept.
_CONTEXT: tuple[tuple, object] | None = None
_CONTEXT_LOCK = threading.Lock()
_CONTEXT_FOLDERS = ("checkpoints", "expectations", "validation_definitions")


def _context_version(context_dir: Path) -> tuple[int, int]:
    """(newest modification, count) of the context's own files: a rewritten context (tests
    and ``expectations/build_context.py`` write it) is read again."""
    files = [context_dir / "great_expectations.yml",
             *(f for folder in _CONTEXT_FOLDERS for f in (context_dir / folder).rglob("*"))]
    stamps = [f.stat().st_mtime_ns for f in files if f.is_file()]
    return max(stamps, default=0), len(stamps)


def _context(context_dir: Path, docs_dir: Path, connection_string: str):
    import great_expectations as gx

    global _CONTEXT
    key = (context_dir.resolve(), docs_dir.resolve(), connection_string,
           _context_version(context_dir))
    with _CONTEXT_LOCK:
        if _CONTEXT is None or _CONTEXT[0] != key:
            _CONTEXT = key, gx.get_context(
                mode="file",
                context_root_dir=context_dir,
                runtime_environment={
                    CONNECTION_VARIABLE: connection_string,
                    DOCS_VARIABLE: str(docs_dir),
                },
            )
        return _CONTEXT[1]


@dataclass(frozen=True)
class _DocsUpdate:
    """Which data docs site a checkpoint run belongs to."""

    context_dir: Path
    docs_dir: Path
    connection_string: str


# Inside ``one_docs_build``: the validations whose pages are still to be rendered, per site.
_PENDING_DOCS: ContextVar[dict[_DocsUpdate, tuple[list, set[str]]] | None] = ContextVar(
    "lumbung_pending_docs", default=None)


def _build_docs(docs: _DocsUpdate, validations: list, suites: set[str], context=None) -> None:
    """Render these validations and suites into the data docs and rebuild its index once
    (the index reads every stored validation, which is what makes a build slow)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    with quiet_gx():
        context = context or _context(docs.context_dir, docs.docs_dir, docs.connection_string)
        context.build_data_docs(
            site_names=[DOCS_SITE],
            resource_identifiers=[*validations,
                                  *(ExpectationSuiteIdentifier(name=s) for s in sorted(suites))],
        )


@contextmanager
def one_docs_build(warehouse_url: str) -> Iterator[None]:
    """Defer the data docs of every checkpoint run in the block to one build at its end: a
    gate or audit of many batches or marts rebuilds the docs index once, not per run. The
    build holds the docs lock, so two gates never write the docs site at once."""
    pending: dict[_DocsUpdate, tuple[list, set[str]]] = {}
    token = _PENDING_DOCS.set(pending)
    try:
        yield
    finally:
        _PENDING_DOCS.reset(token)
        if pending:
            started = time.monotonic()
            try:
                with psycopg.connect(warehouse_url, autocommit=True) as conn:
                    lock_docs(conn)
                    for docs, (validations, suites) in pending.items():
                        _build_docs(docs, validations, suites)
            except Exception as error:  # the verdicts are stored; only the pages are late
                log.warning("data docs not updated (%s); the next gate run renders its own "
                            "validations and the index", error)
            else:
                log.info("data docs: %d validation(s) rendered in %.1fs",
                         sum(len(v) for v, _ in pending.values()), time.monotonic() - started)


def docs_index(docs_dir: Path | None = None) -> Path:
    """Where the data docs index of the gate is (built after every validation)."""
    return (docs_dir or Paths.from_env().gx_docs) / "index.html"

