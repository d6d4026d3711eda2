"""The BUMDes pipeline: land registry pages and yearly reports, gate them, build staging.

Each function is one task of the ``bumdes`` DAG and is safe to run again: files already
landed are not landed twice, accepted batches are not validated again, and dbt rebuilds the
BUMDes staging models from accepted batches only (the latest registry snapshot; per BUMDes
and year the latest report).
"""

from lumbung.pipelines.batches import FilePipeline

land, ingest_path, gate, transform, published_counts = FilePipeline.of("bumdes").tasks()
