"""APBDes landing files: for each regency and fiscal year, its desa's budgets and realisation.

Most regencies deliver their Siskeudes export, ``apbdes/<year>/siskeudes_<regency>_<year>.zip``
(CSV tables ``Ref_*``/``Ta_*`` in Siskeudes' layout, amounts as ``1.234.567,00``); Mesuji
sends the flat template as CSV (``;``-separated with a byte-order mark, as Excel writes it)
and Pesisir Barat as XLSX (``apbdes_<regency>_<year>.csv|xlsx``). The first Siskeudes regency
also sends a corrected resubmission for the last year (``..._rev1.zip``): about a quarter of
its desa have a revised budget and realisation there.

Every desa gets a balanced budget in rupiah (revenue + financing receipts = spending +
financing expenditure): Dana Desa Rp 0.7-1.5 billion, ADD, tax sharing, PADes, transfers from
province and regency in some; spending by bidang 1-5 over kegiatan of the Permendagri 20/2018
chart (``dbt_project/seeds/ref_apbdes_accounts.csv``); SiLPA (6.1.1) in most. BUMDes income
(4.1.1) and capital participation into the BUMDes (6.2.2) are those of the desa's BUMDes
report (``lumbung.generate.bumdes.village_year``): 4.1.1 realises exactly the contribution
the BUMDes reports, 6.2.2 the participation, in every submission, and no row defect touches
those lines, so the BUMDes reconciliation finds only the disagreements injected on purpose.
Realisation is dated through the year (Dana Desa in three tranches, ADD quarterly, salaries
quarterly, projects paid directly (SPP LS) or through an advance and its accountability
report (SPP UM, SPJ)); most desa realise less than their budget.

With ``--defects``, rows get unreadable or negative amounts and repeated lines (quarantined),
and whole files get cut off, lose a column or name an unknown desa (not accepted); format
quirks a reader must tolerate (a ``;``-separated member, a byte-order mark) are listed too,
with ``expect="accept"``. For a zip, a defect's ``detail`` starts with the member name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import multiprocessing
import os
import random
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lumbung.config import Paths
from lumbung.generate import Defect, GenerateContext, Manifest, Village, bumdes
from lumbung.sources.apbdes import FLAT_TABLE, SISKEUDES_TABLES, Table

SOURCE = "apbdes"
FLAT_CSV_REGENCIES = frozenset({"1811"})  # Mesuji
FLAT_XLSX_REGENCIES = frozenset({"1813"})  # Pesisir Barat
REVISED_SHARE = 0.25  # desa whose figures change in a resubmission
# Files are few and rows many: a file-level defect is this many times likelier than a row's.
FILE_DEFECT_FACTOR = 20
ROW_DEFECT_TABLES = ("Ta_RABRinci", "Ta_TBPRinci", "Ta_SPPRinci", "Ta_SPJRinci",
                     "Ta_JurnalUmumRinci", "flat")
REVENUE_KEG = "00.00.00."  # Siskeudes' kegiatan part of revenue and financing lines
LOCAL_TERM = {"1804": "Pekon", "1806": "Pekon", "1813": "Pekon", "1812": "Tiyuh",
              "1802": "Kampung", "1805": "Kampung", "1808": "Kampung"}
# Export column order where it differs from the reader's (required, optional) order.
EXPORT_ORDER = {
    "Ta_TBP": ("Tahun", "No_Bukti", "Tgl_Bukti", "Kd_Desa", "Uraian", "Nm_Penyetor",
               "Alamat_Penyetor", "TTD_Penyetor", "NoRek_Bank", "Nama_Bank", "Jumlah",
               "Nm_Bendahara", "Jbt_Bendahara", "Status", "KdBayar", "Ref_Bayar"),
    "Ta_SPJRinci": ("Tahun", "No_SPJ", "Kd_Keg", "Kd_Rincian", "Sumberdana", "Kd_Desa",
                    "No_SPP", "JmlCair", "Nilai", "Alamat", "Sisa"),
}
FIRST_NAMES = ("Suparman", "Heri", "Rusdi", "Marzuki", "Sumarni", "Agus", "Slamet", "Nurhayati",
               "Bambang", "Yusuf", "Siti", "Hendra", "Rohmat", "Wayan", "Ketut", "Iwan",
               "Junaidi", "Herman", "Sri", "Mulyadi", "Nyoman", "Zulkarnain", "Fitri", "Darmawan")
LAST_NAMES = ("Santoso", "Saputra", "Wijaya", "Hidayat", "Setiawan", "Gunawan", "Pratama",
              "Kurniawan", "Susanto", "Rahman", "Effendi", "Hasibuan", "Sembiring", "Putra",
              "Lestari", "Anwar", "Syahputra", "Yulianto")

# Revenue: (objek, description, funding source, share of villages, low, high) in rupiah.
PADES_BUMDES = ("4.1.1.01.", "Bagi Hasil BUMDes", "PAD")  # amounts from the BUMDes report
CROSS_CHECKED = ("4.1.1", "6.2.2")  # accounts the BUMDes reconciliation compares: no defects
REVENUE = (
    ("4.1.2.01.", "Hasil Pengelolaan Tanah Kas Desa", "PAD", 0.40, 5_000_000, 40_000_000),
    ("4.1.3.01.", "Swadaya, Partisipasi dan Gotong Royong", "PAD", 0.10, 2_000_000, 15_000_000),
    ("4.2.1.01.", "Dana Desa", "DDS", 1.0, 700_000_000, 1_500_000_000),
    ("4.2.2.01.", "Bagi Hasil Pajak dan Retribusi Daerah", "PBH", 1.0, 15_000_000, 80_000_000),
    ("4.2.3.01.", "Alokasi Dana Desa", "ADD", 1.0, 250_000_000, 700_000_000),
    ("4.2.4.01.", "Bantuan Keuangan dari APBD Provinsi", "PBP", 0.15, 25_000_000, 100_000_000),
    ("4.2.5.01.", "Bantuan Keuangan APBD Kabupaten", "PBK", 0.20, 20_000_000, 150_000_000),
    ("4.3.6.01.", "Bunga Bank", "DLL", 0.60, 500_000, 5_000_000),
)
SILPA = ("6.1.1.01.", "SILPA Tahun Sebelumnya", 0.80, 5_000_000, 150_000_000)
CAPITAL = ("6.2.2.01.", "Penyertaan Modal Desa kepada BUM Desa")  # from the BUMDes report


@dataclass(frozen=True)
class Kegiatan:
    """A kind of activity: its chart code, how often desa budget it, its weight in spending,
    its spending objects (objek code, description, unit) and funding source."""

    code: str  # ID_Keg, e.g. 01.01.01.
    share: float
    weight: float
    objects: tuple[tuple[str, str, str], ...]
    source: str = "DDS"
    monthly: bool = False  # paid every month (salaries, allowances): settled quarterly


# Recurring salaries and allowances are budgeted by every desa; the rest by a share of them.
# Weights put governance (bidang 1) near 30 % of spending and development (2) near 40 %.
KEGIATAN = (
    Kegiatan("01.01.01.", 1.0, 3.0, (("5.1.1.01.", "Penghasilan Tetap Kepala Desa", "Bulan"),
                                     ("5.1.1.02.", "Tunjangan Kepala Desa", "Bulan")),
             "ADD", monthly=True),
    Kegiatan("01.01.02.", 1.0, 9.0, (("5.1.2.01.", "Penghasilan Tetap Perangkat Desa", "Bulan"),
                                      ("5.1.2.02.", "Tunjangan Perangkat Desa", "Bulan")),
             "ADD", monthly=True),
    Kegiatan("01.01.03.", 1.0, 1.0, (("5.1.3.01.", "Jaminan Kesehatan Kepala Desa dan Perangkat",
                                      "Bulan"),), "ADD", monthly=True),
    Kegiatan("01.01.04.", 1.0, 2.5, (("5.2.1.01.", "Belanja Alat Tulis Kantor", "Paket"),
                                     ("5.2.3.01.", "Perjalanan Dinas Dalam Kabupaten", "OH"),
                                     ("5.2.5.01.", "Belanja Langganan Listrik dan Air", "Bulan")),
             "ADD"),
    Kegiatan("01.01.05.", 1.0, 2.5, (("5.1.4.01.", "Tunjangan Kedudukan BPD", "Bulan"),),
             "ADD", monthly=True),
    Kegiatan("01.01.06.", 1.0, 1.0, (("5.2.1.01.", "Belanja Alat Tulis Kantor BPD", "Paket"),
                                     ("5.2.2.01.", "Honorarium Rapat BPD", "OK")), "ADD"),
    Kegiatan("01.01.07.", 1.0, 2.0, (("5.2.2.01.", "Insentif Ketua RT/RW", "OB"),),
             "ADD", monthly=True),
    Kegiatan("01.02.02.", 0.4, 1.5, (("5.2.6.01.", "Pemeliharaan Gedung Kantor Desa", "Paket"),),
             "PBH"),
    Kegiatan("01.04.01.", 1.0, 0.8, (("5.2.2.02.", "Honorarium Narasumber Musrenbangdes", "OJ"),
                                     ("5.2.1.01.", "Belanja Cetak dan Penggandaan", "Paket")),
             "ADD"),
    Kegiatan("01.04.04.", 1.0, 0.8, (("5.2.2.01.", "Honorarium Tim Penyusun APBDes", "OB"),
                                     ("5.2.1.01.", "Belanja Cetak Dokumen APBDes", "Paket")),
             "ADD"),
    Kegiatan("01.04.08.", 0.5, 1.0, (("5.2.2.01.", "Honorarium Operator Sistem Informasi Desa",
                                      "OB"),
                                     ("5.3.2.01.", "Pengadaan Komputer dan Printer", "Unit")),
             "DDS"),
    Kegiatan("02.01.01.", 0.7, 2.5, (("5.2.2.01.", "Honorarium Guru PAUD", "OB"),
                                     ("5.2.7.01.", "Alat Permainan Edukatif PAUD", "Paket"))),
    Kegiatan("02.02.02.", 0.9, 3.0, (("5.2.7.01.", "Makanan Tambahan Balita dan Ibu Hamil",
                                      "Paket"),
                                     ("5.2.2.01.", "Insentif Kader Posyandu", "OB"))),
    Kegiatan("02.03.10.", 0.85, 26.0, (("5.3.5.01.", "Pembangunan Jalan Rabat Beton", "Meter"),
                                       ("5.2.2.01.", "Upah Tenaga Kerja Padat Karya", "HOK"))),
    Kegiatan("02.03.14.", 0.4, 6.0, (("5.3.5.01.", "Pembangunan Gorong-gorong dan Drainase",
                                      "Unit"),)),
    Kegiatan("02.04.11.", 0.35, 8.0, (("5.3.8.01.", "Pembangunan Sumur Bor dan Jaringan Air Bersih",
                                       "Unit"),)),
    Kegiatan("02.04.13.", 0.25, 5.0, (("5.3.7.01.", "Pembangunan Saluran Pembuangan Air Limbah",
                                       "Meter"),)),
    Kegiatan("02.06.02.", 0.3, 0.5, (("5.2.7.01.", "Baliho Informasi APBDes", "Unit"),)),
    Kegiatan("02.06.91.", 0.25, 2.0, (("5.3.8.01.", "Jaringan Internet Kantor Desa", "Paket"),
                                      ("5.2.2.01.", "Honorarium Pengelola Website Desa", "OB"))),
    Kegiatan("03.01.01.", 0.6, 1.5, (("5.2.2.01.", "Insentif Anggota Linmas", "OB"),), "ADD"),
    Kegiatan("03.02.03.", 0.5, 1.0, (("5.2.7.01.", "Peringatan HUT RI Tingkat Desa", "Paket"),),
             "PBH"),
    Kegiatan("03.03.03.", 0.4, 1.0, (("5.2.7.01.", "Turnamen Olahraga Antar Dusun", "Paket"),),
             "PBH"),
    Kegiatan("03.04.03.", 0.9, 1.5, (("5.2.7.01.", "Pembinaan PKK", "Paket"),
                                     ("5.2.3.01.", "Perjalanan Dinas Kader PKK", "OH")), "ADD"),
    Kegiatan("04.02.03.", 0.85, 10.0, (("5.2.7.01.", "Bibit dan Sarana Ketahanan Pangan",
                                        "Paket"),)),
    Kegiatan("04.03.02.", 0.6, 1.5, (("5.2.3.01.", "Bimtek Peningkatan Kapasitas Perangkat", "OH"),
                                     ("5.2.2.02.", "Honorarium Narasumber Pelatihan", "OJ")),
             "ADD"),
    Kegiatan("04.05.01.", 0.3, 1.0, (("5.2.2.02.", "Pelatihan Manajemen UMKM", "OJ"),)),
    Kegiatan("04.06.02.", 0.5, 1.5, (("5.2.2.02.", "Pelatihan Pengelola BUM Desa", "OJ"),
                                     ("5.2.7.01.", "Sarana Usaha BUM Desa", "Paket"))),
    Kegiatan("05.01.01.", 0.4, 2.0, (("5.4.1.01.", "Penanggulangan Bencana Skala Desa",
                                      "Paket"),)),
    Kegiatan("05.03.01.", 0.75, 8.0, (("5.4.1.01.", "Bantuan Langsung Tunai Dana Desa", "KPM"),),
             monthly=True),
)


# --- the plan of one desa ------------------------------------------------------------------


@dataclass
class Item:
    """One budget line (Ta_RABRinci): amounts in rupiah, before and after the budget change."""

    keg: str  # ID_Keg part, REVENUE_KEG for revenue and financing
    rincian: str
    sub: str
    no: str
    uraian: str
    source: str
    unit: str
    qty: int
    price: int
    anggaran: int
    final: int  # AnggaranStlhPAK


@dataclass
class Receipt:  # revenue received (Ta_TBP + Ta_TBPRinci)
    date: dt.date
    rincian: str
    source: str
    amount: int
    uraian: str


@dataclass
class Payment:  # spending paid (Ta_SPP + Ta_SPPRinci; an advance also Ta_SPJ + Ta_SPJRinci)
    date: dt.date
    kind: str  # LS: paid directly, UM: advance accounted for by an SPJ
    keg: str
    lines: list[tuple[str, str, int]]  # (rincian, source, amount realised)
    returned: list[int] = field(default_factory=list)  # UM: unspent advance per line
    spj_date: dt.date | None = None


@dataclass
class Journal:  # financing (Ta_JurnalUmum + Ta_JurnalUmumRinci)
    date: dt.date
    rincian: str
    amount: int
    receipt: bool  # 6.1 financing receipt (credit) or 6.2 expenditure (debit)
    uraian: str


@dataclass
class VillagePlan:
    village: Village
    items: list[Item]
    kegiatan: list[tuple[str, int, int, str]]  # (ID_Keg, pagu, pagu after change, source)
    receipts: list[Receipt]
    payments: list[Payment]
    journals: list[Journal]

    @property
    def kd_desa(self) -> str:
        """Siskeudes desa code: district part and Kemendagri village part, e.g. 04.2001."""
        return f"{self.village.code[4:6]}.{self.village.code[6:]}."


def _thousands(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` (a multiple of 1000) by weights into multiples of 1000, exactly."""
    units = total // 1000
    raw = [units * w / sum(weights) for w in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: units - sum(parts)]:
        parts[i] += 1
    return [p * 1000 for p in parts]


def _amount(rng: random.Random, low: int, high: int) -> int:
    return rng.randrange(low // 1000, high // 1000 + 1) * 1000


def _date(rng: random.Random, year: int, months: tuple[int, ...]) -> dt.date:
    return dt.date(year, rng.choice(months), rng.randint(1, 28))


def plan_village(ctx: GenerateContext, village: Village, year: int, revision: int) -> VillagePlan:
    """Budget and realisation of one desa; a resubmission revises some desa, not all."""
    salt = "rev0"
    if revision and ctx.rng(year, village.code, "revised").random() < REVISED_SHARE:
        salt = f"rev{revision}"
    rng = ctx.rng(year, village.code, salt)
    items: list[Item] = []
    revenue_total = 0
    shared = bumdes.village_year(ctx, village, year)
    contribution = shared.contribution if shared else 0
    if contribution:  # budgeted near what the BUMDes then pays, the same in every submission
        budget = _amount(ctx.rng(year, village.code, "pades"), contribution * 4 // 5,
                         contribution * 5 // 4) or contribution
        revenue_total += budget
        items.append(Item(REVENUE_KEG, PADES_BUMDES[0], "01", "01", PADES_BUMDES[1],
                          PADES_BUMDES[2], "Tahun", 1, budget, budget, budget))
    for rincian, uraian, source, share, low, high in REVENUE:
        if rng.random() < share:
            amount = _amount(rng, low, high)
            revenue_total += amount
            items.append(Item(REVENUE_KEG, rincian, "01", "01", uraian, source, "Tahun", 1,
                              amount, amount, amount))
    silpa = _amount(rng, *SILPA[3:]) if rng.random() < SILPA[2] else 0
    capital = shared.participation if shared else 0
    for (rincian, uraian, *_), amount in ((SILPA, silpa), (CAPITAL, capital)):
        if amount:
            items.append(Item(REVENUE_KEG, rincian, "01", "01", uraian, "DLL", "Tahun", 1,
                              amount, amount, amount))
    spending = revenue_total + silpa - capital
    chosen = [k for k in KEGIATAN if rng.random() < k.share]
    amounts = _thousands(spending, [k.weight * rng.uniform(0.6, 1.4) for k in chosen])
    spend_items: list[tuple[Kegiatan, list[Item]]] = []
    for keg, total in zip(chosen, amounts, strict=True):
        lines: list[Item] = []
        for obj_total, (rincian, uraian, unit) in zip(
            _thousands(total, [rng.uniform(0.5, 1.5) for _ in keg.objects]), keg.objects,
            strict=True,
        ):
            lines += _object_items(rng, keg, rincian, uraian, unit, obj_total, len(lines))
        spend_items.append((keg, lines))
        items += lines
    if rng.random() < 0.35:  # a budget change (APBDes Perubahan) moves money between lines
        _budget_change(rng, [i for i in items if i.keg != REVENUE_KEG and i.qty == 1])
    kegiatan = [
        (keg.code, sum(i.anggaran for i in lines), sum(i.final for i in lines), keg.source)
        for keg, lines in spend_items
    ]
    receipts = _receipts(rng, year, [i for i in items if i.rincian.startswith("4.")],
                         contribution)
    payments = _payments(rng, year, spend_items)
    journals = []
    if silpa:
        journals.append(Journal(_date(rng, year, (1,)), SILPA[0], silpa, True,
                                f"Penerimaan SiLPA Tahun {year - 1}"))
    if capital:
        journals.append(Journal(_date(rng, year, (5, 6, 7, 8, 9, 10)), CAPITAL[0], capital,
                                False, "Penyertaan Modal Desa kepada BUM Desa"))
    return VillagePlan(village, items, kegiatan, receipts, payments, journals)


def _object_items(
    rng: random.Random, keg: Kegiatan, rincian: str, uraian: str, unit: str, total: int,
    start: int,
) -> list[Item]:
    """One spending object as one or two budget lines (quantity x price, then a package)."""
    if keg.monthly or (total >= 20_000_000 and rng.random() < 0.5):
        qty = 12 if keg.monthly else rng.choice((2, 4, 5, 10, 20, 50, 100))
        price = (total // qty // 1000) * 1000
        first = Item(keg.code, rincian, "01", f"{start + 1:02d}", uraian, keg.source, unit, qty,
                     price, qty * price, qty * price)
        rest = total - qty * price
        if rest == 0:
            return [first]
        return [first, Item(keg.code, rincian, "01", f"{start + 2:02d}", f"{uraian} (lainnya)",
                            keg.source, "Paket", 1, rest, rest, rest)]
    return [Item(keg.code, rincian, "01", f"{start + 1:02d}", uraian, keg.source, "Paket", 1,
                 total, total, total)]


def _budget_change(rng: random.Random, packages: list[Item]) -> None:
    """Move up to 20 % of one package line's budget to another (totals stay balanced)."""
    if len(packages) < 2:
        return
    give, take = rng.sample(packages, 2)
    moved = (int(give.anggaran * rng.uniform(0.05, 0.2)) // 1000) * 1000
    give.final -= moved
    take.final += moved
    give.price, take.price = give.final, take.final


def _receipts(rng: random.Random, year: int, revenue: list[Item],
              contribution: int) -> list[Receipt]:
    """Revenue received: Dana Desa in three tranches, ADD quarterly, the BUMDes contribution
    exactly in two halves, the rest in one or two."""
    late = rng.random() < 0.12  # the last Dana Desa tranche has not arrived
    receipts = []
    for item in revenue:
        if item.rincian == PADES_BUMDES[0]:
            first = contribution // 2000 * 1000
            for amount, when in ((first, (4, 5, 6)), (contribution - first, (10, 11, 12))):
                if amount > 0:
                    receipts.append(Receipt(_date(rng, year, when), item.rincian, item.source,
                                            amount, f"Penerimaan {item.uraian}"))
            continue
        if item.rincian == "4.2.1.01.":
            shares, months = [0.4, 0.4, 0.2], [(3, 4, 5), (6, 7, 8), (9, 10, 11)]
            if late:
                shares, months = shares[:2], months[:2]
        elif item.rincian == "4.2.3.01.":
            shares, months = [0.25] * 4, [(2,), (5,), (8,), (11,)]
        elif item.rincian.startswith("4.1."):
            got = rng.uniform(0.6, 1.1)
            shares, months = [got / 2, got / 2], [(4, 5, 6), (10, 11, 12)]
        elif item.rincian == "4.3.6.01.":
            shares, months = [0.25] * 4, [(3,), (6,), (9,), (12,)]
        else:
            shares, months = [rng.choice((1.0, 1.0, 1.0, 0.0))], [(6, 7, 8, 9, 10)]
        for share, when in zip(shares, months, strict=True):
            amount = int(item.final * share) // 1000 * 1000
            if amount > 0:
                receipts.append(Receipt(_date(rng, year, when), item.rincian, item.source, amount,
                                        f"Penerimaan {item.uraian}"))
    return receipts


def _payments(
    rng: random.Random, year: int, spend_items: list[tuple[Kegiatan, list[Item]]]
) -> list[Payment]:
    """Spending paid: monthly items settled each quarter, projects in one or two payments."""
    roll = rng.random()  # most desa spend most of their budget, some lag behind
    if roll < 0.8:
        absorption = rng.uniform(0.85, 0.99)
    elif roll < 0.95:
        absorption = rng.uniform(0.55, 0.85)
    else:
        absorption = rng.uniform(0.3, 0.55)
    payments: list[Payment] = []
    for keg, lines in spend_items:
        by_object: dict[tuple[str, str], int] = {}
        for item in lines:
            key = (item.rincian, item.source)
            by_object[key] = by_object.get(key, 0) + item.final
        if keg.monthly:  # settled each quarter; a lagging desa has not settled the last
            share = rng.uniform(0.97, 1.0)
            quarters: list[tuple[int, ...]] = [(3,), (6,), (9,), (12,)]
            if absorption < 0.55:
                share, quarters = 0.75, quarters[:3]
        else:
            if rng.random() > absorption + 0.1:
                continue  # not carried out this year
            share = min(1.0, absorption * rng.uniform(0.9, 1.08))
            late = absorption < 0.7
            quarters = [(9, 10, 11, 12) if late else (4, 5, 6, 7, 8, 9, 10, 11)]
            if rng.random() < 0.3:
                quarters = [(4, 5, 6, 7), (8, 9, 10, 11, 12)]
        realised = {k: int(v * share) // 1000 * 1000 for k, v in by_object.items()}
        splits = {k: _thousands(v, [1.0] * len(quarters)) if v else [0] * len(quarters)
                  for k, v in realised.items()}
        for n, months in enumerate(quarters):
            lines_paid = [(r, s, splits[(r, s)][n]) for (r, s) in realised if splits[(r, s)][n]]
            if not lines_paid:
                continue
            date = _date(rng, year, months)
            if keg.monthly or rng.random() < 0.6:
                payments.append(Payment(date, "LS", keg.code, lines_paid))
            else:
                returned = [rng.choice((0, 0, 0, int(a * 0.03) // 1000 * 1000))
                            for _, _, a in lines_paid]
                spj = min(date + dt.timedelta(days=rng.randint(7, 30)), dt.date(year, 12, 31))
                payments.append(Payment(date, "UM", keg.code, lines_paid, returned, spj))
    payments.sort(key=lambda p: p.date)
    return payments


# --- formats -------------------------------------------------------------------------------


def idr(amount: int) -> str:
    """Rupiah in Indonesian notation: 1234567 -> 1.234.567,00."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,}".replace(",", ".") + ",00"


def _day(date: dt.date | None) -> str:
    return f"{date.day:02d}/{date.month:02d}/{date.year}" if date else ""


def file_format(regency: str) -> str:
    if regency in FLAT_CSV_REGENCIES:
        return "csv"
    if regency in FLAT_XLSX_REGENCIES:
        return "xlsx"
    return "zip"


def file_name(regency: str, year: int, fmt: str, revision: int = 0) -> str:
    kind = "siskeudes" if fmt == "zip" else "apbdes"
    rev = f"_rev{revision}" if revision else ""
    return f"{kind}_{regency}_{year}{rev}.{fmt}"


@dataclass
class FileDefects:
    """What goes wrong with one file: at most one whole-file defect, at most one quirk."""

    rel: str
    whole: str | None = None  # truncated | missing_column | unknown_village
    quirk: str | None = None  # semicolon_delimiter | byte_order_mark
    quirk_member: str = ""
    drop: tuple[str, str] | None = None  # (table, column) left out
    unknown: tuple[str, int] | None = None  # (table, data row index) naming an unknown desa
    rows: bool = True  # row defects (not in files rejected as a whole)

    @classmethod
    def choose(cls, ctx: GenerateContext, rel: str, fmt: str) -> FileDefects:
        plan = cls(rel)
        if ctx.config.defects <= 0:
            plan.rows = False
            return plan
        rng = ctx.rng(rel, "file-defects")
        chance = min(1.0, ctx.config.defects * FILE_DEFECT_FACTOR)
        table = "Ta_RABRinci" if fmt == "zip" else "flat"
        if rng.random() < chance:
            # A cut-off CSV is only fewer rows (or a short last line): archives show it.
            kinds = ("missing_column", "unknown_village")
            plan.whole = rng.choice(kinds if fmt == "csv" else ("truncated", *kinds))
            if plan.whole == "missing_column":
                column = rng.choice(("AnggaranStlhPAK", "Kd_Rincian") if fmt == "zip"
                                    else ("Nilai_Realisasi", "Kd_Rincian"))
                plan.drop = (table, column)
            elif plan.whole == "unknown_village":
                plan.unknown = (table, rng.randrange(0, 30))
            plan.rows = plan.whole == "unknown_village"
        # A quirk only shows in a file that is landed (the inventory records it).
        if fmt == "zip" and plan.rows and rng.random() < chance:
            plan.quirk = rng.choice(("semicolon_delimiter", "byte_order_mark"))
            plan.quirk_member = rng.choice([t.name for t in SISKEUDES_TABLES])
        return plan


class TableWriter:
    """One CSV table written row by row; injects row defects and records them."""

    def __init__(
        self, ctx: GenerateContext, table: Table, fh: io.TextIOBase, plan: FileDefects,
        delimiter: str = ",", bom: bool = False,
    ) -> None:
        self.ctx, self.table, self.plan = ctx, table, plan
        self.columns = list(EXPORT_ORDER.get(table.name, table.required + table.optional))
        self.keep = list(range(len(self.columns)))
        if plan.drop and plan.drop[0] == table.name:
            self.keep.remove(self.columns.index(plan.drop[1]))
        if bom:
            fh.write("\ufeff")
        self.writer = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        self.writer.writerow([self.columns[i] for i in self.keep])
        self.keep_all = len(self.keep) == len(self.columns)
        self.line = 1
        self.data_rows = 0
        self.rng = ctx.rng(plan.rel, table.name, "row-defects")
        self.inject_rows = plan.rows and table.name in ROW_DEFECT_TABLES
        self.where = "" if table.name == "flat" else f"{table.member}: "

    def row(self, values: dict[str, object]) -> None:
        get = values.get
        fields = [_text(get(c, "")) for c in self.columns]
        duplicate = False
        if self.plan.unknown == (self.table.name, self.data_rows):
            self._unknown_village(fields)
        elif (self.inject_rows
              and not str(values.get("Kd_Rincian", "")).startswith(CROSS_CHECKED)
              and self.ctx.inject(self.rng)):
            duplicate = self._defect(fields)
        written = fields if self.keep_all else [fields[i] for i in self.keep]
        self.writer.writerow(written)
        self.line += 1
        self.data_rows += 1
        if duplicate:
            self.writer.writerow(written)
            self.line += 1

    def _record(self, kind: str, expect: str, detail: str, row: int | None = None) -> None:
        self.ctx.manifest.add(Defect(SOURCE, self.plan.rel, kind, expect,
                                     row if row is not None else self.line + 1,
                                     self.where + detail))

    def _defect(self, fields: list[str]) -> bool:
        kind = self.rng.choice(("non_numeric_amount", "negative_amount", "duplicate_row"))
        if kind == "duplicate_row":
            self._record(kind, "quarantine", "the line is repeated", self.line + 2)
            return True
        column = self.rng.choice(self.table.amounts)
        i = self.columns.index(column)
        if kind == "negative_amount":
            fields[i] = "-" + fields[i]
        else:
            fields[i] = _garbled(self.rng, fields[i])
        self._record(kind, "quarantine", f"{column} {fields[i]!r}")
        return False

    def _unknown_village(self, fields: list[str]) -> None:
        i = self.columns.index("Kd_Desa")
        old = fields[i]
        if self.table.name == "flat":
            new = old[:9] + "2999"
        else:
            new = old[:3] + "2999."
            k = self.columns.index("Kd_Keg")
            fields[k] = new + fields[k][len(old):]
        fields[i] = new
        self._record("unknown_village", "reject",
                     f"Kd_Desa {new!r} is no desa of the region master (stopped by the gate)")


def _garbled(rng: random.Random, value: str) -> str:
    """An amount as people mistype or mis-export it; never a readable amount."""
    digits = value.split(",")[0]
    choices = [f"Rp {digits}", "-", "#VALUE!", value[:-1] + "O"]
    if "." in digits:  # English grouping, only unambiguous when there is a group
        choices.append(digits.replace(".", ",") + ".00")
    return rng.choice(choices)


def _text(value: object) -> str:
    kind = type(value)  # exact types first: this runs for every cell written
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is int:
        return idr(value)  # type: ignore[arg-type]
    if kind is dt.date:
        return _day(value)  # type: ignore[arg-type]
    if isinstance(value, int):
        return idr(value)
    if isinstance(value, dt.date):
        return _day(value)
    return str(value)


# --- Siskeudes export ----------------------------------------------------------------------


@dataclass
class Region:
    regency_names: dict[str, str]
    district_names: dict[str, str]

    @classmethod
    def load(cls) -> Region:
        region = Paths.from_env().root / "data" / "landing" / "region"
        latest = sorted(region.glob("edition=*"))[-1]

        def names(kind: str) -> dict[str, str]:
            (path,) = latest.glob(f"*{kind}*.csv")
            with path.open(encoding="utf-8") as fh:
                return {r["code_10"].strip(): " ".join(r["name"].split())
                        for r in csv.DictReader(fh)}

        return cls(names("regencies"), names("districts"))

    def district(self, code: str) -> str:
        return self.district_names.get(code, f"Kecamatan {code[4:]}")


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _chart() -> dict[str, str]:
    """Names of bidang and kegiatan by Siskeudes code, from the vendored chart of accounts."""
    path = Paths.from_env().dbt_project / "seeds" / "ref_apbdes_accounts.csv"
    with path.open(encoding="utf-8") as fh:
        return {r["siskeudes_code"]: r["name"] for r in csv.DictReader(fh)
                if r["chart"] == "fungsi"}


def write_siskeudes(
    ctx: GenerateContext, villages: list[Village], regency: str, year: int, revision: int,
    path: Path, region: Region, chart: dict[str, str],
) -> None:
    """One Siskeudes export zip, each table written to a temporary file desa by desa (memory
    stays flat), then zipped with fixed timestamps (same seed, same bytes)."""
    rel = str(path.relative_to(ctx.out))
    plan = FileDefects.choose(ctx, rel, "zip")
    with tempfile.TemporaryDirectory(prefix="siskeudes-") as tmp:
        handles = {}
        writers: dict[str, TableWriter] = {}
        for table in SISKEUDES_TABLES:
            quirky = plan.quirk_member == table.name
            handles[table.name] = (Path(tmp) / table.member).open("w", encoding="utf-8",
                                                                   newline="")
            writers[table.name] = TableWriter(
                ctx, table, handles[table.name], plan,
                delimiter=";" if quirky and plan.quirk == "semicolon_delimiter" else ",",
                bom=quirky and plan.quirk == "byte_order_mark",
            )
        try:
            _write_reference(writers, villages, regency, year, region, chart)
            for village in villages:
                _write_village(writers, plan_village(ctx, village, year, revision), year, chart)
        finally:
            for fh in handles.values():
                fh.close()
        if plan.quirk:
            table = next(t for t in SISKEUDES_TABLES if t.name == plan.quirk_member)
            ctx.manifest.add(Defect(SOURCE, rel, plan.quirk, "accept", None,
                                    f"{table.member}: written with "
                                    + ("';' as delimiter" if plan.quirk == "semicolon_delimiter"
                                       else "a UTF-8 byte-order mark")))
        _zip(Path(tmp), [t.member for t in SISKEUDES_TABLES], path, year)
    _whole_file_defect(ctx, plan, path)


def _zip(folder: Path, members: list[str], path: Path, year: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member in members:
            info = zipfile.ZipInfo(member, date_time=(year, 12, 31, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with (folder / member).open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _whole_file_defect(ctx: GenerateContext, plan: FileDefects, path: Path) -> None:
    if plan.whole == "truncated":
        size = path.stat().st_size
        with path.open("r+b") as fh:
            fh.truncate(int(size * 0.6))
        ctx.manifest.add(Defect(SOURCE, plan.rel, "truncated_file", "reject", None,
                                f"cut off at {int(size * 0.6)} of {size} bytes"))
    elif plan.whole == "missing_column":
        table, column = plan.drop  # type: ignore[misc]
        where = "" if table == "flat" else f"{table}.csv: "
        ctx.manifest.add(Defect(SOURCE, plan.rel, "missing_column", "reject", None,
                                f"{where}column {column} left out"))


def _write_reference(
    writers: dict[str, TableWriter], villages: list[Village], regency: str, year: int,
    region: Region, chart: dict[str, str],
) -> None:
    name = region.regency_names.get(regency, f"Kabupaten {regency}")
    writers["Ta_Pemda"].row({
        "Tahun": str(year), "Kd_Prov": regency[:2], "Kd_Kab": regency[2:], "Nama_Pemda": name,
        "Nama_Provinsi": "Lampung", "Ibukota": name.replace("Kabupaten ", ""),
        "Alamat": f"Jl. Pemerintahan, {name}", "Nm_Bupati": "", "Jbt_Bupati": "Bupati",
        "C_Kode": regency, "C_Pemda": name.upper(), "C_Data": str(year),
    })
    for district in sorted({v.district_code for v in villages}):
        writers["Ref_Kecamatan"].row({"Kd_Kec": district[4:],
                                      "Nama_Kecamatan": region.district(district)})
    for village in villages:
        writers["Ref_Desa"].row({"Kd_Kec": village.district_code[4:],
                                 "Kd_Desa": f"{village.code[4:6]}.{village.code[6:]}.",
                                 "Nama_Desa": village.name})
    for code, label in chart.items():
        parts = code.rstrip(".").split(".")
        if len(parts) == 1:
            writers["Ref_Bidang"].row({"Kd_Bid": parts[0], "Nama_Bidang": label})
        elif len(parts) == 3:
            writers["Ref_Kegiatan"].row({"Kd_Bid": parts[0], "ID_Keg": code,
                                         "Nama_Kegiatan": label})


def _write_village(
    writers: dict[str, TableWriter], plan: VillagePlan, year: int, chart: dict[str, str]
) -> None:
    kd = plan.kd_desa
    short = kd.rstrip(".")
    rng = random.Random(plan.village.code)  # names only: not part of any figure
    local = LOCAL_TERM.get(plan.village.regency_code, "Desa")
    tahun = str(year)
    writers["Ta_Desa"].row({
        "Tahun": tahun, "Kd_Desa": kd, "Nm_Kades": _person(rng), "Jbt_Kades": f"Kepala {local}",
        "Nm_Sekdes": _person(rng), "Jbt_Sekdes": f"Sekretaris {local}",
        "Nm_Kaur_Keu": _person(rng), "Jbt_Kaur_Keu": "Kaur Keuangan",
        "Nm_Bendahara": _person(rng), "Jbt_Bendahara": "Bendahara",
        "No_Perdes": f"01/PERDES/{short}/{year}", "Tgl_Perdes": _day(dt.date(year - 1, 12, 28)),
        "Alamat": f"Jl. Raya {plan.village.name}", "Ibukota": plan.village.name, "Status": "2",
    })
    for bidang in sorted({k[:3] for k, *_ in plan.kegiatan}):
        writers["Ta_Bidang"].row({"Tahun": tahun, "Kd_Desa": kd, "Kd_Bid": kd + bidang,
                                  "Nama_Bidang": chart.get(bidang, "")})
    for keg, pagu, pagu_pak, source in plan.kegiatan:
        writers["Ta_Kegiatan"].row({
            "Tahun": tahun, "Kd_Desa": kd, "Kd_Bid": kd + keg[:3], "Kd_Keg": kd + keg,
            "ID_Keg": keg, "Nama_Kegiatan": chart.get(keg, ""), "Pagu": pagu, "Pagu_PAK": pagu_pak,
            "Nm_PPTKD": _person(rng), "Lokasi": plan.village.name, "Waktu": "12 Bulan",
            "Keluaran": "1 Tahun", "Sumberdana": source,
        })
    rab: dict[tuple[str, str], list[int]] = {}
    for item in plan.items:
        sums = rab.setdefault((item.keg, item.rincian), [0, 0])
        sums[0] += item.anggaran
        sums[1] += item.final
    for (keg, rincian), (anggaran, final) in rab.items():
        writers["Ta_RAB"].row({"Tahun": tahun, "Kd_Desa": kd, "Kd_Keg": kd + keg,
                               "Kd_Rincian": rincian, "Anggaran": anggaran,
                               "AnggaranPAK": final - anggaran, "AnggaranStlhPAK": final})
    for item in plan.items:
        writers["Ta_RABRinci"].row({
            "Tahun": tahun, "Kd_Desa": kd, "Kd_Keg": kd + item.keg, "Kd_Rincian": item.rincian,
            "Kd_SubRinci": item.sub, "No_Urut": item.no, "SumberDana": item.source,
            "Uraian": item.uraian, "Satuan": item.unit, "JmlSatuan": str(item.qty),
            "HrgSatuan": item.anggaran // item.qty, "Anggaran": item.anggaran,
            "JmlSatuanPAK": str(item.qty), "HrgSatuanPAK": item.final // item.qty,
            "AnggaranStlhPAK": item.final, "AnggaranPAK": item.final - item.anggaran,
            "Kode_SBU": "",
        })
    for n, receipt in enumerate(plan.receipts, start=1):
        no = f"{n:04d}/TBP/{short}/{year}"
        writers["Ta_TBP"].row({
            "Tahun": tahun, "No_Bukti": no, "Tgl_Bukti": receipt.date, "Kd_Desa": kd,
            "Uraian": receipt.uraian, "Nm_Penyetor": "Bendahara Desa", "TTD_Penyetor": "1",
            "NoRek_Bank": f"38{plan.village.code}", "Nama_Bank": "Bank Lampung",
            "Jumlah": receipt.amount, "Nm_Bendahara": "", "Jbt_Bendahara": "Bendahara",
            "Status": "1", "KdBayar": "2",
        })
        writers["Ta_TBPRinci"].row({
            "Tahun": tahun, "No_Bukti": no, "Kd_Desa": kd, "Kd_Keg": kd + REVENUE_KEG,
            "Kd_Rincian": receipt.rincian, "RincianSD": receipt.rincian + receipt.source,
            "SumberDana": receipt.source, "Nilai": receipt.amount,
        })
    _write_payments(writers, plan, tahun, kd, short, year)
    for n, journal in enumerate(plan.journals, start=1):
        no = f"{n:04d}/JU/{short}/{year}"
        writers["Ta_JurnalUmum"].row({
            "Tahun": tahun, "KdBuku": "00", "Kd_Desa": kd, "Tanggal": journal.date,
            "JnsBukti": "JU", "NoBukti": no, "Keterangan": journal.uraian, "DK": "D",
            "Debet": journal.amount, "Kredit": journal.amount, "Jenis": "Umum", "Posted": "1",
        })
        # Double entry: the financing account against the village's cash (1.1.1.01).
        lines = [(journal.rincian, "K" if journal.receipt else "D"),
                 ("1.1.1.01.", "D" if journal.receipt else "K")]
        for noid, (rincian, dk) in enumerate(lines, start=1):
            writers["Ta_JurnalUmumRinci"].row({
                "Tahun": tahun, "NoBukti": no, "Kd_Keg": kd + REVENUE_KEG,
                "RincianSD": rincian + "DLL", "NoID": str(noid), "Kd_Desa": kd,
                "Akun": rincian[:2], "Kd_Rincian": rincian, "Sumberdana": "DLL", "DK": dk,
                "Debet": journal.amount if dk == "D" else 0,
                "Kredit": journal.amount if dk == "K" else 0,
            })


def _write_payments(
    writers: dict[str, TableWriter], plan: VillagePlan, tahun: str, kd: str, short: str,
    year: int,
) -> None:
    spj_n = 0
    for n, pay in enumerate(plan.payments, start=1):
        no = f"{n:04d}/SPP/{short}/{year}"
        advanced = [a + r for (_, _, a), r in
                    zip(pay.lines, pay.returned or [0] * len(pay.lines), strict=True)]
        writers["Ta_SPP"].row({
            "Tahun": tahun, "No_SPP": no, "Tgl_SPP": pay.date, "Jn_SPP": pay.kind, "Kd_Desa": kd,
            "Keterangan": f"Pembayaran kegiatan {pay.keg}", "Jumlah": sum(advanced),
            "Potongan": 0, "Status": "2",
        })
        for (rincian, source, _), amount in zip(pay.lines, advanced, strict=True):
            writers["Ta_SPPRinci"].row({
                "Tahun": tahun, "Kd_Desa": kd, "No_SPP": no, "Kd_Keg": kd + pay.keg,
                "Kd_Rincian": rincian, "Sumberdana": source, "Nilai": amount,
            })
        if pay.kind != "UM":
            continue
        spj_n += 1
        spj = f"{spj_n:04d}/SPJ/{short}/{year}"
        writers["Ta_SPJ"].row({
            "Tahun": tahun, "No_SPJ": spj, "Tgl_SPJ": pay.spj_date, "Kd_Desa": kd, "No_SPP": no,
            "Keterangan": f"SPJ panjar kegiatan {pay.keg}",
            "Jumlah": sum(a for _, _, a in pay.lines), "Potongan": 0, "Status": "2",
        })
        for (rincian, source, amount), back in zip(pay.lines, pay.returned, strict=True):
            writers["Ta_SPJRinci"].row({
                "Tahun": tahun, "No_SPJ": spj, "Kd_Keg": kd + pay.keg, "Kd_Rincian": rincian,
                "Sumberdana": source, "Kd_Desa": kd, "No_SPP": no, "JmlCair": amount + back,
                "Nilai": amount, "Alamat": plan.village.name, "Sisa": back,
            })


# --- flat template -------------------------------------------------------------------------


def flat_rows(plan: VillagePlan, year: int) -> Iterator[dict[str, object]]:
    """One row per kegiatan and account: budget after change and realisation of the year."""
    realised: dict[tuple[str, str], int] = {}
    for receipt in plan.receipts:
        key = (REVENUE_KEG, receipt.rincian)
        realised[key] = realised.get(key, 0) + receipt.amount
    for pay in plan.payments:
        for rincian, _, amount in pay.lines:
            realised[(pay.keg, rincian)] = realised.get((pay.keg, rincian), 0) + amount
    for journal in plan.journals:
        key = (REVENUE_KEG, journal.rincian)
        realised[key] = realised.get(key, 0) + journal.amount
    budget: dict[tuple[str, str], int] = {}
    for item in plan.items:
        budget[(item.keg, item.rincian)] = budget.get((item.keg, item.rincian), 0) + item.final
    code = plan.village.code_dotted
    for (keg, rincian), amount in budget.items():
        yield {
            "Tahun": year, "Kd_Desa": code, "Kd_Akun": rincian[:2],
            "Kd_Keg": "" if keg == REVENUE_KEG else keg, "Kd_Rincian": rincian,
            "Nilai_Anggaran": amount, "Nilai_Realisasi": realised.get((keg, rincian), 0),
        }


def write_flat_csv(
    ctx: GenerateContext, villages: list[Village], year: int, revision: int, path: Path
) -> None:
    """The flat template as Excel writes CSV in Indonesia: ';' between fields, with a BOM."""
    rel = str(path.relative_to(ctx.out))
    plan = FileDefects.choose(ctx, rel, "csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = TableWriter(ctx, FLAT_TABLE, fh, plan, delimiter=";", bom=True)
        for village in villages:
            for row in flat_rows(plan_village(ctx, village, year, revision), year):
                row["Tahun"] = str(year)
                writer.row(row)
    _whole_file_defect(ctx, plan, path)


def write_flat_xlsx(
    ctx: GenerateContext, villages: list[Village], year: int, revision: int, path: Path
) -> None:
    """The flat template as XLSX: amounts and years as numbers, codes as text."""
    import openpyxl

    rel = str(path.relative_to(ctx.out))
    plan = FileDefects.choose(ctx, rel, "xlsx")
    workbook = openpyxl.Workbook(write_only=True)
    fixed = dt.datetime(year, 12, 31)
    workbook.properties.created = workbook.properties.modified = fixed
    sheet = _XlsxSheet(ctx, plan, workbook.create_sheet("APBDes"))
    for village in villages:
        for row in flat_rows(plan_village(ctx, village, year, revision), year):
            sheet.add(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    _rezip_fixed(buffer.getvalue(), path, year)
    _whole_file_defect(ctx, plan, path)


class _XlsxSheet:
    """The flat sheet written row by row (header first), with the CSV writer's defects."""

    def __init__(self, ctx: GenerateContext, plan: FileDefects, sheet: object) -> None:
        self.ctx, self.plan, self.sheet = ctx, plan, sheet
        self.columns = [c for c in FLAT_TABLE.required
                        if not (plan.drop and plan.drop[1] == c)]
        self.sheet.append(list(self.columns))  # type: ignore[attr-defined]
        self.line = 1  # rows written, header included
        self.rng = ctx.rng(plan.rel, "flat", "row-defects")

    def add(self, values: dict[str, object]) -> None:
        row: dict[str, object] = dict(values)
        data_index, line = self.line - 1, self.line + 1
        repeat = False
        if self.plan.unknown == ("flat", data_index):
            row["Kd_Desa"] = str(row["Kd_Desa"])[:9] + "2999"
            self._record("unknown_village", "reject", line,
                         f"Kd_Desa {row['Kd_Desa']!r} is no desa of the region master "
                         "(stopped by the gate)")
        elif (self.plan.rows and not str(row["Kd_Rincian"]).startswith(CROSS_CHECKED)
              and self.ctx.inject(self.rng)):
            kind = self.rng.choice(("non_numeric_amount", "negative_amount", "duplicate_row"))
            column = self.rng.choice([c for c in FLAT_TABLE.amounts if c in self.columns])
            amount = int(row[column])  # type: ignore[call-overload]
            if kind == "duplicate_row":
                repeat = True
                self._record(kind, "quarantine", line + 1, "the row is repeated")
            elif kind == "negative_amount":
                row[column] = -amount or -1
                self._record(kind, "quarantine", line, f"{column} {row[column]}")
            else:
                row[column] = f"Rp {idr(amount)[:-3]}"
                self._record(kind, "quarantine", line, f"{column} {row[column]!r}")
        cells = [row[c] for c in self.columns]
        for _ in range(2 if repeat else 1):
            self.sheet.append(cells)  # type: ignore[attr-defined]
            self.line += 1

    def _record(self, kind: str, expect: str, line: int, detail: str) -> None:
        self.ctx.manifest.add(Defect(SOURCE, self.plan.rel, kind, expect, line, detail))


def _rezip_fixed(data: bytes, path: Path, year: int) -> None:
    """Rewrite an XLSX container with fixed member timestamps and a fixed modification time
    in its properties (openpyxl stamps the time of saving): reproducible bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(year, 12, 31, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*",
                                 rb"\g<1>" + f"{year}-12-31T00:00:00Z".encode(), content)
            dst.writestr(fixed, content)


# --- entry point ---------------------------------------------------------------------------


def _desa(ctx: GenerateContext) -> dict[str, list[Village]]:
    desa: dict[str, list[Village]] = {}
    for village in ctx.villages:
        if village.village_type == "desa":
            desa.setdefault(village.regency_code, []).append(village)
    return desa


def _revisions(ctx: GenerateContext, regencies: list[str], regency: str, year: int) -> list[int]:
    """The first Siskeudes regency resubmits its last year once; the others submit once."""
    siskeudes = [r for r in sorted(regencies) if file_format(r) == "zip"]
    resubmitted = (siskeudes[0], max(ctx.config.years)) if siskeudes else None
    return [0, 1] if (regency, year) == resubmitted else [0]


def lands(ctx: GenerateContext, regency: str, year: int) -> bool:
    """Whether some APBDes submission of the regency and year escapes a whole-file defect
    (so its desa have APBDes figures to compare with); for any source's generator."""
    ctx = ctx.as_source(SOURCE)
    fmt = file_format(regency)
    return any(
        FileDefects.choose(ctx, f"{SOURCE}/{year}/{file_name(regency, year, fmt, r)}",
                           fmt).whole is None
        for r in _revisions(ctx, list(_desa(ctx)), regency, year)
    )


def _write_file(ctx: GenerateContext, villages: list[Village], regency: str, year: int,
                revision: int) -> list[Defect]:
    """One submission file; returns the defects it holds (run in a worker process)."""
    ctx = GenerateContext(ctx.config, ctx.villages, Manifest(), ctx.source)
    fmt = file_format(regency)
    path = ctx.out / SOURCE / str(year) / file_name(regency, year, fmt, revision)
    if fmt == "zip":
        write_siskeudes(ctx, villages, regency, year, revision, path, Region.load(), _chart())
    elif fmt == "csv":
        write_flat_csv(ctx, villages, year, revision, path)
    else:
        write_flat_xlsx(ctx, villages, year, revision, path)
    return ctx.manifest.defects


def generate(ctx: GenerateContext) -> None:
    """Write every regency's APBDes file for every year (kelurahan have no APBDes), the files
    in parallel worker processes (one per core; files are independent and deterministic),
    their defects recorded in file order."""
    desa = _desa(ctx)
    jobs = [(desa[regency], regency, year, revision)
            for year in ctx.config.years for regency in sorted(desa)
            for revision in _revisions(ctx, list(desa), regency, year)]
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        results = [_write_file(ctx, *job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(_write_file, [ctx] * len(jobs), *zip(*jobs, strict=True)))
    for defects in results:
        for defect in defects:
            ctx.manifest.add(defect)
