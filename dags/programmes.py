"""Development programmes (regency and province SIPD, private CSR) -> raw -> quality gate
-> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

Regencies deliver their SIPD export under
``landing/programmes/sipd/kabupaten=<regency>/tahun=<year>/``, the province under
``landing/programmes/sipd/provinsi/tahun=<year>/``, and the CSR form export arrives under
``landing/programmes/csr/tahun=<year>/``. One batch per file; each row's free-text location
is matched at landing to a current village or district of ``marts.dim_village`` (hence the
wait for the region master), and rows whose location matches nothing or several villages
are quarantined with the candidates. Feeds ``stg_programmes__activities``.

Thin on purpose: each task calls one function of ``lumbung.pipelines.programmes``.
"""

from __future__ import annotations

from airflow.sdk import DAG

from lumbung.dag_factory import source_dag

dag: DAG = source_dag(
    "programmes", __doc__,
    region_master_doc="Wait until the region marts are published with every region batch "
    "released (locations are matched against ``marts.dim_village``): on a first start the "
    "region master runs first, without failing and retrying here.",
)
