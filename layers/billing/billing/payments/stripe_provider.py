"""``StripeProvider``: the payment provider interface on the stripe SDK (``stripe.StripeClient``).

The SDK is imported on first use (cold starts). One client per provider, built lazily; with
``STRIPE_API_BASE`` set it talks to that base URL (the offline stand-in), otherwise to Stripe.

Retries, in two layers and always under the same idempotency key:
1. the SDK's own (``max_network_retries``): connection errors and timeouts, 409 and 5xx;
2. ours (``RetryPolicy``): 429 rate limits (the SDK does not retry them) and whatever the SDK gave up
   on, with exponential backoff and jitter, bounded by a number of calls and a deadline; then
   ``ProviderUnavailable`` so that the queue redelivers later, again with the same key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from billing.errors import Conflict, NotFound, PaymentFailed, ProviderUnavailable, ValidationFailed
from billing.money import normalize_currency
from billing.observability import logger
from billing.payments.declines import classify_card_error, is_hard_decline, status_from_intent
from billing.payments.idempotency import charge_key, checkout_key, customer_key, refund_key
from billing.payments.models import (
    CheckoutLink,
    CheckoutSession,
    PaymentMethodDetails,
    PaymentMethodInfo,
    PaymentRecord,
    PaymentResult,
    RefundRecord,
    RefundResult,
    SetupIntentResult,
    WebhookEvent,
)
from billing.payments.retry import RetryPolicy
from billing.payments.settings import StripeSettings
from billing.payments.webhooks import DEFAULT_TOLERANCE, construct_webhook_event
from billing.settings import ConfigurationError

if TYPE_CHECKING:
    from stripe import StripeClient, StripeError, StripeObject
    from stripe.params import (
        CustomerCreateParams,
        PaymentIntentCreateParams,
        PaymentIntentListParams,
        PaymentIntentRetrieveParams,
        RefundCreateParams,
        RefundListParams,
        SetupIntentCreateParams,
    )
    from stripe.params.checkout import SessionCreateParams, SessionRetrieveParams

T = TypeVar("T")

PAGE_SIZE = 100
_REFUND_REASONS: dict[str, Literal["duplicate", "fraudulent", "requested_by_customer"]] = {
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
}
"""Our credit-note reasons Stripe knows; every other one is ``requested_by_customer``."""
_CONFLICT_CODES = frozenset({"charge_already_refunded", "payment_intent_unexpected_state", "charge_disputed"})


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _replayed(obj: StripeObject) -> bool:
    response = obj.last_response
    return response is not None and _header(response.headers, "Idempotent-Replayed") == "true"


def _seconds(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds; an HTTP date or garbage is ignored (the backoff applies)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _epoch(moment: datetime, *, param: str) -> int:
    if moment.tzinfo is None:
        raise ValidationFailed(f"{param} must be timezone-aware", code="naive_datetime", param=param)
    return int(moment.timestamp())


def _from_epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _positive_amount(amount: object, *, param: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed(
            f"{param} must be a positive integer of minor units", code="invalid_amount", param=param
        )
    return amount


def _id_of(value: Any) -> str | None:
    """An id field that may come back expanded (a dict with ``id``) or as a plain id."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def _str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bind[R](fetch: Callable[[dict[str, Any]], R], params: dict[str, Any]) -> Callable[[], R]:
    return lambda: fetch(params)


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        settings: StripeSettings,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        client: StripeClient | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy(
            attempts=settings.retry_attempts,
            base_delay=settings.retry_base_delay_seconds,
            max_delay=settings.retry_max_delay_seconds,
            deadline_seconds=settings.retry_deadline_seconds,
        )
        self._sleep = sleep
        self._monotonic = monotonic
        self._client = client

    # ------------------------------------------------------------------------------------- client
    @property
    def client(self) -> StripeClient:
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def _build_client(self) -> StripeClient:
        import stripe

        api_key = self.settings.require_api_key()
        try:
            http_client = stripe.RequestsClient(
                timeout=(self.settings.connect_timeout_seconds, self.settings.read_timeout_seconds)
            )
        except ImportError as exc:  # pragma: no cover - requests is a runtime dependency
            raise ConfigurationError(
                "the requests package is required: the SDK's urllib fallback has no timeout"
            ) from exc
        if self.settings.base_url:
            return stripe.StripeClient(
                api_key,
                base_addresses={"api": self.settings.base_url},
                max_network_retries=self.settings.max_network_retries,
                http_client=http_client,
            )
        return stripe.StripeClient(
            api_key, max_network_retries=self.settings.max_network_retries, http_client=http_client
        )

    # ------------------------------------------------------------------------------------ retries
    def _call(self, operation: str, fn: Callable[[], T], *, idempotency_key: str | None = None) -> T:
        """Run ``fn`` (one SDK call with its idempotency key fixed) with the retry policy."""
        import stripe

        started = self._monotonic()
        failure: StripeError | None = None
        for number in range(1, self.retry.attempts + 1):
            try:
                return fn()
            except (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError) as exc:
                # 429; network errors and timeouts; 409 (lock or concurrent idempotent request) and
                # 5xx. The request may or may not have executed: only a retry under the same key is safe.
                failure = exc
            except (stripe.AuthenticationError, stripe.PermissionError) as exc:
                raise ConfigurationError(f"Stripe refused the API key: {exc.user_message}") from exc
            elapsed = self._monotonic() - started
            if number == self.retry.attempts or elapsed >= self.retry.deadline_seconds:
                break
            wait = self.retry.delay(number, retry_after=_seconds(_header(failure.headers, "Retry-After")))
            logger.warning(
                "stripe call failed, retrying",
                operation=operation,
                call=number,
                wait_seconds=round(wait, 3),
                idempotency_key=idempotency_key,
                error=type(failure).__name__,
                http_status=failure.http_status,
            )
            self._sleep(wait)
        assert failure is not None
        logger.error(
            "stripe unavailable",
            operation=operation,
            idempotency_key=idempotency_key,
            error=type(failure).__name__,
            http_status=failure.http_status,
        )
        raise ProviderUnavailable(
            f"Stripe did not answer {operation} ({type(failure).__name__}); retry later with the same arguments",
            code="provider_unavailable",
        ) from failure

    @staticmethod
    def _invalid_request(exc: Any, *, what: str) -> Exception:
        """A Stripe 400/404 → our error class (never chosen by message text)."""
        code = getattr(exc, "code", None)
        param = getattr(exc, "param", None)
        message = f"{what}: {exc.user_message or 'invalid request'}"
        if code == "resource_missing":
            return NotFound(message, code="provider_resource_missing", param=param)
        if code in _CONFLICT_CODES:
            return Conflict(message, code=f"provider_{code}", param=param)
        return ValidationFailed(
            message, code=f"provider_{code}" if code else "provider_invalid_request", param=param
        )

    def _translate(self, exc: StripeError, *, what: str) -> Exception:
        """A Stripe error that is not transient (``_call`` handled those) → our error class."""
        import stripe

        if isinstance(exc, stripe.IdempotencyError):
            return Conflict(
                f"{what}: the idempotency key was already used with other parameters ({exc.user_message})",
                code="idempotency_key_reused",
            )
        if isinstance(exc, stripe.InvalidRequestError):
            return self._invalid_request(exc, what=what)
        if isinstance(exc, stripe.CardError):
            decline = getattr(exc.error, "decline_code", None) if exc.error is not None else None
            return PaymentFailed(f"{what}: {exc.user_message}", code=decline or exc.code or "card_declined")
        return ProviderUnavailable(
            f"{what}: unexpected Stripe error {type(exc).__name__}", code="provider_error"
        )

    # ---------------------------------------------------------------------------------- customers
    def ensure_customer(
        self,
        *,
        customer_id: str,
        email: str | None,
        name: str | None,
        existing_provider_id: str | None = None,
    ) -> str:
        if existing_provider_id:
            return existing_provider_id
        import stripe

        key = customer_key(customer_id, email=email, name=name)
        params: CustomerCreateParams = {"metadata": {"customer_id": customer_id}}
        if email:
            params["email"] = email
        if name:
            params["name"] = name
        try:
            customer = self._call(
                "create customer",
                lambda: self.client.v1.customers.create(params=params, options={"idempotency_key": key}),
                idempotency_key=key,
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="create customer") from exc
        logger.info("stripe customer ensured", customer_id=customer_id, provider_customer_id=customer.id)
        return str(customer.id)

    def attach_payment_method(
        self, *, provider_customer_id: str, payment_method_id: str, make_default: bool = True
    ) -> PaymentMethodInfo:
        import stripe

        # No derived idempotency key: attaching is naturally idempotent, and a replayed key could
        # hide a re-attach after a detach. The SDK's own key covers its network retries.
        try:
            method = self._call(
                "attach payment method",
                lambda: self.client.v1.payment_methods.attach(
                    payment_method_id, params={"customer": provider_customer_id}
                ),
            )
        except stripe.CardError as exc:
            decline = getattr(exc.error, "decline_code", None) if exc.error else None
            raise PaymentFailed(
                f"the card was refused: {exc.user_message}",
                code=decline or exc.code or "card_declined",
                param="payment_method_id",
            ) from exc
        except stripe.StripeError as exc:
            raise self._translate(exc, what="attach payment method") from exc
        data = method.to_dict()
        if make_default:
            try:
                self._call(
                    "set default payment method",
                    lambda: self.client.v1.customers.update(
                        provider_customer_id,
                        params={"invoice_settings": {"default_payment_method": data["id"]}},
                    ),
                )
            except stripe.StripeError as exc:
                raise self._translate(exc, what="set default payment method") from exc
        card = data.get("card") or {}
        return PaymentMethodInfo(
            id=data["id"],
            provider_customer_id=provider_customer_id,
            type=str(data.get("type") or "card"),
            brand=card.get("brand"),
            last4=card.get("last4"),
            exp_month=_int_or_none(card.get("exp_month")),
            exp_year=_int_or_none(card.get("exp_year")),
            is_default=make_default,
        )

    def create_setup_intent(self, *, provider_customer_id: str) -> SetupIntentResult:
        import stripe

        params: SetupIntentCreateParams = {
            "customer": provider_customer_id,
            "usage": "off_session",
            "allowed_payment_method_types": ["card"],
        }
        try:
            intent = self._call(
                "create setup intent", lambda: self.client.v1.setup_intents.create(params=params)
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="create setup intent") from exc
        if not intent.client_secret:
            raise ProviderUnavailable("Stripe returned a SetupIntent without a client secret")
        return SetupIntentResult(id=intent.id, client_secret=intent.client_secret)

    def _default_payment_method(self, provider_customer_id: str) -> str | None:
        import stripe

        try:
            customer = self._call(
                "retrieve customer", lambda: self.client.v1.customers.retrieve(provider_customer_id)
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="retrieve customer") from exc
        data = customer.to_dict()
        if data.get("deleted"):
            raise NotFound(
                f"Stripe customer {provider_customer_id} was deleted",
                code="provider_resource_missing",
                param="provider_customer_id",
            )
        settings = data.get("invoice_settings") or {}
        return _id_of(settings.get("default_payment_method"))

    # ------------------------------------------------------------------------------------ charges
    def charge(
        self,
        *,
        invoice_id: str,
        attempt: int,
        amount: int,
        currency: str,
        provider_customer_id: str,
        payment_method_id: str | None = None,
        description: str | None = None,
    ) -> PaymentResult:
        import stripe

        key = charge_key(invoice_id, attempt)
        amount = _positive_amount(amount)
        currency = normalize_currency(currency)
        method = payment_method_id or self._default_payment_method(provider_customer_id)
        common: dict[str, Any] = {
            "invoice_id": invoice_id,
            "attempt": attempt,
            "amount": amount,
            "currency": currency,
            "idempotency_key": key,
            "payment_method_id": method,
        }
        if method is None:
            logger.info("charge skipped: no payment method", invoice_id=invoice_id, attempt=attempt)
            return PaymentResult(
                status="failed",
                failure_code="payment_method_missing",
                failure_message="the customer has no default payment method",
                **common,
            )
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency,
            "customer": provider_customer_id,
            "payment_method": method,
            "confirm": True,
            "off_session": True,
            # Off-session card charges only: no redirect-based method, so no return_url is needed.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": {"invoice_id": invoice_id, "attempt": str(attempt)},
        }
        if description:
            params["description"] = description
        try:
            intent = self._call(
                "charge",
                lambda: self.client.v1.payment_intents.create(
                    params=params, options={"idempotency_key": key}
                ),
                idempotency_key=key,
            )
        except stripe.CardError as exc:
            result = self._declined(exc, common)
        except stripe.StripeError as exc:
            raise self._translate(exc, what="charge") from exc
        else:
            result = self._from_intent(intent.to_dict(), common, replayed=_replayed(intent))
        log = logger.info if result.status == "succeeded" else logger.warning
        log(
            "charge attempted",
            invoice_id=invoice_id,
            attempt=attempt,
            status=result.status,
            provider_payment_id=result.provider_payment_id,
            decline_code=result.decline_code,
            failure_code=result.failure_code,
            hard_decline=result.hard_decline,
            replayed=result.replayed,
        )
        return result

    @staticmethod
    def _from_intent(data: dict[str, Any], common: dict[str, Any], *, replayed: bool) -> PaymentResult:
        raw = str(data.get("status"))
        status = status_from_intent(raw)
        error = data.get("last_payment_error") or {}
        code = error.get("code") if status != "succeeded" else None
        decline = error.get("decline_code") if status != "succeeded" else None
        hard = status == "requires_action" or (
            status == "failed" and is_hard_decline(code=code, decline_code=decline)
        )
        return PaymentResult(
            **{
                **common,
                "payment_method_id": _id_of(data.get("payment_method")) or common["payment_method_id"],
            },
            status=status,
            provider_payment_id=data.get("id"),
            raw_status=raw,
            failure_code=code,
            decline_code=decline,
            failure_message=error.get("message") if status != "succeeded" else None,
            hard_decline=hard,
            replayed=replayed,
        )

    @staticmethod
    def _declined(exc: Any, common: dict[str, Any]) -> PaymentResult:
        error = exc.error.to_dict() if exc.error is not None else {}
        code = exc.code or error.get("code")
        decline = error.get("decline_code")
        intent = error.get("payment_intent") or {}
        status, hard = classify_card_error(code=code, decline_code=decline)
        method = _id_of(intent.get("payment_method")) or common["payment_method_id"]
        return PaymentResult(
            **{**common, "payment_method_id": method},
            status=status,
            provider_payment_id=intent.get("id"),
            raw_status=intent.get("status"),
            failure_code=code,
            decline_code=decline,
            failure_message=exc.user_message,
            hard_decline=hard,
            replayed=_header(exc.headers, "Idempotent-Replayed") == "true",
        )

    # ------------------------------------------------------------------------------------ refunds
    def refund(
        self,
        *,
        provider_payment_id: str,
        amount: int,
        credit_note_id: str,
        reason: str | None = None,
    ) -> RefundResult:
        import stripe

        key = refund_key(credit_note_id)
        amount = _positive_amount(amount)
        params: RefundCreateParams = {
            "amount": amount,
            "metadata": {"credit_note_id": credit_note_id},
            "reason": _REFUND_REASONS.get(reason or "", "requested_by_customer"),
        }
        if provider_payment_id.startswith(("ch_", "py_")):
            params["charge"] = provider_payment_id
        else:
            params["payment_intent"] = provider_payment_id
        try:
            refund = self._call(
                "refund",
                lambda: self.client.v1.refunds.create(params=params, options={"idempotency_key": key}),
                idempotency_key=key,
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="refund") from exc
        data = refund.to_dict()
        logger.info(
            "refund created",
            credit_note_id=credit_note_id,
            provider_refund_id=data.get("id"),
            status=data.get("status"),
            replayed=_replayed(refund),
        )
        return RefundResult(
            provider_refund_id=data["id"],
            provider_payment_id=_id_of(data.get("payment_intent")) or provider_payment_id,
            credit_note_id=credit_note_id,
            amount=int(data["amount"]),
            currency=str(data["currency"]),
            status=data.get("status") or "pending",
            idempotency_key=key,
            failure_reason=data.get("failure_reason"),
            replayed=_replayed(refund),
        )

    # ----------------------------------------------------------------------------------- checkout
    def create_checkout_session(
        self,
        *,
        invoice_id: str,
        amount: int,
        currency: str,
        success_url: str,
        cancel_url: str,
        provider_customer_id: str | None = None,
        customer_email: str | None = None,
        description: str | None = None,
        generation: int = 1,
    ) -> CheckoutLink:
        import stripe

        amount = _positive_amount(amount)
        currency = normalize_currency(currency)
        key = checkout_key(
            invoice_id,
            amount=amount,
            currency=currency,
            provider_customer_id=provider_customer_id,
            customer_email=customer_email,
            success_url=success_url,
            cancel_url=cancel_url,
            description=description,
            generation=generation,
        )
        metadata: dict[str, str] = {"invoice_id": invoice_id}
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount,
                        "product_data": {"name": description or f"Invoice {invoice_id}"},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": invoice_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": {**metadata, "source": "checkout"}},
        }
        if provider_customer_id:
            params["customer"] = provider_customer_id
        elif customer_email:
            params["customer_email"] = customer_email
        try:
            session = self._call(
                "create checkout session",
                lambda: self.client.v1.checkout.sessions.create(
                    params=params, options={"idempotency_key": key}
                ),
                idempotency_key=key,
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="create checkout session") from exc
        return _link(session.to_dict())

    def create_setup_checkout_session(
        self, *, provider_customer_id: str, success_url: str, cancel_url: str
    ) -> CheckoutLink:
        import stripe

        # No derived idempotency key: a second setup session is harmless (nothing is charged), and the
        # SDK's own key covers its network retries.
        params: SessionCreateParams = {
            "mode": "setup",
            "customer": provider_customer_id,
            "allowed_payment_method_types": ["card"],
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        try:
            session = self._call(
                "create setup checkout session",
                lambda: self.client.v1.checkout.sessions.create(params=params),
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="create setup checkout session") from exc
        return _link(session.to_dict())

    def retrieve_checkout_session(self, *, session_id: str) -> CheckoutSession:
        import stripe

        params: SessionRetrieveParams = {
            "expand": ["payment_intent.payment_method", "setup_intent.payment_method"]
        }
        try:
            session = self._call(
                "retrieve checkout session",
                lambda: self.client.v1.checkout.sessions.retrieve(session_id, params=params),
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="retrieve checkout session") from exc
        return _checkout_session(session.to_dict())

    def expire_checkout_session(self, *, session_id: str) -> CheckoutSession:
        import stripe

        try:
            session = self._call(
                "expire checkout session", lambda: self.client.v1.checkout.sessions.expire(session_id)
            )
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                raise self._translate(exc, what="expire checkout session") from exc
            # Only an open session can be expired: one paid or expired meanwhile is answered as it is.
            current = self.retrieve_checkout_session(session_id=session_id)
            if current.status != "open":
                return current
            raise self._translate(exc, what="expire checkout session") from exc
        except stripe.StripeError as exc:
            raise self._translate(exc, what="expire checkout session") from exc
        logger.info("checkout session expired", session_id=session_id)
        return _checkout_session(session.to_dict())

    def payment_method_details(self, *, provider_payment_id: str) -> PaymentMethodDetails | None:
        import stripe

        params: PaymentIntentRetrieveParams = {"expand": ["payment_method"]}
        try:
            intent = self._call(
                "retrieve payment intent",
                lambda: self.client.v1.payment_intents.retrieve(provider_payment_id, params=params),
            )
        except stripe.StripeError as exc:
            raise self._translate(exc, what="retrieve payment intent") from exc
        return _method_details(intent.to_dict().get("payment_method"))

    # ----------------------------------------------------------------------------- reconciliation
    def _pages(
        self, operation: str, fetch: Callable[[dict[str, Any]], Any], params: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, page by page (``starting_after``), each page retried."""
        import stripe

        cursor: str | None = None
        while True:
            page_params = {**params, "limit": PAGE_SIZE}
            if cursor:
                page_params["starting_after"] = cursor
            try:
                page = self._call(operation, _bind(fetch, page_params))
            except stripe.StripeError as exc:
                raise self._translate(exc, what=operation) from exc
            data = page.to_dict()
            items: list[dict[str, Any]] = data.get("data") or []
            yield from items
            if not data.get("has_more") or not items:
                return
            cursor = items[-1]["id"]

    def list_payments(self, *, created_gte: datetime, created_lt: datetime) -> Iterator[PaymentRecord]:
        window = {
            "gte": _epoch(created_gte, param="created_gte"),
            "lt": _epoch(created_lt, param="created_lt"),
        }
        for item in self._pages(
            "list payments",
            lambda p: self.client.v1.payment_intents.list(params=cast("PaymentIntentListParams", p)),
            {"created": window},
        ):
            metadata = _str_dict(item.get("metadata"))
            yield PaymentRecord(
                provider_payment_id=item["id"],
                status=str(item.get("status")),
                amount=int(item.get("amount") or 0),
                amount_received=int(item.get("amount_received") or 0),
                currency=str(item.get("currency")),
                created=_from_epoch(item["created"]),
                provider_customer_id=_id_of(item.get("customer")),
                invoice_id=metadata.get("invoice_id"),
                attempt=_int_or_none(metadata.get("attempt")),
                latest_charge_id=_id_of(item.get("latest_charge")),
                metadata=metadata,
            )

    def list_refunds(self, *, created_gte: datetime, created_lt: datetime) -> Iterator[RefundRecord]:
        window = {
            "gte": _epoch(created_gte, param="created_gte"),
            "lt": _epoch(created_lt, param="created_lt"),
        }
        for item in self._pages(
            "list refunds",
            lambda p: self.client.v1.refunds.list(params=cast("RefundListParams", p)),
            {"created": window},
        ):
            yield _refund_record(item)

    def list_refunds_of_payment(self, *, provider_payment_id: str) -> Iterator[RefundRecord]:
        for item in self._pages(
            "list refunds of a payment",
            lambda p: self.client.v1.refunds.list(params=cast("RefundListParams", p)),
            {"payment_intent": provider_payment_id},
        ):
            yield _refund_record(item)

    # ----------------------------------------------------------------------------------- webhooks
    def construct_webhook_event(
        self, payload: bytes | str, sig_header: str | None, *, tolerance: int = DEFAULT_TOLERANCE
    ) -> WebhookEvent:
        return construct_webhook_event(
            payload, sig_header, secrets=self.settings.require_webhook_secrets(), tolerance=tolerance
        )


def _link(data: dict[str, Any]) -> CheckoutLink:
    if not data.get("url"):
        raise ProviderUnavailable("Stripe returned a Checkout Session without a URL")
    return CheckoutLink(
        session_id=data["id"],
        url=data["url"],
        expires_at=_from_epoch(data["expires_at"]) if data.get("expires_at") else None,
    )


def _method_details(value: Any) -> PaymentMethodDetails | None:
    """A PaymentMethod (expanded, or only its id) as what may be shown of it."""
    if isinstance(value, str):
        return PaymentMethodDetails(id=value)
    if not isinstance(value, dict):
        return None
    card = value.get("card") or {}
    return PaymentMethodDetails(
        id=value.get("id"),
        type=str(value.get("type") or "card"),
        brand=card.get("brand"),
        last4=card.get("last4"),
    )


def _saved_method(setup: dict[str, Any], customer: str | None) -> PaymentMethodInfo | None:
    """The card a succeeded SetupIntent (payment method expanded) saved."""
    method = setup.get("payment_method")
    if setup.get("status") != "succeeded" or not isinstance(method, dict):
        return None
    card = method.get("card") or {}
    return PaymentMethodInfo(
        id=method["id"],
        provider_customer_id=_id_of(method.get("customer")) or customer or "",
        type=str(method.get("type") or "card"),
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=_int_or_none(card.get("exp_month")),
        exp_year=_int_or_none(card.get("exp_year")),
    )


def _checkout_session(data: dict[str, Any]) -> CheckoutSession:
    """A Checkout Session (``payment_intent`` / ``setup_intent`` expanded or not) as our model."""
    intent = data.get("payment_intent")
    intent_data: dict[str, Any] = intent if isinstance(intent, dict) else {}
    setup = data.get("setup_intent")
    setup_data: dict[str, Any] = setup if isinstance(setup, dict) else {}
    error = intent_data.get("last_payment_error") or {}
    failure = {k: str(error[k]) for k in ("code", "decline_code", "message") if error.get(k)}
    customer = _id_of(data.get("customer"))
    return CheckoutSession(
        id=str(data["id"]),
        mode=data.get("mode") or "payment",
        status=data.get("status") or "open",
        payment_status=data.get("payment_status") or "unpaid",
        url=data.get("url"),
        amount_total=_int_or_none(data.get("amount_total")),
        currency=data.get("currency"),
        provider_customer_id=customer,
        client_reference_id=data.get("client_reference_id"),
        metadata=_str_dict(data.get("metadata")),
        expires_at=_from_epoch(data["expires_at"]) if data.get("expires_at") else None,
        provider_payment_id=_id_of(intent),
        payment_status_detail=intent_data.get("status"),
        payment_method=_method_details(intent_data.get("payment_method")),
        last_payment_error=failure or None,
        setup_intent_id=_id_of(setup),
        setup_payment_method=_saved_method(setup_data, customer),
    )


def _refund_record(item: dict[str, Any]) -> RefundRecord:
    metadata = _str_dict(item.get("metadata"))
    return RefundRecord(
        provider_refund_id=item["id"],
        status=str(item.get("status")),
        amount=int(item.get("amount") or 0),
        currency=str(item.get("currency")),
        created=_from_epoch(item["created"]),
        provider_payment_id=_id_of(item.get("payment_intent")),
        charge_id=_id_of(item.get("charge")),
        credit_note_id=metadata.get("credit_note_id"),
        metadata=metadata,
    )
