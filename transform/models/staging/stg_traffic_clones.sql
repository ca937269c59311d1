{{ latest_per_key('traffic_clones', 'repo_id, "timestamp"', 'count') }}
