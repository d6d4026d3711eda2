"""Source families: where their landing files live and how they map onto raw tables.

``INGEST`` maps the name used by ``lumbung ingest <source> PATH`` to the pipeline function
that lands one file or folder of that source (``module:function``, imported on use); the
same pipeline module's ``gate`` then judges what was landed (``lumbung.ingest``).

``RAW_TABLES`` maps the same names to the module declaring the family's raw tables (its
``RAW_TABLES``), from which ``lumbung.raw_tables`` derives their DDL and gate views.
"""

INGEST: dict[str, str] = {
    "region": "lumbung.pipelines.village_master:ingest_path",
    "survey": "lumbung.pipelines.survey:ingest_path",
    "idm": "lumbung.pipelines.idm:ingest_path",
    "apbdes": "lumbung.pipelines.apbdes:ingest_path",
    "bumdes": "lumbung.pipelines.bumdes:ingest_path",
    "ojk": "lumbung.pipelines.ojk:ingest_path",
    "programmes": "lumbung.pipelines.programmes:ingest_path",
}

RAW_TABLES: dict[str, str] = {
    "region": "lumbung.sources.kemendagri",
    "survey": "lumbung.sources.survey",
    "idm": "lumbung.sources.idm",
    "apbdes": "lumbung.sources.apbdes",
    "bumdes": "lumbung.sources.bumdes",
    "ojk": "lumbung.sources.ojk",
    "programmes": "lumbung.sources.programmes",
}
