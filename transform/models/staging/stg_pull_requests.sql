{{ latest_per_key('pull_requests', 'id', 'updated_at') }}
