"""target-posthog: a Singer target that sends the tap's event streams to PostHog's capture API."""
