"""Smart Village survey exports -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

The province's yearly self-assessment of each village arrives as form-tool exports (CSV or
XLSX) under ``landing/survey/tahun=<year>/``. One batch per file; rows without a usable
timestamp or village code are quarantined; staging keeps the latest submission per village
and year and flags answers it cannot interpret. Thin on purpose: each task calls one
function of ``lumbung.pipelines.survey``.
"""

from __future__ import annotations

from airflow.sdk import DAG

from lumbung.dag_factory import source_dag

dag: DAG = source_dag("survey", __doc__)
