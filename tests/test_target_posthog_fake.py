"""The fake PostHog holds senders to the documented capture contract (posthog_fake/)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from posthog_fake import API_KEY, FakePostHog, PostHogFault, serve_posthog

EVENT = {
    "event": "e",
    "distinct_id": "alice",
    "uuid": "00000000-0000-5000-8000-000000000001",
    "timestamp": "2026-01-02T03:04:05Z",
    "properties": {"a": 1},
}


@pytest.fixture
def posthog() -> Iterator[FakePostHog]:
    with serve_posthog() as fake:
        yield fake


def post(fake: FakePostHog, body: dict[str, Any] | bytes, *, gzipped: bool = True) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if gzipped:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    return requests.post(fake.url + "/batch/", data=data, headers=headers, timeout=30).status_code


def test_refusals(posthog: FakePostHog):
    assert post(posthog, {"api_key": "phc_other", "batch": [EVENT]}) == 401
    assert post(posthog, {"batch": [EVENT]}) == 401
    assert post(posthog, {"api_key": API_KEY, "batch": []}) == 400
    assert post(posthog, {"api_key": API_KEY, "batch": [{**EVENT, "distinct_id": ""}]}) == 400
    assert post(posthog, {"api_key": API_KEY, "batch": [{**EVENT, "event": None}]}) == 400
    assert post(posthog, b"not gzip", gzipped=False) == 400
    too_big = {"api_key": API_KEY, "batch": [{**EVENT, "properties": {"x": "y" * 21_000_000}}]}
    assert post(posthog, too_big) == 413  # 20 MB once decompressed, though tiny gzipped
    assert not posthog.events


def test_drops_what_posthog_drops_and_corrects_for_sent_at(posthog: FakePostHog):
    batch = [
        EVENT,
        {**EVENT, "uuid": "not-a-uuid"},
        {**EVENT, "uuid": "00000000-0000-5000-8000-000000000002", "properties": {"x": "y" * 2**20}},
        {**EVENT, "uuid": "00000000-0000-5000-8000-000000000003", "timestamp": "yesterday"},
    ]
    assert post(posthog, {"api_key": API_KEY, "batch": batch}) == 200
    assert [reason for reason, _ in posthog.dropped] == ["invalid uuid", "over 1 MB"]
    stored = {e.uuid[-1]: e for e in posthog.events}
    assert stored["1"].timestamp == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert stored["3"].timestamp.year == dt.datetime.now(dt.UTC).year  # ingested, time of receipt
    # With sent_at, PostHog moves the timestamp by the sender's clock skew.
    skewed = {"api_key": API_KEY, "sent_at": "2026-01-02T04:04:05Z", "batch": [EVENT]}
    assert post(posthog, skewed, gzipped=False) == 200
    assert len(posthog.deduplicated()) == 3


def test_faults_and_deduplication(posthog: FakePostHog):
    posthog.inject(PostHogFault(status=429, retry_after="3"))
    response = requests.post(
        posthog.url + "/batch/", json={"api_key": API_KEY, "batch": [EVENT]}, timeout=30
    )
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")
    posthog.inject(PostHogFault(drop=True))
    with pytest.raises(requests.ConnectionError):
        post(posthog, {"api_key": API_KEY, "batch": [EVENT]})
    for _ in range(2):
        assert post(posthog, {"api_key": API_KEY, "batch": [EVENT]}) == 200
    assert len(posthog.events) == 2
    assert len(posthog.deduplicated()) == 1
