"""The gate's rules for APBDes files, as (rule, query, description) for ``rules.no_rows``.

The gate views (``src/lumbung/sql/gate_apbdes.sql``) show the batch under validation as one
list of lines; each query returns the lines breaking its rule: first their batch
(``_batch_id``, so that many batches are judged in one run, ``lumbung.quality.many_batches``),
then the line (``Ta_RABRinci.csv:57``). These tables are large, so every rule is one pass over
the view, without per-value result lists. Amounts and dates are checked row by row at landing
(unreadable ones are quarantined), not here. GX substitutes ``{batch}`` with ``str.format``
and aliases it itself (so no alias follows it here), and regexes spell repetitions out
instead of using braces.
"""

from __future__ import annotations

from lumbung.quality.rules import SuiteSpec, no_rows

_DESA = r"^[0-9][0-9]\.[0-9][0-9][0-9][0-9]\.$"  # Siskeudes desa code, 04.2001.
_VILLAGE = r"^[0-9][0-9]\.[0-9][0-9]\.[0-9][0-9]\.[0-9][0-9][0-9][0-9]$"  # 18.11.01.2001
_KEGIATAN = r"^[0-9][0-9]\.[0-9][0-9]\.[0-9][0-9]\.$"  # 02.03.10.
_ACCOUNT = r"\.[0-9]\.[0-9]\.[0-9][0-9]\.$"  # the part after the akun digit: .2.1.01.
_NO_KEGIATAN = "00.00.00."
_REALISATION = ("'Ta_TBP', 'Ta_TBPRinci', 'Ta_SPP', 'Ta_SPPRinci', 'Ta_SPJ', 'Ta_SPJRinci', "
                "'Ta_JurnalUmum', 'Ta_JurnalUmumRinci'")
_DESA_EXISTS = """
    exists (
        select 1 from marts.dim_village as v
        where v.village_code = {code} and v.village_type = 'desa'
    )
"""

SISKEUDES: tuple[tuple[str, str, str], ...] = (
    (
        "Tahun is the file's year",
        "select _batch_id, _line, tahun from {batch} where coalesce(btrim(tahun), '') <> _year",
        "every row's Tahun is the fiscal year of the file (its name and folder)",
    ),
    (
        "Kd_Desa format",
        f"select _batch_id, _line, kd_desa from {{batch}} where coalesce(kd_desa, '') !~ '{_DESA}'",
        "Kd_Desa is a Siskeudes desa code: district and village part of the Kemendagri code, "
        "04.2001.",
    ),
    (
        "Kd_Desa is a desa of the regency",
        f"""
        select _batch_id, _line, kd_desa from {{batch}}
        where kd_desa ~ '{_DESA}' and not """
        + _DESA_EXISTS.format(code="_regency || replace(kd_desa, '.', '')"),
        "the file's regency code followed by Kd_Desa is a desa of the region master "
        "(marts.dim_village)",
    ),
    (
        "Kd_Keg belongs to Kd_Desa",
        f"""
        select _batch_id, _line, kd_desa, kd_keg from {{batch}}
        where kd_keg is not null and (
            left(kd_keg, length(kd_desa)) is distinct from kd_desa
            or substr(kd_keg, length(kd_desa) + 1) !~ '{_KEGIATAN}'
        )
        """,
        "Kd_Keg is the row's Kd_Desa followed by bidang, sub-bidang and kegiatan "
        "(04.2001.02.03.10.)",
    ),
    (
        "Kd_Rincian fits the table",
        f"""
        select _batch_id, _line, kd_rincian from {{batch}}
        where _member in ('Ta_RAB', 'Ta_RABRinci', 'Ta_TBPRinci', 'Ta_SPPRinci', 'Ta_SPJRinci',
                          'Ta_JurnalUmumRinci')
            and coalesce(kd_rincian, '') !~ case _member
                when 'Ta_TBPRinci' then '^4{_ACCOUNT}'
                when 'Ta_SPPRinci' then '^5{_ACCOUNT}'
                when 'Ta_SPJRinci' then '^5{_ACCOUNT}'
                when 'Ta_JurnalUmumRinci' then '^[1-7]{_ACCOUNT}'
                else '^[456]{_ACCOUNT}'
            end
        """,
        "Kd_Rincian is an account (objek) code, 4.2.1.01.: revenue in budget and receipts, "
        "spending in budget and payments, financing in budget and journal",
    ),
    (
        "spending lines and only they have a kegiatan",
        f"""
        select _batch_id, _line, kd_keg, kd_rincian from {{batch}}
        where _member in ('Ta_RAB', 'Ta_RABRinci', 'Ta_TBPRinci', 'Ta_SPPRinci', 'Ta_SPJRinci')
            and kd_rincian ~ '^[456]{_ACCOUNT}'
            and (kd_rincian like '5.%')
                <> (substr(kd_keg, length(kd_desa) + 1) is distinct from '{_NO_KEGIATAN}')
        """,
        "spending (5.x) is budgeted and paid under a kegiatan; revenue and financing lines "
        f"carry the kegiatan part {_NO_KEGIATAN}",
    ),
    (
        "each row once",
        """
        select _batch_id, min(_line) as first_line, _member, _key, count(*) as copies
        from {batch}
        group by _batch_id, _member, _key
        having count(*) > 1
        """,
        "no two rows of a table share their key (e.g. Ta_RABRinci: Kd_Keg, Kd_Rincian, "
        "Kd_SubRinci, No_Urut; Ta_TBPRinci: No_Bukti, Kd_Keg, Kd_Rincian, RincianSD)",
    ),
    (
        "realisation dated within the year",
        f"""
        select _batch_id, _line, doc_no, doc_date from {{batch}}
        where _member in ({_REALISATION})
            and (doc_date is null or right(btrim(doc_date), 4) <> _year)
        """,
        "every receipt, payment, report and journal line has its document (Ta_TBP, Ta_SPP, "
        "Ta_SPJ, Ta_JurnalUmum), dated in the fiscal year",
    ),
)

FLAT: tuple[tuple[str, str, str], ...] = (
    (
        "Tahun is the file's year",
        "select _batch_id, _line, tahun from {batch} where coalesce(btrim(tahun), '') <> _year",
        "every row's Tahun is the fiscal year of the file (its name and folder)",
    ),
    (
        "Kd_Desa format",
        f"select _batch_id, _line, kd_desa from {{batch}} "
        f"where coalesce(btrim(kd_desa), '') !~ '{_VILLAGE}'",
        "Kd_Desa is a dotted Kemendagri village code, 18.11.01.2001",
    ),
    (
        "Kd_Desa is a desa of the regency",
        f"""
        select _batch_id, _line, kd_desa from {{batch}}
        where btrim(kd_desa) ~ '{_VILLAGE}' and (
            left(replace(btrim(kd_desa), '.', ''), 4) <> _regency or not """
        + _DESA_EXISTS.format(code="replace(btrim(kd_desa), '.', '')")
        + ")",
        "Kd_Desa is a desa of the file's regency in the region master (marts.dim_village)",
    ),
    (
        "Kd_Rincian format",
        f"""
        select _batch_id, _line, kd_rincian from {{batch}}
        where coalesce(btrim(kd_rincian), '') !~ '^[456]{_ACCOUNT}'
        """,
        "Kd_Rincian is a revenue, spending or financing account (objek) code, 5.2.1.01.",
    ),
    (
        "Kd_Akun is the account's akun",
        """
        select _batch_id, _line, kd_akun, kd_rincian from {batch}
        where rtrim(btrim(coalesce(kd_akun, '')), '.')
            <> split_part(btrim(coalesce(kd_rincian, '')), '.', 1)
        """,
        "Kd_Akun is the first part of Kd_Rincian (4., 5. or 6.)",
    ),
    (
        "spending lines and only they have a kegiatan",
        f"""
        select _batch_id, _line, kd_keg, kd_rincian from {{batch}}
        where case
            when btrim(kd_rincian) like '5.%' then coalesce(btrim(kd_keg), '') !~ '{_KEGIATAN}'
            else coalesce(btrim(kd_keg), '') <> ''
        end
        """,
        "spending (5.x) rows name their kegiatan (02.03.10.); revenue and financing rows none",
    ),
    (
        "each row once",
        """
        select _batch_id, min(_line) as first_line, _key, count(*) as copies
        from {batch}
        group by _batch_id, _key
        having count(*) > 1
        """,
        "no two rows share desa, kegiatan and account",
    ),
)


def suites() -> tuple[SuiteSpec, ...]:
    """The suites of the two APBDes datasets: Siskeudes exports and the flat template."""
    return (
        SuiteSpec("apbdes", "siskeudes", "apbdes_siskeudes",
                  tuple(no_rows(*rule) for rule in SISKEUDES), partition="regency/year"),
        SuiteSpec("apbdes", "flat", "apbdes_flat", tuple(no_rows(*rule) for rule in FLAT),
                  partition="regency/year"),
    )
