-- APBDes (village budgets and realisation) raw tables and gate views. Idempotent.
-- Every Siskeudes table landed from a regency's export zip has its own raw table in
-- Siskeudes' column layout (names lower-cased), every value as text exactly as received;
-- one zip is one batch across all of them. The flat template has its own table, and every
-- file's members (zip member or sheet) are listed in raw.apbdes_file_members.
-- Written from lumbung.sources.apbdes (SISKEUDES_TABLES, FLAT_TABLE): keep them in step
-- (tests/test_apbdes.py compares them).
-- Unlike the small region tables, _batch_id has no foreign key to audit.load_batches and
-- (_batch_id, _row_number) is no primary key: these tables take millions of rows, and
-- maintaining the key's btree made COPY of a province's exports about 2.5 times slower
-- than COPY into the same tables without it (bench/bench_apbdes_ingest.py measures landing
-- against a plain COPY; the target is at least half its speed). Rows are only ever written by
-- land_file, in the same transaction that creates their batch, numbered by their line in
-- the file (unique within the batch by construction), and batches are never deleted.
-- Readers find a batch's rows through a BRIN index on _batch_id: batches are appended in
-- batch_id order, so it stays small and costs nearly nothing to maintain.

create table if not exists raw.apbdes_ta_pemda (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_prov text,
    kd_kab text,
    nama_pemda text,
    nama_provinsi text,
    ibukota text,
    alamat text,
    nm_bupati text,
    jbt_bupati text,
    logo text,
    c_kode text,
    c_pemda text,
    c_data text
);

comment on table raw.apbdes_ta_pemda is
    'Siskeudes Ta_Pemda (Ta_Pemda.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ref_kecamatan (
    _batch_id bigint not null,
    _row_number bigint not null,
    kd_kec text,
    nama_kecamatan text
);

comment on table raw.apbdes_ref_kecamatan is
    'Siskeudes Ref_Kecamatan (Ref_Kecamatan.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ref_desa (
    _batch_id bigint not null,
    _row_number bigint not null,
    kd_kec text,
    kd_desa text,
    nama_desa text
);

comment on table raw.apbdes_ref_desa is
    'Siskeudes Ref_Desa (Ref_Desa.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ref_bidang (
    _batch_id bigint not null,
    _row_number bigint not null,
    kd_bid text,
    nama_bidang text
);

comment on table raw.apbdes_ref_bidang is
    'Siskeudes Ref_Bidang (Ref_Bidang.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ref_kegiatan (
    _batch_id bigint not null,
    _row_number bigint not null,
    kd_bid text,
    id_keg text,
    nama_kegiatan text
);

comment on table raw.apbdes_ref_kegiatan is
    'Siskeudes Ref_Kegiatan (Ref_Kegiatan.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_desa (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_desa text,
    nm_kades text,
    jbt_kades text,
    nm_sekdes text,
    nip_sekdes text,
    jbt_sekdes text,
    nm_kaur_keu text,
    jbt_kaur_keu text,
    nm_bendahara text,
    jbt_bendahara text,
    no_perdes text,
    tgl_perdes text,
    no_perdes_pb text,
    tgl_perdes_pb text,
    no_perdes_pj text,
    tgl_perdes_pj text,
    alamat text,
    ibukota text,
    status text,
    npwp text
);

comment on table raw.apbdes_ta_desa is
    'Siskeudes Ta_Desa (Ta_Desa.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_bidang (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_desa text,
    kd_bid text,
    nama_bidang text
);

comment on table raw.apbdes_ta_bidang is
    'Siskeudes Ta_Bidang (Ta_Bidang.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_kegiatan (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_desa text,
    kd_bid text,
    kd_keg text,
    id_keg text,
    nama_kegiatan text,
    pagu text,
    pagu_pak text,
    nm_pptkd text,
    nip_pptkd text,
    lokasi text,
    waktu text,
    keluaran text,
    sumberdana text
);

comment on table raw.apbdes_ta_kegiatan is
    'Siskeudes Ta_Kegiatan (Ta_Kegiatan.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_rab (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_desa text,
    kd_keg text,
    kd_rincian text,
    anggaran text,
    anggaranpak text,
    anggaranstlhpak text
);

comment on table raw.apbdes_ta_rab is
    'Siskeudes Ta_RAB (Ta_RAB.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_rabrinci (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_desa text,
    kd_keg text,
    kd_rincian text,
    kd_subrinci text,
    no_urut text,
    sumberdana text,
    uraian text,
    satuan text,
    jmlsatuan text,
    hrgsatuan text,
    anggaran text,
    jmlsatuanpak text,
    hrgsatuanpak text,
    anggaranstlhpak text,
    anggaranpak text,
    kode_sbu text
);

comment on table raw.apbdes_ta_rabrinci is
    'Siskeudes Ta_RABRinci (Ta_RABRinci.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_tbp (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    no_bukti text,
    tgl_bukti text,
    kd_desa text,
    uraian text,
    jumlah text,
    nm_penyetor text,
    alamat_penyetor text,
    ttd_penyetor text,
    norek_bank text,
    nama_bank text,
    nm_bendahara text,
    jbt_bendahara text,
    status text,
    kdbayar text,
    ref_bayar text
);

comment on table raw.apbdes_ta_tbp is
    'Siskeudes Ta_TBP (Ta_TBP.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_tbprinci (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    no_bukti text,
    kd_desa text,
    kd_keg text,
    kd_rincian text,
    rinciansd text,
    sumberdana text,
    nilai text
);

comment on table raw.apbdes_ta_tbprinci is
    'Siskeudes Ta_TBPRinci (Ta_TBPRinci.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_spp (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    no_spp text,
    tgl_spp text,
    jn_spp text,
    kd_desa text,
    keterangan text,
    jumlah text,
    potongan text,
    status text
);

comment on table raw.apbdes_ta_spp is
    'Siskeudes Ta_SPP (Ta_SPP.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_spprinci (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_desa text,
    no_spp text,
    kd_keg text,
    kd_rincian text,
    sumberdana text,
    nilai text
);

comment on table raw.apbdes_ta_spprinci is
    'Siskeudes Ta_SPPRinci (Ta_SPPRinci.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_spj (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    no_spj text,
    tgl_spj text,
    kd_desa text,
    no_spp text,
    keterangan text,
    jumlah text,
    potongan text,
    status text
);

comment on table raw.apbdes_ta_spj is
    'Siskeudes Ta_SPJ (Ta_SPJ.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_spjrinci (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    no_spj text,
    kd_keg text,
    kd_rincian text,
    sumberdana text,
    kd_desa text,
    no_spp text,
    jmlcair text,
    nilai text,
    sisa text,
    alamat text
);

comment on table raw.apbdes_ta_spjrinci is
    'Siskeudes Ta_SPJRinci (Ta_SPJRinci.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_jurnalumum (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kdbuku text,
    kd_desa text,
    tanggal text,
    jnsbukti text,
    nobukti text,
    keterangan text,
    dk text,
    debet text,
    kredit text,
    jenis text,
    posted text
);

comment on table raw.apbdes_ta_jurnalumum is
    'Siskeudes Ta_JurnalUmum (Ta_JurnalUmum.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_ta_jurnalumumrinci (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    nobukti text,
    kd_keg text,
    rinciansd text,
    noid text,
    kd_desa text,
    akun text,
    kd_rincian text,
    sumberdana text,
    dk text,
    debet text,
    kredit text
);

comment on table raw.apbdes_ta_jurnalumumrinci is
    'Siskeudes Ta_JurnalUmumRinci (Ta_JurnalUmumRinci.csv of the regency export zip), every value as text as received.';

create table if not exists raw.apbdes_flat (
    _batch_id bigint not null,
    _row_number bigint not null,
    tahun text,
    kd_desa text,
    kd_akun text,
    kd_keg text,
    kd_rincian text,
    nilai_anggaran text,
    nilai_realisasi text
);

comment on table raw.apbdes_flat is
    'APBDes flat template (CSV or XLSX): one row per village, kegiatan and account, every value as text as received.';

create table if not exists raw.apbdes_file_members (
    _batch_id bigint not null,
    _row_number bigint not null,
    member text,
    raw_table text,
    delimiter text,
    has_bom text,
    header text,
    primary key (_batch_id, _row_number)
);

comment on table raw.apbdes_file_members is
    'Members of each landed APBDes file (zip member or sheet): the raw table it went to, the delimiter and byte-order mark found, the header as received.';

-- Row identity and lookups by batch (see the header): no primary key on the big raw tables,
-- a BRIN index on _batch_id instead. Warehouses bootstrapped before lose their old keys
-- (looked up first: altering a table that has none would still lock it).
do $$
declare
    old_key record;
begin
    for old_key in
        select c.conrelid::regclass as table_name, c.conname
        from pg_constraint as c
        inner join pg_class as t on c.conrelid = t.oid
        inner join pg_namespace as n on t.relnamespace = n.oid
        where
            n.nspname = 'raw' and c.contype = 'p' and t.relname like 'apbdes\_%'
            and t.relname <> 'apbdes_file_members'
    loop
        execute format('alter table %s drop constraint %I', old_key.table_name, old_key.conname);
    end loop;
end
$$;

create index if not exists apbdes_ta_pemda_batch_brin on raw.apbdes_ta_pemda using brin (_batch_id);
create index if not exists apbdes_ref_kecamatan_batch_brin on raw.apbdes_ref_kecamatan using brin (_batch_id);
create index if not exists apbdes_ref_desa_batch_brin on raw.apbdes_ref_desa using brin (_batch_id);
create index if not exists apbdes_ref_bidang_batch_brin on raw.apbdes_ref_bidang using brin (_batch_id);
create index if not exists apbdes_ref_kegiatan_batch_brin on raw.apbdes_ref_kegiatan using brin (_batch_id);
create index if not exists apbdes_ta_desa_batch_brin on raw.apbdes_ta_desa using brin (_batch_id);
create index if not exists apbdes_ta_bidang_batch_brin on raw.apbdes_ta_bidang using brin (_batch_id);
create index if not exists apbdes_ta_kegiatan_batch_brin on raw.apbdes_ta_kegiatan using brin (_batch_id);
create index if not exists apbdes_ta_rab_batch_brin on raw.apbdes_ta_rab using brin (_batch_id);
create index if not exists apbdes_ta_rabrinci_batch_brin on raw.apbdes_ta_rabrinci using brin (_batch_id);
create index if not exists apbdes_ta_tbp_batch_brin on raw.apbdes_ta_tbp using brin (_batch_id);
create index if not exists apbdes_ta_tbprinci_batch_brin on raw.apbdes_ta_tbprinci using brin (_batch_id);
create index if not exists apbdes_ta_spp_batch_brin on raw.apbdes_ta_spp using brin (_batch_id);
create index if not exists apbdes_ta_spprinci_batch_brin on raw.apbdes_ta_spprinci using brin (_batch_id);
create index if not exists apbdes_ta_spj_batch_brin on raw.apbdes_ta_spj using brin (_batch_id);
create index if not exists apbdes_ta_spjrinci_batch_brin on raw.apbdes_ta_spjrinci using brin (_batch_id);
create index if not exists apbdes_ta_jurnalumum_batch_brin on raw.apbdes_ta_jurnalumum using brin (_batch_id);
create index if not exists apbdes_ta_jurnalumumrinci_batch_brin on raw.apbdes_ta_jurnalumumrinci using brin (_batch_id);
create index if not exists apbdes_flat_batch_brin on raw.apbdes_flat using brin (_batch_id);

-- Gate views. Great Expectations validates these while a batch is 'validating', so a suite
-- sees exactly one batch. A Siskeudes export fills many tables; the gate sees their rows as
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
    null as doc_no, null as doc_date, r.kd_desa as _key
from raw.apbdes_ref_desa as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_Desa.csv:' || r._row_number, 'Ta_Desa', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    null, null, r.kd_desa
from raw.apbdes_ta_desa as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_Kegiatan.csv:' || r._row_number, 'Ta_Kegiatan', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, null,
    null, null, r.kd_keg
from raw.apbdes_ta_kegiatan as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_RAB.csv:' || r._row_number, 'Ta_RAB', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    null, null, concat_ws('|', r.kd_keg, r.kd_rincian)
from raw.apbdes_ta_rab as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_RABRinci.csv:' || r._row_number, 'Ta_RABRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    null, null, concat_ws('|', r.kd_keg, r.kd_rincian, r.kd_subrinci, r.no_urut)
from raw.apbdes_ta_rabrinci as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_TBP.csv:' || r._row_number, 'Ta_TBP', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.no_bukti, r.tgl_bukti, r.no_bukti
from raw.apbdes_ta_tbp as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_TBPRinci.csv:' || r._row_number, 'Ta_TBPRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    r.no_bukti, h.doc_date, concat_ws('|', r.no_bukti, r.kd_keg, r.kd_rincian, r.rinciansd)
from raw.apbdes_ta_tbprinci as r
inner join batch as b on r._batch_id = b.batch_id
left join tbp as h on r._batch_id = h._batch_id and r.no_bukti = h.no_bukti
union all
select
    'Ta_SPP.csv:' || r._row_number, 'Ta_SPP', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.no_spp, r.tgl_spp, r.no_spp
from raw.apbdes_ta_spp as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_SPPRinci.csv:' || r._row_number, 'Ta_SPPRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    r.no_spp, h.doc_date, concat_ws('|', r.no_spp, r.kd_keg, r.kd_rincian, r.sumberdana)
from raw.apbdes_ta_spprinci as r
inner join batch as b on r._batch_id = b.batch_id
left join spp as h on r._batch_id = h._batch_id and r.no_spp = h.no_spp
union all
select
    'Ta_SPJ.csv:' || r._row_number, 'Ta_SPJ', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.no_spj, r.tgl_spj, r.no_spj
from raw.apbdes_ta_spj as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_SPJRinci.csv:' || r._row_number, 'Ta_SPJRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, r.kd_keg, r.kd_rincian,
    r.no_spj, h.doc_date, concat_ws('|', r.no_spj, r.kd_keg, r.kd_rincian, r.sumberdana)
from raw.apbdes_ta_spjrinci as r
inner join batch as b on r._batch_id = b.batch_id
left join spj as h on r._batch_id = h._batch_id and r.no_spj = h.no_spj
union all
select
    'Ta_JurnalUmum.csv:' || r._row_number, 'Ta_JurnalUmum', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, null, null,
    r.nobukti, r.tanggal, r.nobukti
from raw.apbdes_ta_jurnalumum as r inner join batch as b on r._batch_id = b.batch_id
union all
select
    'Ta_JurnalUmumRinci.csv:' || r._row_number, 'Ta_JurnalUmumRinci', r._row_number,
    b._regency, b._year, r.tahun, r.kd_desa, nullif(r.kd_keg, ''), r.kd_rincian,
    r.nobukti, h.doc_date, concat_ws('|', r.nobukti, r.noid)
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
    concat_ws('|', r.kd_desa, r.kd_keg, r.kd_rincian) as _key
from raw.apbdes_flat as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.source = 'apbdes' and b.dataset = 'flat' and b.status = 'validating';
