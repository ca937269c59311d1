{{ latest_per_key('workflow_runs', 'id, run_attempt', 'updated_at') }}
