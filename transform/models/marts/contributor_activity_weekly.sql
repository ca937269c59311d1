-- contributor_activity_daily summed per week (weeks start on Monday).
select {{ week_of('day') }} as week_start,
       repo_id,
       repository,
       person,
       sum(commits) as commits,
       sum(lines_added) as lines_added,
       sum(lines_removed) as lines_removed,
       sum(pull_requests_opened) as pull_requests_opened,
       sum(pull_requests_merged) as pull_requests_merged,
       sum(reviews_submitted) as reviews_submitted
from {{ ref('contributor_activity_daily') }}
group by {{ week_of('day') }}, repo_id, repository, person
