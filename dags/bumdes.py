"""BUMDes registry pages and yearly reports -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

The Kemendesa BUMDes registry arrives as paged JSON (one file per API page) under
``landing/bumdes/registry/snapshot=<date>/``, the yearly BUMDes reports (capital, village
capital participation, assets, turnover, profit, PADes contribution, ranking class) as CSV
or XLSX per regency under ``landing/bumdes/laporan/tahun=<year>/``. One batch per file; items
and rows that cannot be used are quarantined. Publishes ``stg_bumdes__registry``,
``stg_bumdes__units`` and ``stg_bumdes__annual_reports``. Thin on purpose: each task calls
one function of ``lumbung.pipelines.bumdes``.
"""

from __future__ import annotations

from airflow.sdk import DAG

from lumbung.dag_factory import source_dag

dag: DAG = source_dag("bumdes", __doc__)
