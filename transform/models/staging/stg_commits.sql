-- A commit is one row per repository and sha; its contents never change.
{{ latest_per_key('commits', 'repo_id, sha', 'committed_at') }}
