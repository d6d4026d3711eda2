"""The bulk path of APBDes landing reads every table exactly as the row-by-row path does.

Each case is read both ways, from the same bytes: the row-by-row path (``csv`` module,
``apbdes.checked_records``) is the reference; the bulk path's CSV chunks are parsed back
with ``csv`` here (PostgreSQL's CSV parser agrees with it on the text the bulk path passes
on; the end-to-end tests in test_apbdes.py land through PostgreSQL). Small blocks make the
cases cross block boundaries. No database: fast.
"""

from __future__ import annotations

import csv
import io
import random

import pytest

import lumbung.sources.apbdes_bulk as bulk_module
from lumbung.sources import apbdes

TABLES = {t.name: t for t in apbdes.SISKEUDES_TABLES}
TBP = TABLES["Ta_TBP"]  # an amount and a date
RAB = TABLES["Ta_RAB"]  # amounts, one of them signed
TBP_HEADER = "Tahun,No_Bukti,Tgl_Bukti,Kd_Desa,Uraian,Jumlah"
RAB_HEADER = "Tahun,Kd_Desa,Kd_Keg,Kd_Rincian,Anggaran,AnggaranPAK,AnggaranStlhPAK"


def _row_by_row(table: apbdes.Table, content: bytes) -> list[tuple]:
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8", errors="surrogateescape",
                            newline="")
    header = apbdes.read_header(text.readline(), table, "t")
    rows = csv.reader(text, delimiter=header.delimiter, strict=False)
    checks = apbdes._Checks(table, header.names)
    return [(r.number, r.values, r.raw, r.problem, r.column, r.value)
            for r in apbdes.checked_records(rows, header.names, checks, header.delimiter)]


def _bulk(table: apbdes.Table, content: bytes, block: int, monkeypatch) -> list[tuple]:
    monkeypatch.setattr(bulk_module, "BLOCK", block)
    line = apbdes._first_line(io.BytesIO(content).readline())
    assert line is not None
    header = apbdes.read_header(line, table, "t", bulk=True)
    part = apbdes._table_part(table, header, lambda: io.BytesIO(content), "t", lambda r: r)
    assert part.chunks is not None
    found = []
    for chunk in part.chunks(42):
        text = io.StringIO(chunk.data.decode("utf-8"), newline="")
        rows = list(csv.reader(text, delimiter=part.delimiter))
        assert len(rows) == chunk.rows
        found += [(int(r[1]), r[2:], "", None, None, None) for r in rows if r[0] == "42"]
        found += [(r.number, r.values, r.raw, r.problem, r.column, r.value)
                  for r in chunk.rejects]
    return sorted(found, key=lambda r: r[0])


def _same(table, content: bytes, monkeypatch, blocks=(8, 64, 1 << 20),
          plain: bool = False) -> list[tuple]:
    """Both paths agree; ``plain``: text the bulk path must read without handing over."""
    if plain:
        def no_handover(*args):
            raise AssertionError("plain CSV handed over to the row-by-row reader")

        monkeypatch.setattr(bulk_module.BulkTable, "_row_by_row", no_handover)
    expected = _row_by_row(table, content)
    for block in blocks:
        assert _bulk(table, content, block, monkeypatch) == expected, block
    return expected


def _tbp(*lines: str, header: str = TBP_HEADER, end: str = "\n") -> bytes:
    return (end.join([header, *lines]) + end).encode()


GOOD = '2024,0001/TBP,22/04/2024,04.2001.,"Swadaya, Gotong Royong","1.690.000,00"'


def test_amounts_and_dates_are_judged_alike(monkeypatch):
    amounts = ['"1.690.000,00"', '"0,00"', "1250000.25", '"1234567,5"', "1.234", '" 5.000,00"',
               "-5", '"-1.000,00"', "", "#VALUE!", '"Rp 1.000"', '"1.25O,00"', '".123,45"',
               '"1234.000,00"', '"12.34,00"', '"1.000.000.000.000.000.000,00"', '"1,5"']
    dates = ["22/04/2024", "29/02/2024", "29/02/2023", "31/04/2024", "00/01/2024",
             "01/13/2024", "01/01/0000", " 01/02/2024", "1/2/2024", "2024-04-22", "",
             '"22/04/2024"']
    lines = [f"2024,{n:04d}/TBP,{d},04.2001.,Uraian,{a}"
             for n, (a, d) in enumerate((a, d) for a in amounts for d in dates[:3])]
    lines += [f"2024,{n:04d}/TBP,{d},04.2001.,Uraian,\"1.000,00\""
              for n, d in enumerate(dates, start=1000)]
    rows = _same(TBP, _tbp(*lines), monkeypatch, plain=True)
    problems = {r[3] for r in rows if r[3]}
    assert {"not a valid date (dd/mm/yyyy)", "missing amount",
            "negative amount (only amounts >= 0 are valid here)"} <= problems
    signed = [f'2024,04.2001.,04.2001.01.,5.1.1.,"1.000,00",{a},"1.000,00"' for a in amounts]
    _same(RAB, (RAB_HEADER + "\n" + "\n".join(signed) + "\n").encode(), monkeypatch,
          plain=True)


def test_repeated_rows_are_found_whatever_their_quoting(monkeypatch):
    again_quoted = GOOD.replace("2024,0001/TBP", '"2024","0001/TBP"')
    other = GOOD.replace("0001", "0002")
    rows = _same(TBP, _tbp(GOOD, GOOD, again_quoted, other, other, GOOD), monkeypatch,
                 plain=True)
    assert [r[3] for r in rows] == [None, "duplicate of the record on line 2",
                                    "duplicate of the record on line 2", None,
                                    "duplicate of the record on line 5", None]
    bad = GOOD.replace('"1.690.000,00"', "x")
    _same(TBP, _tbp(bad, bad, bad, GOOD), monkeypatch, plain=True)


@pytest.mark.parametrize("content", [
    _tbp(GOOD, GOOD.replace("0001", "0002"), end="\r\n"),             # Windows line ends
    _tbp(GOOD, "", GOOD.replace("0001", "0002"), ""),                  # blank lines
    _tbp(GOOD, GOOD.replace("Swadaya", "Swa\ndaya")),                  # a value over two lines
    _tbp(GOOD, GOOD.replace("Swadaya", "Swa\rdaya")),                  # a lone carriage return
    _tbp(GOOD, GOOD.replace("Swadaya", 'Swa""daya')),                  # doubled quotes
    _tbp(GOOD, GOOD.replace('"Swadaya, Gotong Royong"', 'Swa"da"ya')),  # stray quotes
    _tbp(GOOD, GOOD.replace('"Swadaya, Gotong Royong"', 'x"",y')),     # stray quote pair
    _tbp(GOOD, GOOD.replace('"Swadaya, Gotong Royong"', '"a"b"c"')),   # text after a quote
    _tbp(GOOD, GOOD + ",extra", GOOD.replace(",04.2001.", "")),        # wrong field counts
    _tbp(GOOD, GOOD.replace("Swadaya", "Swadaya \u00e9\ufeff")),       # UTF-8, a stray BOM
    _tbp(GOOD).replace(b"Swadaya", b"Swa\xffdaya"),                    # not UTF-8
    _tbp(GOOD).replace(b"Swadaya", b"Swa\x00daya"),                    # NUL
    _tbp(GOOD, GOOD.replace("0001", "0002"), end="\r\n")[:-2],         # no final line end
    _tbp(GOOD, GOOD.replace("0001", "0002"))[:-1] + b"\r\n" + _tbp(GOOD)[len(TBP_HEADER) + 1:],
    _tbp(GOOD.replace(",", ";").replace('";"', ",").replace(";Gotong", ",Gotong"),
         header=TBP_HEADER.replace(",", ";")),                         # ';' delimiter
])
def test_irregular_text_reads_the_same(content, monkeypatch):
    _same(TBP, content, monkeypatch)


def test_random_damage_reads_the_same(monkeypatch):
    """Lines damaged at random (quotes, separators, line ends, bytes that are not UTF-8,
    signs, digits), repeated or requoted: both paths must agree on every row."""
    rng = random.Random(20240501)
    pieces = [b'"', b",", b"\n", b"\r", b"\r\n", b"\xff", b"-", b".", b" ", b"1", b"0",
              b'""', b";", b"/", b"", b"\xc3\xa9", b"\x00"]
    base = [GOOD.replace("0001", f"{n:04d}").replace("22/04", f"{n % 28 + 1:02d}/0{n % 9 + 1}")
            .encode() for n in range(40)]
    for _ in range(150):
        lines = list(base[: rng.randint(1, 40)])
        for _ in range(rng.randint(0, 5)):
            i = rng.randrange(len(lines))
            roll = rng.random()
            if roll < 0.25:
                lines.insert(i, lines[i])
            elif roll < 0.35:
                lines.insert(i, lines[i].replace(b"2024,", b'"2024",', 1))
            else:
                at = rng.randrange(len(lines[i]) + 1)
                lines[i] = lines[i][:at] + rng.choice(pieces) + lines[i][at + rng.randint(0, 2):]
        content = b"\n".join([TBP_HEADER.encode(), *lines]) + rng.choice([b"\n", b"", b"\r\n"])
        _same(TBP, content, monkeypatch, blocks=(rng.choice((16, 100, 1 << 20)),))
