-- Per repository, as of today (var as_of_date): a 0-100 score and each component of it (each
-- 0-1), weighted by var health_weights. Components:
--   recent_commits       commits in the last 30 days, full marks at health_full_marks.commits_30d
--   open_issue_load      1 - open issues and pull requests per (stars + 10), floored at 0
--   stars                log-scaled stars, full marks at health_full_marks.stars
--   active_contributors  distinct commit authors in the last 90 days, full at contributors_90d
--   ci_passing           share of completed workflow runs (latest attempts) of the last 30 days
--                        that succeeded; 0 without runs
--   tests_present        1 when a workflow whose name matches var test_workflow_pattern ran in
--                        the last 90 days
--   review_coverage      share of pull requests merged in the last 90 days with a review
{% set weights = var('health_weights') %}
{% set full = var('health_full_marks') %}
{% set total_weight = weights.values() | sum %}

with as_of as (
    select {{ as_of_date() }} as today
),

repositories as (
    select * from {{ ref('stg_repositories') }}
),

commit_figures as (
    select commits.repo_id,
           sum(case when {{ day_of('committed_at') }} > as_of.today - 30 then 1 else 0 end)
               as commits_30d,
           count(distinct case when {{ day_of('committed_at') }} > as_of.today - 90
                               then coalesce(author_login, author_name) end)
               as contributors_90d
    from {{ ref('stg_commits') }} as commits
    cross join as_of
    group by commits.repo_id
),

latest_attempts as (
    select runs.*,
           row_number() over (partition by id order by run_attempt desc) = 1 as is_latest
    from {{ ref('stg_workflow_runs') }} as runs
),

ci_figures as (
    select runs.repo_id,
           sum(case when is_latest and status = 'completed'
                         and {{ day_of('created_at') }} > as_of.today - 30 then 1 else 0 end)
               as completed_runs_30d,
           sum(case when is_latest and conclusion = 'success'
                         and {{ day_of('created_at') }} > as_of.today - 30 then 1 else 0 end)
               as successful_runs_30d,
           max(case when {{ matches('workflow_name', var('test_workflow_pattern')) }}
                         and {{ day_of('created_at') }} > as_of.today - 90 then 1 else 0 end)
               as has_test_workflow
    from latest_attempts as runs
    cross join as_of
    group by runs.repo_id
),

review_figures as (
    select pulls.repo_id,
           count(*) as merged_90d,
           sum(case when coalesce(review_count, 0) > 0 then 1 else 0 end) as reviewed_90d
    from {{ ref('stg_pull_requests') }} as pulls
    cross join as_of
    where merged and {{ day_of('merged_at') }} > as_of.today - 90
    group by pulls.repo_id
),

components as (
    select repositories.id as repo_id,
           repositories.full_name as repository,
           as_of.today as as_of_date,
           coalesce(commit_figures.commits_30d, 0) as commits_30d,
           coalesce(commit_figures.contributors_90d, 0) as contributors_90d,
           repositories.stargazers_count as stars,
           repositories.open_issues_count as open_issues,
           least(1.0, coalesce(commit_figures.commits_30d, 0) / {{ full.commits_30d }}.0)
               as recent_commits,
           greatest(0.0, 1.0 - coalesce(repositories.open_issues_count, 0)
                             / (coalesce(repositories.stargazers_count, 0) + 10.0))
               as open_issue_load,
           least(1.0, ln(1 + coalesce(repositories.stargazers_count, 0))
                      / ln(1 + {{ full.stars }}.0)) as stars_component,
           least(1.0, coalesce(commit_figures.contributors_90d, 0)
                      / {{ full.contributors_90d }}.0) as active_contributors,
           case when coalesce(ci_figures.completed_runs_30d, 0) > 0
                then cast(ci_figures.successful_runs_30d as double precision)
                     / ci_figures.completed_runs_30d
                else 0.0 end as ci_passing,
           cast(coalesce(ci_figures.has_test_workflow, 0) as double precision)
               as tests_present,
           case when coalesce(review_figures.merged_90d, 0) > 0
                then cast(review_figures.reviewed_90d as double precision)
                     / review_figures.merged_90d
                else 0.0 end as review_coverage
    from repositories
    cross join as_of
    left join commit_figures on commit_figures.repo_id = repositories.id
    left join ci_figures on ci_figures.repo_id = repositories.id
    left join review_figures on review_figures.repo_id = repositories.id
)

select components.*,
       round(cast(100.0 * (
             {{ weights.recent_commits }} * recent_commits
           + {{ weights.open_issue_load }} * open_issue_load
           + {{ weights.stars }} * stars_component
           + {{ weights.active_contributors }} * active_contributors
           + {{ weights.ci_passing }} * ci_passing
           + {{ weights.tests_present }} * tests_present
           + {{ weights.review_coverage }} * review_coverage
       ) / {{ total_weight }} as numeric), 1) as health_score
from components
