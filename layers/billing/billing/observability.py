"""Logger, tracer and metrics, configured once for every function.

Service name and namespace come from the standard Powertools environment
variables set in template.yaml's Globals.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(utc=True)
tracer = Tracer()
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
