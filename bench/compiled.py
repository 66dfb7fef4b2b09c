"""The event engine compiled with mypyc vs pure Python: `python bench/compiled.py [--bars N] [--repeat R]`.

Builds a copy of the package in a temporary directory with the hot-path modules (`HOT`, less `REFUSED`)
compiled by mypyc (the .so files land beside the copied .py, never in the tree), then runs the cases of
bench/backtest_hf.py pure and compiled, interleaved in the same run, each in its own process: bars/s,
us per order, the compiled/pure ratio, and whether trades and equity still equal the fast engine's.
`--decimal` adds the share of Decimal arithmetic in each build (perf with call stacks): compiling cannot
speed that part up. `--build DIR` builds into DIR (or reuses the build it holds) and keeps it; `--pytest
ARGS...` runs pytest on the compiled modules instead of the benchmark (python -P and
--import-mode=append, else the tree's .py shadow the build; a `python -m cashup_tui` child that a test
starts in the tree still runs pure). Needs mypyc (it ships with mypy, in the `test` extra), a C compiler
and Python's headers, and says which is missing. Compiling is measured here, not shipped: the package
installs and runs as pure Python. Figures are this run's on this machine (say the load).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import backtest_hf  # (first: it puts the repo and bench/ on sys.path)

REPO = backtest_hf.REPO
HOT = ("cashup_tui/domain/*.py", "cashup_tui/venue/*.py", "cashup_tui/adapters/sim/execution.py",
       *(f"cashup_tui/engine/{m}.py" for m in ("risk", "order_manager", "order_sync", "reconcile", "cache",
                                                "journal", "portfolio", "clock", "triggers")),
       *(f"cashup_tui/engine/backtest/{m}.py" for m in ("event", "history", "plumbing")))
REFUSED = {  # what mypyc does not compile (or compiles into a module that fails), and why
    "cashup_tui/domain/secret.py": "Secret subclasses str (mypyc: inheriting from builtin types is unimplemented)",
    "cashup_tui/domain/ports.py": "@runtime_checkable Protocols raise TypeError at import when compiled (mypyc#909)",
    "cashup_tui/domain/errors.py": "interpreted modules (store, service, vault) subclass these errors, which a compiled "
                                   "class refuses; compiled, instances also miss the class-level `hint` default",
}
PROBE = "cashup_tui.venue.matching"  # a compiled module: a compiled run that imports its .py is not one


def missing_toolchain() -> str | None:
    """What the build lacks, in words, or None."""
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc is not installed: it ships with mypy (`pip install mypy`, or the project's `test` extra)"
    cc = shlex.split(os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc"))[0]
    if shutil.which(cc) is None:
        return f"no C compiler: {cc!r} is not on PATH (mypyc emits C; install gcc or clang, or set CC)"
    include = Path(sysconfig.get_paths()["include"], "Python.h")
    if not include.exists():
        return f"Python's C headers are missing ({include}): install the python3.x-dev package of this Python"
    return None


def hot_modules(root: Path) -> list[str]:
    """The files to compile under `root`, relative to it."""
    files = sorted({str(p.relative_to(root)) for pat in HOT for p in root.glob(pat)})
    return [f for f in files if f not in REFUSED]


def build(root: Path) -> list[str]:
    """Copy the package into `root` and compile the hot modules there; the list compiled."""
    marker = root / "compiled.json"
    if marker.exists():
        built: list[str] = json.loads(marker.read_text())
        return built
    skip = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    shutil.copytree(REPO / "cashup_tui", root / "cashup_tui", ignore=skip)
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")  # mypy's configuration, read by mypyc
    mods = hot_modules(root)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mypyc", *mods], cwd=root, capture_output=True, text=True)
    if p.returncode != 0:
        errors = [ln for ln in (p.stdout + p.stderr).splitlines() if ": error:" in ln or "Error" in ln]
        raise SystemExit("mypyc failed:\n" + "\n".join(errors[-30:] or (p.stdout + p.stderr).splitlines()[-30:]))
    print(f"compiled {len(mods)} modules in {time.perf_counter() - t0:.0f} s into {root}")
    marker.write_text(json.dumps(mods))
    return mods


def child(root: str, fast: int, slow: int, n: int, fee_bps: float) -> dict[str, object]:
    """One case in this process, on the compiled copy at `root` ('' for the tree's pure modules)."""
    import backtest  # noqa: F401  (puts the repo first on sys.path: the compiled copy goes before it)

    if root:
        sys.path.insert(0, root)
    out = backtest_hf.child(fast, slow, n, fee_bps)
    out["compiled"] = sum(1 for name, m in list(sys.modules.items())
                          if name.startswith("cashup_tui") and str(getattr(m, "__file__", "")).endswith(".so"))
    out["probe"] = str(sys.modules[PROBE].__file__)
    return out


def run(root: str, fast: int, slow: int, n: int, fee_bps: float, perf: list[str] | None = None) -> dict[str, object]:
    p = subprocess.run([*(perf or []), sys.executable, __file__, "--child", root, str(fast), str(slow), str(n),
                        "--fee-bps", str(fee_bps)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"case {fast}/{slow} ({'compiled' if root else 'pure'}) failed:\n{p.stderr}")
    out: dict[str, object] = json.loads(p.stdout.splitlines()[-1])
    if root and not str(out["probe"]).endswith(".so"):
        raise SystemExit(f"the compiled run imported {out['probe']}: not the compiled copy")
    return out


def decimal_share(root: str, fast: int, slow: int, n: int, fee_bps: float) -> tuple[float, float, float]:
    """The share of the event run's CPU samples (perf, with call stacks) spent in Decimal arithmetic: with a
    frame of the _decimal module anywhere on the stack (its calls into the allocator included), and in
    _decimal itself; and the run's CPU us per order. Compiled code cannot make that part faster."""
    with tempfile.TemporaryDirectory(prefix="cashup-perf-") as tmp:
        data = str(Path(tmp, "perf.data"))
        r = run(root, fast, slow, n, fee_bps, ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-e", "cpu-clock",
                                               "-F", "199", "--call-graph", "dwarf,16384", "-o", data, "--"])
        out = subprocess.run(["perf", "script", "-i", data, "-F", "time,ip,sym,dso"], capture_output=True,
                             text=True).stdout
    # the run's window: perf stamps samples with CLOCK_MONOTONIC (-k), which perf_counter reads on Linux
    t0, t1 = float(r["t0"]), float(r["t0"]) + float(r["wall"])  # type: ignore[arg-type]
    total = anywhere = leaf = 0
    for sample in out.split("\n\n"):
        head, _, stack = sample.strip().partition("\n")
        if not head or not t0 <= float(head.split(":")[0]) <= t1:
            continue
        dsos = [ln.rsplit("(", 1)[-1] for ln in stack.splitlines()]
        real = [d for d in dsos if not d.startswith("inlined")]  # an inlined frame is its caller's library
        total += 1
        anywhere += any("_decimal" in d or "mpdec" in d for d in real)
        leaf += bool(real) and ("_decimal" in real[0] or "mpdec" in real[0])
    if not total:
        raise SystemExit("perf recorded no sample of the run (kernel.perf_event_paranoid too high?)")
    cpu_us = float(r["cpu"]) / max(int(r["orders"]), 1) * 1e6  # type: ignore[arg-type, call-overload]
    return anywhere / max(total, 1), leaf / max(total, 1), cpu_us


def run_pytest(root: Path, args: list[str]) -> int:
    """pytest in the tree with the compiled copy first on sys.path (checked: a pure run would pass unseen)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    probe = subprocess.run([sys.executable, "-P", "-c", f"import {PROBE} as m; print(m.__file__)"], cwd=REPO,
                           env=env, capture_output=True, text=True).stdout.strip()
    if not probe.endswith(".so"):
        raise SystemExit(f"{PROBE} imports from {probe!r}, not from the build")
    cmd = [sys.executable, "-P", "-m", "pytest", "--import-mode=append", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=REPO, env=env).returncode


def report(name: str, runs: list[dict[str, object]], n: int) -> tuple[float, float, bool]:
    """Print one build's line; (median wall, median CPU, same trades in every run)."""
    wall = statistics.median(float(r["wall"]) for r in runs)  # type: ignore[arg-type]
    cpu = statistics.median(float(r["cpu"]) for r in runs)  # type: ignore[arg-type]
    orders = max(int(r["orders"]) for r in runs)  # type: ignore[call-overload]
    same = all(bool(r["same_trades"]) and r["trades"] == r["fast_trades"] and float(r["equity_rel"]) <= 1e-9  # type: ignore[arg-type]
               for r in runs)
    print(f"  {name:9} wall {wall:6.2f} s {n / wall / 1e3:7.1f} k bars/s {wall / max(orders, 1) * 1e6:6.1f} us/order;"
          f"  CPU {cpu / max(orders, 1) * 1e6:6.1f} us/order;  {runs[0]['compiled']} compiled modules loaded;"
          f"  same trades as the fast engine: {same}")
    return wall, cpu, same


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per case and build (interleaved); medians shown")
    ap.add_argument("--fee-bps", type=float, default=0.0, help="as bench/backtest_hf.py")
    ap.add_argument("--build", type=Path, help="build into (or reuse) this directory and keep it")
    ap.add_argument("--decimal", action="store_true",
                    help="also measure the share of Decimal arithmetic in the high-frequency case (needs perf)")
    ap.add_argument("--pytest", nargs=argparse.REMAINDER, help="run pytest with these arguments on the build")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        root, fast, slow, n = a.child
        print(json.dumps(child(root, int(fast), int(slow), int(n), a.fee_bps)))
        return 0
    missing = missing_toolchain()
    if missing:
        print(f"cannot compile: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="cashup-mypyc-") as tmp:
        root = a.build.resolve() if a.build else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        mods = build(root)
        if a.pytest is not None:
            return run_pytest(root, a.pytest)
        print(f"not compiled: {'; '.join(f'{k}: {v}' for k, v in REFUSED.items())}")
        with open("/proc/loadavg") as fh:
            print(f"load average {' '.join(fh.read().split()[:3])}; {a.bars:,} synthetic 1-minute bars, event engine, "
                  f"fee {a.fee_bps:g} bps; {len(mods)} modules compiled; medians of {a.repeat} interleaved runs")
        ok = True
        for fast, slow in backtest_hf.CASES:
            pure: list[dict[str, object]] = []
            comp: list[dict[str, object]] = []
            for i in range(max(1, a.repeat)):
                for mode in (("", "c") if i % 2 == 0 else ("c", "")):
                    (comp if mode else pure).append(run(str(root) if mode else "", fast, slow, a.bars, a.fee_bps))
            print(f"sma_cross {fast}/{slow}: {pure[0]['trades']:,} trades, {pure[0]['orders']:,} orders")
            pw, pc, psame = report("pure", pure, a.bars)
            cw, cc, csame = report("compiled", comp, a.bars)
            us = cw / max(int(comp[0]["orders"]), 1) * 1e6  # type: ignore[call-overload]
            print(f"  compiled is {pw / cw:.2f}x pure (wall), {pc / cc:.2f}x (CPU); "
                  f"target <= 10 us/order: {'OK' if us <= 10 else 'NO'}")
            ok = ok and psame and csame and pure[0]["trades"] == comp[0]["trades"]
        if a.decimal:
            if shutil.which("perf") is None:
                print("--decimal: perf (linux-perf) is not installed", file=sys.stderr)
                return 2
            fast, slow = backtest_hf.CASES[-1]
            for name, where in (("pure", ""), ("compiled", str(root))):
                share, own, us = decimal_share(where, fast, slow, a.bars, a.fee_bps)
                print(f"Decimal arithmetic, sma_cross {fast}/{slow} {name}: {share:.1%} of the run's CPU samples "
                      f"({share * us:.1f} of {us:.1f} us CPU per order; {own:.1%} inside _decimal itself)")
        with open("/proc/loadavg") as fh:
            print(f"load average at the end {' '.join(fh.read().split()[:3])}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
