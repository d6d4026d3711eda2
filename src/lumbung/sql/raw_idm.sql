-- IDM (Indeks Desa Membangun, Kemendesa): raw tables and gate views.
-- One batch per API response file (source 'idm', dataset 'idm', partition_key
-- '<tahun>/<kode_desa>': the village is part of the key because two villages' responses
-- can be byte-identical and batches are deduplicated by content within a partition).
-- Every value is text exactly as received; kode_desa and tahun come from the file's place
-- in the landing folder (tahun=<year>/<kode_desa>.json), dimensi from the ROW section.
-- Idempotent: every statement can run again on an existing warehouse.

-- The 50 indicator items of mapData.ROW; _row_number = the item's position in ROW.
create table if not exists raw.idm_indicators (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    kode_desa text,
    tahun text,
    dimensi text,
    no text,
    indikator text,
    skor text,
    keterangan text,
    kegiatan text,
    nilai text,
    pusat text,
    prov text,
    kab text,
    desa text,
    csr text,
    lainnya text,
    row_cell text,
    primary key (_batch_id, _row_number)
);

-- One record per response (_row_number 0): the published index rows of ROW (IKS, IKE, IKL,
-- IDM <year>, STATUS IDM <year>), mapData.SUMMARIES and mapData.IDENTITAS.
create table if not exists raw.idm_summaries (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    kode_desa text,
    tahun text,
    api_status text,
    api_error text,
    iks text,
    ike text,
    ikl text,
    idm text,
    status_idm text,
    row_tahun text,
    skor_saat_ini text,
    status text,
    target_status text,
    skor_minimal text,
    penambahan text,
    summaries_tahun text,
    nama_provinsi text,
    id_prov text,
    id_kabupaten text,
    nama_kab_kota text,
    id_kecamatan text,
    nama_kecamatan text,
    id_desa text,
    nama_desa text,
    primary key (_batch_id, _row_number)
);

comment on table raw.idm_indicators is
    'IDM indicator items as received from the Kemendesa API, one row per item of mapData.ROW.';
comment on table raw.idm_summaries is
    'IDM published indices, status and identity as received, one row per API response.';

-- Gate views: rows of the IDM batches under validation ('validating'), with the batch's
-- year. The gate may validate many IDM batches in one run, so every rule of the idm suite
-- groups by _batch_id. gate_idm (one row per response) is the suite's table.
create or replace view audit.gate_idm as
select
    s.*,
    split_part(b.partition_key, '/', 1) as _tahun
from raw.idm_summaries as s
inner join audit.load_batches as b on s._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'idm';

create or replace view audit.gate_idm_indicators as
select
    i.*,
    split_part(b.partition_key, '/', 1) as _tahun
from raw.idm_indicators as i
inner join audit.load_batches as b on i._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'idm';
