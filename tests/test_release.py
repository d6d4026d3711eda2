"""Open data release: every publication is written out as CSV and Parquet with a Frictionless
Data Package, a DCAT catalog and BPS metadata that standard tools read without error."""

from __future__ import annotations

import csv
import json
import os

import pytest
from conftest import REPO, build_and_publish, ensure_village_master, run_dag

from lumbung.opendata.metadata import datasets, undocumented_columns
from lumbung.opendata.release import ReleaseRefused, releases_dir, write_release


@pytest.fixture(scope="module")
def release(warehouse, paths):
    """The release the IDM marts' publication wrote (region master published first)."""
    ensure_village_master(warehouse)
    assert str(run_dag("idm").state) == "success"
    build_and_publish(paths, warehouse, "+mart_idm", "+mart_idm_inconsistencies")
    latest = releases_dir(paths) / "latest"
    assert latest.is_symlink(), "the publication wrote no release"
    return latest.resolve()


def _marts(db) -> dict[str, int]:
    tables = [r[0] for r in db.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' "
        "order by 1")]
    return {t: db.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}


def _publication(db) -> int:
    return db.execute("select max(publication_id) from audit.publications").fetchone()[0]


def test_publication_writes_every_mart_with_its_row_count(release, db):
    import pyarrow.parquet as pq

    marts = _marts(db)
    assert {"dim_region", "dim_village", "mart_idm"} <= set(marts)
    assert release.name == str(_publication(db))
    manifest = json.loads((release / "release.json").read_text())
    assert set(manifest["marts"]) == set(marts)
    for mart, rows in marts.items():
        with open(release / f"{mart}.csv", newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            assert sum(1 for _ in reader) == rows, mart
        parquet = pq.ParquetFile(release / f"{mart}.parquet")
        assert parquet.metadata.num_rows == rows, mart
        assert parquet.schema_arrow.names == header
        assert manifest["marts"][mart]["rows"] == rows
    # no temporary folder left behind
    assert not [p for p in release.parent.iterdir()
                if p.name.startswith(".") and p.name != ".lock"]


def test_data_package_validates_with_frictionless(release, db):
    from frictionless import Package, validate

    report = validate(release / "datapackage.json")
    errors = report.flatten(["title", "rowNumber", "fieldName", "note"])
    assert report.valid, errors[:20]
    package = Package(release / "datapackage.json")
    assert sorted(r.name for r in package.resources) == sorted(_marts(db))
    by_name = {r.name: r for r in package.resources}
    # keys and links to the region marts come from the contracts and the region code columns
    assert by_name["dim_region"].schema.primary_key
    assert by_name["mart_idm"].schema.primary_key
    linked = {fk["reference"]["resource"] for fk in by_name["mart_idm"].schema.foreign_keys}
    assert linked & {"dim_region", "dim_village"}
    assert package.licenses and package.licenses[0]["name"] == "CC-BY-4.0"
    sources = " ".join(s["title"] for s in package.sources)
    assert "Kemendagri" in sources and "IDM" in sources
    assert all((release / s["path"]).is_file() for s in package.sources)  # copied along
    for resource in package.resources:
        assert resource.description, resource.name
        assert all(f.description for f in resource.schema.fields), resource.name


def test_catalog_has_one_dcat_dataset_per_mart(release, db):
    from rdflib import Graph
    from rdflib.namespace import DCAT, DCTERMS, RDF

    graph = Graph().parse(release / "catalog.jsonld", format="json-ld")
    found = set(graph.subjects(RDF.type, DCAT.Dataset))
    assert len(found) == len(_marts(db))
    for dataset in found:
        distributions = list(graph.objects(dataset, DCAT.distribution))
        formats = {str(graph.value(d, DCTERMS["format"])).rsplit("/", 1)[-1]
                   for d in distributions}
        assert {"CSV", "PARQUET", "JSON"} <= formats, dataset
        assert all(graph.value(d, DCAT.accessURL) for d in distributions)
        assert graph.value(dataset, DCTERMS.license) is not None, dataset
        assert graph.value(dataset, DCTERMS.modified) is not None, dataset
        assert graph.value(dataset, DCTERMS.title) is not None, dataset
    idm = next(d for d in found if str(d).endswith("/datasets/mart_idm"))
    assert graph.value(idm, DCTERMS.spatial) is not None  # the regencies it covers
    catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogs) == 1
    assert set(graph.objects(catalogs[0], DCAT.dataset)) == found


def test_bps_metadata_covers_every_indicator_and_variable(release, db, paths):
    document = json.loads((release / "bps_metadata.json").read_text())
    with open(REPO / "dbt_project" / "seeds" / "ref_indicator_catalogue.csv",
              newline="", encoding="utf-8") as fh:
        catalogue = {(r["methodology_version"], r["indicator_id"]) for r in csv.DictReader(fh)}
    forms = {(f["methodology_version"], f["indicator_id"]): f for f in document["ms_ind"]}
    assert set(forms) == catalogue
    assert all(f["definition"] and f["formula"] and f["unit"] and f["source"]
               for f in forms.values())
    released = {(d.name, c.name) for d in datasets(db, paths) for c in d.columns}
    assert {(f["dataset"], f["variable"]) for f in document["ms_var"]} == released
    page = (release / "metadata.html").read_text()
    assert "<script" not in page and "MS-Ind" in page
    assert all(f"MS-Var: {mart}" in page for mart in _marts(db))


def test_an_undocumented_column_is_never_released(release, db, warehouse, paths, tmp_path):
    assert undocumented_columns(datasets(db, paths)) == []
    db.execute("create table marts.zz_undocumented (village_code text primary key, secret text)")
    try:
        db.execute("comment on table marts.zz_undocumented is 'probe'")
        db.execute("comment on column marts.zz_undocumented.village_code is 'a code'")
        with pytest.raises(ReleaseRefused, match=r"zz_undocumented\.secret"):
            write_release(paths, warehouse, out=tmp_path / "out")
        assert not (tmp_path / "out").exists()
        assert not [p for p in tmp_path.iterdir()]  # its temporary folder removed too
    finally:
        db.execute("drop table marts.zz_undocumented")


def test_release_command_rewrites_the_latest_and_refuses_an_older_one(release, db, tmp_path):
    from lumbung.cli import main

    before = os.readlink(release.parent / "latest")
    assert main(["release", "--out", str(tmp_path / "copy")]) == 0
    copied = json.loads((tmp_path / "copy" / "release.json").read_text())
    assert copied == json.loads((release / "release.json").read_text())
    assert main(["release"]) == 0  # the same release written again, in place
    assert os.readlink(release.parent / "latest") == before
    assert (release / "datapackage.json").exists()
    assert main(["release", "--publication", str(_publication(db) + 1)]) == 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a release")
    assert main(["release", "--out", str(tmp_path / "mine")]) == 1  # never replaced
    assert (tmp_path / "mine" / "notes.txt").exists()


def test_run_summary_names_the_release_folder(release, paths, warehouse):
    from lumbung.runner import summarise

    summary = summarise(paths, warehouse, [])
    assert summary.release == str(release)
    assert f"Open data release: {release}" in summary.render()


def test_marts_written_at_once_share_one_snapshot(release, db, warehouse, paths, tmp_path,
                                                 monkeypatch):
    """Marts are written two at a time, on two connections: both read the snapshot of the
    release's transaction, so rows committed after it began are in no file."""
    import time

    import psycopg

    from lumbung.opendata import release as writer

    probes = [f"zz_snapshot_{n}" for n in range(4)]
    for probe in probes:
        db.execute(f"create table marts.{probe} (village_code text primary key)")
        db.execute(f"comment on table marts.{probe} is 'probe'")
        db.execute(f"comment on column marts.{probe}.village_code is 'a code'")
        db.execute(f"insert into marts.{probe} select g::text from generate_series(1, 10) g")
    used, write_mart = {}, writer._write_mart

    def slow(connection, dataset, *args):
        used[dataset.name] = id(connection)
        time.sleep(0.2)  # the other stream takes the next mart meanwhile
        return write_mart(connection, dataset, *args)

    monkeypatch.setattr(writer, "_write_mart", slow)
    try:
        with psycopg.connect(warehouse.url()) as conn, \
                psycopg.connect(warehouse.url()) as other:
            writer._begin(conn)
            described = [d for d in datasets(conn, paths) if d.name in probes]
            for probe in probes:  # committed after the release's snapshot was taken
                db.execute(f"insert into marts.{probe} select 'late ' || g "
                           "from generate_series(1, 5) g")
            files = writer._write_marts(conn, [other], described, tmp_path)
        assert [f.rows for f in files] == [10] * 4
        for probe in probes:
            lines = (tmp_path / f"{probe}.csv").read_text().splitlines()
            assert len(lines) == 11 and not [line for line in lines if "late" in line]
        assert len(set(used.values())) == 2, used
    finally:
        for probe in probes:
            db.execute(f"drop table marts.{probe}")


def test_parquet_row_groups_hold_every_block_in_order(tmp_path, monkeypatch):
    """Blocks are held until ROW_GROUP_BYTES of CSV, then written as one row group; the
    file reads back as every row of every block, in order, with its coverage."""
    import pyarrow.parquet as pq

    from lumbung.opendata import parquet
    from lumbung.opendata.metadata import Column, Dataset

    monkeypatch.setattr(parquet, "ROW_GROUP_BYTES", 400)
    dataset = Dataset("mart_probe", "probe", (
        Column("village_code", "text", False, "a code"),
        Column("year", "integer", False, "a year"),
        Column("score", "numeric(7,4)", True, "a score")), ("village_code", "year"))
    rows = [(f"18{n:08d}", 2021 + n % 4, None if n % 7 == 0 else f"0.{n:04d}")
            for n in range(60)]
    sink = parquet.ParquetSink(dataset, tmp_path / "probe.parquet", "year", "village_code")
    for start in range(0, len(rows), 7):  # blocks of 7 rows (about 150 bytes)
        sink.write("".join(f"{code},{year},{score or ''}\n"
                           for code, year, score in rows[start:start + 7]).encode())
    years, regions = sink.close()
    written = pq.ParquetFile(tmp_path / "probe.parquet")
    assert 1 < written.num_row_groups < len(range(0, len(rows), 7))
    table = written.read()
    assert [(code, year, None if score is None else str(score))
            for code, year, score in zip(*(table.column(c).to_pylist()
                                           for c in table.column_names), strict=True)] == rows
    assert years == (2021, 2024) and regions == ("1800",)
