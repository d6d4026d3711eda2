"""OJK financial access reports -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

The monthly access report (XLSX: Laku Pandai agents per village and bank, bank offices and
ATMs per district and bank) arrives under ``landing/ojk/akses/periode=<yyyy-mm>/``, the
quarterly KUR report per district under ``landing/ojk/kur/triwulan=<yyyy>-Q<n>/``. One batch
per file (an access report fills two raw tables); rows that cannot be used are quarantined.
Feeds ``stg_ojk__access_points`` and ``stg_ojk__kur_district_quarter``. Thin on
purpose: each task calls one function of ``lumbung.pipelines.ojk``.
"""

from __future__ import annotations

from airflow.sdk import DAG

from lumbung.dag_factory import source_dag

dag: DAG = source_dag("ojk", __doc__)
