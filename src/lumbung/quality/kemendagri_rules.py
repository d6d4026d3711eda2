"""The gate's rules for the region master (source ``region``): regencies,
districts and villages of one Kemendagri edition, each checked against its parent level."""

from __future__ import annotations

from lumbung.quality.rules import (
    DISTRICT_CODE,
    REGENCY_CODE,
    SQL_DISTRICT_CODE,
    SQL_REGENCY_CODE,
    SQL_VILLAGE_CODE,
    VILLAGE_CODE,
    Rule,
    SuiteSpec,
    centroid_in_province,
    derived,
    in_set,
    matches,
    not_null,
    parent_exists,
    present,
    row_count,
    unique,
)
from lumbung.sources.kemendagri import SOURCE


def _codes(code: str, sql_code: str, digits: int) -> tuple[Rule, ...]:
    """The code of a level and its dotless ``code_10`` of ``digits`` digits."""
    return (
        not_null("code"),
        matches("code", code, "code format"),
        unique("code"),
        matches("code_10", rf"^\d{{{digits}}}$", "code_10 format"),
        derived("code_10", "replace(code, '.', '')", sql_code, "code_10 is code without its dots"),
    )


def suites() -> tuple[SuiteSpec, ...]:
    regencies = SuiteSpec(
        SOURCE,
        "regencies",
        "kemendagri_regencies",
        (
            *_codes(REGENCY_CODE, SQL_REGENCY_CODE, 4),
            *present("name"),
            in_set("type", ["kabupaten", "kota"]),
            row_count(),
            centroid_in_province(),
        ),
        partition="edition",
    )
    districts = SuiteSpec(
        SOURCE,
        "districts",
        "kemendagri_districts",
        (
            *_codes(DISTRICT_CODE, SQL_DISTRICT_CODE, 6),
            *present("name"),
            derived(
                "parent_code",
                "left(code, 5)",
                SQL_DISTRICT_CODE,
                "parent_code is the regency part of code (its first 5 characters)",
            ),
            parent_exists("accepted_kemendagri_regencies", "regency"),
            row_count(),
            centroid_in_province(),
        ),
        partition="edition",
    )
    villages = SuiteSpec(
        SOURCE,
        "villages",
        "kemendagri_villages",
        (
            *_codes(VILLAGE_CODE, SQL_VILLAGE_CODE, 10),
            unique("code_10"),
            *present("name"),
            in_set("type", ["desa", "kelurahan"]),
            derived(
                "type",
                "case left(split_part(code, '.', 4), 1) "
                "when '1' then 'kelurahan' when '2' then 'desa' end",
                SQL_VILLAGE_CODE,
                "the village part of code starts with 1 for a kelurahan, 2 for a desa",
            ),
            derived(
                "parent_code",
                "left(code, 8)",
                SQL_VILLAGE_CODE,
                "parent_code is the district part of code (its first 8 characters)",
            ),
            parent_exists("accepted_kemendagri_districts", "district"),
            derived(
                "regency_code",
                "left(code, 5)",
                SQL_VILLAGE_CODE,
                "regency_code is the regency part of code (its first 5 characters)",
            ),
            row_count(),
            centroid_in_province(),
        ),
        partition="edition",
    )
    return regencies, districts, villages
