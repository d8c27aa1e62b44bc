"""Webhook verification: Stripe's signature scheme, the timestamp tolerance, the typed event."""

from __future__ import annotations

import json
import time

import pytest
from stripe import WebhookSignature

from billing.errors import ValidationFailed
from billing.payments import construct_webhook_event

SECRET = "whsec_unit_test_secret"
EVENT = {
    "id": "evt_1",
    "object": "event",
    "api_version": "2026-10-28.endive",
    "created": 1_900_000_000,
    "livemode": False,
    "type": "payment_intent.succeeded",
    "request": {"id": "req_1", "idempotency_key": "invoice-in_1-attempt-1"},
    "data": {"object": {"id": "pi_1", "object": "payment_intent", "metadata": {"invoice_id": "in_1"}}},
}


def _signed(payload: str, *, secret: str = SECRET, at: int | None = None) -> str:
    return WebhookSignature.generate_signature_header(payload, secret, timestamp=at or int(time.time()))


def test_a_signed_event_is_accepted_and_typed():
    payload = json.dumps(EVENT)
    event = construct_webhook_event(payload.encode(), _signed(payload), secrets=SECRET)
    assert (event.id, event.type, event.livemode) == ("evt_1", "payment_intent.succeeded", False)
    assert event.data_object["metadata"] == {"invoice_id": "in_1"}
    assert event.request_idempotency_key == "invoice-in_1-attempt-1"
    assert event.created.tzinfo is not None


@pytest.mark.parametrize(
    "case",
    ["tampered", "wrong_secret", "stale", "no_header", "garbage_header"],
)
def test_bad_signatures_are_refused(case):
    payload = json.dumps(EVENT)
    header: str | None = _signed(payload)
    body = payload
    if case == "tampered":
        body = payload.replace('"in_1"', '"in_2"')
    elif case == "wrong_secret":
        header = _signed(payload, secret="whsec_other")
    elif case == "stale":
        header = _signed(payload, at=int(time.time()) - 301)
    elif case == "no_header":
        header = None
    elif case == "garbage_header":
        header = "nonsense"
    with pytest.raises(ValidationFailed) as info:
        construct_webhook_event(body, header, secrets=SECRET, tolerance=300)
    assert info.value.code == "invalid_signature"
    assert info.value.param == "Stripe-Signature"


def test_any_of_the_rolling_secrets_verifies():
    payload = json.dumps(EVENT)
    event = construct_webhook_event(
        payload, _signed(payload, secret="whsec_old"), secrets=["whsec_new", "whsec_old"]
    )
    assert event.id == "evt_1"


def test_a_validly_signed_body_that_is_not_an_event_is_invalid_payload():
    for body in ["not json", json.dumps({"hello": "world"})]:
        with pytest.raises(ValidationFailed) as info:
            construct_webhook_event(body, _signed(body), secrets=SECRET)
        assert info.value.code == "invalid_payload"


def test_tolerance_cannot_be_switched_off():
    payload = json.dumps(EVENT)
    with pytest.raises(ValueError):
        construct_webhook_event(payload, _signed(payload), secrets=SECRET, tolerance=0)
