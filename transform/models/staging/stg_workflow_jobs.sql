{{ latest_per_key('workflow_jobs', 'id', 'completed_at') }}
