"""The committed OpenAPI document is the generated one, so a contract change shows in review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_docs_openapi_json_is_up_to_date(app_env):
    from local.openapi import generate

    assert json.loads(COMMITTED.read_text()) == generate(), "run `make openapi` and commit docs/openapi.json"


def test_every_documented_error_code_is_real(call, admin_key):
    """Spot-check: the codes the docs promise are the ones the API sends."""
    status, _, body = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "x", "role": "nope"})
    assert (status, body["error"]["code"], body["error"]["param"]) == (422, "invalid_value", "role")
