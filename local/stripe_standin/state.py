"""The stand-in's Stripe account: objects in memory (optionally in a JSON file) and the API calls.

Each API method takes the request context and the decoded form params and returns the JSON object
Stripe would return, or raises ``ApiError`` with Stripe's error shape. Callers hold ``Store.lock``.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.stripe_standin.cards import AUTHENTICATION_REQUIRED_MESSAGE, TEST_CARDS, TestCard

API_VERSION = "2026-10-28.endive"
COLLECTIONS = (
    "customers",
    "payment_methods",
    "payment_intents",
    "charges",
    "refunds",
    "setup_intents",
    "checkout_sessions",
    "disputes",
    "events",
)
MINIMUM_AMOUNT = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "cad": 50,
    "aud": 50,
    "chf": 50,
    "jpy": 50,
    "sek": 300,
    "nok": 300,
    "dkk": 250,
}
"""Stripe's minimum charge amounts (minor units) for the common currencies; others: 1."""
MAXIMUM_AMOUNT = 99_999_999
_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


class ApiError(Exception):
    """An error answer, in Stripe's shape. ``stores``: kept for idempotent replay (the call executed)."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        stores: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.stores = stores

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return {"error": error}


def invalid(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> ApiError:
    return ApiError(status, "invalid_request_error", message, code=code, param=param)


def missing(param: str) -> ApiError:
    return invalid(f"Missing required param: {param}.", code="parameter_missing", param=param)


def no_such(kind: str, object_id: str, *, param: str, status: int = 400) -> ApiError:
    return invalid(f"No such {kind}: '{object_id}'", code="resource_missing", param=param, status=status)


def _int(
    params: dict[str, Any], name: str, *, required: bool = False, default: int | None = None
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise invalid(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name) from None


def _bool(params: dict[str, Any], name: str) -> bool:
    raw = params.get(name)
    if raw in (None, "", "false"):
        return False
    if raw == "true":
        return True
    raise invalid(f"Invalid boolean: {raw}", code="parameter_invalid_boolean", param=name)


def _metadata(params: dict[str, Any], name: str = "metadata") -> dict[str, str]:
    raw = params.get(name)
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise invalid("Invalid hash", code="parameter_invalid_hash", param=name)
    for key, value in raw.items():
        if not isinstance(value, str):
            raise invalid("Invalid metadata value", param=f"{name}[{key}]")
        if len(key) > 40 or len(value) > 500:
            raise invalid("Metadata keys are at most 40 and values 500 characters", param=f"{name}[{key}]")
    return {str(k): str(v) for k, v in raw.items()}


def _currency(params: dict[str, Any], name: str = "currency") -> str:
    raw = params.get(name)
    if not raw:
        raise missing(name)
    if not isinstance(raw, str) or len(raw) != 3 or not raw.isalpha():
        raise invalid(f"Invalid currency: {raw}.", code="parameter_invalid_string", param=name)
    return raw.lower()


def _created_filter(params: dict[str, Any]) -> Callable[[int], bool]:
    raw = params.get("created")
    if raw is None or raw == "":
        return lambda _: True
    if isinstance(raw, str):
        exact = _int(params, "created")
        return lambda created: created == exact
    if not isinstance(raw, dict):
        raise invalid("Invalid created filter", param="created")
    bounds: dict[str, int] = {}
    for op in ("gt", "gte", "lt", "lte"):
        if op in raw:
            try:
                bounds[op] = int(raw[op])
            except (TypeError, ValueError):
                raise invalid(
                    f"Invalid integer: {raw[op]}", code="parameter_invalid_integer", param=f"created[{op}]"
                ) from None

    def check(created: int) -> bool:
        return (
            ("gt" not in bounds or created > bounds["gt"])
            and ("gte" not in bounds or created >= bounds["gte"])
            and ("lt" not in bounds or created < bounds["lt"])
            and ("lte" not in bounds or created <= bounds["lte"])
        )

    return check


@dataclass
class Ctx:
    api_key: str
    idempotency_key: str | None
    request_id: str
    stripe_version: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


class Store:
    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        public_url: str = "http://127.0.0.1",
        state_file: str | Path | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or time.time
        self.public_url = public_url
        self.state_file = Path(state_file) if state_file else None
        self.reset()
        if self.state_file and self.state_file.exists():
            self.load()

    # -------------------------------------------------------------------------------- persistence
    def reset(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in COLLECTIONS}
        self.card_of: dict[str, str] = {}
        """pm_ id → the test card it was made from."""
        self.hidden: dict[str, dict[str, Any]] = {}
        """Per-object internals Stripe does not return (a checkout session's payment_intent_data)."""
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.in_flight: set[str] = set()
        self.charge_log: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def snapshot(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "card_of": self.card_of,
            "hidden": self.hidden,
            "idempotency": self.idempotency,
            "charge_log": self.charge_log,
        }

    def save(self) -> None:
        if not self.state_file:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def load(self) -> None:
        assert self.state_file is not None
        saved = json.loads(self.state_file.read_text(encoding="utf-8") or "{}")
        for name in COLLECTIONS:
            self.data[name] = saved.get("data", {}).get(name, {})
        self.card_of = saved.get("card_of", {})
        self.hidden = saved.get("hidden", {})
        day_ago = time.time() - 86_400
        self.idempotency = {k: v for k, v in saved.get("idempotency", {}).items() if v.get("at", 0) > day_ago}
        self.charge_log = saved.get("charge_log", [])

    # ------------------------------------------------------------------------------------ helpers
    def now(self) -> int:
        return int(self.clock())

    def _get(
        self, collection: str, object_id: str, kind: str, *, param: str = "id", status: int = 404
    ) -> dict[str, Any]:
        found = self.data[collection].get(object_id)
        if found is None:
            raise no_such(kind, object_id, param=param, status=status)
        return found

    def _list(
        self,
        collection: str,
        params: dict[str, Any],
        url: str,
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        limit = _int(params, "limit", default=10)
        assert limit is not None
        if not 1 <= limit <= 100:
            raise invalid(
                "This value must be between 1 and 100.", code="parameter_invalid_integer", param="limit"
            )
        created = _created_filter(params)
        items = [o for o in reversed(list(self.data[collection].values())) if created(int(o["created"]))]
        items.sort(
            key=lambda o: -int(o["created"])
        )  # newest first; stable, so ties keep newest-inserted first
        if keep is not None:
            items = [o for o in items if keep(o)]
        after, before = params.get("starting_after"), params.get("ending_before")
        if after:
            ids = [o["id"] for o in items]
            if after not in ids:
                raise no_such("object", str(after), param="starting_after")
            items = items[ids.index(after) + 1 :]
            page = items[:limit]
        elif before:
            ids = [o["id"] for o in items]
            if before not in ids:
                raise no_such("object", str(before), param="ending_before")
            items = items[: ids.index(before)]
            page = items[-limit:]
        else:
            page = items[:limit]
        return {"object": "list", "data": copy.deepcopy(page), "has_more": len(items) > len(page), "url": url}

    def event(
        self, ctx: Ctx, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event: dict[str, Any] = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": ctx.stripe_version or API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": type_,
        }
        self.data["events"][event["id"]] = event
        ctx.events.append(event)
        return event

    # ---------------------------------------------------------------------------------- customers
    def create_customer(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        customer: dict[str, Any] = {
            "id": new_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": params.get("description") or None,
            "email": params.get("email") or None,
            "invoice_prefix": new_id("", 8).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False,
            "metadata": _metadata(params),
            "name": params.get("name") or None,
            "phone": params.get("phone") or None,
            "preferred_locales": [],
            "tax_exempt": "none",
        }
        self.data["customers"][customer["id"]] = customer
        default = (params.get("invoice_settings") or {}).get("default_payment_method")
        if params.get("payment_method"):
            pm = self._attach(ctx, str(params["payment_method"]), customer["id"], param="payment_method")
            default = default or pm["id"]
        if default:
            self._set_default(customer, str(default))
        return copy.deepcopy(customer)

    def _customer(self, customer_id: str, *, param: str = "id", status: int = 404) -> dict[str, Any]:
        customer = self._get("customers", customer_id, "customer", param=param, status=status)
        if customer.get("deleted"):
            raise no_such("customer", customer_id, param=param, status=status)
        return customer

    def get_customer(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        customer = self._get("customers", id, "customer")
        if customer.get("deleted"):
            return {"id": id, "object": "customer", "deleted": True}
        return copy.deepcopy(customer)

    def _set_default(self, customer: dict[str, Any], pm_id: str) -> None:
        pm = self.data["payment_methods"].get(pm_id)
        if pm is None or pm.get("customer") != customer["id"]:
            raise invalid(
                f"The customer does not have a payment method with the ID {pm_id}. The payment method must be "
                "attached to the customer.",
                code="resource_missing",
                param="invoice_settings[default_payment_method]",
            )
        customer["invoice_settings"]["default_payment_method"] = pm_id

    def update_customer(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        customer = self._customer(id)
        for name in ("email", "name", "description", "phone"):
            if name in params:
                customer[name] = params[name] or None
        if "metadata" in params:
            customer["metadata"] = {**customer["metadata"], **_metadata(params)}
            customer["metadata"] = {k: v for k, v in customer["metadata"].items() if v != ""}
        settings = params.get("invoice_settings")
        if isinstance(settings, dict) and "default_payment_method" in settings:
            if settings["default_payment_method"]:
                self._set_default(customer, str(settings["default_payment_method"]))
            else:
                customer["invoice_settings"]["default_payment_method"] = None
        return copy.deepcopy(customer)

    def delete_customer(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        customer = self._customer(id)
        customer["deleted"] = True
        return {"id": id, "object": "customer", "deleted": True}

    def list_customers(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        email = params.get("email")
        return self._list(
            "customers",
            params,
            "/v1/customers",
            lambda c: not c.get("deleted") and (not email or c.get("email") == email),
        )

    # ---------------------------------------------------------------------------- payment methods
    def _card_object(self, card: TestCard) -> dict[str, Any]:
        return {
            "brand": card.brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US",
            "display_brand": card.brand,
            "exp_month": 12,
            "exp_year": time.gmtime().tm_year + 3,
            "fingerprint": new_id("", 16),
            "funding": card.funding,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        }

    def _materialize(self, pm_id: str, *, param: str) -> dict[str, Any]:
        """A stored PaymentMethod, or a fresh one made from a ``pm_card_*`` shortcut (as Stripe does)."""
        stored = self.data["payment_methods"].get(pm_id)
        if stored is not None:
            return stored
        card = TEST_CARDS.get(pm_id)
        if card is None:
            raise no_such("PaymentMethod", pm_id, param=param)
        pm: dict[str, Any] = {
            "id": new_id("pm_"),
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": self._card_object(card),
            "created": self.now(),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        self.data["payment_methods"][pm["id"]] = pm
        self.card_of[pm["id"]] = pm_id
        return pm

    def card_for(self, pm_id: str) -> TestCard:
        return TEST_CARDS[self.card_of.get(pm_id, "pm_card_visa")]

    def _attach(self, ctx: Ctx, pm_id: str, customer_id: str, *, param: str) -> dict[str, Any]:
        self._customer(customer_id, param="customer", status=400)
        shortcut = TEST_CARDS.get(pm_id)
        if pm_id not in self.data["payment_methods"] and shortcut is not None and shortcut.attach_fails:
            raise ApiError(
                402,
                "card_error",
                shortcut.message or "Your card was declined.",
                code=shortcut.code,
                decline_code=shortcut.decline_code,
                param=shortcut.param,
            )
        pm = self._materialize(pm_id, param=param)
        if pm.get("customer") not in (None, customer_id):
            raise invalid(
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
                param=param,
            )
        pm["customer"] = customer_id
        return pm

    def attach_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        customer_id = params.get("customer")
        if not customer_id:
            raise missing("customer")
        return copy.deepcopy(self._attach(ctx, id, str(customer_id), param="payment_method"))

    def detach_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        pm = self._get("payment_methods", id, "PaymentMethod")
        if not pm.get("customer"):
            raise invalid(
                "The payment method you provided is not attached to a customer so detachment is impossible.",
                code="payment_method_unexpected_state",
            )
        customer = self.data["customers"].get(pm["customer"])
        if customer and customer["invoice_settings"]["default_payment_method"] == id:
            customer["invoice_settings"]["default_payment_method"] = None
        pm["customer"] = None
        return copy.deepcopy(pm)

    def get_payment_method(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("payment_methods", id, "PaymentMethod"))

    def list_customer_payment_methods(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        self._customer(id)
        return self._list(
            "payment_methods",
            params,
            f"/v1/customers/{id}/payment_methods",
            lambda p: p.get("customer") == id,
        )

    # ------------------------------------------------------------------------------ setup intents
    def create_setup_intent(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        customer_id = params.get("customer") or None
        if customer_id:
            self._customer(str(customer_id), param="customer", status=400)
        usage = params.get("usage") or "off_session"
        if usage not in ("off_session", "on_session"):
            raise invalid("Invalid usage: must be one of off_session or on_session", param="usage")
        types = params.get("allowed_payment_method_types") or params.get("payment_method_types") or ["card"]
        seti_id = new_id("seti_")
        intent: dict[str, Any] = {
            "id": seti_id,
            "object": "setup_intent",
            "cancellation_reason": None,
            "client_secret": f"{seti_id}_secret_{new_id('', 32)}",
            "created": self.now(),
            "customer": customer_id,
            "description": params.get("description") or None,
            "last_setup_error": None,
            "latest_attempt": None,
            "livemode": False,
            "metadata": _metadata(params),
            "next_action": None,
            "payment_method": None,
            "payment_method_types": list(types),
            "status": "requires_payment_method",
            "usage": usage,
        }
        if params.get("payment_method"):
            pm = self._materialize(str(params["payment_method"]), param="payment_method")
            intent["payment_method"] = pm["id"]
            intent["status"] = "requires_confirmation"
            if _bool(params, "confirm"):
                if customer_id:
                    self._attach(ctx, pm["id"], str(customer_id), param="payment_method")
                intent["status"] = "succeeded"
        self.data["setup_intents"][seti_id] = intent
        return copy.deepcopy(intent)

    def get_setup_intent(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("setup_intents", id, "setup_intent"))

    # ---------------------------------------------------------------------------- payment intents
    def _amount(self, params: dict[str, Any], currency: str) -> int:
        amount = _int(params, "amount", required=True)
        assert amount is not None
        minimum = MINIMUM_AMOUNT.get(currency, 1)
        if amount < minimum:
            raise invalid(
                f"Amount must be at least {minimum} {currency} (minor units)",
                code="amount_too_small",
                param="amount",
            )
        if amount > MAXIMUM_AMOUNT:
            raise invalid(
                f"Amount must be no more than {MAXIMUM_AMOUNT}", code="amount_too_large", param="amount"
            )
        return amount

    def create_payment_intent(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        currency = _currency(params)
        amount = self._amount(params, currency)
        customer_id = params.get("customer") or None
        if customer_id:
            self._customer(str(customer_id), param="customer", status=400)
        confirm = _bool(params, "confirm")
        off_session = params.get("off_session") in ("true", "one_off", "recurring")
        if params.get("off_session") not in (None, "", "true", "false", "one_off", "recurring"):
            raise invalid("Invalid off_session", param="off_session")
        if off_session and not confirm:
            raise invalid("off_session can only be used when confirm=true.", param="off_session")
        pm_id = params.get("payment_method") or None
        if confirm and not pm_id:
            raise invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                "PaymentIntent with a payment method, update it with one or pass `payment_method`.",
                code="payment_intent_unexpected_state",
            )
        automatic = params.get("automatic_payment_methods")
        types = params.get("allowed_payment_method_types") or params.get("payment_method_types")
        no_redirects = isinstance(automatic, dict) and automatic.get("allow_redirects") == "never"
        if confirm and not types and not no_redirects and not params.get("return_url"):
            raise invalid(
                "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some "
                "of these payment methods might redirect your customer off of your page, you must provide a "
                "`return_url`. If you don't want to accept redirect-based payment methods, set "
                "`automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to "
                "`never` when creating Setup Intents and Payment Intents.",
                param="return_url",
            )
        pm: dict[str, Any] | None = None
        if pm_id:
            pm = self._materialize(str(pm_id), param="payment_method")
            if customer_id and pm.get("customer") not in (None, customer_id):
                raise invalid(
                    f"The PaymentMethod {pm['id']} does not belong to the Customer {customer_id}. Please use the "
                    "Customer that owns the PaymentMethod.",
                    param="payment_method",
                )
        pi_id = new_id("pi_")
        intent: dict[str, Any] = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "automatic_payment_methods": {
                "enabled": True,
                "allow_redirects": automatic.get("allow_redirects", "always"),
            }
            if isinstance(automatic, dict)
            else None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
            "confirmation_method": "automatic",
            "created": self.now(),
            "currency": currency,
            "customer": customer_id,
            "description": params.get("description") or None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _metadata(params),
            "next_action": None,
            "payment_method": pm["id"] if pm else None,
            "payment_method_types": list(types) if types else ["card"],
            "receipt_email": params.get("receipt_email") or None,
            "setup_future_usage": params.get("setup_future_usage") or None,
            "statement_descriptor": params.get("statement_descriptor") or None,
            "status": "requires_confirmation" if pm else "requires_payment_method",
        }
        self.data["payment_intents"][pi_id] = intent
        if confirm and pm is not None:
            self._confirm(ctx, intent, pm, off_session=off_session, source="api")
        return copy.deepcopy(intent)

    def _new_charge(
        self,
        ctx: Ctx,
        intent: dict[str, Any],
        pm: dict[str, Any],
        card: TestCard,
        *,
        succeeded: bool,
        source: str,
    ) -> dict[str, Any]:
        charge: dict[str, Any] = {
            "id": new_id("ch_"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if succeeded else 0,
            "amount_refunded": 0,
            "balance_transaction": new_id("txn_") if succeeded else None,
            "billing_details": pm.get("billing_details"),
            "captured": succeeded,
            "created": self.now(),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "disputed": False,
            "failure_code": None if succeeded else card.code,
            "failure_message": None if succeeded else card.message,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {
                "network_status": "approved_by_network" if succeeded else "declined_by_network",
                "reason": None if succeeded else card.decline_code,
                "risk_level": "normal",
                "seller_message": "Payment complete."
                if succeeded
                else "The bank did not return any further details with this decline.",
                "type": "authorized" if succeeded else "issuer_declined",
            },
            "paid": succeeded,
            "payment_intent": intent["id"],
            "payment_method": pm["id"],
            "payment_method_details": {"type": "card", "card": {**pm["card"], "network": card.brand}},
            "receipt_url": None,
            "refunded": False,
            "status": "succeeded" if succeeded else "failed",
        }
        self.data["charges"][charge["id"]] = charge
        self.charge_log.append(
            {
                "id": charge["id"],
                "payment_intent": intent["id"],
                "amount": charge["amount"],
                "currency": charge["currency"],
                "status": charge["status"],
                "customer": charge["customer"],
                "payment_method": pm["id"],
                "metadata": dict(charge["metadata"]),
                "idempotency_key": ctx.idempotency_key,
                "request_id": ctx.request_id,
                "created": charge["created"],
                "source": source,
            }
        )
        return charge

    def _confirm(
        self, ctx: Ctx, intent: dict[str, Any], pm: dict[str, Any], *, off_session: bool, source: str
    ) -> None:
        card = self.card_for(pm["id"])
        needs_auth = card.outcome == "authenticate" or (
            card.outcome == "setup_for_off_session" and not off_session
        )
        if needs_auth:
            if off_session:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "card_error",
                    "code": "authentication_required",
                    "decline_code": "authentication_required",
                    "message": AUTHENTICATION_REQUIRED_MESSAGE,
                    "doc_url": "https://stripe.com/docs/error-codes/authentication-required",
                    "payment_method": copy.deepcopy(pm),
                }
                self.event(ctx, "payment_intent.payment_failed", intent)
                raise ApiError(
                    402,
                    "card_error",
                    AUTHENTICATION_REQUIRED_MESSAGE,
                    code="authentication_required",
                    decline_code="authentication_required",
                    extra={"payment_intent": copy.deepcopy(intent), "payment_method": copy.deepcopy(pm)},
                    stores=True,
                )
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "stripe_js": f"{self.public_url}/3ds/{intent['id']}",
                },
            }
            self.event(ctx, "payment_intent.requires_action", intent)
            return
        if card.outcome == "decline":
            charge = self._new_charge(ctx, intent, pm, card, succeeded=False, source=source)
            intent["status"] = "requires_payment_method"
            intent["latest_charge"] = charge["id"]
            intent["last_payment_error"] = {
                "type": "card_error",
                "charge": charge["id"],
                "code": card.code,
                "decline_code": card.decline_code,
                "message": card.message,
                "doc_url": f"https://stripe.com/docs/error-codes/{(card.code or '').replace('_', '-')}",
                "payment_method": copy.deepcopy(pm),
            }
            self.event(ctx, "payment_intent.payment_failed", intent)
            raise ApiError(
                402,
                "card_error",
                card.message or "Your card was declined.",
                code=card.code,
                decline_code=card.decline_code,
                param=card.param,
                extra={
                    "charge": charge["id"],
                    "payment_intent": copy.deepcopy(intent),
                    "payment_method": copy.deepcopy(pm),
                },
                stores=True,
            )
        charge = self._new_charge(ctx, intent, pm, card, succeeded=True, source=source)
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["latest_charge"] = charge["id"]
        intent["next_action"] = None
        intent["last_payment_error"] = None
        self.event(ctx, "payment_intent.succeeded", intent)
        if card.outcome == "dispute":
            self.open_dispute(ctx, charge, reason=card.dispute_reason or "fraudulent")

    def get_payment_intent(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("payment_intents", id, "payment_intent"))

    def list_payment_intents(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        customer = params.get("customer")
        return self._list(
            "payment_intents",
            params,
            "/v1/payment_intents",
            lambda p: not customer or p["customer"] == customer,
        )

    # ------------------------------------------------------------------------------------ charges
    def get_charge(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("charges", id, "charge"))

    def list_charges(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        customer, intent = params.get("customer"), params.get("payment_intent")
        return self._list(
            "charges",
            params,
            "/v1/charges",
            lambda c: (
                (not customer or c["customer"] == customer) and (not intent or c["payment_intent"] == intent)
            ),
        )

    # ------------------------------------------------------------------------------------ refunds
    def create_refund(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        charge: dict[str, Any] | None = None
        if params.get("charge"):
            charge = self._get("charges", str(params["charge"]), "charge", param="charge", status=400)
        elif params.get("payment_intent"):
            intent = self._get(
                "payment_intents",
                str(params["payment_intent"]),
                "payment_intent",
                param="payment_intent",
                status=400,
            )
            if intent["status"] != "succeeded" or not intent["latest_charge"]:
                raise invalid(
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge = self.data["charges"][intent["latest_charge"]]
        else:
            raise missing("charge")
        if charge["status"] != "succeeded":
            raise invalid(
                f"Charge {charge['id']} has not succeeded and cannot be refunded.",
                code="charge_not_refundable",
            )
        if charge.get("disputed"):
            raise invalid(
                f"Charge {charge['id']} has been charged back; cannot issue a refund.", code="charge_disputed"
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        amount = _int(params, "amount", default=remaining)
        assert amount is not None
        if amount <= 0:
            raise invalid("Invalid positive integer", code="parameter_invalid_integer", param="amount")
        if amount > remaining:
            raise invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason") or None
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise invalid(
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param="reason",
            )
        refund: dict[str, Any] = {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": self.now(),
            "currency": charge["currency"],
            "destination_details": {"type": "card", "card": {"type": "refund"}},
            "metadata": _metadata(params),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
        }
        self.data["refunds"][refund["id"]] = refund
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.event(ctx, "charge.refunded", charge, previous)
        return copy.deepcopy(refund)

    def get_refund(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("refunds", id, "refund"))

    def list_refunds(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        charge, intent = params.get("charge"), params.get("payment_intent")
        return self._list(
            "refunds",
            params,
            "/v1/refunds",
            lambda r: (not charge or r["charge"] == charge) and (not intent or r["payment_intent"] == intent),
        )

    # ----------------------------------------------------------------------------------- checkout
    def create_checkout_session(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        if not mode:
            raise missing("mode")
        if mode != "payment":
            raise invalid("The Stripe stand-in supports Checkout in payment mode only.", param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise invalid(
                "You must provide at least one line item in payment mode.",
                code="parameter_missing",
                param="line_items",
            )
        currency: str | None = None
        total = 0
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("price_data"), dict):
                raise invalid(
                    "The stand-in supports line_items with price_data only.",
                    param=f"line_items[{index}][price_data]",
                )
            price = item["price_data"]
            item_currency = _currency(price)
            if currency not in (None, item_currency):
                raise invalid(
                    "All line items must use the same currency.",
                    param=f"line_items[{index}][price_data][currency]",
                )
            currency = item_currency
            unit = _int(price, "unit_amount", required=True)
            quantity = _int(item, "quantity", required=True)
            assert unit is not None and quantity is not None
            if not isinstance(price.get("product_data"), dict) or not price["product_data"].get("name"):
                raise missing(f"line_items[{index}][price_data][product_data][name]")
            total += unit * quantity
        assert currency is not None
        customer_id = params.get("customer") or None
        if customer_id and params.get("customer_email"):
            raise invalid(
                "You may only specify one of these parameters: customer, customer_email.",
                param="customer_email",
            )
        if customer_id:
            self._customer(str(customer_id), param="customer", status=400)
        created = self.now()
        cs_id = new_id("cs_test_", 58)
        session: dict[str, Any] = {
            "id": cs_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url") or None,
            "client_reference_id": params.get("client_reference_id") or None,
            "created": created,
            "currency": currency,
            "customer": customer_id,
            "customer_email": params.get("customer_email") or None,
            "expires_at": created + 86_400,
            "livemode": False,
            "metadata": _metadata(params),
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url") or None,
            "url": f"{self.public_url}/c/pay/{cs_id}",
        }
        self.data["checkout_sessions"][cs_id] = session
        intent_data = (
            params.get("payment_intent_data") if isinstance(params.get("payment_intent_data"), dict) else {}
        )
        self.hidden[cs_id] = {
            "payment_intent_metadata": _metadata(intent_data or {}),
            "description": (intent_data or {}).get("description"),
        }
        return copy.deepcopy(session)

    def get_checkout_session(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("checkout_sessions", id, "checkout.session"))

    def list_checkout_sessions(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        intent = params.get("payment_intent")
        return self._list(
            "checkout_sessions",
            params,
            "/v1/checkout/sessions",
            lambda s: not intent or s["payment_intent"] == intent,
        )

    def complete_checkout(self, ctx: Ctx, session_id: str, pm_id: str) -> dict[str, Any]:
        """The customer pays on the hosted page (test helper)."""
        session = self._get("checkout_sessions", session_id, "checkout.session")
        if session["status"] != "open":
            raise invalid(f"This Checkout Session is {session['status']}.", code="checkout_session_not_open")
        if session["expires_at"] <= self.now():
            session["status"] = "expired"
            self.event(ctx, "checkout.session.expired", session)
            raise invalid("This Checkout Session has expired.", code="checkout_session_expired")
        pm = self._materialize(pm_id, param="payment_method")
        hidden = self.hidden.get(session_id, {})
        pi_id = new_id("pi_")
        intent: dict[str, Any] = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": 0,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
            "confirmation_method": "automatic",
            "created": self.now(),
            "currency": session["currency"],
            "customer": session["customer"],
            "description": hidden.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(hidden.get("payment_intent_metadata") or {}),
            "next_action": None,
            "payment_method": pm["id"],
            "payment_method_types": ["card"],
            "receipt_email": None,
            "setup_future_usage": None,
            "statement_descriptor": None,
            "status": "requires_confirmation",
        }
        self.data["payment_intents"][pi_id] = intent
        session["payment_intent"] = pi_id
        self._confirm(ctx, intent, pm, off_session=False, source="checkout")
        if intent["status"] != "succeeded":
            raise invalid(
                "This card needs authentication, which the stand-in's page does not simulate.",
                code="authentication_required",
            )
        session["status"] = "complete"
        session["payment_status"] = "paid"
        self.event(ctx, "checkout.session.completed", session)
        return copy.deepcopy(session)

    # ----------------------------------------------------------------------------------- disputes
    def open_dispute(
        self, ctx: Ctx, charge: dict[str, Any], *, reason: str = "fraudulent", amount: int | None = None
    ) -> dict[str, Any]:
        if charge["status"] != "succeeded":
            raise invalid(f"Charge {charge['id']} has not succeeded and cannot be disputed.")
        dispute: dict[str, Any] = {
            "id": new_id("du_"),
            "object": "dispute",
            "amount": amount if amount is not None else charge["amount"] - charge["amount_refunded"],
            "balance_transactions": [],
            "charge": charge["id"],
            "created": self.now(),
            "currency": charge["currency"],
            "evidence": {"uncategorized_text": None},
            "evidence_details": {
                "due_by": self.now() + 7 * 86_400,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "warning_needs_response" if reason == "general" else "needs_response",
        }
        self.data["disputes"][dispute["id"]] = dispute
        charge["disputed"] = True
        self.event(ctx, "charge.dispute.created", dispute)
        return dispute

    def close_dispute(self, ctx: Ctx, dispute_id: str, outcome: str) -> dict[str, Any]:
        dispute = self._get("disputes", dispute_id, "dispute")
        if dispute["status"] in ("won", "lost", "warning_closed"):
            raise invalid(f"Dispute {dispute_id} is already closed.", code="dispute_already_closed")
        if outcome not in ("won", "lost"):
            raise invalid("outcome must be won or lost", param="outcome")
        previous = {"status": dispute["status"]}
        dispute["status"] = outcome if dispute["status"] != "warning_needs_response" else "warning_closed"
        self.event(ctx, "charge.dispute.closed", dispute, previous)
        return copy.deepcopy(dispute)

    def update_dispute(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        """Stripe's test-mode evidence: ``winning_evidence`` wins, ``losing_evidence`` loses."""
        dispute = self._get("disputes", id, "dispute")
        evidence = params.get("evidence") if isinstance(params.get("evidence"), dict) else {}
        text = (evidence or {}).get("uncategorized_text")
        if text:
            dispute["evidence"]["uncategorized_text"] = text
            dispute["evidence_details"]["has_evidence"] = True
        if "metadata" in params:
            dispute["metadata"] = {**dispute["metadata"], **_metadata(params)}
        if text in ("winning_evidence", "losing_evidence") and params.get("submit") != "false":
            return self.close_dispute(ctx, id, "won" if text == "winning_evidence" else "lost")
        return copy.deepcopy(dispute)

    def get_dispute(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("disputes", id, "dispute"))

    def list_disputes(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        return self._list("disputes", params, "/v1/disputes")

    # ------------------------------------------------------------------------------------- events
    def get_event(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._get("events", id, "event"))

    def list_events(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("type")
        return self._list("events", params, "/v1/events", lambda e: not wanted or e["type"] == wanted)
