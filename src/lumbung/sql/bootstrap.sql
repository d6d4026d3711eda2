-- Warehouse bootstrap: schemas, audit tables, BI roles. The raw landing tables and their
-- gate views are derived from the sources' declarations (lumbung.raw_tables) and run after
-- this file. Idempotent: every statement can run again on an existing warehouse.
-- The BI role's password is set separately by lumbung.warehouse (it is a secret).

create schema if not exists raw;
create schema if not exists audit;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;

-- One row per landed file. rows_received = rows_loaded + rows_quarantined always holds
-- once a batch leaves 'received'.
create table if not exists audit.load_batches (
    batch_id bigserial primary key,
    source text not null,
    dataset text not null,
    partition_key text not null default '',
    file_name text not null,
    file_path text not null,
    content_hash text not null,
    file_bytes bigint not null,
    rows_received bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    status text not null default 'received'
        check (status in ('received', 'loaded', 'validating', 'validated', 'failed', 'rejected')),
    status_reason text,
    dag_id text,
    run_id text,
    received_at timestamptz not null default now(),
    loaded_at timestamptz,
    validated_at timestamptz,
    finished_at timestamptz,
    unique (source, dataset, partition_key, content_hash),
    constraint rows_accounted check (
        status in ('received', 'rejected')
        or rows_received = rows_loaded + rows_quarantined
    )
);

comment on table audit.load_batches is
    'One row per landed file: where it came from, its content hash, row accounting and gate status.';

-- Whether the file is real public data or written by `lumbung generate` (listed with the
-- same sha256 in a generated_manifest.json of one of its folders): lumbung.landing.
alter table audit.load_batches add column if not exists data_origin text not null
    default 'real' check (data_origin in ('real', 'generated'));
comment on column audit.load_batches.data_origin is
    'real (public data as delivered) or generated (listed by lumbung generate''s manifest).';

-- Warnings of landing (no data rows, a spreadsheet that was really an HTML table, an encoding
-- other than UTF-8): the file landed, and the gate reports these as warnings.
alter table audit.load_batches add column if not exists landing_notes text;

-- Visibility (lumbung.visibility): a gate ends by giving every batch its run accepted one
-- number of this sequence, in one transaction; dbt reads only validated batches numbered at
-- or below the pin its build started with, so a build sees all of a delivery or none of it.
-- Added to an existing warehouse, the batches already validated become visible at once.
create sequence if not exists audit.visible_seq;
do $$
begin
    if not exists (
        select from information_schema.columns
        where table_schema = 'audit' and table_name = 'load_batches' and column_name = 'visible_seq'
    ) then
        alter table audit.load_batches add column visible_seq bigint;
        update audit.load_batches set visible_seq = nextval('audit.visible_seq')
        where status = 'validated';
    end if;
end
$$;
alter table audit.load_batches add column if not exists released_at timestamptz;
create index if not exists load_batches_visible_seq on audit.load_batches (visible_seq);
-- The pin of the dbt build running (or last run): set by the build before dbt starts
-- (builds run one at a time: one Airflow pool slot); staging reads up to it. A var would
-- do, but a var that changes makes dbt parse the whole project again at every build.
create table if not exists audit.dbt_pin (
    one_row boolean primary key default true check (one_row),
    visible_seq bigint not null,
    pinned_at timestamptz not null default now()
);
comment on table audit.dbt_pin is
    'The visibility pin of the current dbt build: staging reads validated batches released at or below it.';
-- A selective rebuild tests only the staging lines of batches released after the last
-- published build (dbt macro batches_to_test): the others passed the same tests then.
alter table audit.dbt_pin add column if not exists tested_after bigint;
comment on column audit.dbt_pin.tested_after is
    'Staging tests of the build check the rows of batches released after this number (the last published build''s pin); null: every row.';
comment on column audit.load_batches.visible_seq is
    'Visibility number: set for all the batches a gate run accepted at once, at its end; dbt reads only validated batches numbered at or below its build''s pin (null: not visible yet).';

-- Rows that could not be loaded, kept exactly as received with the reason.
create table if not exists audit.quarantine (
    quarantine_id bigserial primary key,
    batch_id bigint not null references audit.load_batches (batch_id),
    row_number bigint not null,
    raw_record text not null,
    reason text not null,
    column_name text,
    value text,
    quarantined_at timestamptz not null default now()
);

create index if not exists quarantine_batch_idx on audit.quarantine (batch_id);

-- BI role: reads marts, nothing else. Created without login here; lumbung.warehouse
-- sets LOGIN and its password.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'lumbung_bi') then
        create role lumbung_bi nologin;
    end if;
end
$$;

revoke all on schema raw, audit, staging, intermediate from lumbung_bi;
revoke create on schema public from public;
grant usage on schema marts to lumbung_bi;
grant select on all tables in schema marts to lumbung_bi;
alter default privileges in schema marts grant select on tables to lumbung_bi;

-- Write-audit-publish: dbt builds the marts here; only audited tables are copied into
-- marts (lumbung.publish), so BI users never see a half-built or failed build.
create schema if not exists marts_build;
revoke all on schema marts_build from lumbung_bi;

-- One row per publication of audited marts (one transaction each).
create table if not exists audit.publications (
    publication_id bigserial primary key,
    dag_id text,
    run_id text,
    published_at timestamptz not null default now(),
    tables jsonb not null
);

-- For BI users: one row per published mart, replaced by each publication of it
-- (lumbung.publish, in the publication's transaction).
create table if not exists marts.publication_info (
    mart text primary key,
    published_at timestamptz not null,
    publication_id bigint not null,
    row_count bigint not null,
    latest_year integer,
    methodology_version text,
    sources text[] not null,
    batch_ids bigint[] not null,
    batch_count integer not null
);
grant select on marts.publication_info to lumbung_bi;
comment on table marts.publication_info is
    'Per published mart: when it was published, by which publication, the latest year it '
    'holds, its methodology version and the accepted batches of the sources it was built from.';
comment on column marts.publication_info.mart is 'Name of the published table in marts.';
comment on column marts.publication_info.published_at is
    'When the mart was last published (the commit of its publication).';
comment on column marts.publication_info.publication_id is
    'The publication (audit.publications) that last published the mart.';
comment on column marts.publication_info.row_count is 'Rows the publication copied.';
comment on column marts.publication_info.latest_year is
    'Latest value of the mart''s year column; null for a mart without one.';
comment on column marts.publication_info.methodology_version is
    'Methodology version of the indicator catalogue the mart was computed with; null when '
    'it uses none.';
comment on column marts.publication_info.sources is
    'The landed sources the mart reads (audit.load_batches.source), from dbt''s lineage.';
comment on column marts.publication_info.batch_ids is
    'The accepted (validated) batches of those sources when the mart was published.';
comment on column marts.publication_info.batch_count is 'Number of batch_ids.';

-- One row per successful dbt build of the indicator marts (lumbung.rebuild_plan): what it
-- read (a fingerprint of each source's accepted batches, and of the dbt project) and, once
-- its marts are published, the publication. The next build rebuilds only what the sources
-- changed since the last published build feed.
create table if not exists audit.mart_builds (
    build_id bigserial primary key,
    dag_id text,
    run_id text,
    built_at timestamptz not null default now(),
    project_fingerprint text not null,
    source_fingerprints jsonb not null,
    rebuilt text not null,           -- 'everything', or the changed sources, comma-separated
    publication_id bigint references audit.publications
);
alter table audit.mart_builds add column if not exists visible_seq bigint;
comment on column audit.mart_builds.visible_seq is
    'The visibility pin of the build: it read the validated batches numbered at or below it.';

-- Quality results, stored (not only logged) so that trends and reports can be computed.
-- One row per validation of a suite: a landed batch (layer 'batch') or a built mart (layer 'mart').
create table if not exists audit.dq_runs (
    dq_run_id bigserial primary key,
    checked_at timestamptz not null default now(),
    layer text not null check (layer in ('batch', 'mart')),
    source text not null,            -- a family's load_batches.source (lumbung.families); 'marts'
    dataset text not null,           -- the dataset (raw table) or the mart name
    suite text not null,             -- the GX suite name
    batch_id bigint references audit.load_batches (batch_id),  -- null for marts
    partition_key text,
    regency_code text,               -- 4-digit Kemendagri regency code when the batch is one regency's, else null
    dag_id text,
    run_id text,
    passed boolean not null,         -- no critical expectation failed
    expectations_evaluated integer not null,
    critical_failures integer not null,
    warnings integer not null,
    message text,                    -- the operator's one-paragraph verdict (GateResult.message())
    docs_url text                    -- GX Data Docs page of this validation, when built
);

create index if not exists dq_runs_batch_idx on audit.dq_runs (batch_id);
create index if not exists dq_runs_checked_idx on audit.dq_runs (checked_at);

comment on table audit.dq_runs is
    'One row per quality validation of a landed batch or a built mart, with its verdict.';

-- One row per expectation of a dq run (passed ones too, so trends can be computed).
create table if not exists audit.dq_results (
    dq_run_id bigint not null references audit.dq_runs (dq_run_id) on delete cascade,
    rule text not null,              -- the rule's human name (Rule.rule)
    expectation text not null,       -- GX expectation type
    column_name text,
    severity text not null check (severity in ('critical', 'warning')),
    success boolean not null,
    unexpected_count bigint,
    observed_value text,
    examples jsonb not null default '[]',  -- offending values with their lines, as in the gate message
    primary key (dq_run_id, rule)
);

-- Added by the dq-store branch (additive): the one-sentence finding of a failed expectation.
alter table audit.dq_results add column if not exists detail text;

comment on table audit.dq_results is
    'One row per expectation evaluated in a dq run, passed or not, with what was observed.';

-- DAG runs that failed (any task), recorded by the failure callback.
create table if not exists audit.failed_runs (
    dag_id text not null,
    run_id text not null,
    task_id text not null,
    failed_at timestamptz not null default now(),
    error text,
    primary key (dag_id, run_id, task_id)
);

comment on table audit.failed_runs is
    'Airflow task failures (the last try), recorded by the DAGs'' on_failure_callback.';

-- Row-level security per regency (lumbung.rls). The regencies' group holds their SELECT
-- grants; each lumbung_bi_<code> role (lumbung.rls.ensure_regency_role) inherits it and its
-- policies show only that regency's rows. The API's login, lumbung_api, inherits nothing:
-- it reads only after `set local role` to lumbung_bi or to the role of a caller's token.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'lumbung_bi_regency') then
        create role lumbung_bi_regency nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'lumbung_api') then
        create role lumbung_api nologin;
    end if;
end
$$;

revoke all on schema raw, staging, intermediate, marts_build from lumbung_bi_regency, lumbung_api;
revoke all on schema audit from lumbung_bi_regency;
grant usage on schema marts to lumbung_bi_regency;
grant select on all tables in schema marts to lumbung_bi_regency;
alter default privileges in schema marts grant select on tables to lumbung_bi_regency;
grant lumbung_bi to lumbung_api with inherit false, set true;

-- API tokens (lumbung api-token): only the SHA-256 of a token is kept; it maps to the
-- role of its regency.
create table if not exists audit.api_tokens (
    token_id bigserial primary key,
    token_sha256 text not null unique,
    regency_code text not null check (regency_code ~ '^[0-9]{4}$'),
    label text,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

comment on table audit.api_tokens is
    'API tokens (SHA-256 only) and the regency whose role each one reads as.';

-- The API checks tokens and dates its answers (ETag, Last-Modified) from the publications.
grant usage on schema audit to lumbung_api;
grant select on audit.api_tokens, audit.publications to lumbung_api;

-- The region master's batches were recorded as source 'kemendagri_region' before the source
-- had one name everywhere ('region': its landing folder, lumbung ingest, the reports).
update audit.load_batches set source = 'region' where source = 'kemendagri_region';
update audit.dq_runs set source = 'region' where source = 'kemendagri_region';
update marts.publication_info set sources = array_replace(sources, 'kemendagri_region', 'region')
where 'kemendagri_region' = any(sources);
update audit.mart_builds
set source_fingerprints = (source_fingerprints - 'kemendagri_region')
    || jsonb_build_object('region', source_fingerprints -> 'kemendagri_region'),
    rebuilt = regexp_replace(rebuilt, '\mkemendagri_region\M', 'region', 'g')
where source_fingerprints ? 'kemendagri_region';
