"""Column types that keep values exact: Decimal as TEXT, JSON as TEXT.

SQLite has no decimal type and REAL would round money; TEXT round-trips every Decimal
(including 0.000000012345678901234) and every venue id beyond 2**53 bit for bit.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.types import BigInteger, Integer, Text, TypeDecorator

from cashup_tui.store.lite import dumps

__all__ = ["MS", "DecimalText", "JsonText", "dumps"]

# Epoch milliseconds exceed 2**31: BIGINT on PostgreSQL; SQLite's INTEGER is already 64-bit (and the
# variant keeps the SQLite DDL, which store.schema_sql mirrors, unchanged).
MS = BigInteger().with_variant(Integer(), "sqlite")


class DecimalText(TypeDecorator[Decimal]):
    """Lossless Decimal stored as its canonical string. Floats are refused: they are already rounded."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, bool):
            raise TypeError("DecimalText: bool is not a decimal amount")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            try:
                return str(Decimal(value))
            except InvalidOperation as exc:
                raise TypeError(f"DecimalText: {value!r} is not a decimal number") from exc
        raise TypeError(
            f"DecimalText: refusing {type(value).__name__} {value!r}; pass Decimal (or str/int) to stay exact"
        )

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value)


class JsonText(TypeDecorator[Any]):
    """JSON document in a TEXT column (Decimal written as string, keys sorted for stable hashes)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return dumps(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return json.loads(value)
