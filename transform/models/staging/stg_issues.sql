{{ latest_per_key('issues', 'id', 'updated_at') }}
