"""Loaded at start-up by the incumbent tap's interpreter (the benchmark puts this folder on its
PYTHONPATH): requests to https://api.github.com go to the simulator named by
BENCH_GITHUB_API_URL. meltanolabs-tap-github checks its tokens at that fixed address whatever
its api_url_base, so without this it cannot run offline."""

import os
from typing import Any

_TARGET = os.environ.get("BENCH_GITHUB_API_URL", "").rstrip("/")
_GITHUB = "https://api.github.com"

if _TARGET:
    from requests.adapters import HTTPAdapter

    _send = HTTPAdapter.send

    def _send_to_simulator(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.url and request.url.startswith(_GITHUB):
            request.url = _TARGET + request.url[len(_GITHUB) :]
        return _send(self, request, *args, **kwargs)

    HTTPAdapter.send = _send_to_simulator  # type: ignore[method-assign]
