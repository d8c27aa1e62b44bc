"""Every events/*.json is run through its handler (the same events `sam local invoke -e` takes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.functions import LambdaContext, function_specs, load_handler

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION_BY_FOLDER = {spec.code_uri.name: spec for spec in function_specs().values()}

# What each sample must produce: a status code for HTTP events, or a predicate on the result.
EXPECTED = {
    "api/get_health.json": 200,
    "api/post_api_key.json": 201,
    "api/list_api_keys_as_usage_role.json": 403,
    "authorizer/unknown_key.json": lambda r: (
        r == {"isAuthorized": True, "context": {"authenticated": "false"}}
    ),
}


def all_samples() -> list[str]:
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json"))


def test_every_sample_has_an_expectation():
    missing = set(all_samples()) - set(EXPECTED)
    assert not missing, f"add an expectation for {sorted(missing)}"


@pytest.mark.parametrize("sample", all_samples())
def test_sample_runs_through_its_handler(sample, app_env):
    folder = sample.split("/")[0]
    spec = FUNCTION_BY_FOLDER[folder]
    event = json.loads((EVENTS / sample).read_text())
    result = load_handler(spec)(event, LambdaContext(spec))
    expected = EXPECTED[sample]
    if callable(expected):
        assert expected(result), result
    else:
        assert result["statusCode"] == expected, result
