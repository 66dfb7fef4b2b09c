"""Error hierarchy. `TemporaryError` is the only kind a caller may retry (reads only)."""

from __future__ import annotations


class CashupError(Exception):
    """Base of every error CashUp raises on purpose. The message is shown to users as is."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  hint: {self.hint}" if self.hint else base


class ConfigError(CashupError):
    """Bad settings: names the file, line, key and what was expected."""


class DataError(CashupError):
    """Bad market data (CSV rows, frames, gaps)."""


class ValidationError(CashupError):
    """A value broke a domain rule (tick, step, min/max, finite, positive)."""


class InvalidTransition(CashupError):
    """An order event that the state machine does not allow from the current state."""


class OverfillError(CashupError):
    """Cumulative fills would exceed the order size."""


class DuplicateFill(CashupError):
    """The same venue trade id was applied twice."""


class RiskDenied(CashupError):
    """The pre-trade risk gate refused an order; carries the rule and the numbers."""

    def __init__(self, rule: str, message: str, **numbers: object) -> None:
        super().__init__(f"risk: {rule}: {message}")
        self.rule = rule
        self.numbers = numbers


class ExchangeError(CashupError):
    """The venue answered with an error (definitive unless a subclass says otherwise)."""


class AuthenticationError(ExchangeError):
    """Bad key, bad signature or an expired timestamp (check the clock)."""


class OrderRejected(ExchangeError):
    """The venue proved it did not accept the order."""


class OrderNotFound(ExchangeError):
    """The venue does not know the order (id or client id)."""


class TemporaryError(ExchangeError):
    """Network trouble, 5xx, 429, timeouts: a read may be retried; an order outcome is unknown."""


class RateLimited(TemporaryError):
    """HTTP 429 / TOO_MANY_REQUESTS."""


class StrategyError(CashupError):
    """A strategy raised; carries where (file:line)."""
