"""The heavy libraries every task's process imports, loaded once in a process that forks
the tasks' processes: ``lumbung run`` before it forks its DAGs' processes, and the
scheduler of ``lumbung airflow``, whose LocalExecutor workers fork a process per task."""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

# the quality gate's (Great Expectations, pandas) and the landing's; none imports Airflow,
# whose configuration must be set first
MODULES = ("great_expectations", "pandas", "lumbung.quality.gate", "lumbung.landing")


def preload() -> None:
    """Import :data:`MODULES`; a module that cannot be imported is left to the tasks."""
    for module in MODULES:
        try:
            importlib.import_module(module)
        except ImportError:  # a lighter install: each process imports what it uses
            log.debug("preload of %s skipped", module, exc_info=True)
