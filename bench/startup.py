"""Start-up time of `cashup --help` and `cashup --version` against `python -c pass`.

Target (issue 2): `cashup --help` <= 0.25 s wall, with no textual/ccxt/pandas/aiohttp/sqlmodel import.
Run: .venv/bin/python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=REPO)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    exe = shutil.which("cashup", path=str(Path(py).parent)) or ""
    cashup = [exe] if exe else [py, "-m", "cashup_tui"]
    timed([py, "-c", "pass"], 2)  # warm the page cache
    timed([*cashup, "--help"], 2)
    ref = timed([py, "-c", "pass"], args.runs)
    helps = timed([*cashup, "--help"], args.runs)
    vers = timed([*cashup, "--version"], args.runs)
    probe = (
        "import sys\nfrom cashup_tui.cli.main import app\n"
        "try:\n    app(args=['--help'], prog_name='cashup', standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'textual','ccxt','pandas','aiohttp','sqlmodel','sqlalchemy','numpy'})\nprint(repr(heavy))"
    )
    heavy = subprocess.run([py, "-c", probe], capture_output=True, text=True, cwd=REPO).stdout.strip().splitlines()[-1]
    med = statistics.median
    result = {
        "python_c_pass_s": round(med(ref), 4),
        "cashup_help_s": round(med(helps), 4),
        "cashup_version_s": round(med(vers), 4),
        "help_ratio_vs_python": round(med(helps) / med(ref), 2),
        "help_p90_s": round(sorted(helps)[int(0.9 * (len(helps) - 1))], 4),
        "heavy_modules_on_help_path": heavy,
        "target_help_s": 0.25,
        "meets_target": med(helps) <= 0.25,
    }
    for k, v in result.items():
        print(f"{k:28s} {v}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
