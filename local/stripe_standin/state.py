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

from local.stripe_standin.cards import (
    AUTHENTICATION_FAILED_MESSAGE,
    AUTHENTICATION_REQUIRED_MESSAGE,
    TEST_CARDS,
    TestCard,
)

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
_EXPANDABLE = {
    "pi_": "payment_intents",
    "pm_": "payment_methods",
    "ch_": "charges",
    "seti_": "setup_intents",
    "cus_": "customers",
    "re_": "refunds",
    "cs_": "checkout_sessions",
    "du_": "disputes",
}
"""Id prefix → the collection ``expand[]`` looks the object up in."""
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


def _card_failure(card: TestCard, pm: dict[str, Any]) -> dict[str, Any]:
    """``last_payment_error`` / ``last_setup_error`` of a declined test card."""
    return {
        "type": "card_error",
        "code": card.code,
        "decline_code": card.decline_code,
        "message": card.message,
        "doc_url": f"https://stripe.com/docs/error-codes/{(card.code or '').replace('_', '-')}",
        "payment_method": copy.deepcopy(pm),
    }


def _card_error(card: TestCard, *, extra: dict[str, Any] | None = None) -> ApiError:
    """The 402 a declined test card answers (kept for idempotent replay when ``extra`` says it ran)."""
    return ApiError(
        402,
        "card_error",
        card.message or "Your card was declined.",
        code=card.code,
        decline_code=card.decline_code,
        param=card.param,
        extra=extra,
        stores=extra is not None,
    )


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

    # ---------------------------------------------------------------------------------- expansion
    def expand(self, obj: dict[str, Any], paths: Any) -> dict[str, Any]:
        """``expand[]``: each dotted path's id fields replaced by the objects they name (as Stripe)."""
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list):
            raise invalid("Invalid array", param="expand")
        out = copy.deepcopy(obj)
        for path in paths:
            self._expand_path(out, str(path).split("."), str(path))
        return out

    def _expand_path(self, node: dict[str, Any], parts: list[str], path: str) -> None:
        head, rest = parts[0], parts[1:]
        value = node.get(head)
        if isinstance(value, str):
            collection = next((c for p, c in _EXPANDABLE.items() if value.startswith(p)), None)
            found = self.data[collection].get(value) if collection else None
            if found is None:
                raise invalid(f"This property cannot be expanded ({path}).", param="expand")
            value = copy.deepcopy(found)
            node[head] = value
        elif value is None and head in node:
            return
        elif not isinstance(value, dict):
            raise invalid(f"This property cannot be expanded ({path}).", param="expand")
        if rest:
            self._expand_path(value, rest, path)

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
            raise _card_error(shortcut)
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
    def _new_setup_intent(
        self,
        customer_id: str | None,
        *,
        usage: str,
        metadata: dict[str, str],
        types: list[str],
        description: str | None,
    ) -> dict[str, Any]:
        seti_id = new_id("seti_")
        intent: dict[str, Any] = {
            "id": seti_id,
            "object": "setup_intent",
            "cancellation_reason": None,
            "client_secret": f"{seti_id}_secret_{new_id('', 32)}",
            "created": self.now(),
            "customer": customer_id,
            "description": description,
            "last_setup_error": None,
            "latest_attempt": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "payment_method": None,
            "payment_method_types": list(types),
            "status": "requires_payment_method",
            "usage": usage,
        }
        self.data["setup_intents"][seti_id] = intent
        return intent

    def create_setup_intent(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        customer_id = params.get("customer") or None
        if customer_id:
            self._customer(str(customer_id), param="customer", status=400)
        usage = params.get("usage") or "off_session"
        if usage not in ("off_session", "on_session"):
            raise invalid("Invalid usage: must be one of off_session or on_session", param="usage")
        types = params.get("allowed_payment_method_types") or params.get("payment_method_types") or ["card"]
        intent = self._new_setup_intent(
            str(customer_id) if customer_id else None,
            usage=str(usage),
            metadata=_metadata(params),
            types=list(types),
            description=params.get("description") or None,
        )
        if params.get("payment_method"):
            pm = self._materialize(str(params["payment_method"]), param="payment_method")
            intent["payment_method"] = pm["id"]
            intent["status"] = "requires_confirmation"
            if _bool(params, "confirm"):
                if customer_id:
                    self._attach(ctx, pm["id"], str(customer_id), param="payment_method")
                intent["status"] = "succeeded"
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
            intent["last_payment_error"] = {"charge": charge["id"], **_card_failure(card, pm)}
            self.event(ctx, "payment_intent.payment_failed", intent)
            raise _card_error(
                card,
                extra={
                    "charge": charge["id"],
                    "payment_intent": copy.deepcopy(intent),
                    "payment_method": copy.deepcopy(pm),
                },
            )
        self._succeed(ctx, intent, pm, card, source=source)

    def _succeed(
        self, ctx: Ctx, intent: dict[str, Any], pm: dict[str, Any], card: TestCard, *, source: str
    ) -> None:
        """The charge is captured. Checkout payments also announce the charge (``charge.succeeded``)."""
        charge = self._new_charge(ctx, intent, pm, card, succeeded=True, source=source)
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["latest_charge"] = charge["id"]
        intent["next_action"] = None
        intent["last_payment_error"] = None
        if source == "checkout":
            self.event(ctx, "charge.succeeded", charge)
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
    def _checkout_line_items(self, params: dict[str, Any]) -> tuple[str, int, list[str]]:
        """Currency, total and product names of a payment-mode session's ``line_items[][price_data]``."""
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise invalid(
                "You must provide at least one line item in payment mode.",
                code="parameter_missing",
                param="line_items",
            )
        currency: str | None = None
        total = 0
        names: list[str] = []
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
            names.append(str(price["product_data"]["name"]))
            total += unit * quantity
        assert currency is not None
        minimum = MINIMUM_AMOUNT.get(currency, 1)
        if total < minimum:
            raise invalid(
                f"The Checkout Session's total amount due must add up to at least {minimum} {currency} "
                "(minor units)",
                code="amount_too_small",
                param="line_items",
            )
        return currency, total, names

    def create_checkout_session(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        if not mode:
            raise missing("mode")
        if mode not in ("payment", "setup"):
            raise invalid(
                "The Stripe stand-in supports Checkout in payment and setup mode only.", param="mode"
            )
        customer_id = params.get("customer") or None
        if customer_id and params.get("customer_email"):
            raise invalid(
                "You may only specify one of these parameters: customer, customer_email.",
                param="customer_email",
            )
        if customer_id:
            self._customer(str(customer_id), param="customer", status=400)
        created = self.now()
        expires_at = _int(params, "expires_at", default=created + 86_400)
        assert expires_at is not None
        if not created + 1_800 <= expires_at <= created + 86_400:
            raise invalid(
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session "
                "creation.",
                param="expires_at",
            )
        total: int | None
        if mode == "payment":
            currency, total, names = self._checkout_line_items(params)
        else:
            if params.get("line_items"):
                raise invalid("You cannot pass `line_items` in `setup` mode.", param="line_items")
            if not params.get("currency") and not params.get("allowed_payment_method_types"):
                raise invalid(
                    "currency is required in setup mode when allowed_payment_method_types is not set.",
                    code="parameter_missing",
                    param="currency",
                )
            currency = _currency(params) if params.get("currency") else None
            total, names = None, []
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
            "expires_at": expires_at,
            "livemode": False,
            "metadata": _metadata(params),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": list(
                params.get("allowed_payment_method_types") or params.get("payment_method_types") or ["card"]
            ),
            "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
            "setup_intent": None,
            "status": "open",
            "success_url": params.get("success_url") or None,
            "url": f"{self.public_url}/c/pay/{cs_id}",
        }
        intent_data = params.get("payment_intent_data")
        intent_data = intent_data if isinstance(intent_data, dict) else {}
        if mode == "setup":
            setup_data = params.get("setup_intent_data")
            setup_data = setup_data if isinstance(setup_data, dict) else {}
            seti = self._new_setup_intent(
                str(customer_id) if customer_id else None,
                usage="off_session",
                metadata=_metadata(setup_data),
                types=session["payment_method_types"],
                description=setup_data.get("description") or None,
            )
            session["setup_intent"] = seti["id"]
        self.data["checkout_sessions"][cs_id] = session
        self.hidden[cs_id] = {
            "payment_intent_metadata": _metadata(intent_data),
            "description": intent_data.get("description"),
            "product_names": names,
        }
        return copy.deepcopy(session)

    def _checkout_session(self, ctx: Ctx, session_id: str) -> dict[str, Any]:
        """The stored session; an open one past its ``expires_at`` expires now (as Stripe does)."""
        session = self._get("checkout_sessions", session_id, "checkout.session")
        if session["status"] == "open" and session["expires_at"] <= self.now():
            self._expire(ctx, session)
        return session

    def _expire(self, ctx: Ctx, session: dict[str, Any]) -> None:
        session["status"] = "expired"
        intent = self.data["payment_intents"].get(session.get("payment_intent") or "")
        if intent is not None and intent["status"] not in ("succeeded", "canceled"):
            intent["status"] = "canceled"
            intent["canceled_at"] = self.now()
            intent["cancellation_reason"] = "abandoned"
        self.event(ctx, "checkout.session.expired", session)

    def get_checkout_session(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        return copy.deepcopy(self._checkout_session(ctx, id))

    def expire_checkout_session(self, ctx: Ctx, params: dict[str, Any], id: str) -> dict[str, Any]:
        session = self._checkout_session(ctx, id)
        if session["status"] != "open":
            raise invalid(
                f"This Checkout Session is {session['status']}: only an open Checkout Session can be expired."
            )
        self._expire(ctx, session)
        return copy.deepcopy(session)

    def list_checkout_sessions(self, ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
        intent = params.get("payment_intent")
        return self._list(
            "checkout_sessions",
            params,
            "/v1/checkout/sessions",
            lambda s: not intent or s["payment_intent"] == intent,
        )

    def checkout_display(self, session_id: str) -> dict[str, Any]:
        """What the hosted page shows besides the session: product names, the pending PaymentIntent or
        SetupIntent (its status says whether 3-D Secure is being asked for)."""
        session = self.data["checkout_sessions"][session_id]
        hidden = self.hidden.get(session_id, {})
        intent_id = session.get("payment_intent") or session.get("setup_intent") or ""
        intent = self.data["payment_intents"].get(intent_id) or self.data["setup_intents"].get(intent_id)
        return {
            "product_names": list(hidden.get("product_names") or []),
            "description": hidden.get("description"),
            "intent_status": intent["status"] if intent else None,
        }

    def _open_checkout(self, ctx: Ctx, session_id: str) -> dict[str, Any]:
        session = self._checkout_session(ctx, session_id)
        if session["status"] == "expired":
            raise invalid("This Checkout Session has expired.", code="checkout_session_expired")
        if session["status"] != "open":
            raise invalid(f"This Checkout Session is {session['status']}.", code="checkout_session_not_open")
        return session

    def _checkout_intent(self, session: dict[str, Any]) -> dict[str, Any]:
        """The session's PaymentIntent: made on the first try, reused by every later one (as Stripe)."""
        existing = self.data["payment_intents"].get(session.get("payment_intent") or "")
        if existing is not None:
            return existing
        hidden = self.hidden.get(session["id"], {})
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
            "payment_method": None,
            "payment_method_types": list(session.get("payment_method_types") or ["card"]),
            "receipt_email": None,
            "setup_future_usage": None,
            "statement_descriptor": None,
            "status": "requires_payment_method",
        }
        self.data["payment_intents"][pi_id] = intent
        session["payment_intent"] = pi_id
        return intent

    def pay_checkout(self, ctx: Ctx, session_id: str, pm_id: str) -> dict[str, Any]:
        """The customer submits a card on the hosted page. A decline raises the card error (the session
        stays open for another card, its PaymentIntent records the failure); a card that needs 3-D
        Secure leaves the intent ``requires_action`` (``authenticate_checkout`` goes on)."""
        session = self._open_checkout(ctx, session_id)
        pm = self._materialize(pm_id, param="payment_method")
        if session["mode"] == "setup":
            return self._setup_checkout(ctx, session, pm)
        intent = self._checkout_intent(session)
        if intent["status"] in ("succeeded", "canceled", "processing"):
            raise invalid(
                f"This PaymentIntent is {intent['status']}.", code="payment_intent_unexpected_state"
            )
        intent["payment_method"] = pm["id"]
        intent["status"] = "requires_confirmation"
        self._confirm(ctx, intent, pm, off_session=False, source="checkout")
        if intent["status"] == "requires_action":
            return copy.deepcopy(session)
        return self._checkout_paid(ctx, session)

    def authenticate_checkout(self, ctx: Ctx, session_id: str, *, complete: bool) -> dict[str, Any]:
        """The 3-D Secure test challenge: ``complete`` succeeds, otherwise the authentication fails
        (``payment_intent_authentication_failure``; the session stays open)."""
        session = self._open_checkout(ctx, session_id)
        intent_id = session.get("payment_intent") or session.get("setup_intent") or ""
        intent = self.data["payment_intents"].get(intent_id) or self.data["setup_intents"].get(intent_id)
        if intent is None or intent["status"] != "requires_action":
            raise invalid("Nothing waits for authentication.", code="payment_intent_unexpected_state")
        pm = self.data["payment_methods"][intent["payment_method"]]
        setup = session["mode"] == "setup"
        if complete:
            if setup:
                return self._checkout_setup_done(ctx, session, intent, pm)
            self._succeed(ctx, intent, pm, self.card_for(pm["id"]), source="checkout")
            return self._checkout_paid(ctx, session)
        error = {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure"
            if not setup
            else "setup_intent_authentication_failure",
            "message": AUTHENTICATION_FAILED_MESSAGE,
            "payment_method": copy.deepcopy(pm),
        }
        intent["status"] = "requires_payment_method"
        intent["next_action"] = None
        intent["last_setup_error" if setup else "last_payment_error"] = error
        self.event(ctx, "setup_intent.setup_failed" if setup else "payment_intent.payment_failed", intent)
        raise ApiError(400, "invalid_request_error", AUTHENTICATION_FAILED_MESSAGE, code=error["code"])

    def _checkout_paid(self, ctx: Ctx, session: dict[str, Any]) -> dict[str, Any]:
        session["status"] = "complete"
        session["payment_status"] = "paid"
        self.event(ctx, "checkout.session.completed", session)
        return copy.deepcopy(session)

    def _setup_checkout(self, ctx: Ctx, session: dict[str, Any], pm: dict[str, Any]) -> dict[str, Any]:
        seti = self.data["setup_intents"][session["setup_intent"]]
        card = self.card_for(pm["id"])
        seti["payment_method"] = pm["id"]
        if card.attach_fails:
            seti["status"] = "requires_payment_method"
            seti["last_setup_error"] = _card_failure(card, pm)
            self.event(ctx, "setup_intent.setup_failed", seti)
            raise _card_error(card)
        if card.outcome in ("authenticate", "setup_for_off_session"):
            seti["status"] = "requires_action"
            seti["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            }
            self.event(ctx, "setup_intent.requires_action", seti)
            return copy.deepcopy(session)
        return self._checkout_setup_done(ctx, session, seti, pm)

    def _checkout_setup_done(
        self, ctx: Ctx, session: dict[str, Any], seti: dict[str, Any], pm: dict[str, Any]
    ) -> dict[str, Any]:
        if session.get("customer"):
            self._attach(ctx, pm["id"], str(session["customer"]), param="payment_method")
        seti.update(status="succeeded", payment_method=pm["id"], last_setup_error=None, next_action=None)
        self.event(ctx, "setup_intent.succeeded", seti)
        session["status"] = "complete"
        self.event(ctx, "checkout.session.completed", session)
        return copy.deepcopy(session)

    def complete_checkout(
        self, ctx: Ctx, session_id: str, pm_id: str, *, authenticate: bool = True
    ) -> dict[str, Any]:
        """The customer pays on the hosted page (test helper): with a 3-D Secure card, the challenge is
        completed (``authenticate``) or failed."""
        session = self.pay_checkout(ctx, session_id, pm_id)
        if session["status"] == "open":
            return self.authenticate_checkout(ctx, session_id, complete=authenticate)
        return session

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
