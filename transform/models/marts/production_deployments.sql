-- One row per production deployment: GitHub deployments to an environment matching var
-- production_environment_pattern and, for repositories without any GitHub deployment, the
-- workflow runs whose name matches var deployment_workflow_pattern (their latest attempts).
-- A deployment's finish time is its first `success` status (never deployment.updated_at, which
-- moves when GitHub later marks the deployment inactive), or its first failure.
{% set failed = "('failure', 'timed_out', 'startup_failure')" %}

with statuses as (
    select deployment_id,
           min(case when state = 'success' then created_at end) as succeeded_at,
           min(case when state in ('failure', 'error') then created_at end) as failed_at
    from {{ ref('stg_deployment_statuses') }}
    group by deployment_id
),

github_deployments as (
    select deployments.repo_id,
           deployments.owner || '/' || deployments.repo as repository,
           deployments.environment,
           'deployment:' || {{ as_text('deployments.id') }} as deployment_key,
           'deployment' as source,
           deployments.sha,
           deployments.created_at,
           case when statuses.succeeded_at is not null then 'success'
                when statuses.failed_at is not null then 'failure'
                else 'pending' end as outcome,
           coalesce(statuses.succeeded_at, statuses.failed_at) as finished_at
    from {{ ref('stg_deployments') }} as deployments
    left join statuses on statuses.deployment_id = deployments.id
    where {{ matches('deployments.environment', var('production_environment_pattern')) }}
),

latest_attempts as (
    select runs.*,
           row_number() over (partition by id order by run_attempt desc) as attempt_rank
    from {{ ref('stg_workflow_runs') }} as runs
),

workflow_deployments as (
    select runs.repo_id,
           runs.owner || '/' || runs.repo as repository,
           'production' as environment,
           'workflow_run:' || {{ as_text('runs.id') }} as deployment_key,
           'workflow_run' as source,
           runs.head_sha as sha,
           runs.created_at,
           case when runs.conclusion = 'success' then 'success'
                when runs.conclusion in {{ failed }} then 'failure'
                else 'pending' end as outcome,
           case when runs.status = 'completed'
                then runs.run_started_at + runs.duration_seconds * interval '1 second' end
               as finished_at
    from latest_attempts as runs
    where runs.attempt_rank = 1
      and {{ matches('runs.workflow_name', var('deployment_workflow_pattern')) }}
      and not exists (select 1 from {{ ref('stg_deployments') }} as any_deployment
                      where any_deployment.repo_id = runs.repo_id)
)

select * from github_deployments
union all
select * from workflow_deployments
