"""APBDes (village budgets and realisation) -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

Regencies deliver one file per fiscal year under ``landing/apbdes/<year>/``: their Siskeudes
export (``siskeudes_<regency>_<year>.zip``, one batch filling every Siskeudes table) or the
flat template (``apbdes_<regency>_<year>.csv|xlsx``), and resubmit corrected files during
the year (``..._rev1``), hence the daily schedule; unchanged files load nothing.

Staging (``stg_apbdes__budget_lines``, ``stg_apbdes__realisation_lines``) uses the latest
accepted submission of each regency and year. One regency's bad file does not hold back the
others: staging is built from the accepted files, then ``check_files`` fails the run naming
every file that was rejected or stopped by the gate (that regency keeps its previous
submission). Needs the region master (DAG ``region``): the gate checks every desa code
against ``marts.dim_village``.

Thin on purpose: each task calls one function of ``lumbung.pipelines.apbdes``.
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from lumbung.dag_factory import source_dag


@task(retries=0, trigger_rule="none_failed")
def check_files(gated: dict) -> dict:
    """Fail the run if any file was rejected or failed the gate, naming each."""
    from lumbung.pipelines.apbdes import check

    return check(gated)


dag: DAG = source_dag(
    "apbdes", __doc__,
    gate_doc="Great Expectations checkpoint per batch; failures are reported by check_files.",
    region_master_doc="Wait until the region marts are published with every region batch "
    "released (the gate checks each desa code against ``marts.dim_village``; the files land "
    "meanwhile): on a first start the region master runs first, without failing and "
    "retrying here.",
    region_master_read_by="gate",
    verdict=check_files,
)
