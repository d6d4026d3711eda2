"""A released CSV file converted to Parquet in blocks (memory flat in the mart's size)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
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


def csv_to_parquet(dataset: Dataset, source: Path, target: Path) -> None:
    target_schema = schema(dataset)
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
            writer.write_batch(batch.cast(target_schema))
