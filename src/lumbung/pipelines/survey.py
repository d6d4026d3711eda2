"""The Smart Village survey pipeline: land the form exports, gate them, build staging.

Each function is one task of the ``survey`` DAG and is safe to run again:
files already landed are not landed twice, accepted batches are not validated again, and
dbt rebuilds ``stg_survey__responses`` from accepted batches only (latest submission wins).
"""

from lumbung.pipelines.batches import FilePipeline

land, ingest_path, gate, transform, published_counts = FilePipeline.of("survey").tasks()
