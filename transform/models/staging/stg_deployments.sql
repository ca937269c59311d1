{{ latest_per_key('deployments', 'id', 'updated_at') }}
