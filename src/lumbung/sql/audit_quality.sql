-- Quality results storage (issue 5, item 4), as agreed between the dq-store and dq-report
-- branches. The dq-store branch adds exactly this DDL to bootstrap.sql; this copy exists only
-- so the dq-report tests can exercise the report's rule-level section before that merge.
-- Not run by lumbung.warehouse.bootstrap (which runs bootstrap.sql and raw_*.sql): drop this
-- file at merge in favour of bootstrap.sql.

-- One row per validation of a suite: a landed batch (layer 'batch') or a built mart (layer 'mart').
create table if not exists audit.dq_runs (
    dq_run_id bigserial primary key,
    checked_at timestamptz not null default now(),
    layer text not null check (layer in ('batch', 'mart')),
    source text not null,            -- region, idm, survey, apbdes, bumdes, ojk; 'marts' for marts
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
-- DAG runs that failed (any task), recorded by the failure callback.
create table if not exists audit.failed_runs (
    dag_id text not null,
    run_id text not null,
    task_id text not null,
    failed_at timestamptz not null default now(),
    error text,
    primary key (dag_id, run_id, task_id)
);
