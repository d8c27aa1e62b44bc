"""Catalog (metrics, plans, coupons, tax rates) through the api function, against DynamoDB Local."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def post(call, admin_key):
    def _post(path, body, status=201):
        got_status, _, got = call("POST", path, key=admin_key, json_body=body)
        assert got_status == status, got
        return got

    return _post


@pytest.fixture
def metric(post):
    def _metric(**fields):
        body = {"code": f"m_{uid()}", "name": "API calls", "aggregation": "count", **fields}
        return post("/v1/metrics", body)

    return _metric


@pytest.fixture
def plan(post, metric):
    def _plan(charges=None, **fields):
        if charges is None:
            charges = [{"metric": metric()["code"], "model": "standard", "unit_amount_decimal": "0.25"}]
        body = {"code": f"p_{uid()}", "name": "Pro", "interval": "month", "currency": "usd", "amount": 4900,
                "charges": charges, **fields}  # fmt: skip
        return post("/v1/plans", body)

    return _plan


def errors_of(call, admin_key, method, path, body):
    status, _, got = call(method, path, key=admin_key, json_body=body)
    assert status == 422, got
    return got["error"]["code"], got["error"]["param"]


# --------------------------------------------------------------------------- metrics


def test_metric_create_get_and_list(call, admin_key, metric):
    m = metric(aggregation="sum", field="bytes", filters={"region": ["eu", 1, True]}, group_by="bucket")
    assert m["object"] == "metric"
    assert m["filters"] == {"region": ["1", "eu", "true"]}  # compared as text by metering
    assert (m["in_use"], m["plans"], m["version"]) == (False, [], 1)
    status, _, got = call("GET", f"/v1/metrics/{m['code']}", key=admin_key)
    assert status == 200 and got == m
    codes, cursor = [], None
    while True:
        path = "/v1/metrics?limit=3" + (f"&starting_after={cursor}" if cursor else "")
        status, _, page = call("GET", path, key=admin_key)
        codes += [x["code"] for x in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert m["code"] in codes and codes == sorted(codes) and len(codes) == len(set(codes))
    status, _, body = call("GET", "/v1/metrics/nope", key=admin_key)
    assert status == 404 and body["error"]["code"] == "metric_not_found"


def test_metric_code_is_unique(metric, post):
    m = metric()
    body = post("/v1/metrics", {"code": m["code"], "name": "x", "aggregation": "count"}, status=409)
    assert body["error"]["code"] == "metric_code_taken" and body["error"]["param"] == "code"


METRIC = {"code": "m_bad", "name": "x", "aggregation": "count"}


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({**METRIC, "aggregation": "avg"}, "invalid_value", "aggregation"),
        ({**METRIC, "aggregation": "sum"}, "missing_field", "field"),
        ({**METRIC, "aggregation": "weighted_sum"}, "missing_field", "field"),
        ({**METRIC, "field": "x"}, "field_not_allowed", "field"),
        ({**METRIC, "code": "bad code"}, "invalid_code", "code"),
        ({**METRIC, "code": ""}, "invalid_code", "code"),
        ({**METRIC, "filters": {"region": []}}, "invalid_filter", "filters.region"),
        ({**METRIC, "filters": {"region": [1.5]}}, "invalid_value", "filters.region.0"),
        ({**METRIC, "filters": {"region": "eu"}}, "invalid_type", "filters.region"),
        ({**METRIC, "group_by": "has space"}, "invalid_group_by", "group_by"),
        ({**METRIC, "unit": "ms"}, "unknown_field", "unit"),
        ({k: v for k, v in METRIC.items() if k != "name"}, "missing_field", "name"),
    ],
)
def test_bad_metric_bodies_name_the_field(call, admin_key, body, code, param):
    assert errors_of(call, admin_key, "POST", "/v1/metrics", body) == (code, param)


def test_metric_update_when_unused(call, admin_key, metric):
    m = metric()
    status, _, p = call("PATCH", f"/v1/metrics/{m['code']}", key=admin_key,
                        json_body={"name": "Calls", "aggregation": "sum", "field": "n"})  # fmt: skip
    assert status == 200, p
    assert (p["name"], p["aggregation"], p["field"], p["version"]) == ("Calls", "sum", "n", 2)
    code, param = errors_of(call, admin_key, "PATCH", f"/v1/metrics/{m['code']}", {"aggregation": "count"})
    assert (code, param) == ("field_not_allowed", "field")  # must clear field too
    status, _, p = call("PATCH", f"/v1/metrics/{m['code']}", key=admin_key,
                        json_body={"aggregation": "count", "field": None})  # fmt: skip
    assert status == 200 and p["field"] is None and p["version"] == 3


def test_metric_in_use_keeps_its_aggregation_until_no_plan_charges_it(call, admin_key, metric, plan):
    m = metric()
    other = metric()
    p = plan(charges=[{"metric": m["code"], "model": "standard", "unit_amount": 1}])
    got = call("GET", f"/v1/metrics/{m['code']}", key=admin_key)[2]
    assert got["in_use"] is True and got["plans"] == [p["code"]]
    for change, field in (
        ({"aggregation": "sum", "field": "n"}, "aggregation"),
        ({"filters": {"a": ["b"]}}, "filters"),
    ):
        status, _, body = call("PATCH", f"/v1/metrics/{m['code']}", key=admin_key, json_body=change)
        assert status == 409 and body["error"]["code"] == "metric_in_use" and body["error"]["param"] == field
    status, _, renamed = call(
        "PATCH", f"/v1/metrics/{m['code']}", key=admin_key, json_body={"name": "Renamed"}
    )
    assert status == 200 and renamed["name"] == "Renamed"  # what it measures is unchanged
    status, _, body = call("DELETE", f"/v1/metrics/{m['code']}", key=admin_key)
    assert status == 409 and body["error"]["code"] == "metric_in_use"
    # a new plan version that stops charging it frees it
    status, _, v2 = call("PATCH", f"/v1/plans/{p['code']}", key=admin_key,
                         json_body={"charges": [{"metric": other["code"], "model": "standard", "unit_amount": 2}]})  # fmt: skip
    assert status == 200 and v2["version"] == 2
    assert call("GET", f"/v1/metrics/{m['code']}", key=admin_key)[2]["in_use"] is False
    assert call("GET", f"/v1/metrics/{other['code']}", key=admin_key)[2]["plans"] == [p["code"]]
    status, _, changed = call("PATCH", f"/v1/metrics/{m['code']}", key=admin_key,
                              json_body={"aggregation": "sum", "field": "n"})  # fmt: skip
    assert status == 200 and changed["aggregation"] == "sum"


def test_metric_in_use_check_is_in_the_write(app_env, metric, plan):
    """A plan that starts charging the metric between the read and the write wins."""
    from billing.errors import Conflict
    from billing.repositories.catalog import MetricRepository

    repo = MetricRepository(table_name=app_env["BILLING_TABLE"])
    m = metric()
    read = repo.get(m["code"])
    plan(charges=[{"metric": m["code"], "model": "standard", "unit_amount": 1}])
    with pytest.raises(Conflict):
        repo.update_unused(read, read.model_copy(update={"aggregation": "max", "field": "n", "version": 2}))
    assert repo.get(m["code"]).aggregation == "count"


def test_archived_metric_is_hidden_and_cannot_be_charged(call, admin_key, metric, post):
    m = metric()
    status, _, archived = call("DELETE", f"/v1/metrics/{m['code']}", key=admin_key)
    assert status == 200 and archived["archived"] is True
    listed = call("GET", "/v1/metrics?limit=100", key=admin_key)[2]["data"]
    assert m["code"] not in [x["code"] for x in listed]
    body = {"code": f"p_{uid()}", "name": "x", "interval": "month", "currency": "usd",
            "charges": [{"metric": m["code"], "model": "standard", "unit_amount": 1}]}  # fmt: skip
    got = post("/v1/plans", body, status=422)
    assert (got["error"]["code"], got["error"]["param"]) == ("metric_archived", "charges.0.metric")


# --------------------------------------------------------------------------- plans


def test_plan_create_and_get(call, admin_key, metric, plan):
    m = metric()
    p = plan(
        charges=[
            {"metric": m["code"], "model": "graduated",
             "tiers": [{"up_to": 1000, "unit_amount": 0}, {"up_to": None, "unit_amount_decimal": "0.5"}]},
        ],
        pay_in_advance=True, trial_days=14, minimum_commitment=10000, interval_count=3, metadata={"tier": "pro"},
    )  # fmt: skip
    assert p["object"] == "plan"
    assert (p["version"], p["current_version"], p["is_current"]) == (1, 1, True)
    assert (p["amount"], p["pay_in_advance"], p["trial_days"], p["minimum_commitment"]) == (
        4900,
        True,
        14,
        10000,
    )
    assert p["charges"][0]["metric"] == m["code"] and p["charges"][0]["model"] == "graduated"
    assert p["charges"][0]["tiers"][1]["unit_amount_decimal"] == "0.5"
    assert (p["in_use"], p["subscriptions_count"], p["archived"]) == (False, 0, False)
    status, _, got = call("GET", f"/v1/plans/{p['code']}", key=admin_key)
    assert status == 200 and got == p


def test_plan_price_change_creates_a_version(call, admin_key, plan, app_env):
    p = plan()
    code = p["code"]
    status, _, renamed = call("PATCH", f"/v1/plans/{code}", key=admin_key, json_body={"name": "Pro (2026)"})
    assert status == 200 and renamed["version"] == 1 and renamed["name"] == "Pro (2026)"
    status, _, v2 = call("PATCH", f"/v1/plans/{code}", key=admin_key, json_body={"amount": 5900})
    assert status == 200, v2
    assert (v2["version"], v2["current_version"], v2["amount"], v2["name"]) == (2, 2, 5900, "Pro (2026)")
    status, _, same = call("PATCH", f"/v1/plans/{code}", key=admin_key, json_body={"amount": 5900})
    assert status == 200 and same["version"] == 2  # nothing changed: no version
    current = call("GET", f"/v1/plans/{code}", key=admin_key)[2]
    assert (current["version"], current["amount"]) == (2, 5900)
    v1 = call("GET", f"/v1/plans/{code}?version=1", key=admin_key)[2]
    assert (v1["version"], v1["amount"], v1["current_version"], v1["is_current"]) == (1, 4900, 2, False)
    versions = call("GET", f"/v1/plans/{code}/versions", key=admin_key)[2]
    assert [v["version"] for v in versions["data"]] == [2, 1]
    page1 = call("GET", f"/v1/plans/{code}/versions?limit=1", key=admin_key)[2]
    page2 = call(
        "GET", f"/v1/plans/{code}/versions?limit=1&starting_after={page1['next_cursor']}", key=admin_key
    )[2]
    assert [v["version"] for v in page1["data"] + page2["data"]] == [2, 1]
    status, _, body = call("GET", f"/v1/plans/{code}?version=9", key=admin_key)
    assert status == 404 and body["error"]["code"] == "plan_version_not_found"
    # subscriptions pin versions: the repository serves each one
    from billing.repositories.catalog import PlanRepository

    repo = PlanRepository(table_name=app_env["BILLING_TABLE"])
    assert repo.get(code).version == 2 and repo.get(code, version=1).amount == 4900


def test_plan_code_unique_archive_and_not_found(call, admin_key, plan, post):
    p = plan()
    body = post(
        "/v1/plans", {"code": p["code"], "name": "x", "interval": "month", "currency": "usd"}, status=409
    )
    assert body["error"]["code"] == "plan_code_taken"
    status, _, archived = call("DELETE", f"/v1/plans/{p['code']}", key=admin_key)
    assert status == 200 and archived["archived"] is True
    status, _, body = call("PATCH", f"/v1/plans/{p['code']}", key=admin_key, json_body={"amount": 1})
    assert status == 409 and body["error"]["code"] == "plan_archived"
    assert p["code"] not in [x["code"] for x in call("GET", "/v1/plans?limit=100", key=admin_key)[2]["data"]]
    listed = call("GET", "/v1/plans?limit=100&include_archived=true", key=admin_key)[2]["data"]
    assert p["code"] in [x["code"] for x in listed]
    status, _, body = call("GET", "/v1/plans/none_such", key=admin_key)
    assert status == 404 and body["error"]["code"] == "plan_not_found"


def test_plan_with_an_unknown_metric_writes_nothing(call, admin_key, metric, post, app_env):
    m = metric()
    code = f"p_{uid()}"
    body = {"code": code, "name": "x", "interval": "month", "currency": "usd",
            "charges": [{"metric": m["code"], "model": "standard", "unit_amount": 1},
                        {"metric": "no_such_metric", "model": "standard", "unit_amount": 1}]}  # fmt: skip
    got = post("/v1/plans", body, status=422)
    assert (got["error"]["code"], got["error"]["param"]) == ("unknown_metric", "charges.1.metric")
    assert call("GET", f"/v1/plans/{code}", key=admin_key)[0] == 404
    assert call("GET", f"/v1/metrics/{m['code']}", key=admin_key)[2]["in_use"] is False


def test_a_metric_archived_during_plan_creation_fails_the_whole_transaction(app_env, metric):
    """The metric check is in the transaction: a plan never references a missing metric."""
    from billing import clock
    from billing.models.catalog import Plan, PlanCharge
    from billing.repositories.catalog import PlanRepository, UnknownMetrics

    repo = PlanRepository(table_name=app_env["BILLING_TABLE"])
    now = clock.now()
    code = f"p_{uid()}"
    draft = Plan(code=code, version=1, current_version=1, name="x", interval="month", currency="usd",
                 charges=[PlanCharge(metric="vanished_metric", definition={"model": "standard", "unit_amount": 1})],
                 version_created_at=now, created_at=now, updated_at=now)  # fmt: skip
    with pytest.raises(UnknownMetrics):
        repo.create(draft)
    assert repo.get(code) is None


PLAN = {"code": "p_bad", "name": "x", "interval": "month", "currency": "usd"}


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({**PLAN, "interval": "fortnight"}, "invalid_value", "interval"),
        ({**PLAN, "interval_count": 37}, "out_of_range", "interval_count"),
        ({**PLAN, "interval": "year", "interval_count": 4}, "out_of_range", "interval_count"),
        ({**PLAN, "interval_count": 0}, "out_of_range", "interval_count"),
        ({**PLAN, "currency": "zzz"}, "unknown_currency", "currency"),
        ({**PLAN, "amount": -1}, "out_of_range", "amount"),
        ({**PLAN, "amount": 10.5}, "invalid_type", "amount"),
        ({**PLAN, "amount": "100"}, "invalid_type", "amount"),
        ({**PLAN, "minimum_commitment": -5}, "out_of_range", "minimum_commitment"),
        ({**PLAN, "trial_days": 731}, "out_of_range", "trial_days"),
        ({**PLAN, "pay_in_advance": "yes"}, "invalid_type", "pay_in_advance"),
        ({**PLAN, "price": 1}, "unknown_field", "price"),
        ({k: v for k, v in PLAN.items() if k != "interval"}, "missing_field", "interval"),
        ({**PLAN, "charges": [{"model": "standard", "unit_amount": 1}]}, "missing_field", "charges.0.metric"),
        ({**PLAN, "charges": [{"metric": "m", "model": "magic"}]}, "unknown_charge_model", "charges.0.model"),
        ({**PLAN, "charges": [{"metric": "m", "model": "standard"}]}, "missing_field", "charges.0.unit_amount"),
        ({**PLAN, "charges": [{"metric": "m", "model": "standard", "unit_amount": 0.5}]}, "invalid_amount",
         "charges.0.unit_amount"),
        ({**PLAN, "charges": [{"metric": "m", "model": "standard", "unit_amount": 1, "colour": "red"}]},
         "unknown_field", "charges.0.colour"),
        ({**PLAN, "charges": [{"metric": "m", "model": "graduated",
                               "tiers": [{"up_to": 10, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1},
                                         {"up_to": None, "unit_amount": 1}]}]},
         "tiers_not_ascending", "charges.0.tiers.1.up_to"),
        ({**PLAN, "charges": [{"metric": "no_such_metric", "model": "standard", "unit_amount": 1}]},
         "unknown_metric", "charges.0.metric"),
    ],
)  # fmt: skip
def test_bad_plan_bodies_name_the_field(call, admin_key, body, code, param):
    assert errors_of(call, admin_key, "POST", "/v1/plans", body) == (code, param)


def test_bad_plan_patch_names_the_field(call, admin_key, plan):
    p = plan()
    path = f"/v1/plans/{p['code']}"
    assert errors_of(call, admin_key, "PATCH", path, {"code": "other"}) == ("unknown_field", "code")
    assert errors_of(call, admin_key, "PATCH", path, {"amount": None}) == ("invalid_value", "amount")
    assert errors_of(call, admin_key, "PATCH", path, {"charges": [{"metric": "nope_x", "model": "standard",
                                                                   "unit_amount": 1}]}) == ("unknown_metric",
                                                                                            "charges.0.metric")  # fmt: skip
    assert call("GET", path, key=admin_key)[2]["version"] == 1  # nothing written


# --------------------------------------------------------------------------- coupons


def test_coupon_lifecycle(call, admin_key, post, plan, metric):
    p = plan()
    m = metric()
    code = f"C{uid()}"
    redeem_by = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    c = post("/v1/coupons", {"code": code, "name": "Launch", "percent_off": "12.5", "duration": "repeating",
                             "duration_in_periods": 3, "applies_to": {"plans": [p["code"]], "metrics": [m["code"]]},
                             "max_redemptions": 100, "redeem_by": redeem_by})  # fmt: skip
    assert c["object"] == "coupon" and c["percent_off"] == "12.5" and c["valid"] is True
    assert c["applies_to"] == {"plans": [p["code"]], "metrics": [m["code"]]}
    fixed = post(
        "/v1/coupons", {"code": f"F{uid()}", "amount_off": 500, "currency": "EUR", "duration": "once"}
    )
    assert (fixed["amount_off"], fixed["currency"], fixed["percent_off"]) == (500, "eur", None)
    assert call("GET", f"/v1/coupons/{code}", key=admin_key)[2] == c
    status, _, u = call(
        "PATCH", f"/v1/coupons/{code}", key=admin_key, json_body={"max_redemptions": 5, "name": "L"}
    )
    assert status == 200 and (u["max_redemptions"], u["name"]) == (5, "L")
    assert errors_of(call, admin_key, "PATCH", f"/v1/coupons/{code}", {"percent_off": "50"}) == (
        "unknown_field",
        "percent_off",
    )
    body = post("/v1/coupons", {"code": code, "percent_off": "1", "duration": "once"}, status=409)
    assert body["error"]["code"] == "coupon_code_taken"
    status, _, archived = call("DELETE", f"/v1/coupons/{code}", key=admin_key)
    assert status == 200 and archived["archived"] is True and archived["valid"] is False
    assert code not in [x["code"] for x in call("GET", "/v1/coupons?limit=100", key=admin_key)[2]["data"]]
    status, _, body = call("PATCH", f"/v1/coupons/{code}", key=admin_key, json_body={"name": "x"})
    assert status == 409 and body["error"]["code"] == "coupon_archived"


def test_coupon_redemptions_respect_the_limit(app_env, post):
    from billing import clock
    from billing.errors import Conflict
    from billing.repositories.catalog import CouponRepository
    from billing.services.coupons import update_coupon

    repo = CouponRepository(table_name=app_env["BILLING_TABLE"])
    code = f"R{uid()}"
    post("/v1/coupons", {"code": code, "percent_off": "10", "duration": "forever", "max_redemptions": 2})
    repo.redeem(code, at=clock.now())
    repo.redeem(code, at=clock.now())
    with pytest.raises(Conflict):
        repo.redeem(code, at=clock.now())
    assert repo.get(code).times_redeemed == 2
    from billing.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        update_coupon(repo, code, {"max_redemptions": 1})
    assert err.value.param == "max_redemptions"


COUPON = {"code": "C_bad", "duration": "once", "percent_off": "10"}


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"code": "C_bad", "duration": "once"}, "discount_value_required", "percent_off"),
        ({**COUPON, "amount_off": 100, "currency": "usd"}, "discount_value_conflict", "amount_off"),
        ({"code": "C_bad", "duration": "once", "amount_off": 100}, "amount_off_currency_required", "currency"),
        ({"code": "C_bad", "duration": "once", "amount_off": 0, "currency": "usd"}, "amount_off_out_of_range",
         "amount_off"),
        ({"code": "C_bad", "duration": "once", "amount_off": 1, "currency": "xyz"}, "unknown_currency", "currency"),
        ({**COUPON, "percent_off": "150"}, "percent_off_out_of_range", "percent_off"),
        ({**COUPON, "percent_off": 10}, "invalid_type", "percent_off"),
        ({**COUPON, "percent_off": "ten"}, "invalid_format", "percent_off"),
        ({**COUPON, "currency": "usd"}, "currency_not_allowed", "currency"),
        ({**COUPON, "duration": "repeating"}, "duration_in_periods_required", "duration_in_periods"),
        ({**COUPON, "duration_in_periods": 3}, "duration_in_periods_not_allowed", "duration_in_periods"),
        ({**COUPON, "duration": "weekly"}, "invalid_value", "duration"),
        ({**COUPON, "applies_to": {"plans": ["no_such_plan"]}}, "unknown_plan", "applies_to.plans.0"),
        ({**COUPON, "applies_to": {"metrics": ["no_such_metric"]}}, "unknown_metric", "applies_to.metrics.0"),
        ({**COUPON, "applies_to": {}}, "invalid_applies_to", "applies_to"),
        ({**COUPON, "max_redemptions": 0}, "out_of_range", "max_redemptions"),
        ({**COUPON, "redeem_by": "2020-01-01T00:00:00Z"}, "out_of_range", "redeem_by"),
        ({**COUPON, "code": "bad code"}, "invalid_code", "code"),
        ({**COUPON, "amounts": 1}, "unknown_field", "amounts"),
    ],
)  # fmt: skip
def test_bad_coupon_bodies_name_the_field(call, admin_key, body, code, param):
    assert errors_of(call, admin_key, "POST", "/v1/coupons", body) == (code, param)


# --------------------------------------------------------------------------- tax rates


def _all_rates(call, admin_key, query=""):
    rates, cursor = [], None
    while True:
        path = f"/v1/tax-rates?limit=25{query}" + (f"&starting_after={cursor}" if cursor else "")
        status, _, page = call("GET", path, key=admin_key)
        assert status == 200, page
        rates += page["data"]
        if not page["has_more"]:
            return rates
        cursor = page["next_cursor"]


def test_default_tax_rates_are_listed(call, admin_key):
    from billing.tax import default_rates

    rates = {r["id"]: r for r in _all_rates(call, admin_key)}
    assert set(default_rates()) <= set(rates)
    de = rates["eu_de_vat_standard"]
    assert (de["percentage"], de["country"], de["origin"], de["inclusive"]) == ("19", "DE", "default", False)
    assert rates["ca_qc_qst"]["percentage"] == "9.975" and rates["ca_qc_qst"]["state"] == "QC"
    assert rates["eu_reverse_charge"]["legal_mention"]


def test_custom_tax_rate_lifecycle(call, admin_key, post):
    rid = f"us_ny_sales_{uid()}"
    r = post("/v1/tax-rates", {"id": rid, "display_name": "Sales tax", "percentage": "8.875", "country": "us",
                               "state": "ny", "inclusive": False})  # fmt: skip
    assert r["object"] == "tax_rate"
    assert (r["percentage"], r["country"], r["state"], r["origin"], r["active"]) == (
        "8.875",
        "US",
        "NY",
        "custom",
        True,
    )
    body = post(
        "/v1/tax-rates", {"id": rid, "display_name": "x", "percentage": "1", "country": "US"}, status=409
    )
    assert body["error"]["code"] == "tax_rate_id_taken"
    status, _, u = call("PATCH", f"/v1/tax-rates/{rid}", key=admin_key, json_body={"percentage": "8.5"})
    assert status == 200 and u["percentage"] == "8.5"
    status, _, off = call("DELETE", f"/v1/tax-rates/{rid}", key=admin_key)
    assert status == 200 and off["active"] is False
    assert rid not in {x["id"] for x in _all_rates(call, admin_key)}
    assert rid in {x["id"] for x in _all_rates(call, admin_key, "&include_inactive=true")}
    status, _, on = call("PATCH", f"/v1/tax-rates/{rid}", key=admin_key, json_body={"active": True})
    assert status == 200 and on["active"] is True


def test_an_edited_default_survives_reseeding(call, admin_key, app_env):
    from billing.repositories import keys
    from billing.repositories.catalog import TaxRateRepository
    from billing.services import tax_rates

    call("GET", "/v1/tax-rates?limit=1", key=admin_key)  # seeds
    status, _, edited = call(
        "PATCH", "/v1/tax-rates/eu_ee_vat_standard", key=admin_key, json_body={"percentage": "22"}
    )
    assert status == 200 and edited["percentage"] == "22" and edited["origin"] == "default"
    repo = TaxRateRepository(table_name=app_env["BILLING_TABLE"])
    fingerprint = tax_rates.defaults_fingerprint()
    import boto3

    boto3.resource("dynamodb").Table(app_env["BILLING_TABLE"]).delete_item(
        Key=keys.tax_rate_seed_marker(fingerprint)
    )
    tax_rates._seeded.clear()
    tax_rates.ensure_default_tax_rates(repo)
    assert repo.is_seeded(fingerprint)
    assert str(repo.get("eu_ee_vat_standard").percentage) == "22"
    assert tax_rates.as_tax_rate(repo.get("eu_de_vat_standard")).percentage == 19


TAX = {"id": "t_bad", "display_name": "T", "percentage": "10", "country": "US"}


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({**TAX, "percentage": "101"}, "tax_rate_out_of_range", "percentage"),
        ({**TAX, "percentage": 10}, "invalid_type", "percentage"),
        ({**TAX, "percentage": "1e2"}, "invalid_format", "percentage"),
        ({**TAX, "country": "XX"}, "invalid_country", "country"),
        ({**TAX, "state": "TOOLONG"}, "too_long", "state"),
        ({**TAX, "id": "Has-Caps"}, "invalid_format", "id"),
        ({**TAX, "display_name": ""}, "too_short", "display_name"),
        ({**TAX, "inclusive": "no"}, "invalid_type", "inclusive"),
        ({**TAX, "replaces_national": True}, "invalid_replaces_national", "state"),
        ({**TAX, "rate": "1"}, "unknown_field", "rate"),
        ({k: v for k, v in TAX.items() if k != "country"}, "missing_field", "country"),
    ],
)
def test_bad_tax_rate_bodies_name_the_field(call, admin_key, body, code, param):
    assert errors_of(call, admin_key, "POST", "/v1/tax-rates", body) == (code, param)


def test_catalog_roles(call, admin_key):
    _, _, ro = call("POST", "/v1/api-keys", key=admin_key, json_body={"name": "ro", "role": "read_only"})
    for path in ("/v1/metrics", "/v1/plans", "/v1/coupons", "/v1/tax-rates"):
        assert call("GET", path, key=ro["key"])[0] == 200
        status, _, body = call("POST", path, key=ro["key"], json_body={})
        assert status == 403 and body["error"]["code"] == "insufficient_role"
