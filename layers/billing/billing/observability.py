"""Logger, tracer and metrics, configured once for every function.

Service name and namespace come from the standard Powertools environment
variables set in template.yaml's Globals. The tracer (X-Ray SDK, ~0.4 s to
import) and metrics are built on first use, so a function that does not use
them (the authorizer) does not pay for them at cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer

logger = Logger(utc=True)
_lazy: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name == "tracer":
        if "tracer" not in _lazy:
            from aws_lambda_powertools import Tracer

            _lazy["tracer"] = Tracer()
        return _lazy["tracer"]
    if name == "metrics":
        if "metrics" not in _lazy:
            from aws_lambda_powertools import Metrics

            _lazy["metrics"] = Metrics()
        return _lazy["metrics"]
    raise AttributeError(name)


tracer: Tracer
metrics: Metrics

__all__ = ["logger", "metrics", "tracer"]
