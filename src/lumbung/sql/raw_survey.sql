-- Smart Village survey (source `survey`): the form tool's exports, every answer as text
-- exactly as received. Column names are the form's questions in snake case; the labels are
-- in lumbung.sources.survey.COLUMNS and in the comments below. Idempotent.

create table if not exists raw.survey_responses (
    _batch_id bigint not null references audit.load_batches (batch_id),
    _row_number bigint not null,
    timestamp text,
    kode_desa text,
    nama_desa text,
    kecamatan text,
    kabupaten_kota text,
    tahun text,
    jabatan_responden text,
    memiliki_website text,
    alamat_website text,
    sistem_informasi_desa text,
    layanan_surat_online text,
    apbdes_dipublikasikan text,
    jumlah_rapat_bpd text,
    jumlah_perdes text,
    pembayaran_digital text,
    akses_internet_kantor text,
    jumlah_penduduk text,
    primary key (_batch_id, _row_number)
);

comment on table raw.survey_responses is
    'Smart Village survey responses as exported by the form tool (CSV or XLSX), one row per submission, every value as text.';
comment on column raw.survey_responses.timestamp is 'Timestamp: when the form was submitted (local time, as exported).';
comment on column raw.survey_responses.memiliki_website is 'Apakah desa memiliki website?';
comment on column raw.survey_responses.sistem_informasi_desa is 'Sistem informasi desa yang digunakan';
comment on column raw.survey_responses.apbdes_dipublikasikan is 'APBDes dipublikasikan (papan/online)';
comment on column raw.survey_responses.akses_internet_kantor is 'Akses internet di kantor desa (asked since the 2024 form)';

-- Gate view: the rows of the survey batch under validation, with its partition (the year).
create or replace view audit.gate_survey_responses as
select r.*, b.partition_key as _survey_year
from raw.survey_responses as r
inner join audit.load_batches as b on r._batch_id = b.batch_id
where b.status = 'validating' and b.source = 'survey' and b.dataset = 'responses';
