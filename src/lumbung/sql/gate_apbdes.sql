-- APBDes gate views, written by hand: they reshape the raw tables that
-- lumbung.sources.apbdes declares (created by lumbung.raw_tables before this file runs).
-- Idempotent. Great Expectations validates these while batches are 'validating', so a
-- suite sees exactly those (every row names its _batch_id, the last column so that the
-- views only grow). A Siskeudes export fills many tables; the gate sees their rows as
-- one list of lines in a common shape: where the row is (_line = member:line), the file's
-- regency and year (from the partition), and the codes the rules check. _key is the row's
-- identity within its table (duplicates fail the gate). Realisation details carry the date
-- of their header document (null when the header is missing).
create or replace view audit.gate_apbdes_siskeudes as
with

batch as (
    select
        batch_id,
        split_part(partition_key, '/', 1) as _regency,
        split_part(partition_key, '/', 2) as _year
    from audit.load_batches
    where source = 'apbdes' and dataset = 'siskeudes' and status = 'validating'
),

tbp as (
    select r._batch_id, r.no_bukti, min(r.tgl_bukti) as doc_date
    from raw.apbdes_ta_tbp as r inner join batch as b on r._batch_id = b.batch_id
    group by r._batch_id, r.no_bukti
),

spp as (
    select r._batch_id, r.no_spp, min(r.tgl_spp) as doc_date, min(r.jn_spp) as jn_spp
    from raw.apbdes_ta_spp as r inner join batch as b on r._batch_id = b.batch_id
    group by r._batch_id, r.no_spp
),

spj as (
    select r._batch_id, r.no_spj, min(r.tgl_spj) as doc_date
    from raw.apbdes_ta_spj as r inner join batch as b on r._batch_id = b.batch_id
    group by r._batch_id, r.no_spj
),

ju as (
    select r._batch_id, r.nobukti, min(r.tanggal) as doc_date
    from raw.apbdes_ta_jurnalumum as r inner join batch as b on r._batch_id = b.batch_id
    group by r._batch_id, r.nobukti
)

select
    'Ref_Desa.csv:' || r._row_number as _line, 'Ref_Desa' as _member, r._row_number,
    b._regency, b._year, b._year as tahun, r.kd_desa, null as kd_keg, null as kd_rincian,
    null as doc_no, null as doc_date, r.kd_desa as _key, r._batch_id
from raw.apbdes_ref_desa as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_Desa.csv:' || r._row_number, 'Ta_Desa', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    null, null, r.kd_desa, r._batch_id
from raw.apbdes_ta_desa as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_Kegiatan.csv:' || r._row_number, 'Ta_Kegiatan', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, null,
    null, null, r.kd_keg, r._batch_id
from raw.apbdes_ta_kegiatan as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_RAB.csv:' || r._row_number, 'Ta_RAB', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    null, null, concat_ws('|', r.kd_keg, r.kd_rincian), r._batch_id
from raw.apbdes_ta_rab as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_RABRinci.csv:' || r._row_number, 'Ta_RABRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    null, null, concat_ws('|', r.kd_keg, r.kd_rincian, r.kd_subrinci, r.no_urut), r._batch_id
from raw.apbdes_ta_rabrinci as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_TBP.csv:' || r._row_number, 'Ta_TBP', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.no_bukti, r.tgl_bukti, r.no_bukti, r._batch_id
from raw.apbdes_ta_tbp as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_TBPRinci.csv:' || r._row_number, 'Ta_TBPRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    r.no_bukti, h.doc_date, concat_ws('|', r.no_bukti, r.kd_keg, r.kd_rincian, r.rinciansd), r._batch_id
from raw.apbdes_ta_tbprinci as r
inner join batch as b on r._batch_id = b.batch_id
left join tbp as h on r._batch_id = h._batch_id and r.no_bukti = h.no_bukti
union all
select
    'Ta_SPP.csv:' || r._row_number, 'Ta_SPP', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.no_spp, r.tgl_spp, r.no_spp, r._batch_id
from raw.apbdes_ta_spp as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_SPPRinci.csv:' || r._row_number, 'Ta_SPPRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    r.no_spp, h.doc_date, concat_ws('|', r.no_spp, r.kd_keg, r.kd_rincian, r.sumberdana), r._batch_id
from raw.apbdes_ta_spprinci as r
inner join batch as b on r._batch_id = b.batch_id
left join spp as h on r._batch_id = h._batch_id and r.no_spp = h.no_spp
union all
select
    'Ta_SPJ.csv:' || r._row_number, 'Ta_SPJ', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.no_spj, r.tgl_spj, r.no_spj, r._batch_id
from raw.apbdes_ta_spj as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_SPJRinci.csv:' || r._row_number, 'Ta_SPJRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    r.no_spj, h.doc_date, concat_ws('|', r.no_spj, r.kd_keg, r.kd_rincian, r.sumberdana), r._batch_id
from raw.apbdes_ta_spjrinci as r
inner join batch as b on r._batch_id = b.batch_id
left join spj as h on r._batch_id = h._batch_id and r.no_spj = h.no_spj
union all
select
    'Ta_JurnalUmum.csv:' || r._row_number, 'Ta_JurnalUmum', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.nobukti, r.tanggal, r.nobukti, r._batch_id
from raw.apbdes_ta_jurnalumum as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_JurnalUmumRinci.csv:' || r._row_number, 'Ta_JurnalUmumRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, nullif(r.kd_keg, ''), r.kd_rincian,
    r.nobukti, h.doc_date, concat_ws('|', r.nobukti, r.noid), r._batch_id
from raw.apbdes_ta_jurnalumumrinci as r
inner join batch as b on r._batch_id = b.batch_id
left join ju as h on r._batch_id = h._batch_id and r.nobukti = h.nobukti;

-- The flat template: one line per village, kegiatan and account.
create or replace view audit.gate_apbdes_flat as
select
    b.file_name || ':' || r._row_number as _line,
    r._row_number,
    split_part(b.partition_key, '/', 1) as _regency,
    split_part(b.partition_key, '/', 2) as _year,
    r.tahun,
    r.kd_desa,
    r.kd_akun,
    r.kd_keg,
    r.kd_rincian,
    concat_ws('|', r.kd_desa, r.kd_keg, r.kd_rincian) as _key,
    r._batch_id
from raw.apbdes_flat as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.source = 'apbdes' and b.dataset = 'flat' and b.status = 'validating';
