"""API keys and roles through the authorizer and the api function, against DynamoDB Local."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_health_needs_no_key(call):
    status, _, body = call("GET", "/v1/health")
    assert status == 200
    assert body["status"] == "ok"


def test_missing_key_is_401_from_the_gateway(call):
    status, _, body = call("GET", "/v1/api-keys")
    assert status == 401
    assert body == {"message": "Unauthorized"}


def test_bad_key_is_401_with_envelope(call):
    status, _, body = call("GET", "/v1/api-keys", key="bk_0123456789abcdef_" + "x" * 43)
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["type"] == "authentication_error"


def test_admin_creates_usage_key_which_gets_403(call, admin_key):
    status, _, created = call(
        "POST", "/v1/api-keys", key=admin_key, json_body={"name": "meter", "role": "usage"}
    )
    assert status == 201, created
    assert created["role"] == "usage"
    assert created["key"].startswith("bk_")
    assert "secret_hash" not in created
    status, _, body = call("GET", "/v1/api-keys", key=created["key"])
    assert status == 403
    assert body["error"]["code"] == "insufficient_role"


def test_key_is_stored_only_hashed(call, admin_key, app_env):
    import boto3

    _, _, created = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "ro", "role": "read_only"})
    item = (
        boto3.resource("dynamodb")
        .Table(app_env["BILLING_TABLE"])
        .get_item(Key={"pk": "ACCOUNT", "sk": f"APIKEY#{created['id']}"})["Item"]
    )
    assert created["key"] not in str(item)
    assert len(item["secret_hash"]) == 64


def test_list_get_and_revoke(call, admin_key, gateway):
    _, _, created = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "temp", "role": "billing"})
    status, _, listed = call("GET", "/v1/api-keys?limit=100", key=admin_key)
    assert status == 200
    assert created["id"] in [k["id"] for k in listed["data"]]
    status, _, got = call("GET", f"/v1/api-keys/{created['id']}", key=admin_key)
    assert status == 200 and got["name"] == "temp"
    status, _, revoked = call("DELETE", f"/v1/api-keys/{created['id']}", key=admin_key)
    assert status == 200 and revoked["revoked"] is True
    gateway.clear_authorizer_cache()  # API Gateway forgets after AuthorizerCacheSeconds
    status, _, _ = call("GET", "/v1/health", key=created["key"])
    assert status == 200  # public route
    status, _, _ = call("DELETE", f"/v1/api-keys/{created['id']}", key=admin_key)
    assert status == 404


def test_pagination_walks_every_key(call, admin_key):
    for i in range(3):
        call("POST", "/v1/api-keys", key=admin_key, json_body={"name": f"p{i}", "role": "read_only"})
    seen, cursor = [], None
    while True:
        path = "/v1/api-keys?limit=2" + (f"&starting_after={cursor}" if cursor else "")
        status, _, page = call("GET", path, key=admin_key)
        assert status == 200
        assert len(page["data"]) <= 2
        seen += [k["id"] for k in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) >= 3


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "x", "role": "owner"}, (422, "invalid_value", "role")),
        ({"name": "x", "role": "admin", "extra": 1}, (422, "unknown_field", "extra")),
        ({"role": "admin"}, (422, "missing_field", "name")),
        ({"name": 5, "role": "admin"}, (422, "invalid_type", "name")),
        ({"name": "", "role": "admin"}, (422, "too_short", "name")),
    ],
)
def test_bad_bodies_name_the_field(call, admin_key, body, expected):
    got_status, _, got = call("POST", "/v1/api-keys", key=admin_key, json_body=body)
    assert (got_status, got["error"]["code"], got["error"]["param"]) == expected, got


def test_malformed_json_is_400(call, admin_key):
    status, _, body = call("POST", "/v1/api-keys", key=admin_key, raw=b'{"name": ')
    assert status == 400
    assert body["error"]["code"] == "invalid_json"


def test_oversize_body_is_413(call, admin_key):
    status, _, body = call("POST", "/v1/api-keys", key=admin_key, raw=b'{"name":"' + b"x" * 2_000_000 + b'"}')
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


def test_bad_cursor_is_422(call, admin_key):
    status, _, body = call("GET", "/v1/api-keys?starting_after=!!notacursor", key=admin_key)
    assert status == 422
    assert body["error"]["param"] == "starting_after"


def test_idempotency_key_replays_the_first_response(call, admin_key):
    headers = {"idempotency-key": "create-ops-key-1"}
    body = {"name": "ops", "role": "read_only"}
    s1, _, first = call("POST", "/v1/api-keys", key=admin_key, json_body=body, headers=headers)
    s2, h2, second = call("POST", "/v1/api-keys", key=admin_key, json_body=body, headers=headers)
    assert s1 == s2 == 201
    assert first["id"] == second["id"]
    assert h2.get("idempotent-replayed") == "true"
    s3, _, third = call(
        "POST", "/v1/api-keys", key=admin_key, json_body={**body, "name": "other"}, headers=headers
    )
    assert s3 == 422
    assert third["error"]["code"] == "idempotency_key_reused"


def test_openapi_document_lists_routes(call):
    status, _, doc = call("GET", "/v1/openapi.json")
    assert status == 200
    assert "/v1/api-keys" in doc["paths"]
    assert doc["info"]["title"] == "Billing API"


def test_unknown_route_is_404(call, admin_key):
    status, _, _ = call("GET", "/v1/nothing-here", key=admin_key)
    assert status == 404
