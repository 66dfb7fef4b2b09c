"""Backtests: one execution model, a fast vectorised engine (numpy), metrics, reports, look-ahead checks.

Execution model (the defaults; every engine follows it, tests hold them to it)
------------------------------------------------------------------------------
* A strategy's `signals(bars)` gives, for each bar, a target computed from data up to and
  including that bar's close: +1 long, -1 short, 0 flat, NaN keep. The engine carries the last
  target forward and executes a change at the NEXT bar's open. Nothing is filled at the close
  that produced the signal, so a strategy cannot trade on information it did not have.
* Long only unless `--allow-short`: a -1 then means flat. A +1 -> -1 change closes the long and
  opens the short at the same open.
* Equity starts at `--cash` (10,000 USDT). Fees are `--fee-bps` per side on notional
  (default `backtest.fee_bps`, 5 bps); `--slippage-bps` moves every market fill against us
  (buys higher, sells lower); `--leverage` L (default 1) scales the position size.
* Default sizing "all in": a buy spends the whole equity, units = L * equity / (price * (1 + fee))
  at L <= 1; above 1x the venue's margin rule, units = equity / (price * (1/L + fee)) (initial
  margin notional / L plus the entry fee fit the equity; `model.max_units`), and a sell returns units * price * (1 - fee). With L = 1 and no funding the account after a
  round trip is exactly units * exit * (1 - fee). Fractional units in steps of 1e-24 coin
  (`model.UNIT_STEP`) unless `--contracts`, which rounds down to whole Gate contracts (quanto
  multiplier, size step, minimum size of the instrument); a target whose entry is below one step
  or contract is skipped for its whole segment (until the
  target changes): no engine enters later in it when the price would allow one contract. Other sizers (`--sizer`): `percent:P` (P% of
  equity), `notional:N` (N USDT per trade), `atr:R[:M[:N]]` (risk R% of equity over M x ATR(N),
  capped at all-in).
* Stops and take-profits (`stop_pct` / `take_pct` strategy parameters, % from the entry fill)
  are checked inside every bar of a position, the entry bar included, on the bar's low/high.
  Pessimistic: when a bar touches both, the stop wins. A gap through the stop fills at the open
  (with slippage); a take-profit fills at its price, or at the open if the bar opens beyond it.
  After a stop/take exit the position stays flat until the strategy's next non-zero signal.
* Funding (`--funding FILE`, the `funding_time_ms,funding_rate` CSV) is charged at each
  settlement on the position held during the bar that opened before the settlement time, at
  that bar's close: longs pay units * price * rate, shorts receive it (negative rates reverse).
* A position still open after the last bar is marked to the last close (no exit fee) and listed
  as an open trade. A signal on the last bar is never executed.
* Liquidation is the venue's (isolated margin = entry notional / max(L, 1)): when a bar's path
  (open, then low/high, pessimistically before a stop that lies beyond it) reaches the price where
  margin + uPnL = maintenance margin (`Position.liquidation_price`), the position is closed there
  with no fee; the rest of the equity stays and the strategy goes on (it re-enters if its target
  still asks for a position). A 1x long cannot be liquidated; a 1x short is near 2x its entry.
* Equity is reported at each bar's close; metrics (Sharpe, Sortino annualised from bar returns
  with the timeframe's bars per year, CAGR over the calendar span, max drawdown on the close
  equity) come from that curve.

Engines
-------
* `fast` (default): numpy, whole arrays at once (`fast.py`).
* `event`: bars one at a time; the strategy runs in a `StrategyRunner` slot (its signals computed
  once, or its own hooks with `hooks=True` / event-only strategies) and every order goes through
  the path paper/live trading uses: `OrderManager` (risk gate, journal, order state machine) ->
  `VenueExecution` -> the shared simulated `Venue` (Decimal money, Gate's fill, fee, margin and
  liquidation rules); see `event.py`. Tests prove both engines give the same trades and equity
  for every vectorised example strategy on real candles (leverage <= 1; all-in, percent and
  notional sizing; stops; funding; contracts). Event-only strategies (e.g. `grid`, resting limit
  orders) need it. Its speed is set by the order count (bench/backtest.py prints the cost of one).

Other modules: `data.py` (CSV/funding loading and checks), `metrics.py`, `report.py` (HTML),
`lookahead.py` (signals must not change when the future is removed), `pipeline.py` (inputs ->
run -> JSON, shared by the CLI and the optimiser).
"""
