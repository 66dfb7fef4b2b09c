"""The built-in strategies (and the strategy API's documentation by example).

A package so that they ship in the wheel: `cashup_tui.engine.strategy.strategy_dirs()` finds this
folder through `importlib.resources`, in a checkout and in an installed cashup alike. Each file
is loaded by path, on demand, as its own module; nothing is imported here.
"""
