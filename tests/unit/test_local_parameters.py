"""`make run PARAMS=...`: template parameter overrides, checked as CloudFormation checks them."""

from __future__ import annotations

import pytest

from local.functions import function_environment, local_refs, parse_parameter_overrides
from local.template import load_template

TEMPLATE = load_template()


def test_overrides_reach_the_functions_environment() -> None:
    overrides = parse_parameter_overrides(
        TEMPLATE, "DunningRetryDays=1,2 DunningFinalAction=cancel_subscription DraftGraceHours=0"
    )
    assert overrides == {
        "DunningRetryDays": "1,2",
        "DunningFinalAction": "cancel_subscription",
        "DraftGraceHours": "0",
    }
    refs = {q: f"http://localhost/000000000000/{q}" for q in TEMPLATE["Resources"]}
    env = function_environment(TEMPLATE, local_refs(TEMPLATE, extra={**refs, **overrides}))
    assert env["BILLING_DUNNING_RETRY_DAYS"] == "1,2"
    assert env["BILLING_DUNNING_FINAL_ACTION"] == "cancel_subscription"
    default_env = function_environment(TEMPLATE, local_refs(TEMPLATE, extra=refs))
    assert default_env["BILLING_DUNNING_RETRY_DAYS"] == "3,5,7"


def test_no_overrides() -> None:
    assert parse_parameter_overrides(TEMPLATE, "") == {}
    assert parse_parameter_overrides(TEMPLATE, "  ") == {}


def test_quoted_values_and_sam_long_form() -> None:
    out = parse_parameter_overrides(
        TEMPLATE,
        """AccountCodesJson='{"revenue": {"code": "4000", "name": "Sales EU"}}' ParameterKey=LogLevel,ParameterValue=DEBUG""",
    )
    assert out == {
        "AccountCodesJson": '{"revenue": {"code": "4000", "name": "Sales EU"}}',
        "LogLevel": "DEBUG",
    }


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("DunningRetryDay=1", "no such parameter"),
        ("DunningRetryDays", "expected Name=Value"),
        ("DunningFinalAction=refund", "must be one of"),
        ("DunningRetryDays=1;2", "must match"),
        ("DraftGraceHours=721", "must be within"),
        ("DraftGraceHours=soon", "must be a number"),
    ],
)
def test_bad_overrides_are_refused_naming_the_parameter(text: str, fault: str) -> None:
    with pytest.raises(ValueError, match=fault) as exc:
        parse_parameter_overrides(TEMPLATE, text)
    assert text.split("=", maxsplit=1)[0] in str(exc.value)
