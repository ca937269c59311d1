-- One row per event in time, from every event stream: the unified feed, and the table to send
-- to an event store. `event_uuid` is the stream's own where one row is one event (a review, a
-- commit), and derived from it per kind where one row holds several events (a pull request
-- opened, then merged).
with pull_requests as (
    select * from {{ ref('stg_pull_requests') }}
),

events as (
    select {{ as_text('event_uuid') }} as event_uuid, created_at as occurred_at, repo_id, owner, repo,
           author_login as actor, 'pull_request_opened' as kind,
           title, html_url as url
    from pull_requests

    union all
    select {{ derived_uuid('event_uuid', 'merged') }}, merged_at, repo_id, owner, repo,
           merged_by_login, 'pull_request_merged', title, html_url
    from pull_requests
    where merged and merged_at is not null

    union all
    select {{ derived_uuid('event_uuid', 'closed') }}, closed_at, repo_id, owner, repo,
           null, 'pull_request_closed', title, html_url
    from pull_requests
    where not merged and closed_at is not null

    union all
    select {{ as_text('reviews.event_uuid') }}, reviews.submitted_at, reviews.repo_id, reviews.owner,
           reviews.repo, reviews.author_login, 'review_submitted',
           pulls.title, reviews.html_url
    from {{ ref('stg_pull_request_reviews') }} as reviews
    left join pull_requests as pulls on pulls.id = reviews.pull_request_id
    where reviews.submitted_at is not null

    union all
    select {{ as_text('event_uuid') }}, committed_at, repo_id, owner, repo,
           coalesce(author_login, author_name), 'commit', message_headline, html_url
    from {{ ref('stg_commits') }}

    union all
    select {{ as_text('event_uuid') }}, published_at, repo_id, owner, repo, author_login,
           'release_published', coalesce(name, tag_name), html_url
    from {{ ref('stg_releases') }}
    where not draft and published_at is not null

    union all
    select {{ as_text('event_uuid') }},
           coalesce(run_started_at + duration_seconds * interval '1 second', updated_at),
           repo_id, owner, repo, coalesce(triggering_actor_login, actor_login),
           'workflow_run_completed', workflow_name, html_url
    from {{ ref('stg_workflow_runs') }}
    where status = 'completed'
)

select event_uuid,
       occurred_at,
       repo_id,
       owner || '/' || repo as repository,
       actor,
       kind,
       title,
       url
from events
