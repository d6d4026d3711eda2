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
# CSV bytes parsed before a row group is written: a row group per block of COPY would
# repeat each column chunk's set-up (dictionary, statistics, compressor) many times over
ROW_GROUP_BYTES = 8 << 20

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


class ParquetSink:
    """Writes a mart to Parquet from blocks of whole CSV records (no header), as COPY hands
    them: each block is parsed as it comes, and a row group written once ``ROW_GROUP_BYTES``
    of them are held, so memory is bounded whatever the mart's size. Gathers the first and
    last value of ``year_column`` and the distinct first four characters of ``code_column``
    (the regencies a region code names) on the way, so coverage costs no other scan of the
    mart."""

    def __init__(self, dataset: Dataset, target: Path, year_column: str | None = None,
                 code_column: str | None = None) -> None:
        self.schema = schema(dataset)
        self.year_column, self.code_column = year_column, code_column
        self.low = self.high = None
        self.regions: set[str] = set()
        self.held: list[pa.Table] = []  # parsed, not yet written
        self.held_bytes = 0
        self.read_options = pacsv.ReadOptions(column_names=self.schema.names,
                                              block_size=BLOCK_BYTES)
        self.convert_options = pacsv.ConvertOptions(
            column_types={f.name: f.type for f in self.schema},
            # COPY writes NULL as an empty unquoted field and an empty string as ""
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=["true"], false_values=["false"],
        )
        # dictionaries pay for text (names, categories repeat); for numbers they cost more
        # time than they save room
        self.writer = pq.ParquetWriter(
            target, self.schema, compression="zstd",
            use_dictionary=[f.name for f in self.schema if pa.types.is_string(f.type)])

    def write(self, block: bytes) -> None:
        table = pacsv.read_csv(pa.py_buffer(block), read_options=self.read_options,
                               convert_options=self.convert_options).cast(self.schema)
        self.held.append(table)
        self.held_bytes += len(block)
        if self.held_bytes >= ROW_GROUP_BYTES:
            self._flush()
        if self.year_column:
            bounds = pc.min_max(table.column(self.year_column))
            if bounds["min"].is_valid:
                low, high = bounds["min"].as_py(), bounds["max"].as_py()
                self.low = low if self.low is None else min(self.low, low)
                self.high = high if self.high is None else max(self.high, high)
        if self.code_column:
            prefixes = pc.unique(pc.utf8_slice_codeunits(
                table.column(self.code_column).combine_chunks(), 0, 4))
            self.regions.update(p for p in prefixes.to_pylist() if p is not None)

    def _flush(self) -> None:
        if self.held:
            self.writer.write_table(pa.concat_tables(self.held))
        self.held, self.held_bytes = [], 0

    def close(self) -> tuple[tuple[int, int] | None, tuple[str, ...]]:
        self._flush()
        self.writer.close()
        years = (int(self.low), int(self.high)) if self.low is not None else None
        return years, tuple(sorted(self.regions))
