"""Trading logic: orders, risk, portfolio, strategies, backtests, indicators."""
