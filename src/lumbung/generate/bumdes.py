"""BUMDes registry pages (JSON, as the registry API serves them) and yearly BUMDes reports
(CSV or XLSX per regency, Indonesian number formats).

About 60-80 % of desa (by regency) have a BUMDes; a minority is already a legal entity
(PP 11/2021). The registry is one snapshot at the end of the last year, 100 BUMDes a page.
Each year about 85 % of the BUMDes founded by then report: capital (with the village's
capital participation of the year), assets, turnover, profit (sometimes a loss), contribution
to PADes and the ranking class (Perintis, Pemula, Berkembang, Maju).

The reports and the APBDes describe the same villages (``village_year``): the contribution to
PADes a BUMDes reports is its desa's APBDes 4.1.1 realisation and the capital participation
its 6.2.2 realisation, except for a share (the disagreement rate) of reports whose
contribution disagrees, each listed in the manifest (kind ``pades_disagrees_with_apbdes``,
expect ``flag``: ``mart_bumdes`` flags it). Disagreements go only where the comparison can be
made: into rows and files without a defect, of regency-years whose APBDes file lands.

Defects (``--defects``): registry items with an unknown village code, no name, a founding
date that is no date, or repeated on the page; a page cut short (reject). Report rows with
an unknown village code, a blank id, an amount that is no number, another year, a duplicate,
a row saved in Windows-1252 (CSV); a truncated workbook or a sheet sorted with its header
(XLSX, reject).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta

from lumbung.generate import Defect, GenerateContext, Village
from lumbung.generate.exports import truncate, write_csv, write_xlsx
from lumbung.sources.bumdes import FOLDER, REPORT_COLUMNS

SOURCE = "bumdes"
PER_PAGE = 100
REPORT_LABELS = [c.label for c in REPORT_COLUMNS]
NAMES = ["Maju Jaya", "Sejahtera", "Makmur", "Mandiri", "Berkah", "Karya Bersama",
         "Sinar Harapan", "Sumber Rezeki", "Mitra Usaha", "Bina Usaha", "Jaya Abadi",
         "Tunas Harapan", "Mekar Sari", "Sakai Sambayan", "Nemui Nyimah"]
UNITS = [
    ("Perdagangan", ["Toko Desa", "Unit Sembako", "Pemasaran Hasil Bumi"]),
    ("Jasa Keuangan", ["Unit Simpan Pinjam", "Unit Ekonomi Desa Simpan Pinjam"]),
    ("Jasa Pembayaran", ["Agen BRILink", "Loket PPOB", "Agen Laku Pandai"]),
    ("Pengelolaan Air Bersih", ["SPAM Desa", "Unit Air Bersih"]),
    ("Pariwisata", ["Wisata Air Terjun", "Wisata Pantai", "Desa Wisata"]),
    ("Pertanian", ["Penyewaan Alsintan", "Unit Pupuk", "Pengolahan Kopi"]),
    ("Peternakan", ["Penggemukan Sapi", "Ternak Kambing"]),
    ("Persewaan", ["Sewa Tenda dan Kursi", "Sewa Gedung"]),
    ("Pengelolaan Sampah", ["Bank Sampah"]),
]
STATUSES = [("Berbadan Hukum", 0.3), ("Nama Terverifikasi", 0.25), ("Perbaikan Dokumen", 0.15),
            ("Belum Terdaftar", 0.3)]
FORMATS = ("csv_semicolon", "csv", "xlsx", "xlsx_text")


def _weighted(rng: random.Random, choices: list[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _bumdes(ctx: GenerateContext, village: Village, snapshot: date) -> dict[str, object]:
    rng = ctx.rng("registry", village.code)
    founded = date(rng.choice([2010, 2013, *range(2015, 2023)]), rng.randint(1, 12),
                   rng.randint(1, 28))
    status = _weighted(rng, STATUSES)
    certified = None
    if status == "Berbadan Hukum":
        first = date(2021, 8, 1)  # legal-entity certificates exist from then on
        certified = first + timedelta(days=rng.randint(0, max(0, (snapshot - first).days)))
        if certified > snapshot:
            certified = None
    units = []
    for kind, names in rng.sample(UNITS, k=rng.choice([0, 1, 1, 1, 2, 2, 3, 4])):
        units.append({"nama": rng.choice(names), "jenis": kind})
    name = rng.choice(NAMES)
    return {
        "id": int(village.code + "01"),
        "nama": f"BUMDes {name}" if rng.random() < 0.7 else f"BUMDes {name} {village.name}",
        "kode_desa": village.code,
        "nama_desa": village.name,
        "status_badan_hukum": status,
        "nomor_sertifikat": (f"AHU-{rng.randint(1, 99999):05d}.AH.01.33.Tahun {certified.year}"
                             if certified else None),
        "tanggal_sertifikat": certified.isoformat() if certified else None,
        "tanggal_berdiri": founded.isoformat(),
        "nomor_perdes": f"Perdes No. {rng.randint(1, 12)} Tahun {founded.year}",
        "unit_usaha": units,
    }


def _has_bumdes(ctx: GenerateContext, village: Village) -> bool:
    if village.village_type != "desa":
        return False  # a kelurahan has no village budget, hence no BUMDes
    share = 0.6 + 0.2 * ctx.rng("share", village.regency_code).random()
    return ctx.rng("has", village.code).random() < share


def _registry(ctx: GenerateContext) -> list[dict[str, object]]:
    snapshot = date(max(ctx.config.years), 12, 31)
    return [_bumdes(ctx, village, snapshot)
            for village in sorted(ctx.villages, key=lambda v: v.code)
            if _has_bumdes(ctx, village)]


@dataclass(frozen=True)
class VillageYear:
    """What a desa's BUMDes report and its APBDes share for a year, in rupiah."""

    contribution: int  # Kontribusi PADes = APBDes 4.1.1 realisation
    participation: int  # Penyertaan Modal Desa = APBDes 6.2.2 realisation


def _reports(ctx: GenerateContext, item: dict[str, object], year: int) -> bool:
    """Whether the BUMDes reports for the year: founded by then, and 85 % of those."""
    return (int(str(item["tanggal_berdiri"])[:4]) <= year
            and ctx.rng("reports", item["id"], year).random() < 0.85)


def village_year(ctx: GenerateContext, village: Village, year: int) -> VillageYear | None:
    """The figures a desa's BUMDes reports for the year, as any source's generator sees them;
    None when the desa has no BUMDes reporting that year."""
    ctx = ctx.as_source(SOURCE)
    if not _has_bumdes(ctx, village):
        return None
    item = _bumdes(ctx, village, date(year, 12, 31))  # the snapshot only dates certificates
    if not _reports(ctx, item, year):
        return None
    report = _report(ctx, item, year)
    return VillageYear(int(report["Kontribusi PADes (Rp)"]),
                       int(report["Penyertaan Modal Desa (Rp)"]))


def _write_registry(ctx: GenerateContext, items: list[dict[str, object]]) -> None:
    snapshot = f"{max(ctx.config.years)}-12-31"
    folder = ctx.out / FOLDER / "registry" / f"snapshot={snapshot}"
    folder.mkdir(parents=True, exist_ok=True)
    pages = [items[i:i + PER_PAGE] for i in range(0, len(items), PER_PAGE)]
    for number, chunk in enumerate(pages, start=1):
        path = folder / f"bumdes_page_{number:03d}.json"
        relative = str(path.relative_to(ctx.out))
        rng = ctx.rng("page-defects", number)
        data = [dict(item) for item in chunk]
        truncated = ctx.inject(rng)
        found: list[tuple[int, str, str]] = []
        kinds = ["unknown_village", "blank_required", "bad_date", "duplicate_row"]
        for index, kind in [] if truncated else ctx.row_defects(rng, data, kinds):
            item = data[index]
            if kind == "unknown_village":
                item["kode_desa"] = "1820" + str(item["kode_desa"])[4:]
                detail = f"kode_desa {item['kode_desa']}"
            elif kind == "blank_required":
                item["nama"] = ""
                detail = "nama empty"
            elif kind == "bad_date":
                item["tanggal_berdiri"] = "31-02-2019"
                detail = "tanggal_berdiri 31-02-2019"
            else:
                detail = f"item {index} repeated (paging glitch)"
            found.append((index + 1, kind, detail))
        page = {"page": number, "per_page": PER_PAGE, "total": len(items),
                "total_pages": len(pages), "data": data}
        path.write_text(json.dumps(page, ensure_ascii=False) + "\n", encoding="utf-8")
        for item_number, kind, detail in found:
            ctx.manifest.add(Defect(SOURCE, relative, kind, "quarantine", item_number, detail))
        if truncated:
            truncate(path)
            ctx.manifest.add(Defect(SOURCE, relative, "truncated_json", "reject",
                                    detail="page cut short"))


# --- yearly reports ------------------------------------------------------------------------


def _rupiah(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _report(ctx: GenerateContext, item: dict[str, object], year: int) -> dict[str, object]:
    rng = ctx.rng("report", item["id"], year)
    age = year - int(str(item["tanggal_berdiri"])[:4])
    # the desa's capital participation of the year (its APBDes 6.2.2), in about a third of years
    participation = rng.randrange(20_000, 150_001) * 1000 if rng.random() < 0.3 else 0
    capital = max(round(rng.uniform(30e6, 300e6) * (1 + 0.25 * age), -5), participation)
    assets = round(capital * rng.uniform(0.8, 1.8), -3)
    turnover = round(assets * rng.uniform(0.1, 1.5), -3)
    profit = round(turnover * rng.uniform(-0.08, 0.22), -3)
    contribution = round(max(profit, 0) * rng.uniform(0.1, 0.4), -3)
    if assets > 1e9 and profit > 50e6:
        ranking = "Maju"
    elif assets > 400e6 and profit > 0:
        ranking = "Berkembang"
    elif turnover > 50e6:
        ranking = "Pemula"
    else:
        ranking = "Perintis"
    return {
        "ID BUMDes": str(item["id"]),
        "Nama BUMDes": item["nama"],
        "Kode Desa": str(item["kode_desa"]),
        "Nama Desa": item["nama_desa"],
        "Tahun Laporan": str(year),
        "Modal (Rp)": int(capital),
        "Penyertaan Modal Desa (Rp)": int(participation),
        "Aset (Rp)": int(assets),
        "Omzet (Rp)": int(turnover),
        "Laba (Rp)": int(profit),
        "Kontribusi PADes (Rp)": int(contribution),
        "Klasifikasi": ranking if rng.random() < 0.9 else ranking.upper(),
    }


def _cells(row: dict[str, object], number: int, form: str) -> list[object]:
    """A report row as the regency's file holds it: numbers as Indonesian text in CSV and in
    text-typed sheets ("Rp 1.234.567,-" now and then), numeric cells otherwise."""
    cells: list[object] = []
    for label in REPORT_LABELS:
        value = number if label == "No" else row.get(label, "")
        if isinstance(value, int) and label != "No" and form != "xlsx":
            text = _rupiah(value)
            value = f"Rp {text},-" if form == "xlsx_text" else (
                text + ",00" if form == "csv" else text)
        cells.append(value)
    return cells


def _inject_report_rows(ctx: GenerateContext, rows: list[dict[str, object]], regency: str,
                        year: int, csv_file: bool) -> list[tuple[int, str, str]]:
    rng = ctx.rng("report-defects", regency, year)
    kinds = ["unknown_village", "blank_required", "non_numeric_amount", "other_year",
             "duplicate_row"] + (["wrong_encoding"] if csv_file else [])
    found: list[tuple[int, str, str]] = []
    for index, kind in ctx.row_defects(rng, rows, kinds):
        row = rows[index]
        if kind == "unknown_village":
            row["Kode Desa"] = "1820" + str(row["Kode Desa"])[4:]
            detail = f"Kode Desa {row['Kode Desa']}"
        elif kind == "blank_required":
            column = rng.choice(["ID BUMDes", "Kode Desa"])
            row[column] = ""
            detail = f"{column} blank"
        elif kind == "non_numeric_amount":
            column = rng.choice(["Omzet (Rp)", "Laba (Rp)", "Aset (Rp)"])
            row[column] = rng.choice(["belum diaudit", "1.25O.000", "n/a"])
            detail = f"{column} {row[column]!r}"
        elif kind == "other_year":
            row["Tahun Laporan"] = str(year - 1)
            detail = f"Tahun Laporan {year - 1} in the {year} report"
        elif kind == "wrong_encoding":
            row["Nama BUMDes"] = "BUMDes Ma\u2019mur"  # right quote: byte 0x92 in cp1252
            detail = "row saved in Windows-1252"
        else:
            detail = "row repeated"
        found.append((index, kind, detail))
    return found


def _disagree(ctx: GenerateContext, rows: list[dict[str, object]],
              found: list[tuple[int, str, str]], year: int) -> list[tuple[int, str]]:
    """Make the contribution of some rows disagree with the APBDes, far beyond the
    reconciliation's tolerance (Rp 100.000 or 5 %); rows with a defect (and the original of a
    repeated row) are left alone. Returns (row index, detail)."""
    touched = {i for i, _, _ in found} | {i - 1 for i, k, _ in found if k == "duplicate_row"}
    result = []
    for index, row in enumerate(rows):
        rng = ctx.rng("disagreement", row["ID BUMDes"], year)
        if index in touched or not ctx.disagree(rng):
            continue
        booked = int(row["Kontribusi PADes (Rp)"])  # type: ignore[call-overload]
        if booked >= 2_000_000 and rng.random() < 0.5:
            reported = booked // 2000 * 1000  # half of it
        else:
            reported = booked + max(500_000, round(booked * rng.uniform(0.3, 1.0), -3))
        row["Kontribusi PADes (Rp)"] = reported
        result.append((index, f"Kode Desa {row['Kode Desa']}: Kontribusi PADes {reported} "
                              f"against APBDes 4.1.1 {booked}"))
    return result


def _write_reports(ctx: GenerateContext, items: list[dict[str, object]]) -> None:
    from lumbung.generate import apbdes  # which APBDes files land (it reads village_year)

    by_regency: dict[str, list[dict[str, object]]] = {}
    for item in items:
        by_regency.setdefault(str(item["kode_desa"])[:4], []).append(item)
    for year in ctx.config.years:
        folder = ctx.out / FOLDER / "laporan" / f"tahun={year}"
        for regency, members in sorted(by_regency.items()):
            rows = [_report(ctx, item, year) for item in members if _reports(ctx, item, year)]
            if not rows:
                continue
            rng = ctx.rng("report-file", regency, year)
            form = rng.choice(FORMATS)
            is_csv = form.startswith("csv")
            path = folder / f"laporan_bumdes_{regency}_{year}.{'csv' if is_csv else 'xlsx'}"
            relative = str(path.relative_to(ctx.out))
            file_defect = None if is_csv else ctx.workbook_defect(rng)
            found = [] if file_defect else _inject_report_rows(ctx, rows, regency, year, is_csv)
            disagreeing = ([] if file_defect or not apbdes.lands(ctx, regency, year)
                           else _disagree(ctx, rows, found, year))
            cells = [_cells(r, n, form) for n, r in enumerate(rows, start=1)]
            if is_csv:
                numbers = write_csv(path, REPORT_LABELS, cells,
                                    delimiter=";" if form == "csv_semicolon" else ",",
                                    cp1252_rows=frozenset(i for i, k, _ in found
                                                          if k == "wrong_encoding"))
            else:
                titles: list[list[object]] = [
                    [f"LAPORAN KINERJA BUMDES TAHUN {year}"],
                    [f"Kabupaten/Kota kode {regency[:2]}.{regency[2:]}"], []]
                if file_defect == "header_below_data":
                    titles.append(cells[0])
                (numbers,) = write_xlsx(path, [("Laporan BUMDes", titles, REPORT_LABELS,
                                                cells)])
            for index, kind, detail in found:
                ctx.manifest.add(Defect(SOURCE, relative, kind, "quarantine", numbers[index],
                                        detail))
            for index, detail in disagreeing:
                ctx.manifest.add(Defect(SOURCE, relative, "pades_disagrees_with_apbdes", "flag",
                                        numbers[index], detail))
            ctx.spoil_workbook(path, file_defect)


def generate(ctx: GenerateContext) -> None:
    items = _registry(ctx)
    # Reports come from the registry as it stands, before registry defects are injected.
    _write_reports(ctx, [dict(i) for i in items])
    _write_registry(ctx, items)
