"""What a `sam deploy --guided` of template.yaml gives: the parameters it asks for, alarms that notify
someone, Stripe secrets readable at exactly their SSM names, and the local values of what it asks."""

from __future__ import annotations

from typing import Any

import pytest

from local.functions import (
    LOCAL_PARAMETER_VALUES,
    function_environment,
    function_specs,
    local_refs,
    parse_parameter_overrides,
    placeholder_refs,
)
from local.template import load_template, resources

TEMPLATE = load_template()
PARAMETERS: dict[str, dict[str, Any]] = TEMPLATE["Parameters"]
REQUIRED = {"SellerLegalName", "EmailFrom", "AlarmEmail"}


def test_guided_deploy_asks_for_what_the_stack_cannot_run_without() -> None:
    without_default = {name for name, spec in PARAMETERS.items() if "Default" not in spec}
    assert without_default == REQUIRED
    # ... and the local stack and the tests have a value for each, valid for the template
    assert set(LOCAL_PARAMETER_VALUES) == REQUIRED
    pairs = " ".join(f"{name}='{value}'" for name, value in LOCAL_PARAMETER_VALUES.items())
    assert parse_parameter_overrides(TEMPLATE, pairs) == LOCAL_PARAMETER_VALUES


def test_every_parameter_says_what_it_is() -> None:
    for name, spec in PARAMETERS.items():
        assert len(str(spec.get("Description", ""))) > 20, f"{name} has no useful Description"


@pytest.mark.parametrize(
    ("name", "value"),
    [("EmailFrom", ""), ("EmailFrom", "billing"), ("AlarmEmail", ""), ("SellerLegalName", " Acme")],
)
def test_required_parameters_refuse_empty_or_malformed_values(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        parse_parameter_overrides(TEMPLATE, f"{name}='{value}'")


def test_every_alarm_notifies_the_alarm_topic() -> None:
    alarms = resources(TEMPLATE, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props.get("AlarmActions") == [{"Ref": "AlarmTopic"}], f"{name}: no AlarmActions"
        assert props.get("OKActions") == [{"Ref": "AlarmTopic"}], f"{name}: no OKActions"
    topic = TEMPLATE["Resources"]["AlarmTopic"]["Properties"]
    assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmsKey"}
    statements = TEMPLATE["Resources"]["AlarmsKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])


def _ssm_resources(function: dict[str, Any]) -> list[str]:
    out = []
    for policy in function["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("ssm:") for a in actions):
                out.append(statement["Resource"]["Fn::Sub"])
    return out


def test_each_function_reads_exactly_the_ssm_parameters_it_is_given() -> None:
    prefix = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
    readers = 0
    for name, spec in function_specs(TEMPLATE).items():
        wanted = sorted(
            f"{prefix}${{{value['Ref']}}}"
            for key, value in spec.environment.items()
            if key.endswith("_PARAM") and isinstance(value, dict)
        )
        assert sorted(_ssm_resources(TEMPLATE["Resources"][name])) == wanted, name
        readers += bool(wanted)
    assert readers == 5  # api, collector, stripe webhook, reconciliation, customer pages
    # the defaults are the names the README's `aws ssm put-parameter` commands create
    assert PARAMETERS["StripeApiKeyParam"]["Default"] == "/billing/stripe/api-key"
    assert PARAMETERS["StripeWebhookSecretParam"]["Default"] == "/billing/stripe/webhook-secret"


def test_the_webhook_events_output_lists_the_handled_event_types() -> None:
    from billing.services.payment_events import HANDLERS

    outputs = TEMPLATE["Outputs"]
    assert outputs["StripeWebhookEvents"]["Value"].split(",") == list(HANDLERS)
    assert outputs["StripeWebhookUrl"]["Value"]["Fn::Sub"].endswith("/v1/webhooks/stripe")


def test_every_function_gets_the_seller_legal_name() -> None:
    genv = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert genv["BILLING_SELLER_LEGAL_NAME"] == {"Ref": "SellerLegalName"}
    refs = placeholder_refs(TEMPLATE)
    env = function_environment(TEMPLATE, local_refs(TEMPLATE, extra=refs))
    assert env["BILLING_SELLER_LEGAL_NAME"] == "Local Seller Ltd"
    assert env["BILLING_EMAIL_FROM"] == "Billing <billing@billing.local>"
    overrides = parse_parameter_overrides(TEMPLATE, r"SellerLegalName=Acme\ Ltd")
    env = function_environment(TEMPLATE, local_refs(TEMPLATE, extra={**refs, **overrides}))
    assert env["BILLING_SELLER_LEGAL_NAME"] == "Acme Ltd"
