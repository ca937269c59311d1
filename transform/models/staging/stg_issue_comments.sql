{{ latest_per_key('issue_comments', 'id', 'updated_at') }}
