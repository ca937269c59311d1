-- Releases carry no update time: any loaded version of a release will do for its events.
{{ latest_per_key('releases', 'id', 'published_at') }}
