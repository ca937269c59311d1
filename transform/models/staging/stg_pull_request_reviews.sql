{{ latest_per_key('pull_request_reviews', 'id', 'updated_at') }}
