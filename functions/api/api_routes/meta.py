"""/v1/health and /v1/openapi.json (no API key)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from billing import clock

router = Router()


class Health(BaseModel):
    status: str
    time: str


@router.get("/v1/health", tags=["meta"], summary="Liveness check", security=[])
def health() -> Health:
    return Health(status="ok", time=clock.now().isoformat())


def openapi_route(app: Any) -> None:
    @app.get(
        "/v1/openapi.json", tags=["meta"], summary="This API's OpenAPI document", include_in_schema=False
    )
    def openapi() -> Response[str]:
        return Response(status_code=200, content_type="application/json", body=app.get_openapi_json_schema())
