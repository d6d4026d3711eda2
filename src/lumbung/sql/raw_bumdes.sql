-- BUMDes (source `bumdes`): the Kemendesa registry (paged JSON) and the yearly BUMDes
-- reports (CSV/XLSX per regency), every value as text exactly as received. Idempotent.

create table if not exists raw.bumdes_registry (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    id text,
    nama text,
    kode_desa text,
    nama_desa text,
    status_badan_hukum text,
    nomor_sertifikat text,
    tanggal_sertifikat text,
    tanggal_berdiri text,
    nomor_perdes text,
    unit_usaha text,
    page text,
    per_page text,
    total text,
    primary key (_batch_id, _row_number)
);

comment on table raw.bumdes_registry is
    'BUMDes registry API pages: one row per item of data[] (_row_number = its position on the page), with the page envelope (page, per_page, total).';
comment on column raw.bumdes_registry.unit_usaha is
    'The item''s list of business units ({nama, jenis}) as JSON text.';

create table if not exists raw.bumdes_annual_reports (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    no text,
    id_bumdes text,
    nama_bumdes text,
    kode_desa text,
    nama_desa text,
    tahun text,
    modal text,
    penyertaan_modal_desa text,
    aset text,
    omzet text,
    laba text,
    kontribusi_pades text,
    klasifikasi text,
    primary key (_batch_id, _row_number)
);

comment on table raw.bumdes_annual_reports is
    'Yearly BUMDes reports compiled per regency (CSV or XLSX), amounts in Indonesian number formats as written.';

-- Gate views: the rows of the batch under validation, with its partition.
create or replace view audit.gate_bumdes_registry as
select r.*, b.partition_key as _snapshot
from raw.bumdes_registry as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'bumdes' and b.dataset = 'registry';

create or replace view audit.gate_bumdes_annual_reports as
select r.*, b.partition_key as _report_year
from raw.bumdes_annual_reports as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'bumdes' and b.dataset = 'annual_reports';
