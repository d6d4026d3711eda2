"""A released CSV file converted to Parquet in blocks (memory flat in the mart's size)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lumbung.opendata.metadata import Column, Dataset

BLOCK_BYTES = 4 << 20

_ARROW_TYPES = {
    "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(),
    "double precision": pa.float64(), "real": pa.float32(),
    "boolean": pa.bool_(), "date": pa.date32(),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
}


def arrow_type(column: Column) -> pa.DataType:
    """Arrow type of a released column: numeric(p,s) as decimal, unconstrained numeric as
    float64 (its scale is not fixed), arrays and JSON as their JSON text, the rest as text."""
    if column.is_array:
        return pa.string()
    if column.base_type == "numeric":
        match = re.search(r"\((\d+),(\d+)\)", column.pg_type)
        if match and int(match.group(1)) <= 38:
            return pa.decimal128(int(match.group(1)), int(match.group(2)))
        return pa.float64()
    return _ARROW_TYPES.get(column.base_type, pa.string())


def schema(dataset: Dataset) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=c.nullable,
                               metadata={"description": c.description or ""})
                      for c in dataset.columns],
                     metadata={"description": dataset.description})


def csv_to_parquet(dataset: Dataset, source: Path, target: Path, year_column: str | None = None,
                   code_column: str | None = None
                   ) -> tuple[tuple[int, int] | None, tuple[str, ...]]:
    """Write ``target``; returns the first and last value of ``year_column`` and the
    distinct first four characters of ``code_column`` (the regencies a region code names),
    gathered on the way so that coverage costs no other scan of the mart."""
    target_schema = schema(dataset)
    low = high = None
    regions: set[str] = set()
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
        convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in target_schema},
            # COPY writes NULL as an empty unquoted field and an empty string as ""
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=["true"], false_values=["false"],
        ),
    )
    with pq.ParquetWriter(target, target_schema, compression="zstd") as writer:
        for batch in reader:
            batch = batch.cast(target_schema)
            writer.write_batch(batch)
            if year_column:
                bounds = pc.min_max(batch.column(year_column))
                if bounds["min"].is_valid:
                    low = min(low, bounds["min"].as_py()) if low is not None else bounds[
                        "min"].as_py()
                    high = max(high, bounds["max"].as_py()) if high is not None else bounds[
                        "max"].as_py()
            if code_column:
                prefixes = pc.unique(pc.utf8_slice_codeunits(batch.column(code_column), 0, 4))
                regions.update(p for p in prefixes.to_pylist() if p is not None)
    return ((int(low), int(high)) if low is not None else None), tuple(sorted(regions))
