"""Free-text locations matched to Kemendagri villages and districts.

Planning systems (SIPD) and CSR forms name where a programme happens as people write it:
"Desa Way Sulan, Kec. Way Sulan", "Pekon Sukamaju", "TIYUH MULYA ASRI KEC. TULANG BAWANG
TENGAH", a dotted or plain Kemendagri code ("18.01.02.2003", "1801022003"), or only a
district ("Kec. Natar", "18.01.04"). ``Gazetteer.match`` turns such a text into a village
or a district code, or says why it cannot, naming the candidates.

Names compare by their letters and digits only, case-blind (``name_key``: "Way Sulan",
"WAYSULAN" and "way  sulan" are one name). A village text may start with a local word for
village (desa, pekon, tiyuh, kampung, kelurahan and their abbreviations); since some
villages are called "Kampung Baru" or "Pekon Balak", the name is looked up both with and
without that word. A name several villages bear is resolved by the district (or regency)
when the text gives one; otherwise it is ambiguous.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from lumbung.sources.tabular import digits, district_code, village_code

# Words for "village" that may precede a name, with their usual abbreviations. The local
# words per regency are the seed ref_village_local_terms (pekon, tiyuh, kampung).
VILLAGE_WORDS = ("desa", "ds", "pekon", "tiyuh", "kampung", "kp", "kelurahan", "kel")
_VILLAGE_WORD = re.compile(rf"^(?:{'|'.join(VILLAGE_WORDS)})\b\.?\s*", re.IGNORECASE)
# "Kec." / "Kecamatan" before a district name, "Kab." / "Kabupaten" before a regency name.
_LABEL = re.compile(r"\b(kecamatan|kec|kabupaten|kab)\b\.?", re.IGNORECASE)
_SHOWN_CANDIDATES = 5


def name_key(name: str) -> str:
    """A name as compared: letters and digits only, accents dropped, case-blind."""
    text = unicodedata.normalize("NFKD", name).casefold()
    return re.sub(r"[^a-z0-9]", "", text)


def dotted(code: str) -> str:
    """A 10-digit village or 6-digit district code with its dots (18.01.04.2001)."""
    parts = [code[:2], code[2:4], code[4:6]] + ([code[6:]] if len(code) > 6 else [])
    return ".".join(parts)


@dataclass(frozen=True)
class Place:
    """One current village of the region master, with its district and regency."""

    code: str  # 10 digits
    name: str
    district_code: str
    district_name: str
    regency_code: str
    regency_name: str

    def shown(self) -> str:
        return f"{dotted(self.code)} {self.name} (Kec. {self.district_name})"


@dataclass(frozen=True)
class Located:
    """Where a location text points: a village or a district, or why neither."""

    level: str | None  # "village" | "district" | None
    code: str | None  # 10 digits (village) or 6 digits (district)
    problem: str | None = None


@dataclass(frozen=True)
class Parsed:
    village: str  # the text before any district or regency label (may be empty)
    district: str
    regency: str


def parse(text: str) -> Parsed:
    """Split a location text into its village, district and regency parts."""
    pieces = _LABEL.split(text)
    found = {"village": pieces[0], "district": "", "regency": ""}
    for label, value in zip(pieces[1::2], pieces[2::2], strict=True):
        part = "district" if label.lower().startswith("kec") else "regency"
        found[part] = found[part] or value
    clean = {k: " ".join(re.sub(r"[,;:()]", " ", v).split()) for k, v in found.items()}
    return Parsed(**clean)


class Gazetteer:
    """The current villages of the region master, indexed by code and by name."""

    def __init__(self, places: Iterable[Place]) -> None:
        self.places = {p.code: p for p in places}
        self.by_name: dict[str, list[Place]] = defaultdict(list)
        self.districts: dict[str, tuple[str, str]] = {}  # code -> (name, regency code)
        self.regencies: dict[str, str] = {}  # code -> name
        for place in sorted(self.places.values(), key=lambda p: p.code):
            self.by_name[name_key(place.name)].append(place)
            self.districts[place.district_code] = (place.district_name, place.regency_code)
            self.regencies[place.regency_code] = place.regency_name

    def regency_for(self, name: str) -> str | None:
        """The regency code a name stands for ("Kab. Lampung Selatan", "LAMPUNG SELATAN")."""
        key = _regency_key(name)
        found = [c for c, n in self.regencies.items() if key and _regency_key(n) == key]
        return found[0] if len(found) == 1 else None

    def _districts_named(self, name: str, regency: str | None) -> list[str]:
        key = name_key(name)
        return [c for c, (n, r) in sorted(self.districts.items())
                if name_key(n) == key and (regency is None or r == regency)]

    def match(self, text: str | None, regency: str | None = None) -> Located:
        """The village or district ``text`` names, within ``regency`` when given."""
        text = " ".join((text or "").split())
        if not text:
            return Located(None, None, "blank location")
        where = f" in regency {regency}" if regency else ""
        if village_code(text) is None:
            code = digits(text)
            place = self.places.get(code)
            if place is None or (regency and place.regency_code != regency):
                return Located(None, None, f"unknown village code {text}{where}")
            return Located("village", code, None)
        if district_code(text) is None:
            code = digits(text)
            if code not in self.districts or (regency and code[:4] != regency):
                return Located(None, None, f"unknown district code {text}{where}")
            return Located("district", code, None)
        parsed = parse(text)
        if parsed.regency:
            named = self.regency_for(parsed.regency)
            if named is None or (regency and named != regency):
                return Located(None, None, f"unknown regency {parsed.regency!r}{where}")
            regency = named
        districts = self._districts_named(parsed.district, regency) if parsed.district else []
        if parsed.district and not districts:
            return Located(None, None, f"unknown district {parsed.district!r}{where}")
        if not parsed.village:
            if len(districts) > 1:
                return Located(None, None, _ambiguous(
                    f"district {parsed.district!r}",
                    [f"{dotted(c)} {self.districts[c][0]} ({self.regencies[c[:4]]})"
                     for c in districts]))
            return Located("district", districts[0], None) if districts else \
                Located(None, None, f"no village or district in {text!r}")
        return self._village(parsed.village, regency, districts, where)

    def _village(self, name: str, regency: str | None, districts: list[str],
                 where: str) -> Located:
        keys = {name_key(name), name_key(_VILLAGE_WORD.sub("", name))} - {""}
        named = [p for k in sorted(keys) for p in self.by_name.get(k, [])
                 if regency is None or p.regency_code == regency]
        candidates = [p for p in named if not districts or p.district_code in districts]
        if len(candidates) == 1:
            return Located("village", candidates[0].code, None)
        if not candidates:
            if named:  # the name exists, but not in the district given
                return Located(None, None, _ambiguous(
                    f"no village {name!r} in the district given; villages of that name",
                    [p.shown() for p in named]))
            return Located(None, None, f"unknown village {name!r}{where}")
        return Located(None, None, _ambiguous(
            f"ambiguous village {name!r}{where} (name the district)",
            [p.shown() for p in candidates]))


def _regency_key(name: str) -> str:
    return name_key(re.sub(r"^\s*(kabupaten|kab\.?|kota)\s+", "", name, flags=re.IGNORECASE))


def _ambiguous(what: str, candidates: list[str]) -> str:
    shown = candidates[:_SHOWN_CANDIDATES]
    more = len(candidates) - len(shown)
    return f"{what}: candidates {'; '.join(shown)}" + (f" and {more} more" if more else "")
