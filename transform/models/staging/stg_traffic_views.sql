-- Today's count grows during the day: the largest loaded value is the latest.
{{ latest_per_key('traffic_views', 'repo_id, "timestamp"', 'count') }}
