-- The four DORA metrics per repository, production environment and week, from
-- production_deployments, deployed_changes and incidents (issues with a label matching var
-- incident_label_pattern). An incident belongs to the last successful production deployment
-- before it was opened: that deployment counts as a change failure, and the incident's time to
-- restore runs from its opening to its closing. A failed deployment is a change failure too,
-- restored by the environment's next successful deployment.
with deployments as (
    select *
    from {{ ref('production_deployments') }}
    where outcome in ('success', 'failure') and finished_at is not null
),

successful as (
    select * from deployments where outcome = 'success'
),

incidents as (
    select issues.repo_id, issues.id as issue_id, issues.created_at as started_at,
           issues.closed_at as restored_at
    from {{ ref('stg_issues') }} as issues
    where {{ any_matches('issues.labels', var('incident_label_pattern')) }}
),

incident_causes as (
    select * from (
        select incidents.*, successful.environment, successful.deployment_key,
               row_number() over (partition by incidents.issue_id
                                  order by successful.finished_at desc,
                                           successful.deployment_key desc) as cause_rank
        from incidents
        join successful
          on successful.repo_id = incidents.repo_id
         and successful.finished_at <= incidents.started_at
    ) as ranked
    where cause_rank = 1
),

failed_deployments as (
    select failed.repo_id, failed.environment, failed.finished_at as started_at,
           (select min(later.finished_at) from successful as later
            where later.repo_id = failed.repo_id and later.environment = failed.environment
              and later.finished_at > failed.finished_at) as restored_at
    from deployments as failed
    where failed.outcome = 'failure'
),

weekly_deployments as (
    select repo_id, environment, {{ week_of('finished_at') }} as week_start,
           sum(case when outcome = 'success' then 1 else 0 end) as deployments,
           sum(case when outcome = 'failure' then 1 else 0 end) as failed_deployments,
           sum(case when outcome = 'success'
                         and deployment_key in (select deployment_key from incident_causes)
                    then 1 else 0 end) as deployments_causing_incidents
    from deployments
    group by repo_id, environment, {{ week_of('finished_at') }}
),

weekly_lead_time as (
    select repo_id, environment, {{ week_of('deployed_at') }} as week_start,
           count(*) as changes_deployed,
           {{ median('lead_time_hours') }} as median_lead_time_hours
    from {{ ref('deployed_changes') }}
    group by repo_id, environment, {{ week_of('deployed_at') }}
),

restores as (
    select repo_id, environment, started_at, restored_at, 1 as incidents from incident_causes
    union all
    select repo_id, environment, started_at, restored_at, 0 from failed_deployments
),

weekly_restores as (
    select repo_id, environment, {{ week_of('started_at') }} as week_start,
           sum(incidents) as incidents,
           {{ median(hours_between('started_at', 'restored_at')) }} as median_hours_to_restore
    from restores
    group by repo_id, environment, {{ week_of('started_at') }}
),

weeks as (
    select repo_id, environment, week_start from weekly_deployments
    union
    select repo_id, environment, week_start from weekly_lead_time
    union
    select repo_id, environment, week_start from weekly_restores
)

select weeks.repo_id,
       repositories.full_name as repository,
       weeks.environment,
       weeks.week_start,
       coalesce(weekly_deployments.deployments, 0) as deployments,
       coalesce(weekly_deployments.failed_deployments, 0) as failed_deployments,
       coalesce(weekly_lead_time.changes_deployed, 0) as changes_deployed,
       weekly_lead_time.median_lead_time_hours,
       case when coalesce(weekly_deployments.deployments, 0)
                 + coalesce(weekly_deployments.failed_deployments, 0) > 0
            then cast(weekly_deployments.failed_deployments
                      + weekly_deployments.deployments_causing_incidents as double precision)
                 / (weekly_deployments.deployments + weekly_deployments.failed_deployments)
       end as change_failure_rate,
       coalesce(weekly_restores.incidents, 0) as incidents,
       weekly_restores.median_hours_to_restore
from weeks
left join weekly_deployments
  on weekly_deployments.repo_id = weeks.repo_id
 and weekly_deployments.environment = weeks.environment
 and weekly_deployments.week_start = weeks.week_start
left join weekly_lead_time
  on weekly_lead_time.repo_id = weeks.repo_id
 and weekly_lead_time.environment = weeks.environment
 and weekly_lead_time.week_start = weeks.week_start
left join weekly_restores
  on weekly_restores.repo_id = weeks.repo_id
 and weekly_restores.environment = weeks.environment
 and weekly_restores.week_start = weeks.week_start
left join {{ ref('stg_repositories') }} as repositories on repositories.id = weeks.repo_id
