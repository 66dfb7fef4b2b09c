"""Vault unlock time and memory at the default scrypt cost, against the raw KDF in the same run.

Figure asked by reliability.md §7 ("vault unlock time and memory"); the design target from
§3.1 is about 0.6 s and 128 MiB at n=2**17 on this class of machine.
Run: .venv/bin/python bench/vault.py [--runs 3] [--n 131072]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cashup_tui.adapters.vault import DEFAULT_SCRYPT_N, Vault


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=DEFAULT_SCRYPT_N)
    args = ap.parse_args()
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    with tempfile.TemporaryDirectory() as d:
        vault = Vault(Path(d) / "vault.json")
        pp = "bench passphrase (made up)"
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        vault.save(pp, {"gateio": {"api_key": "k" * 32, "api_secret": "s" * 64}}, n=args.n)
        save_s = time.perf_counter() - t0
        unlock = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            assert vault.get_keys(pp) is not None
            unlock.append(time.perf_counter() - t0)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        raw = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            Scrypt(salt=b"0" * 16, length=64, n=args.n, r=8, p=1).derive(pp.encode())
            raw.append(time.perf_counter() - t0)
    med, ref = statistics.median(unlock), statistics.median(raw)
    print(f"scrypt n={args.n} r=8 p=1 (theoretical memory {128 * 8 * args.n / 2**20:.0f} MiB)")
    print(f"save (new salt + encrypt + atomic 0600 write): {save_s * 1000:.0f} ms")
    print(f"unlock median of {args.runs}: {med * 1000:.0f} ms; raw KDF alone {ref * 1000:.0f} ms "
          f"(overhead {(med / ref - 1) * 100:+.1f}%); target about 600 ms")
    print(f"peak RSS growth during unlock: {(rss1 - rss0) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
