-- Per day, repository and person: what they did. A person is a GitHub login; commits whose
-- author has no GitHub account count under the author's name.
with facts as (
    select {{ day_of('committed_at') }} as day, repo_id, owner, repo,
           coalesce(author_login, author_name) as person,
           1 as commits, coalesce(additions, 0) as lines_added,
           coalesce(deletions, 0) as lines_removed,
           0 as pull_requests_opened, 0 as pull_requests_merged, 0 as reviews_submitted
    from {{ ref('stg_commits') }}

    union all
    select {{ day_of('created_at') }}, repo_id, owner, repo, author_login, 0, 0, 0, 1, 0, 0
    from {{ ref('stg_pull_requests') }}

    union all
    select {{ day_of('merged_at') }}, repo_id, owner, repo, author_login, 0, 0, 0, 0, 1, 0
    from {{ ref('stg_pull_requests') }}
    where merged and merged_at is not null

    union all
    select {{ day_of('submitted_at') }}, repo_id, owner, repo, author_login, 0, 0, 0, 0, 0, 1
    from {{ ref('stg_pull_request_reviews') }}
    where submitted_at is not null
)

select day,
       repo_id,
       owner || '/' || repo as repository,
       person,
       sum(commits) as commits,
       sum(lines_added) as lines_added,
       sum(lines_removed) as lines_removed,
       sum(pull_requests_opened) as pull_requests_opened,
       sum(pull_requests_merged) as pull_requests_merged,
       sum(reviews_submitted) as reviews_submitted
from facts
where person is not null
group by day, repo_id, owner, repo, person
