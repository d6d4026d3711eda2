-- OJK financial access (source `ojk`): the monthly access report (two sheets: Laku Pandai
-- agents per village, bank offices and ATMs per district) and the quarterly KUR report per
-- district, every value as text exactly as received. Idempotent.

create table if not exists raw.ojk_agents (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    no text,
    kode_desa text,
    nama_desa text,
    kecamatan text,
    kabupaten_kota text,
    nama_bank text,
    jumlah_agen text,
    primary key (_batch_id, _row_number)
);

comment on table raw.ojk_agents is
    'OJK access report, sheet "Agen Laku Pandai": branchless-banking agents per village and bank (_row_number = spreadsheet row).';

create table if not exists raw.ojk_offices (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    no text,
    kode_kecamatan text,
    nama_kecamatan text,
    kabupaten_kota text,
    nama_bank text,
    kantor_cabang text,
    kantor_cabang_pembantu text,
    kantor_kas text,
    atm text,
    primary key (_batch_id, _row_number)
);

comment on table raw.ojk_offices is
    'OJK access report, sheet "Kantor Bank dan ATM": bank offices and ATMs per district and bank (_row_number = spreadsheet row).';

create table if not exists raw.ojk_kur (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    no text,
    kode_kecamatan text,
    nama_kecamatan text,
    kabupaten_kota text,
    skema text,
    penyalur text,
    jumlah_debitur text,
    nilai_penyaluran text,
    primary key (_batch_id, _row_number)
);

comment on table raw.ojk_kur is
    'KUR credit disbursed in the quarter per district, scheme and lender (_row_number = spreadsheet row).';

-- Gate views: the rows of the batch under validation, with its partition. An access
-- report's batch fills two tables; its suite checks the offices view too.
create or replace view audit.gate_ojk_agents as
select r.*, b.partition_key as _period
from raw.ojk_agents as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'ojk' and b.dataset = 'access_points';

create or replace view audit.gate_ojk_offices as
select r.*, b.partition_key as _period
from raw.ojk_offices as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'ojk' and b.dataset = 'access_points';

create or replace view audit.gate_ojk_kur as
select r.*, b.partition_key as _quarter
from raw.ojk_kur as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'ojk' and b.dataset = 'kur';
