{{ latest_per_key('repositories', 'id', 'updated_at') }}
