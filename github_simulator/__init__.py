"""A GitHub API simulator for the tap's tests: a real HTTP server on 127.0.0.1 over a seeded
in-memory world. Importing it registers every family's routes and GraphQL fields."""

# Importing each family registers its routes, GraphQL fields and seeding.
from github_simulator import (  # noqa: F401 -- imported for their registrations
    actions,
    commits,
    deployments,
    graphql_api,
    issues,
    issues_api,
    issues_graphql,
    pulls,
    releases,
    rest_core,
    statistics,
    traffic,
)
from github_simulator.chaos import FaultProfile
from github_simulator.server import Fault, GitHubSimulator, HTTPError, Listing, Reply, Request
from github_simulator.world import FakeClock, World, seeded_world

__all__ = [
    "FakeClock",
    "Fault",
    "FaultProfile",
    "GitHubSimulator",
    "HTTPError",
    "Listing",
    "Reply",
    "Request",
    "World",
    "seeded_world",
]
