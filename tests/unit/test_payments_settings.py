"""Stripe settings: direct values for local runs, SSM / Secrets Manager names for deployments."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from billing.payments import get_payment_provider, reset_payment_provider
from billing.payments.settings import StripeSettings
from billing.settings import ConfigurationError


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Powertools keeps its SSM / Secrets Manager clients and values per process: none leak between tests."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    reset_payment_provider()
    yield
    parameters.clear_caches()
    reset_payment_provider()


def test_direct_values_for_local_runs():
    s = StripeSettings.from_env(
        {
            "STRIPE_API_KEY": "sk_test_abc",
            "STRIPE_WEBHOOK_SECRET": "whsec_1",
            "STRIPE_API_BASE": "http://127.0.0.1:12111/",
        }
    )
    assert s.require_api_key() == "sk_test_abc"
    assert s.require_webhook_secrets() == ["whsec_1"]
    assert s.base_url == "http://127.0.0.1:12111"
    assert "sk_test_abc" not in repr(s)  # secrets never printed


def test_rolling_webhook_secrets():
    s = StripeSettings.from_env({"STRIPE_WEBHOOK_SECRET": "whsec_new, whsec_old"})
    assert s.require_webhook_secrets() == ["whsec_new", "whsec_old"]


def test_missing_values_fail_loudly_when_needed():
    s = StripeSettings.from_env({})
    with pytest.raises(ConfigurationError, match="STRIPE_API_KEY"):
        s.require_api_key()
    with pytest.raises(ConfigurationError, match="STRIPE_WEBHOOK_SECRET"):
        s.require_webhook_secrets()


def test_value_and_parameter_name_together_are_refused():
    with pytest.raises(ConfigurationError, match="either STRIPE_API_KEY or STRIPE_API_KEY_PARAM"):
        StripeSettings.from_env({"STRIPE_API_KEY": "sk_test_1", "STRIPE_API_KEY_PARAM": "/x"})


def test_bad_shapes_are_refused():
    with pytest.raises(ConfigurationError, match="sk_test_"):
        StripeSettings.from_env({"STRIPE_API_KEY": "pk_test_publishable"})
    with pytest.raises(ConfigurationError, match="STRIPE_API_BASE"):
        StripeSettings.from_env({"STRIPE_API_BASE": "localhost:12111"})
    with pytest.raises(ConfigurationError, match="read_timeout_seconds"):
        StripeSettings.from_env({"STRIPE_TIMEOUT_SECONDS": "0"})


def test_a_live_key_is_never_sent_to_a_stand_in():
    s = StripeSettings.from_env(
        {"STRIPE_API_KEY": "sk_live_real", "STRIPE_API_BASE": "http://127.0.0.1:12111"}
    )
    with pytest.raises(ConfigurationError, match="live"):
        s.require_api_key()
    assert StripeSettings.from_env({"STRIPE_API_KEY": "sk_live_real"}).require_api_key() == "sk_live_real"


def test_tuning_from_env():
    s = StripeSettings.from_env(
        {"STRIPE_TIMEOUT_SECONDS": "7.5", "STRIPE_MAX_NETWORK_RETRIES": "1", "STRIPE_RETRY_ATTEMPTS": "4"}
    )
    assert (s.read_timeout_seconds, s.max_network_retries, s.retry_attempts) == (7.5, 1, 4)


@mock_aws
def test_secrets_by_name_from_ssm_and_secrets_manager():
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/billing/test/stripe/api-key", Value="sk_test_from_ssm", Type="SecureString")
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    sm.create_secret(Name="billing/stripe", SecretString=json.dumps({"webhook_secret": "whsec_from_sm"}))
    sm.create_secret(Name="billing/stripe-plain", SecretString="whsec_plain")
    s = StripeSettings.from_env(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "STRIPE_API_KEY_PARAM": "/billing/test/stripe/api-key",
            "STRIPE_WEBHOOK_SECRET_PARAM": "secretsmanager:billing/stripe#webhook_secret",
        },
        max_age=0,
    )
    assert s.require_api_key() == "sk_test_from_ssm"
    assert s.require_webhook_secrets() == ["whsec_from_sm"]
    plain = StripeSettings.from_env(
        {"STRIPE_WEBHOOK_SECRET_PARAM": "secretsmanager:billing/stripe-plain"}, max_age=0
    )
    assert plain.require_webhook_secrets() == ["whsec_plain"]
    with pytest.raises(ConfigurationError, match="JSON object"):
        StripeSettings.from_env(
            {"STRIPE_WEBHOOK_SECRET_PARAM": "secretsmanager:billing/stripe-plain#x"}, max_age=0
        )


def test_the_provider_is_kept_until_a_setting_changes():
    env = {"STRIPE_API_KEY": "sk_test_one", "STRIPE_API_BASE": "http://127.0.0.1:1"}
    first = get_payment_provider(env)
    assert get_payment_provider(dict(env)) is first
    rotated = get_payment_provider({**env, "STRIPE_API_KEY": "sk_test_two"})
    assert rotated is not first
    assert rotated.name == "stripe"
