-- The commits each successful production deployment shipped: the ancestors of its commit that
-- were not ancestors of the previous successful deployment's commit (same repository and
-- environment), from the commits' parents: ancestry, not dates. The first deployment of an
-- environment has no predecessor to compare with and ships nothing here.
with recursive

successful as (
    select repo_id, environment, deployment_key, sha, finished_at,
           lag(sha) over (partition by repo_id, environment
                          order by finished_at, deployment_key) as previous_sha
    from {{ ref('production_deployments') }}
    where outcome = 'success'
),

parents as (
    {{ array_elements(ref('stg_commits'), 'parent_shas', 'repo_id, sha', 'parent_sha') }}
),

starts as (
    select repo_id, sha as start_sha from successful
    union
    select repo_id, previous_sha from successful where previous_sha is not null
),

ancestry (repo_id, start_sha, sha) as (
    select repo_id, start_sha, start_sha from starts
    union
    select ancestry.repo_id, ancestry.start_sha, parents.parent_sha
    from ancestry
    join parents on parents.repo_id = ancestry.repo_id and parents.sha = ancestry.sha
)

select successful.repo_id,
       successful.environment,
       successful.deployment_key,
       successful.finished_at as deployed_at,
       commits.sha as commit_sha,
       commits.committed_at,
       {{ hours_between('commits.committed_at', 'successful.finished_at') }} as lead_time_hours
from successful
join ancestry
  on ancestry.repo_id = successful.repo_id and ancestry.start_sha = successful.sha
join {{ ref('stg_commits') }} as commits
  on commits.repo_id = ancestry.repo_id and commits.sha = ancestry.sha
where successful.previous_sha is not null
  and not exists (
      select 1 from ancestry as earlier
      where earlier.repo_id = successful.repo_id
        and earlier.start_sha = successful.previous_sha
        and earlier.sha = ancestry.sha
  )
