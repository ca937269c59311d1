-- Per repository, workflow and week (of the run's creation): how often CI runs, fails and is
-- re-run, how long it takes, and which jobs fail most. A run counts once, by its latest loaded
-- attempt; every loaded attempt counts in `attempts` and the durations.
{% set failed = "('failure', 'timed_out', 'startup_failure')" %}

with attempts as (
    select runs.*,
           {{ week_of('created_at') }} as week_start,
           row_number() over (partition by id order by run_attempt desc) = 1 as is_latest
    from {{ ref('stg_workflow_runs') }} as runs
),

runs as (
    select repo_id, owner || '/' || repo as repository, workflow_id, workflow_name, week_start,
           count(distinct id) as runs,
           count(*) as attempts,
           sum(case when is_latest and status = 'completed' then 1 else 0 end) as completed_runs,
           sum(case when is_latest and conclusion in {{ failed }} then 1 else 0 end)
               as failed_runs,
           count(distinct case when run_attempt > 1 then id end) as rerun_runs,
           {{ median("case when status = 'completed' then duration_seconds end") }} / 60.0
               as median_minutes,
           {{ percentile(0.9, "case when status = 'completed' then duration_seconds end") }}
               / 60.0 as p90_minutes
    from attempts
    group by repo_id, owner, repo, workflow_id, workflow_name, week_start
),

job_failures as (
    select attempts.repo_id, attempts.workflow_id, attempts.week_start, jobs.name,
           count(*) as failures
    from {{ ref('stg_workflow_jobs') }} as jobs
    join attempts
      on attempts.id = jobs.run_id and attempts.run_attempt = jobs.run_attempt
    where jobs.conclusion in {{ failed }}
    group by attempts.repo_id, attempts.workflow_id, attempts.week_start, jobs.name
),

ranked_failures as (
    select job_failures.*,
           row_number() over (partition by repo_id, workflow_id, week_start
                              order by failures desc, name) as failure_rank
    from job_failures
),

most_failing as (
    select repo_id, workflow_id, week_start,
           string_agg(name || ' (' || cast(failures as {{ dbt.type_string() }}) || ')', ', '
                      order by failure_rank) as most_failing_jobs
    from ranked_failures
    where failure_rank <= 3
    group by repo_id, workflow_id, week_start
)

select runs.repo_id,
       runs.repository,
       runs.workflow_id,
       runs.workflow_name,
       runs.week_start,
       runs.runs,
       runs.attempts,
       runs.completed_runs,
       runs.failed_runs,
       case when runs.completed_runs > 0
            then cast(runs.failed_runs as double precision) / runs.completed_runs end
           as failure_rate,
       cast(runs.rerun_runs as double precision) / runs.runs as rerun_rate,
       runs.median_minutes,
       runs.p90_minutes,
       most_failing.most_failing_jobs
from runs
left join most_failing
  on most_failing.repo_id = runs.repo_id and most_failing.workflow_id = runs.workflow_id
 and most_failing.week_start = runs.week_start
