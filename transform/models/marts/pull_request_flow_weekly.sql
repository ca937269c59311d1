-- Per repository and week: pull requests opened (by creation week) and merged (by merge week),
-- with the merged ones' review and size figures.
with pulls as (
    select *, owner || '/' || repo as repository from {{ ref('stg_pull_requests') }}
),

opened as (
    select repo_id, repository, {{ week_of('created_at') }} as week_start, count(*) as opened,
           {{ median(hours_between('created_at', 'first_review_at')) }}
               as median_hours_to_first_review
    from pulls
    group by repo_id, repository, {{ week_of('created_at') }}
),

merged as (
    select repo_id, repository, {{ week_of('merged_at') }} as week_start, count(*) as merged,
           {{ median(hours_between('created_at', 'merged_at')) }} as median_hours_to_merge,
           {{ median('coalesce(additions, 0) + coalesce(deletions, 0)') }}
               as median_lines_changed,
           avg(case when coalesce(review_count, 0) = 0 then 1.0 else 0.0 end)
               as share_merged_without_review
    from pulls
    where merged and merged_at is not null
    group by repo_id, repository, {{ week_of('merged_at') }}
),

weeks as (
    select repo_id, repository, week_start from opened
    union
    select repo_id, repository, week_start from merged
)

select weeks.repo_id,
       weeks.repository,
       weeks.week_start,
       coalesce(opened.opened, 0) as opened,
       coalesce(merged.merged, 0) as merged,
       opened.median_hours_to_first_review,
       merged.median_hours_to_merge,
       merged.median_lines_changed,
       merged.share_merged_without_review
from weeks
left join opened on opened.repo_id = weeks.repo_id and opened.week_start = weeks.week_start
left join merged on merged.repo_id = weeks.repo_id and merged.week_start = weeks.week_start
