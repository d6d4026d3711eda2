"""Source families' readers, and where ``lumbung ingest`` and the raw DDL find them.

``INGEST`` maps the name used by ``lumbung ingest <source> PATH`` to the pipeline function
that lands one file or folder of that source (``module:function``, imported on use); the
same pipeline module's ``gate`` then judges what was landed (``lumbung.ingest``).

``RAW_TABLES`` maps the same names to the module declaring the family's raw tables (its
``RAW_TABLES``), from which ``lumbung.raw_tables`` derives their DDL and gate views.
Both are derived from the families' declarations (``lumbung.families``).
"""

from lumbung.families import FAMILIES

INGEST: dict[str, str] = {f.name: f"{f.pipeline_module}:ingest_path" for f in FAMILIES}
RAW_TABLES: dict[str, str] = {f.name: f.reader_module for f in FAMILIES}
