"""Development programmes per village: each regency's and the province's SIPD exports of
sub-activities, and the CSR form export of private programmes, for every generated year.

Locations are written as people write them: the regency's local word for desa (pekon,
tiyuh, kampung: the seed ``ref_village_local_terms``) or an abbreviation, the district
after "Kec." or "Kecamatan", upper case, a space dropped or added in the name, dotted or
plain Kemendagri codes, and a few programmes for a whole district. Amounts come with
Indonesian thousand separators ("1.250.000.000", "Rp 1.250.000.000,00") or plain.

Every ordinary location is checked with the pipeline's matcher against the whole region
master as it will be landed (a name two desa share gets its district; if that is not enough
its code), so it lands. On purpose, a small share (``LOCATION_PROBLEMS``, or the
``--defects`` rate when given) names a desa that does not exist or a name several desa
share without the district: each is listed in the defects manifest (``"expect":
"quarantine"``, the row's line) and must be quarantined with its candidates.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass

from lumbung.config import Paths
from lumbung.generate import Defect, GenerateContext, Village, region_villages
from lumbung.generate.exports import write_csv
from lumbung.sources.programmes import CSR_LAYOUT, FOLDER, REGENCY_LAYOUT
from lumbung.sources.village_locations import Gazetteer, Place, dotted, name_key

SOURCE = "programmes"
LOCATION_PROBLEMS = 0.02  # share of rows whose location is unmatched or ambiguous
DISTRICT_WIDE = 0.06  # share of rows for a whole district

# Sub-activities (Kepmendagri 050-5889/2021 codes), their name and implementing agency.
SUB_ACTIVITIES: tuple[tuple[str, str, str], ...] = (
    ("1.01.02.2.01.0003", "Rehabilitasi Sedang/Berat Ruang Kelas Sekolah", "Dinas Pendidikan"),
    ("1.02.02.2.01.0014", "Pengembangan Puskesmas", "Dinas Kesehatan"),
    ("1.02.02.2.02.0033", "Pengelolaan Pelayanan Kesehatan Ibu Hamil", "Dinas Kesehatan"),
    ("1.03.10.2.01.0002", "Pembangunan Jalan", "Dinas Pekerjaan Umum dan Penataan Ruang"),
    ("1.03.03.2.01.0009", "Rehabilitasi Jaringan Irigasi Permukaan",
     "Dinas Pekerjaan Umum dan Penataan Ruang"),
    ("1.04.05.2.01.0001", "Pembangunan Sarana dan Prasarana Air Minum",
     "Dinas Perumahan dan Kawasan Permukiman"),
    ("2.11.09.2.01.0002", "Pengelolaan Sampah", "Dinas Lingkungan Hidup"),
    ("2.12.02.2.01.0001", "Pelayanan Pendaftaran Penduduk Keliling",
     "Dinas Kependudukan dan Pencatatan Sipil"),
    ("2.13.03.2.01.0001", "Fasilitasi Penataan Desa", "Dinas Pemberdayaan Masyarakat dan Desa"),
    ("2.13.04.2.01.0004", "Fasilitasi Pengelolaan Keuangan Desa",
     "Dinas Pemberdayaan Masyarakat dan Desa"),
    ("2.13.05.2.01.0001", "Pemberdayaan Lembaga Kemasyarakatan Desa",
     "Dinas Pemberdayaan Masyarakat dan Desa"),
    ("2.13.05.2.02.0003", "Fasilitasi Pengembangan BUMDes",
     "Dinas Pemberdayaan Masyarakat dan Desa"),
    ("2.16.03.2.02.0002", "Penyediaan Akses Internet Desa", "Dinas Komunikasi dan Informatika"),
    ("2.16.02.2.01.0001", "Pengembangan Sistem Informasi Desa",
     "Dinas Komunikasi dan Informatika"),
    ("2.17.05.2.01.0001", "Pemberdayaan Usaha Mikro", "Dinas Koperasi dan UKM"),
    ("3.27.03.2.01.0001", "Penyediaan Sarana Pertanian", "Dinas Pertanian"),
    ("3.26.02.2.01.0002", "Pengembangan Desa Wisata", "Dinas Pariwisata"),
    ("1.06.04.2.01.0001", "Pemberdayaan Sosial Masyarakat Desa", "Dinas Sosial"),
    ("2.19.03.2.01.0001", "Penyediaan Sarana Olahraga Desa", "Dinas Kepemudaan dan Olahraga"),
)
FUNDS = ("DAU", "DAK Fisik", "DAK Non Fisik", "PAD", "DBH", "Dana Insentif Daerah")
PROVINCE_FUNDS = ("PAD", "DAU", "DBH", "DAK Fisik")
COMPANIES = ("PT Bukit Asam Tbk", "PT Great Giant Pineapple", "PT Gunung Madu Plantations",
             "PT Bank Lampung", "PT PLN (Persero) UID Lampung", "PT Semen Baturaja Tbk",
             "PT Pelabuhan Indonesia II Panjang", "PT Nusantara Tropical Farm")
CSR_FIELDS: tuple[tuple[str, str], ...] = (
    ("Pendidikan", "Beasiswa dan Sarana Belajar"), ("Kesehatan", "Posyandu dan Air Bersih"),
    ("Infrastruktur", "Jalan Lingkungan dan Jembatan"),
    ("Lingkungan Hidup", "Penanaman Pohon dan Bank Sampah"),
    ("Ekonomi dan UMKM", "Pelatihan dan Modal Usaha UMKM"),
    ("Sosial Budaya", "Sanggar Seni dan Sarana Ibadah"),
    ("Teknologi Informasi", "Pojok Digital Desa"),
)


@dataclass(frozen=True)
class Scope:
    """Whose file is written: the villages it plans for and how it is matched."""

    regency: str | None  # the regency a regency's SIPD (and a CSR row) is matched in
    with_regency: bool  # the province's exports name the regency


def _names() -> tuple[dict[str, str], dict[str, str]]:
    """District and regency names of the current edition of the region master."""
    region = sorted((Paths.from_env().root / "data" / "landing" / "region").glob("edition=*"))[-1]
    found: list[dict[str, str]] = []
    for dataset in ("districts", "regencies"):
        (path,) = region.glob(f"*{dataset}*.csv")
        with path.open(encoding="utf-8") as fh:
            found.append({r["code_10"].strip(): " ".join(r["name"].split())
                          for r in csv.DictReader(fh)})
    return found[0], found[1]


def _local_terms() -> dict[str, str]:
    path = Paths.from_env().root / "dbt_project" / "seeds" / "ref_village_local_terms.csv"
    with path.open(encoding="utf-8") as fh:
        return {r["regency_code"]: r["local_term"] for r in csv.DictReader(fh)}


class Writer:
    """Location texts and amounts for one run, checked with the pipeline's matcher."""

    def __init__(self, ctx: GenerateContext) -> None:
        self.ctx = ctx
        districts, regencies = _names()
        self.districts = districts
        self.regencies = {c: n.removeprefix("Kabupaten ") for c, n in regencies.items()}
        self.terms = _local_terms()
        places = {v.code: v for v in region_villages()} | {v.code: v for v in ctx.villages}
        for village in places.values():  # synthetic districts of --scale copies
            self.districts.setdefault(village.district_code, f"Sintetis {village.district_code}")
        self.gazetteer = Gazetteer(
            Place(v.code, v.name, v.district_code, self.districts[v.district_code],
                  v.regency_code, regencies.get(v.regency_code, v.regency_code))
            for v in places.values())
        self.rate = ctx.config.defects or LOCATION_PROBLEMS

    def _term(self, rng: random.Random, regency: str) -> str:
        word = self.terms.get(regency, "desa")
        return rng.choice([word.title(), word.title(), word.upper(), "Desa", "Ds."])

    def _spelling(self, rng: random.Random, name: str) -> str:
        roll = rng.random()
        if roll < 0.15 and " " in name:
            return name.replace(" ", "", 1)  # "Way Sulan" -> "Waysulan"
        if roll < 0.25:
            return name.upper()
        if roll < 0.3:
            return f" {name}  "
        return name

    def village_text(self, rng: random.Random, village: Village, scope: Scope) -> str:
        """A location the matcher resolves to ``village``."""
        district = self.districts[village.district_code]
        regency = f", Kab. {self.regencies[village.regency_code]}" if scope.with_regency else ""
        name = self._spelling(rng, village.name)
        term = self._term(rng, village.regency_code)
        choices = [
            f"{term} {name}, Kec. {district}{regency}",
            f"{term} {name} Kecamatan {district}{regency}".upper(),
            f"{term} {name}",
            name,
            village.code_dotted,
            village.code,
        ]
        text = rng.choices(choices, weights=[30, 10, 25, 10, 15, 10])[0]
        found = self.gazetteer.match(text, scope.regency)
        return text if found.code == village.code else village.code_dotted

    def district_text(self, rng: random.Random, district: str, scope: Scope) -> str:
        name = self.districts[district]
        regency = f", Kab. {self.regencies[district[:4]]}" if scope.with_regency else ""
        text = rng.choice([f"Kec. {name}", f"Kecamatan {name}{regency}",
                           f"KECAMATAN {name.upper()}", dotted(district)])
        found = self.gazetteer.match(text, scope.regency)
        return text if found.code == district else dotted(district)

    def problem_text(self, rng: random.Random, village: Village,
                     scope: Scope) -> tuple[str, str] | None:
        """(kind, location) that the matcher cannot resolve, or None."""
        term = self._term(rng, village.regency_code)
        shared = [p for p in self.gazetteer.by_name[name_key(village.name)]
                  if scope.regency is None or p.regency_code == scope.regency]
        kind = rng.choice(["ambiguous_location", "unmatched_location", "unmatched_location"]
                          if len(shared) > 1 else ["unmatched_location"])
        if kind == "ambiguous_location":
            text = f"{term} {village.name}"
        elif rng.random() < 0.5:
            district = self.districts[village.district_code]
            text = f"{term} {village.name} Makmur Sentosa, Kec. {district}"
        else:
            kind = "unmatched_code"
            text = f"{village.district_code[:2]}.{village.district_code[2:4]}." \
                   f"{village.district_code[4:]}.29{rng.randint(10, 99)}"
        found = self.gazetteer.match(text, scope.regency)
        if found.problem is None or ((kind == "ambiguous_location")
                                     != found.problem.startswith("ambiguous")):
            return None
        return kind, text


def _rupiah(rng: random.Random, value: int, style: str) -> str:
    grouped = f"{value:,}".replace(",", ".")
    if style == "regency":
        return grouped if rng.random() < 0.7 else str(value)
    if style == "province":
        return f"Rp {grouped},00"
    return rng.choice([f"Rp {grouped}", str(value), f"{grouped},-"])


def _amounts(rng: random.Random, low: int, high: int, style: str) -> tuple[str, str]:
    budget = rng.randint(low, high) // 1000 * 1000
    roll = rng.random()
    if roll < 0.1:
        return _rupiah(rng, budget, style), ""
    realised = int(budget * rng.uniform(0.55, 1.0)) // 1000 * 1000
    return _rupiah(rng, budget, style), _rupiah(rng, realised, style)


def _rows(ctx: GenerateContext, writer: Writer, rng: random.Random, villages: list[Village],
          count: int, scope: Scope, seen: set[tuple[str, ...]],
          row_for) -> tuple[list[list[object]], list]:
    """``count`` rows over ``villages``, none repeating a key of ``seen`` (the reader's
    duplicate key); returns rows and the injected problems by index."""
    rows: list[list[object]] = []
    problems: list[tuple[int, str, str]] = []
    for _ in range(count):
        village = rng.choice(villages)
        problem = writer.problem_text(rng, village, scope) if rng.random() < writer.rate \
            else None
        if problem:
            text = problem[1]
        elif rng.random() < DISTRICT_WIDE:
            text = writer.district_text(rng, village.district_code, scope)
        else:
            text = writer.village_text(rng, village, scope)
        row, key = row_for(rng, village, text)
        identity = tuple(" ".join(str(k).split()).casefold() for k in key)
        if identity in seen:
            continue
        seen.add(identity)
        if problem:
            problems.append((len(rows), problem[0], f"lokasi {text!r}"))
        rows.append(row)
    return rows, problems


def _write(ctx: GenerateContext, relative: str, header: list[str], rows: list[list[object]],
           problems: list[tuple[int, str, str]], delimiter: str) -> None:
    numbers = write_csv(ctx.out / relative, header, rows, delimiter=delimiter,
                        bom=delimiter == ";")
    for index, kind, detail in problems:
        ctx.manifest.add(Defect(SOURCE, relative, kind, "quarantine", numbers[index], detail))


def _sipd(ctx: GenerateContext, writer: Writer, villages: list[Village], year: int,
          regency: str | None) -> None:
    owner = f"kabupaten={regency}" if regency else "provinsi"
    name = f"sipd_rkpd_{regency}_{year}.csv" if regency else \
        f"sipd_rkpd_provinsi_lampung_{year}.csv"
    relative = f"{FOLDER}/sipd/{owner}/tahun={year}/{name}"
    rng = ctx.rng("sipd", owner, year)
    scope = Scope(regency, with_regency=regency is None)
    suffix = "" if regency else " Provinsi Lampung"
    funds = FUNDS if regency else PROVINCE_FUNDS
    low, high = (50_000_000, 2_000_000_000) if regency else (200_000_000, 5_000_000_000)

    def row_for(rng: random.Random, village: Village, text: str):
        code, activity, agency = rng.choice(SUB_ACTIVITIES)
        fund = rng.choice(funds)
        budget, realised = _amounts(rng, low, high, "regency" if regency else "province")
        row = [0, year, code, activity, agency + suffix, fund, text, budget, realised]
        return row, (code, agency + suffix, fund, text)

    count = int(len(villages) * (0.6 if regency else 0.15)) + 5
    rows, problems = _rows(ctx, writer, rng, villages, count, scope, set(), row_for)
    for number, row in enumerate(rows, start=1):
        row[0] = number
    _write(ctx, relative, [c.label for c in REGENCY_LAYOUT.columns], rows, problems,
           "," if regency else ";")


def _csr(ctx: GenerateContext, writer: Writer, villages: list[Village], year: int) -> None:
    relative = f"{FOLDER}/csr/tahun={year}/laporan_program_csr_{year}.csv"
    rng = ctx.rng("csr", year)

    def row_for(rng: random.Random, village: Village, text: str):
        company = rng.choice(COMPANIES)
        field_, programme = rng.choice(CSR_FIELDS)
        shown_field = rng.choice([field_, field_.upper(), f" {field_.lower()} "])
        regency = writer.regencies[village.regency_code]
        shown_regency = rng.choice([f"Kab. {regency}", regency.upper(), f"Kabupaten {regency}"])
        budget, realised = _amounts(rng, 25_000_000, 500_000_000, "csr")
        stamp = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{year} " \
                f"{rng.randint(7, 17):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        row = [stamp, year, company, f"{programme} {village.name}", shown_field, shown_regency,
               text, budget, realised]
        return row, (company, row[3], text)

    by_regency: dict[str, list[Village]] = {}
    for village in villages:
        by_regency.setdefault(village.regency_code, []).append(village)
    rows: list[list[object]] = []
    problems: list[tuple[int, str, str]] = []
    seen: set[tuple[str, ...]] = set()
    for regency, members in sorted(by_regency.items()):
        count = max(2, int(len(members) * 0.05))
        part, found = _rows(ctx, writer, rng, members, count, Scope(regency, False), seen,
                            row_for)
        problems += [(len(rows) + i, kind, detail) for i, kind, detail in found]
        rows += part
    _write(ctx, relative, [c.label for c in CSR_LAYOUT.columns], rows, problems, ",")


def generate(ctx: GenerateContext) -> None:
    villages = sorted((v for v in ctx.villages if v.village_type == "desa"), key=lambda v: v.code)
    if not villages:
        return
    writer = Writer(ctx)
    regencies = sorted({v.regency_code for v in villages})
    for year in ctx.config.years:
        for regency in regencies:
            _sipd(ctx, writer, [v for v in villages if v.regency_code == regency], year, regency)
        _sipd(ctx, writer, villages, year, None)
        _csr(ctx, writer, villages, year)
