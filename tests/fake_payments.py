"""An in-memory ``PaymentGateway`` for unit tests of the billing use cases (SPEC §12).

It keeps YooKassa's rules as the stand-in (tests/integration/yookassa_standin.py) and the real
adapter have them, and tests/contract/test_payments_contract.py holds all three to the same
assertions: a repeated idempotence key answers the first result (the same key with other
arguments is refused), a checkout is ``pending`` with a confirmation URL until the test pays or
declines it, a charge of a saved method ends at once (``recurring_outcome``), refunds only of a
succeeded payment and never above what is left. Tests can make the next calls fail
(``fail_next``) and read every call made (``calls``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping
from typing import Any

from promptcore.domain.billing import Money, clip_description, receipt
from promptcore.domain.billing_errors import PaymentNotFound, PaymentRejected
from promptcore.ports.billing import PaymentGateway, ProviderPayment, ProviderRefund

DECLINE_PARTY = {"expired_on_confirmation": "yoo_money", "canceled_by_merchant": "merchant"}


class FakePaymentGateway(PaymentGateway):
    name = "fake-payments"

    def __init__(self, *, recurring_outcome: str = "succeeded", vat_code: int = 1,
                 checkout_url: str = "https://yookassa.test/checkout") -> None:
        self.recurring_outcome = recurring_outcome
        self.vat_code = vat_code
        self.checkout_url = checkout_url
        self.payments: dict[str, ProviderPayment] = {}
        self.refunds: dict[str, ProviderRefund] = {}
        self.receipts: dict[str, dict[str, Any]] = {}  # payment or refund id → the receipt sent
        self.saved_methods: dict[str, str] = {}  # method id → last four digits
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._keys: dict[str, tuple[str, Any]] = {}
        self._failures: list[Exception] = []
        self._save_requested: set[str] = set()
        self._ids = itertools.count(1)

    # -- test controls ------------------------------------------------------------------

    def fail_next(self, error: Exception, n: int = 1) -> None:
        """The next ``n`` calls raise ``error`` (e.g. ``PaymentProviderUnavailable()``) and do
        nothing."""
        self._failures.extend([error] * n)

    def pay(self, provider_id: str, *, last4: str = "4242") -> ProviderPayment:
        p = self._pending(provider_id)
        method_id = p.payment_method_id or self._new_id("pm")
        saved = p.payment_method_saved
        if self._asked_to_save(provider_id):
            saved = True
            self.saved_methods[method_id] = last4
        return self._put(dataclasses.replace(
            p, status="succeeded", paid=True, confirmation_url=None, payment_method_id=method_id,
            payment_method_title=f"Bank card *{last4}", payment_method_saved=saved, card_last4=last4,
        ))

    def decline(self, provider_id: str, reason: str = "insufficient_funds") -> ProviderPayment:
        p = self._pending(provider_id)
        return self._put(dataclasses.replace(
            p, status="canceled", paid=False, confirmation_url=None,
            cancellation_party=DECLINE_PARTY.get(reason, "payment_network"), cancellation_reason=reason,
        ))

    def add_saved_method(self, last4: str = "4242") -> str:
        method_id = self._new_id("pm")
        self.saved_methods[method_id] = last4
        return method_id

    # -- the port -----------------------------------------------------------------------

    def create_payment(
        self,
        *,
        amount: Money,
        description: str,
        idempotence_key: str,
        metadata: Mapping[str, str | int] | None = None,
        customer_email: str | None = None,
        return_url: str | None = None,
        save_payment_method: bool = False,
        payment_method_id: str | None = None,
    ) -> ProviderPayment:
        args = dict(amount=amount, description=description, metadata=dict(metadata or {}),
                    customer_email=customer_email, return_url=return_url,
                    save_payment_method=save_payment_method, payment_method_id=payment_method_id)
        self._call("create_payment", idempotence_key=idempotence_key, **args)
        if (return_url is None) == (payment_method_id is None):
            raise ValueError("give exactly one of return_url and payment_method_id")
        if payment_method_id is not None and save_payment_method:
            raise ValueError("save_payment_method is for checkouts")
        if not isinstance(amount, Money) or amount.is_zero:
            raise ValueError("an amount above zero")
        cached = self._replay(idempotence_key, "payments", args)
        if cached is not None:
            return self.payments[cached]
        if payment_method_id is not None and payment_method_id not in self.saved_methods:
            raise PaymentRejected("Payment method with this id doesn't exist or is not saved",
                                  parameter="payment_method_id", code="invalid_request")
        text = clip_description(description)
        pid = self._new_id("pay")
        p = ProviderPayment(
            id=pid, status="pending", paid=False, amount=amount,
            confirmation_url=f"{self.checkout_url}/{pid}" if return_url is not None else None,
            metadata={k: str(v) for k, v in (metadata or {}).items()}, description=text,
        )
        if customer_email is not None:
            self.receipts[pid] = receipt(customer_email, text, amount, self.vat_code)
        self._put(p)
        self._remember(idempotence_key, "payments", args, pid)
        if save_payment_method:
            self._save_requested.add(pid)
        if payment_method_id is not None:
            last4 = self.saved_methods[payment_method_id]
            p = self._put(dataclasses.replace(
                p, payment_method_id=payment_method_id, payment_method_title=f"Bank card *{last4}",
                payment_method_saved=True, card_last4=last4,
            ))
            if self.recurring_outcome == "succeeded":
                p = self._put(dataclasses.replace(p, status="succeeded", paid=True))
            elif self.recurring_outcome != "pending":
                p = self.decline(pid, self.recurring_outcome)
        return p

    def get_payment(self, provider_id: str) -> ProviderPayment:
        self._call("get_payment", provider_id=provider_id)
        if provider_id not in self.payments:
            raise PaymentNotFound(provider_id)
        return self.payments[provider_id]

    def cancel_payment(self, provider_id: str, idempotence_key: str) -> ProviderPayment:
        self._call("cancel_payment", provider_id=provider_id, idempotence_key=idempotence_key)
        p = self.get_payment(provider_id)
        if p.status != "waiting_for_capture":
            raise PaymentRejected(f"Payment is {p.status}; only a payment waiting_for_capture can be canceled",
                                  parameter="status", code="invalid_request")
        return self._put(dataclasses.replace(  # never reached for our payments: they capture at once
            p, status="canceled", paid=False, cancellation_party="merchant", cancellation_reason="canceled_by_merchant",
        ))

    def create_refund(
        self,
        provider_payment_id: str,
        amount: Money,
        idempotence_key: str,
        *,
        description: str | None = None,
        customer_email: str | None = None,
    ) -> ProviderRefund:
        args = dict(provider_payment_id=provider_payment_id, amount=amount, description=description,
                    customer_email=customer_email)
        self._call("create_refund", idempotence_key=idempotence_key, **args)
        if not isinstance(amount, Money) or amount.is_zero:
            raise ValueError("an amount above zero")
        if customer_email is not None and not description:
            raise ValueError("a refund receipt needs a description")
        cached = self._replay(idempotence_key, "refunds", args)
        if cached is not None:
            return self.refunds[cached]
        p = self.payments.get(provider_payment_id)
        if p is None:
            raise PaymentRejected(f"Payment {provider_payment_id} doesn't exist", parameter="payment_id",
                                  code="invalid_request")
        if p.status != "succeeded":
            raise PaymentRejected(f"Payment is {p.status}; only a succeeded payment can be refunded",
                                  parameter="payment_id", code="invalid_request")
        assert p.refunded is not None
        left = p.amount - p.refunded
        if amount > left:
            raise PaymentRejected(f"Refund amount is greater than what is left to refund ({left.to_decimal_string()})",
                                  parameter="amount.value", code="invalid_request")
        refund = ProviderRefund(id=self._new_id("refund"), status="succeeded", amount=amount, payment_id=p.id)
        self.refunds[refund.id] = refund
        if customer_email is not None:
            self.receipts[refund.id] = receipt(customer_email, description or "", amount, self.vat_code)
        self._put(dataclasses.replace(p, refunded=p.refunded + amount))
        self._remember(idempotence_key, "refunds", args, refund.id)
        return refund

    def get_refund(self, refund_id: str) -> ProviderRefund:
        self._call("get_refund", refund_id=refund_id)
        if refund_id not in self.refunds:
            raise PaymentNotFound(refund_id)
        return self.refunds[refund_id]

    # -- inside -------------------------------------------------------------------------

    def _asked_to_save(self, provider_id: str) -> bool:
        return provider_id in self._save_requested

    def _call(self, name: str, **args: Any) -> None:
        self.calls.append((name, args))
        if self._failures:
            raise self._failures.pop(0)

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids):08d}"

    def _put(self, p: ProviderPayment) -> ProviderPayment:
        self.payments[p.id] = p
        return p

    def _pending(self, provider_id: str) -> ProviderPayment:
        p = self.payments[provider_id]
        if p.status != "pending":
            raise ValueError(f"payment {provider_id} is {p.status}, not pending")
        return p

    @staticmethod
    def _fingerprint(kind: str, args: dict[str, Any]) -> str:
        return kind + json.dumps(args, sort_keys=True, default=repr)

    def _replay(self, key: str, kind: str, args: dict[str, Any]) -> Any:
        if not isinstance(key, str) or not key or len(key) > 64:
            raise ValueError("an idempotence key is 1–64 characters")
        seen = self._keys.get(key)
        if seen is None:
            return None
        if seen[0] != self._fingerprint(kind, args):
            raise PaymentRejected("Idempotence key duplicated", parameter="Idempotence-Key", code="invalid_request")
        return seen[1]

    def _remember(self, key: str, kind: str, args: dict[str, Any], result: Any) -> None:
        self._keys[key] = (self._fingerprint(kind, args), result)
