"""A GitHub API simulator for the tap's tests: a real HTTP server on 127.0.0.1 over a seeded
in-memory world. Importing it registers every family's routes and GraphQL fields."""

from tests.simulator import graphql_api, rest_core  # noqa: F401 -- registers routes
from tests.simulator import statistics, traffic  # noqa: F401 -- registers routes
from tests.simulator import pulls  # noqa: F401 -- registers GraphQL fields
from tests.simulator import commits  # noqa: F401 -- registers git data and routes
from tests.simulator import actions, releases  # noqa: F401 -- registers routes and GraphQL nodes
from tests.simulator.server import Fault, GitHubSimulator, HTTPError, Listing, Reply, Request
from tests.simulator.world import FakeClock, World, seeded_world

__all__ = ["FakeClock", "Fault", "GitHubSimulator", "HTTPError", "Listing", "Reply", "Request",
           "World", "seeded_world"]
