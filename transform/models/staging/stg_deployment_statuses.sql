-- A status never changes once posted.
{{ latest_per_key('deployment_statuses', 'id', 'created_at') }}
