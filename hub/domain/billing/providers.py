"""Card terminals (POS) and e-wallets behind one small interface, and the simulated one the demo uses.

A real integration (a bank's SmartPOS, MoMo, ZaloPay, VNPay...) implements `PaymentProvider` and is put
in `BillingService.providers`; billing never knows which one it talks to. `SimulatedProvider` is the
edge of the world in tests and the demo: it never moves money.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol

ProviderStatus = Literal["pending", "approved", "declined"]
Outcome = Literal["approve", "decline", "timeout", "unreachable"]
PENDING: ProviderStatus = "pending"
APPROVED: ProviderStatus = "approved"
DECLINED: ProviderStatus = "declined"

# Magic amounts for the simulated provider, so a demo or a page test can see every outcome: a bill
# ending in 001 VND is declined, one ending in 002 VND never gets an answer (real bills end in 000).
DECLINE_REMAINDER = 1
TIMEOUT_REMAINDER = 2


class ProviderError(Exception):
    """The provider could not be reached or refused the request outright."""


class PaymentProvider(Protocol):
    """A card terminal or e-wallet: start a transaction, ask how it went, cancel it."""

    name: str

    def start(self, amount: int, reference: str) -> str:
        """Begin a transaction of `amount` VND; returns the provider's reference of it (pending)."""
        ...

    def status(self, ref: str) -> ProviderStatus:
        """Where the transaction stands now."""
        ...

    def cancel(self, ref: str) -> None:
        """Cancel a pending transaction, or reverse an approved one (a void); best effort."""
        ...


@dataclass
class _SimulatedTransaction:
    amount: int
    reference: str
    outcome: Outcome
    polls: int = 0
    cancelled: bool = False


@dataclass
class SimulatedProvider:
    """A pretend terminal: answers after `polls_before_answer` status calls, as `outcome` says.

    With no `outcome`, the amount decides (see DECLINE_REMAINDER); tests may also set `outcome` on
    a running hub's provider. "timeout" never answers; "unreachable" fails at start.
    """

    name: str = "simulated"
    outcome: Outcome | None = None
    polls_before_answer: int = 1
    transactions: dict[str, _SimulatedTransaction] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _outcome_for(self, amount: int, reference: str) -> Outcome:
        if self.outcome is not None:
            return self.outcome
        remainder = amount % 1000
        if remainder == DECLINE_REMAINDER or "DECLINE" in reference.upper():
            return "decline"
        if remainder == TIMEOUT_REMAINDER or "TIMEOUT" in reference.upper():
            return "timeout"
        return "approve"

    def start(self, amount: int, reference: str) -> str:
        outcome = self._outcome_for(amount, reference)
        if outcome == "unreachable":
            raise ProviderError(f"{self.name}: terminal not reachable (simulated)")
        with self._lock:
            ref = f"SIM-{self.name.upper()}-{next(self._ids):06d}"
            self.transactions[ref] = _SimulatedTransaction(amount, reference, outcome)
        return ref

    def status(self, ref: str) -> ProviderStatus:
        with self._lock:
            transaction = self.transactions.get(ref)
            if transaction is None:
                raise ProviderError(f"{self.name}: unknown transaction {ref}")
            if transaction.cancelled:
                return DECLINED
            transaction.polls += 1
            if transaction.outcome == "timeout" or transaction.polls <= self.polls_before_answer:
                return PENDING
            return APPROVED if transaction.outcome == "approve" else DECLINED

    def cancel(self, ref: str) -> None:
        with self._lock:
            transaction = self.transactions.get(ref)
            if transaction is not None:
                transaction.cancelled = True

    def cancelled_refs(self) -> list[str]:
        """The transactions billing asked to cancel (for tests)."""
        with self._lock:
            return [ref for ref, transaction in self.transactions.items() if transaction.cancelled]


def default_providers() -> dict[str, PaymentProvider]:
    """The providers a hub starts with: simulated ones, until a site plugs in its real terminals."""
    return {"card": SimulatedProvider("pos"), "ewallet": SimulatedProvider("ewallet")}
