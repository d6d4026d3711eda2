"""dbt's ``manifest.json`` as Lumbung reads it: the lineage that a publication records
(:func:`lumbung.publish.mart_sources`), the tests and titles that a release describes its
marts with (:mod:`lumbung.opendata.metadata`).

A manifest is megabytes of JSON of which a few fields are read: it is decoded into typed
structs (msgspec), which skip the rest unparsed.
"""

from __future__ import annotations

import msgspec

from lumbung.config import Paths


class TestMetadata(msgspec.Struct):
    name: str | None = None
    kwargs: dict = {}


class Node(msgspec.Struct):
    """A model, seed, test or other node of the manifest."""

    unique_id: str
    resource_type: str
    name: str
    alias: str | None = None
    schema: str | None = None
    meta: dict = {}
    fqn: list[str] = []
    tags: list[str] = []
    test_metadata: TestMetadata | None = None  # tests: which generic test, its arguments
    attached_node: str | None = None  # tests: the model they test
    column_name: str | None = None

    @property
    def table(self) -> str:
        """The relation dbt builds it as."""
        return self.alias or self.name


class Source(msgspec.Struct):
    source_name: str


class Manifest(msgspec.Struct):
    nodes: dict[str, Node] = {}
    sources: dict[str, Source] = {}
    parent_map: dict[str, list[str]] = {}


def read(paths: Paths) -> Manifest | None:
    """The manifest the last dbt build wrote (None: none has)."""
    file = paths.dbt_target / "manifest.json"
    if not file.exists():
        return None
    return msgspec.json.decode(file.read_bytes(), type=Manifest)
