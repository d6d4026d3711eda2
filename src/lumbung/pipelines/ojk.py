"""The OJK financial access pipeline: land access and KUR reports, gate them, build staging.

Each function is one task of the ``ojk`` DAG and is safe to run again:
files already landed are not landed twice, accepted batches are not validated again, and dbt
rebuilds the OJK staging models from accepted batches only (per month or quarter, the latest
delivered report).
"""

from lumbung.pipelines.batches import FilePipeline

land, ingest_path, gate, transform, published_counts = FilePipeline.of("ojk").tasks()
