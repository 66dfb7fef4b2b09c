"""`Secret`: a credential as a value that never shows itself (logs, tracebacks, screens).

A domain value so that settings (which read it from the environment) and the vault adapter (which
decrypts it) share it without either importing the other."""

from __future__ import annotations


class Secret(str):
    """A str that never shows itself in repr/format (logs, tracebacks, screens)."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def reveal(self) -> str:
        return str.__str__(self)
