"""Alert rules edited while the workstation runs take effect at once: the running node's AlertEngine
(which the supervisor holds) gets the new rules in place, parsed as start-up parses them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cashup_tui.domain.alerts import parse_rule


class AlertRulesMixin:
    node: Any

    def apply_alert_rules(self, texts: Sequence[str]) -> bool:
        """Replace the running rules (ids a1, a2... as at start-up); False when no node runs them."""
        engine = self.node.alerts if self.node is not None else None
        if engine is None:
            return False
        rules = [parse_rule(text, f"a{i}") for i, text in enumerate(texts, 1)]  # all parse before any change
        for rule in engine.rules:
            engine.remove(rule.id)
        for rule in rules:
            engine.add(rule)
        return True
