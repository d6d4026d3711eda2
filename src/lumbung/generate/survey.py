"""Smart Village survey exports: one form-tool export per regency and year, CSV or XLSX.

Only desa answer (a kelurahan has no BPD, Perdes or APBDes). About 9 in 10 respond; some
submit again later with corrected answers (resubmissions, the latest wins in staging). The
answers are typed by hand: "Ya", "ya ", "YA", "tdk", "ada", "-", blanks, counts with units
("12 kali"), populations with thousand dots ("3.456"), and now and then an answer no
mapping can read ("rencana 2025"), which staging must flag rather than guess.

Defects (``--defects``): an unknown village code, a blank timestamp or village code, the
year of another survey, an exact duplicate row, a row saved in Windows-1252 (CSV), and for
XLSX files a truncated file or a sheet sorted with its header (both reject the file).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from lumbung.generate import Defect, GenerateContext, Village
from lumbung.generate.exports import write_csv, write_xlsx
from lumbung.sources.survey import COLUMNS, FOLDER

SOURCE = "survey"
LABELS = [c.label for c in COLUMNS]

YES = ["Ya", "Ya", "Ya", "ya", "YA", "Ya ", "ya ", "Iya", "ada", "Ada", "Sudah"]
NO = ["Tidak", "Tidak", "tidak", "TIDAK", "tdk", "Tdk", "Belum", "belum ada", "Tidak ada"]
UNANSWERED = ["", "-"]
UNREADABLE = ["Sedang proses", "rencana 2025", "?", "dalam pengembangan"]
SYSTEMS = ["OpenSID", "OpenSID", "opensid", "Open SID", "OpenSid ", "SIDeKa", "Sideka",
           "Prodeskel", "Digides", "SID Berdaya"]
NO_SYSTEM = ["Tidak ada", "-", "belum ada", "Belum"]
PUBLISHED = ["Papan informasi", "papan", "Baliho", "Online", "Website desa",
             "Papan dan online", "papan & website", "Ya"]
LOCAL_TERM = {"1804": "Pekon", "1806": "Pekon", "1813": "Pekon", "1812": "Tiyuh",
              "1808": "Kampung", "1805": "Kampung", "1802": "Kampung"}
ROLES = ["Kepala {t}", "Sekretaris {t}", "Operator {t}", "Kaur Perencanaan"]
FORMATS = ("csv", "csv_semicolon", "xlsx", "xlsx_report")


def _yes_no(rng: random.Random, p_yes: float) -> str:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(UNANSWERED)
    if roll < 0.04:
        return rng.choice(UNREADABLE)
    return rng.choice(YES) if rng.random() < p_yes else rng.choice(NO)


def _count(rng: random.Random, low: int, high: int, unit: str) -> str:
    value = rng.randint(low, high)
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(["", "-"])
    if roll < 0.03:
        return rng.choice(["dua belas", "tidak tahu", "+/- 10"])
    return f"{value} {unit}" if roll < 0.25 else str(value)


def _population(rng: random.Random) -> str:
    value = rng.randint(700, 9000)
    roll = rng.random()
    if roll < 0.02:
        return f"± {round(value, -3)}"
    if roll < 0.45:
        return f"{value:,}".replace(",", ".")
    if roll < 0.55:
        return f"{value:,} jiwa".replace(",", ".")
    return str(value)


def _answers(rng: random.Random, village: Village, year: int) -> dict[str, object]:
    """One village's honest answers; ``maturity`` makes them hang together."""
    maturity = rng.random()
    term = "Kelurahan" if village.village_type == "kelurahan" else LOCAL_TERM.get(
        village.regency_code, "Desa")
    website = rng.random() < 0.15 + 0.6 * maturity
    if website and rng.random() < 0.8:
        slug = village.name.lower().replace(" ", "")
        url = f"https://{slug}.desa.id" if rng.random() < 0.7 else f"{slug}-desa.id"
    else:
        url = ""
    roll = rng.random()
    if roll < 0.05:
        system = rng.choice([*UNREADABLE[:2], "Aplikasi kabupaten"])
    elif rng.random() < 0.3 + 0.6 * maturity:
        system = rng.choice(SYSTEMS)
    else:
        system = rng.choice(NO_SYSTEM)
    published = rng.choice(PUBLISHED) if rng.random() < 0.5 + 0.45 * maturity else rng.choice(
        ["Tidak", "Belum", "-"])
    return {
        "Kode Desa": village.code_dotted if rng.random() < 0.8 else village.code,
        "Nama Desa": village.name if rng.random() < 0.85 else village.name.upper(),
        "Tahun": str(year),
        "Jabatan Responden": rng.choice(ROLES).format(t=term),
        "Apakah desa memiliki website?": rng.choice(YES) if website else _yes_no(rng, 0.05),
        "Alamat website desa": url,
        "Sistem informasi desa yang digunakan": system,
        "Layanan surat online": _yes_no(rng, 0.1 + 0.7 * maturity),
        "APBDes dipublikasikan (papan/online)": published,
        "Jumlah rapat BPD": _count(rng, 2, 14, "kali"),
        "Jumlah Perdes": _count(rng, 0, 9, "perdes"),
        "Pembayaran digital di kantor desa": _yes_no(rng, 0.05 + 0.5 * maturity),
        "Akses internet di kantor desa": _yes_no(rng, 0.4 + 0.55 * maturity),
        "Jumlah penduduk": _population(rng),
    }


def _submissions(ctx: GenerateContext, regency: str, members: list[Village], year: int,
                 names: dict[str, str]) -> list[dict[str, object]]:
    """The responses of one regency, in submission order, with resubmissions."""
    rng = ctx.rng("responses", regency, year)
    opened = datetime(year, 7, 1, 8, 0, 0)
    rows = []
    for village in members:
        if village.village_type != "desa" or rng.random() > 0.9:
            continue
        answers = _answers(ctx.rng("answers", village.code, year), village, year)
        submitted = opened + timedelta(seconds=rng.randint(0, 75 * 86400))
        rows.append({**answers, "Timestamp": submitted, "Kecamatan": names[village.code],
                     "Kabupaten/Kota": names[regency]})
        if rng.random() < 0.06:  # corrected later: a resubmission with changed answers
            again = _answers(ctx.rng("again", village.code, year), village, year)
            later = submitted + timedelta(days=rng.randint(1, 20), minutes=rng.randint(1, 600))
            rows.append({**again, "Timestamp": later, "Kecamatan": names[village.code],
                         "Kabupaten/Kota": names[regency]})
    rows.sort(key=lambda r: r["Timestamp"])
    return rows


def _row(answers: dict[str, object], as_text: bool) -> list[object]:
    """Values in form order; CSV exports write timestamps in the Indonesian locale, XLSX
    exports as date-time cells, and leave unanswered questions empty."""
    values: list[object] = []
    for label in LABELS:
        value = answers.get(label, "")
        if isinstance(value, datetime) and as_text:
            value = value.strftime("%d/%m/%Y %H:%M:%S")
        values.append(None if value == "" and not as_text else value)
    return values


def _inject_rows(ctx: GenerateContext, rows: list[dict[str, object]], regency: str, year: int,
                 csv_file: bool) -> list[tuple[int, str, str]]:
    """Turn some rows into defects; return (row index, kind, detail) for each."""
    rng = ctx.rng("defects", regency, year)
    kinds = ["unknown_village", "blank_required", "other_year", "duplicate_row"]
    if csv_file:
        kinds.append("wrong_encoding")
    injected: list[tuple[int, str, str]] = []
    for index, kind in ctx.row_defects(rng, rows, kinds):
        row = rows[index]
        if kind == "unknown_village":
            row["Kode Desa"] = "18.20." + str(row["Kode Desa"]).replace(".", "")[4:6] + "." + (
                str(row["Kode Desa"]).replace(".", "")[6:])
            detail = f"Kode Desa {row['Kode Desa']} (no regency 18.20 in Lampung)"
        elif kind == "blank_required":
            column = rng.choice(["Timestamp", "Kode Desa"])
            row[column] = ""
            detail = f"{column} blank"
        elif kind == "other_year":
            row["Tahun"] = str(year - 1)
            detail = f"Tahun {year - 1} in the {year} survey"
        elif kind == "wrong_encoding":
            row["Jabatan Responden"] = "Kaur Umum \u2013 Plt."  # en dash: byte 0x96 in cp1252
            detail = "row saved in Windows-1252"
        else:
            detail = "exact copy of the previous row"
        injected.append((index, kind, detail))
    return injected


def generate(ctx: GenerateContext) -> None:
    by_regency: dict[str, list[Village]] = {}
    for village in ctx.villages:
        by_regency.setdefault(village.regency_code, []).append(village)
    names = _area_names(ctx)
    for year in ctx.config.years:
        folder = ctx.out / FOLDER / f"tahun={year}"
        for regency, members in sorted(by_regency.items()):
            rows = _submissions(ctx, regency, members, year, names)
            if not rows:
                continue
            rng = ctx.rng("file", regency, year)
            form = rng.choice(FORMATS)
            file_defect = ctx.workbook_defect(rng) if form.startswith("xlsx") else None
            stem = f"survei_smart_village_{year}_{regency}"
            path = folder / f"{stem}.{'xlsx' if form.startswith('xlsx') else 'csv'}"
            relative = str(path.relative_to(ctx.out))
            injected = [] if file_defect else _inject_rows(ctx, rows, regency, year,
                                                          csv_file=form.startswith("csv"))
            numbers = _write(path, form, rows, regency, year, names,
                             encoding_rows={i for i, k, _ in injected if k == "wrong_encoding"},
                             header_below_data=file_defect == "header_below_data")
            for index, kind, detail in injected:
                ctx.manifest.add(Defect(SOURCE, relative, kind, "quarantine", numbers[index],
                                        detail))
            ctx.spoil_workbook(path, file_defect)


def _write(path: Path, form: str, rows: list[dict[str, object]], regency: str, year: int,
           names: dict[str, str], encoding_rows: set[int], header_below_data: bool) -> list[int]:
    if form.startswith("csv"):
        return write_csv(path, LABELS, [_row(r, as_text=True) for r in rows],
                         delimiter=";" if form == "csv_semicolon" else ",",
                         bom=form == "csv_semicolon", cp1252_rows=frozenset(encoding_rows))
    body = [_row(r, as_text=False) for r in rows]
    titles: list[list[object]] = []
    sheet = "Form Responses 1"
    if form == "xlsx_report":
        sheet = "Rekap"
        titles = [[f"REKAPITULASI SURVEI SMART VILLAGE TAHUN {year}"],
                  [names[regency]], ["Sumber: formulir daring Dinas PMD Provinsi Lampung"], []]
    if header_below_data:
        titles = [*titles, body[0]]  # the first response ended up above the header
    (numbers,) = write_xlsx(path, [(sheet, titles, LABELS, body)])
    return numbers


def _area_names(ctx: GenerateContext) -> dict[str, str]:
    """District name per village code and regency name per regency code, for the export."""
    import csv

    from lumbung.config import Paths

    region = sorted((Paths.from_env().root / "data" / "landing" / "region").glob("edition=*"))[-1]
    districts = _names(region, "districts", csv)
    regencies = _names(region, "regencies", csv)
    names: dict[str, str] = {}
    for village in ctx.villages:
        names[village.code] = districts.get(village.district_code, "")
        names[village.regency_code] = regencies.get(village.regency_code, "")
    return names


def _names(region: Path, dataset: str, csv_module) -> dict[str, str]:
    (path,) = region.glob(f"*{dataset}*.csv")
    with path.open(encoding="utf-8") as fh:
        return {r["code_10"].strip(): " ".join(r["name"].split())
                for r in csv_module.DictReader(fh)}
