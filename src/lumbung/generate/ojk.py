"""OJK financial access reports (XLSX with title rows): access points at the end of each
quarter (Laku Pandai agents per village and bank; bank offices and ATMs per district and
bank) and KUR credit per district, scheme and lender for each quarter.

Agents follow the "one village one agent" programme: most desa have at least one, BRI's
BRILink the most; offices and ATMs cluster in a few districts; KUR goes mostly to the Mikro
scheme.

Defects (``--defects``): a row with an unknown village or district code, a count or amount
that is no number, no bank or lender, a repeated row; a truncated workbook or a sheet sorted
with its header (both reject the file).
"""

from __future__ import annotations

import random
from pathlib import Path

from lumbung.generate import Defect, GenerateContext, Village
from lumbung.generate.exports import write_xlsx
from lumbung.sources.ojk import (
    AGENT_LAYOUT,
    AGENTS_SHEET,
    FOLDER,
    KUR_LAYOUT,
    KUR_SHEET,
    OFFICE_LAYOUT,
    OFFICES_SHEET,
)

SOURCE = "ojk"
AGENT_BANKS = [("BRI", 0.85), ("BNI", 0.35), ("Bank Mandiri", 0.3), ("BSI", 0.12),
               ("Bank Lampung", 0.15)]
OFFICE_BANKS = ["BRI", "BNI", "Bank Mandiri", "BSI", "Bank Lampung", "BCA", "BTN"]
KUR_LENDERS = [("BRI", 0.95), ("BNI", 0.5), ("Bank Mandiri", 0.45), ("BSI", 0.25),
               ("Bank Lampung", 0.2)]
KUR_TICKETS = {"Super Mikro": (3e6, 10e6), "Mikro": (15e6, 90e6), "Kecil": (120e6, 450e6)}
QUARTER_END = {1: 3, 2: 6, 3: 9, 4: 12}


def _labels(layout) -> list[str]:
    return [c.label for c in layout.columns]


def _district_names(ctx: GenerateContext) -> dict[str, str]:
    import csv

    from lumbung.config import Paths

    region = sorted((Paths.from_env().root / "data" / "landing" / "region").glob("edition=*"))[-1]
    names = {}
    for dataset in ("districts", "regencies"):
        (path,) = region.glob(f"*{dataset}*.csv")
        with path.open(encoding="utf-8") as fh:
            names |= {r["code_10"].strip(): " ".join(r["name"].split())
                      for r in csv.DictReader(fh)}
    for village in ctx.villages:  # synthetic districts of --scale copies
        names.setdefault(village.district_code, f"Kecamatan {village.district_code}")
    return names


def _agents(ctx: GenerateContext, villages: list[Village], names: dict[str, str], year: int,
            quarter: int) -> list[list[object]]:
    rows: list[list[object]] = []
    growth = 1 + 0.03 * ((year - 2020) * 4 + quarter)
    for village in villages:
        if village.village_type != "desa":
            continue
        rng = ctx.rng("agents", village.code)
        if rng.random() > 0.78:
            continue
        for bank, share in AGENT_BANKS:
            if rng.random() < share:
                agents = max(1, round(rng.randint(1, 4) * growth))
                rows.append([len(rows) + 1, village.code_dotted, village.name,
                             names.get(village.district_code, ""),
                             names.get(village.regency_code, ""), bank, agents])
    return rows


def _offices(ctx: GenerateContext, districts: list[str], names: dict[str, str], year: int,
             quarter: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for district in districts:
        rng = ctx.rng("offices", district)
        size = rng.random()
        for bank in OFFICE_BANKS:
            if rng.random() > 0.25 + 0.6 * size:
                continue
            branch = 1 if size > 0.85 and bank in ("BRI", "BNI", "Bank Mandiri") else 0
            sub = rng.randint(0, 2) if size > 0.3 else 0
            cash = rng.randint(0, 2)
            atm = rng.randint(0, 3) + 2 * branch + sub + (1 if year * 4 + quarter > 8100 else 0)
            rows.append([len(rows) + 1, f"{district[:2]}.{district[2:4]}.{district[4:]}",
                         names.get(district, ""), names.get(district[:4], ""), bank, branch,
                         sub, cash, atm])
    return rows


def _kur(ctx: GenerateContext, districts: list[str], names: dict[str, str], year: int,
         quarter: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for district in districts:
        base = ctx.rng("kur-size", district).uniform(20, 400)
        for lender, share in KUR_LENDERS:
            rng = ctx.rng("kur", district, lender, year, quarter)
            if rng.random() > share:
                continue
            for scheme, (low, high) in KUR_TICKETS.items():
                weight = {"Super Mikro": 0.25, "Mikro": 0.65, "Kecil": 0.1}[scheme]
                debtors = int(base * weight * share * rng.uniform(0.5, 1.5))
                if debtors == 0:
                    continue
                amount = int(round(debtors * rng.uniform(low, high), -5))
                shown: object = amount if rng.random() < 0.8 else f"{amount:,}".replace(",", ".")
                rows.append([len(rows) + 1, f"{district[:2]}.{district[2:4]}.{district[4:]}",
                             names.get(district, ""), names.get(district[:4], ""), scheme,
                             lender, debtors, shown])
    return rows


def _inject(ctx: GenerateContext, rng: random.Random, rows: list[list[object]], code: int,
            bank: int, counts: list[int], sheet: str) -> list[tuple[int, str, str]]:
    """Row defects in one sheet: (row index, kind, detail)."""
    found: list[tuple[int, str, str]] = []
    kinds = ["unknown_code", "non_numeric", "blank_required", "duplicate_row"]
    for index, kind in ctx.row_defects(rng, rows, kinds):
        row = rows[index]
        if kind == "unknown_code":
            row[code] = "18.20" + str(row[code])[5:]
            detail = f"code {row[code]}"
        elif kind == "non_numeric":
            column = rng.choice(counts)
            row[column] = rng.choice(["tiga", "1.2OO", "n/a", "±5"])
            detail = f"column {column + 1} {row[column]!r}"
        elif kind == "blank_required":
            row[bank] = None
            detail = "bank blank"
        else:
            detail = "row repeated"
        found.append((index, kind, f"sheet {sheet!r}: {detail}"))
    return found


def _write(ctx: GenerateContext, path: Path, title: str,
           sheets: list[tuple[str, list[str], list[list[object]], int, int, list[int]]]) -> None:
    """One report workbook; sheets are (name, header, rows, code col, bank col, count cols)."""
    relative = str(path.relative_to(ctx.out))
    rng = ctx.rng("defects", relative)
    file_defect = ctx.workbook_defect(rng)
    found: list[tuple[int, int, str, str]] = []
    written = []
    for number, (name, header, rows, code, bank, counts) in enumerate(sheets):
        if not file_defect:
            found += [(number, *f) for f in _inject(ctx, rng, rows, code, bank, counts, name)]
        titles: list[list[object]] = [[title], ["Sumber: Otoritas Jasa Keuangan (OJK)"], []]
        if file_defect == "header_below_data" and number == 0:
            titles.append(rows[0])
        written.append((name, titles, header, rows))
    numbers = write_xlsx(path, written)
    for sheet, index, kind, detail in found:
        ctx.manifest.add(Defect(SOURCE, relative, kind, "quarantine", numbers[sheet][index],
                                detail))
    ctx.spoil_workbook(path, file_defect)


def generate(ctx: GenerateContext) -> None:
    names = _district_names(ctx)
    villages = sorted(ctx.villages, key=lambda v: v.code)
    districts = sorted({v.district_code for v in villages})
    for year in ctx.config.years:
        for quarter, month in QUARTER_END.items():
            period = f"{year}-{month:02d}"
            path = (ctx.out / FOLDER / "akses" / f"periode={period}"
                    / f"laporan_akses_keuangan_lampung_{period}.xlsx")
            _write(ctx, path, f"AKSES KEUANGAN PROVINSI LAMPUNG POSISI {period}", [
                (AGENTS_SHEET, _labels(AGENT_LAYOUT),
                 _agents(ctx, villages, names, year, quarter), 1, 5, [6]),
                (OFFICES_SHEET, _labels(OFFICE_LAYOUT),
                 _offices(ctx, districts, names, year, quarter), 1, 4, [5, 6, 7, 8]),
            ])
            label = f"{year}-Q{quarter}"
            path = (ctx.out / FOLDER / "kur" / f"triwulan={label}"
                    / f"penyaluran_kur_kecamatan_{year}Q{quarter}.xlsx")
            _write(ctx, path, f"PENYALURAN KUR PER KECAMATAN TRIWULAN {quarter} {year}", [
                (KUR_SHEET, _labels(KUR_LAYOUT),
                 _kur(ctx, districts, names, year, quarter), 1, 5, [6, 7]),
            ])
