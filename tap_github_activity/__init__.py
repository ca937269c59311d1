"""tap-github-activity: a Singer tap for a team's GitHub development activity."""
