"""Transient provider errors are retried with backoff under the same idempotency key, within a budget.

No network: the SDK client is replaced by a fake whose calls raise the SDK's own exceptions.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from billing.errors import Conflict, NotFound, ProviderUnavailable, ValidationFailed
from billing.payments import StripeProvider, StripeSettings
from billing.payments.retry import RetryPolicy
from billing.settings import ConfigurationError


class _Obj:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.last_response = None
        self.id = data.get("id")

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)


class _Intents:
    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.keys: list[str] = []

    def create(self, params: dict[str, Any], options: dict[str, Any]) -> Any:
        self.keys.append(options["idempotency_key"])
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


SUCCEEDED = _Obj({"id": "pi_1", "status": "succeeded", "payment_method": "pm_1"})


def _provider(
    outcomes: list[Any], *, attempts: int = 3, deadline: float = 45.0, clock: list[float] | None = None
):
    intents = _Intents(outcomes)
    client = SimpleNamespace(v1=SimpleNamespace(payment_intents=intents))
    sleeps: list[float] = []
    ticks = clock if clock is not None else [0.0]

    def monotonic() -> float:
        return ticks[0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        ticks[0] += seconds

    provider = StripeProvider(
        StripeSettings(api_key="sk_test_unit"),
        retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=8.0, deadline_seconds=deadline),
        sleep=sleep,
        monotonic=monotonic,
        client=client,  # type: ignore[arg-type]
    )
    return provider, intents, sleeps


def _charge(provider: StripeProvider):
    return provider.charge(
        invoice_id="in_1",
        attempt=2,
        amount=1000,
        currency="usd",
        provider_customer_id="cus_1",
        payment_method_id="pm_1",
    )


def test_rate_limited_twice_then_charged_under_one_key():
    limited = stripe.RateLimitError("Too many requests", http_status=429)
    provider, intents, sleeps = _provider([limited, limited, SUCCEEDED])
    result = _charge(provider)
    assert result.status == "succeeded"
    assert intents.keys == ["invoice-in_1-attempt-2"] * 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5  # equal jitter on a 0.5 s step: [step/2, step]
    assert 0.5 <= sleeps[1] <= 1.0


@pytest.mark.parametrize(
    "error",
    [
        stripe.RateLimitError("Too many requests", http_status=429),
        stripe.APIConnectionError("connection reset", should_retry=True),
        stripe.APIError("internal", http_status=500),
        stripe.APIError("idempotent request in progress", http_status=409),
    ],
)
def test_transient_errors_past_the_budget_are_provider_unavailable(error):
    provider, intents, sleeps = _provider([error] * 5, attempts=3)
    with pytest.raises(ProviderUnavailable) as info:
        _charge(provider)
    assert info.value.code == "provider_unavailable"
    assert intents.keys == ["invoice-in_1-attempt-2"] * 3
    assert len(sleeps) == 2


def test_no_new_attempt_after_the_deadline():
    limited = stripe.RateLimitError("Too many requests", http_status=429)
    ticks = [0.0]
    provider, intents, _ = _provider([limited] * 10, attempts=10, deadline=1.0, clock=ticks)
    with pytest.raises(ProviderUnavailable):
        _charge(provider)
    assert 2 <= len(intents.keys) < 10


def test_a_refused_api_key_is_a_configuration_error_not_retried():
    provider, intents, sleeps = _provider([stripe.AuthenticationError("Invalid API Key", http_status=401)])
    with pytest.raises(ConfigurationError):
        _charge(provider)
    assert len(intents.keys) == 1
    assert sleeps == []


def test_a_key_reused_with_other_parameters_is_a_conflict():
    provider, _, _ = _provider([stripe.IdempotencyError("Keys for idempotent requests ...", http_status=400)])
    with pytest.raises(Conflict) as info:
        _charge(provider)
    assert info.value.code == "idempotency_key_reused"


def test_invalid_requests_map_to_domain_errors():
    missing = stripe.InvalidRequestError(
        "No such customer: 'cus_1'", "customer", code="resource_missing", http_status=400
    )
    provider, _, _ = _provider([missing])
    with pytest.raises(NotFound) as info:
        _charge(provider)
    assert (info.value.code, info.value.param) == ("provider_resource_missing", "customer")
    small = stripe.InvalidRequestError(
        "Amount must be at least", "amount", code="amount_too_small", http_status=400
    )
    provider, _, _ = _provider([small])
    with pytest.raises(ValidationFailed) as info2:
        _charge(provider)
    assert (info2.value.code, info2.value.param) == ("provider_amount_too_small", "amount")


def test_a_card_error_is_a_result_not_an_exception():
    body = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "lost_card",
            "message": "Your card was declined.",
            "payment_intent": {"id": "pi_9", "object": "payment_intent", "status": "requires_payment_method"},
        }
    }
    declined = stripe.CardError(
        "Your card was declined.", None, "card_declined", http_status=402, json_body=body
    )
    provider, _, sleeps = _provider([declined])
    result = _charge(provider)
    assert result.status == "failed"
    assert (result.failure_code, result.decline_code, result.hard_decline) == (
        "card_declined",
        "lost_card",
        True,
    )
    assert result.provider_payment_id == "pi_9"
    assert result.raw_status == "requires_payment_method"
    assert sleeps == []


def test_backoff_grows_is_capped_and_honours_retry_after():
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for retry, step in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        wait = policy.delay(retry, rng=rng)
        assert step / 2 <= wait <= step, (retry, wait)
    assert policy.delay(1, retry_after=3.0, rng=rng) == 3.0
    assert policy.delay(1, retry_after=60.0, rng=rng) == 4.0  # never beyond the cap for a hostile header
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
