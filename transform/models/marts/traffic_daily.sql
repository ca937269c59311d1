-- Views and clones per repository and day. GitHub serves 14 days; the loaded tables keep every
-- day a run saw (rows are upserted, never deleted), so this history grows past 14 days.
with views as (
    select repo_id, owner, repo, {{ day_of('"timestamp"') }} as day, count as views,
           uniques as unique_visitors
    from {{ ref('stg_traffic_views') }}
),

clones as (
    select repo_id, owner, repo, {{ day_of('"timestamp"') }} as day, count as clones,
           uniques as unique_cloners
    from {{ ref('stg_traffic_clones') }}
)

select coalesce(views.repo_id, clones.repo_id) as repo_id,
       coalesce(views.owner, clones.owner) || '/' || coalesce(views.repo, clones.repo)
           as repository,
       coalesce(views.day, clones.day) as day,
       coalesce(views.views, 0) as views,
       coalesce(views.unique_visitors, 0) as unique_visitors,
       coalesce(clones.clones, 0) as clones,
       coalesce(clones.unique_cloners, 0) as unique_cloners
from views
full outer join clones on clones.repo_id = views.repo_id and clones.day = views.day
