"""`cashup optimize --cluster` on a real Dask scheduler and real worker processes on loopback.

The workers run in an empty directory (no strategy files there) and without a nanny, so a killed
worker stays dead. Outcomes never depend on timing: the sweep that loses a worker is held by a
gate file until the worker has been killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cashup_tui.engine import optimize as opt
from cashup_tui.engine.backtest.data import load_csv
from cashup_tui.engine.backtest.model import RunConfig
from cashup_tui.engine.strategy import load_strategy
from tests.conftest import MARKET_DIR, need_shared

distributed = pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")

BTC_1H = "gateio_usdt_perp_BTC_USDT_1h_2025-02-25_2026-02-25.csv"
WAIT = 60.0  # generous bound for conditions; a passing run takes a few seconds

STRATEGY = '''
import numpy as np

from cashup_tui.engine.strategy import Bars, Param, Strategy


class Toy(Strategy):
    """Buys every `fast` bars, sells 3 bars later; fails for the lengths in BROKEN."""

    fast = Param(5, min=1, max=100, step=1)

    def warmup(self) -> int:
        return 1

    def signals(self, bars: Bars) -> np.ndarray:
        if self.fast in BROKEN:
            raise RuntimeError(f"broken for fast={{self.fast}}")
        {hold}
        out = np.full(len(bars), np.nan)
        out[:: self.fast * 3] = 1.0
        out[3 :: self.fast * 3] = -1.0
        return out


BROKEN = {broken!r}
'''
# holds every trial but fast=2 until the test opens the gate
HOLD = '''import os, time
        deadline = time.monotonic() + 120
        while self.fast != 2 and not os.path.exists({go!r}):
            if time.monotonic() > deadline:
                raise RuntimeError("the gate was never opened")
            time.sleep(0.005)'''


def _strategy(path: Path, *, broken: set[int] | frozenset[int] = frozenset(), go: Path | None = None) -> Path:
    hold = HOLD.format(go=str(go)) if go else "pass"
    path.write_text(STRATEGY.format(broken=set(broken) or set(), hold=hold))
    return path


def _until(cond: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _spawn(module: str, *args: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


class Cluster:
    """A `dask scheduler` process and `dask worker` processes started in an empty directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.empty = root / "empty"
        self.empty.mkdir(parents=True)
        sf = root / "scheduler.json"
        self.procs = [_spawn("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                             "--no-dashboard", "--scheduler-file", str(sf), cwd=self.empty, log=root / "scheduler.log")]
        _until(lambda: sf.exists() and sf.stat().st_size > 0 and "address" in sf.read_text(), "the scheduler")
        self.address: str = json.loads(sf.read_text())["address"]

    def worker(self, name: str, threads: int) -> subprocess.Popen[bytes]:
        p = _spawn("distributed.cli.dask_worker", self.address, "--name", name, "--nthreads", str(threads),
                   "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", cwd=self.empty,
                   log=self.root / f"{name}.log")
        self.procs.append(p)
        return p

    def wait_workers(self, *names: str) -> None:
        """Until exactly these workers are registered (a killed one is gone, a new one has joined)."""
        with distributed.Client(self.address, timeout=WAIT) as c:
            _until(lambda: {w["name"] for w in c.scheduler_info()["workers"].values()} == set(names),
                   f"workers {names}")

    def close(self) -> None:
        for p in reversed(self.procs):
            _stop(p)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One scheduler and one two-thread worker for the module; tests may add workers of their own."""
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        c.worker("steady", 2)
        c.wait_workers("steady")
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = need_shared(MARKET_DIR / BTC_1H)
    out = tmp_path_factory.mktemp("data") / "BTC_USDT_1h.csv"
    out.write_text("\n".join(src.read_text().splitlines()[:401]) + "\n")
    return out


@pytest.fixture
def cashup(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """The CLI in this process: (exit code, stdout, stderr)."""
    from cashup_tui.cli.main import run

    def call(db: Path, *args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            run(["--db", str(db), *args])
        got = capsys.readouterr()
        return int(e.value.code or 0), got.out, got.err

    return call


def _stored(db: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            return [r[0] for r in conn.execute("SELECT params_hash FROM opt_trials")]
    except sqlite3.OperationalError:  # not created yet
        return []


def test_workers_without_the_file_get_its_source_and_batches_follow_the_threads(
        cluster: Cluster, data: Path, tmp_path: Path) -> None:
    path = _strategy(tmp_path / "toy_src.py")
    cls = load_strategy(str(path))
    bars = load_csv(data)
    combos = [{"fast": f} for f in range(1, 13)]
    ctx = opt.EvalContext.of(cls, bars, RunConfig(), "return")
    local = {r["params"]["fast"]: r["objective"] for r in opt.run_trials(ctx, combos)}
    path.unlink()  # nowhere on disk now: the workers can only have it from the context
    plans: list[opt.Plan] = []
    got = list(opt.run_trials(ctx, combos, cluster=cluster.address, on_plan=plans.append))
    assert [r["error"] for r in got if r["status"] != "done"] == []
    assert {r["params"]["fast"]: r["objective"] for r in got} == local and len(got) == 12
    # 12 trials on 2 threads: about four batches per thread -> 6 batches of 2
    assert plans == [opt.Plan("dask", workers=1, threads=2, batches=6, batch_size=2)]


def test_cli_sweep_on_the_cluster_resumes_and_reports_failures(cluster: Cluster, data: Path, tmp_path: Path,
                                                               cashup: Callable[..., tuple[int, str, str]]) -> None:
    strat = _strategy(tmp_path / "toy.py")
    db = tmp_path / "o.sqlite"
    args = ("optimize", str(strat), "--data", str(data), "--grid", "fast=1:10", "--objective", "return",
            "--cluster", cluster.address, "--wait-workers", str(WAIT), "--json")
    code, out, err = cashup(db, *args)
    assert code == 0, err
    first = json.loads(out)
    assert (first["evaluated"], first["failed"], first["executor"], first["workers"], first["threads"]) == (
        10, 0, "dask", 1, 2)
    assert first["batches"] == 5 and len(set(_stored(db))) == len(_stored(db)) == 10
    code, out, err = cashup(db, *args)
    second = json.loads(out)
    assert code == 0 and second["evaluated"] == 0 and second["resumed"] == 10
    assert second["best"] == {**first["best"], "resumed": True}

    # every trial fails on the workers: exit 1 with the first failure's message, nothing stored
    bad = _strategy(tmp_path / "bad.py", broken=set(range(1, 11)))
    code, out, err = cashup(tmp_path / "bad.sqlite", "optimize", str(bad), "--data", str(data), "--grid",
                            "fast=1:10", "--cluster", cluster.address)
    assert code == 1, err
    assert "all 10 trial(s) failed; the first: strategy bad raised RuntimeError: broken for fast=" in err
    assert "Traceback" not in err and _stored(tmp_path / "bad.sqlite") == []


def test_a_worker_killed_mid_sweep(cluster: Cluster, data: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    strat = _strategy(tmp_path / "gate.py", go=go)
    doomed = cluster.worker("doomed", 1)
    cluster.wait_workers("steady", "doomed")
    db = tmp_path / "o.sqlite"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "cashup_tui", "--db", str(db), "optimize", str(strat), "--data", str(data),
         "--grid", "fast=2:9", "--cluster", cluster.address, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _until(lambda: len(_stored(db)) >= 1 or sweep.poll() is not None, "the first stored trial")
        assert sweep.poll() is None, sweep.communicate()
        assert len(_stored(db)) == 1  # every other trial is held by the gate
        with distributed.Client(cluster.address, timeout=WAIT) as c:
            addr = next(a for a, w in c.scheduler_info()["workers"].items() if w["name"] == "doomed")
            _until(lambda: bool(c.processing().get(addr)), "a trial on the doomed worker")  # it dies with work
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(WAIT)
        go.touch()
        out, err = sweep.communicate(timeout=180)
    finally:
        go.touch()
        _stop(sweep)  # type: ignore[arg-type]
    assert sweep.returncode == 0, err
    res = json.loads(out)
    assert (res["evaluated"], res["failed"], res["workers"], res["threads"], res["batches"]) == (8, 0, 2, 3, 8)
    stored = _stored(db)
    assert len(stored) == len(set(stored)) == 8


def test_a_worker_dying_with_results_not_yet_read(cluster: Cluster, data: Path, tmp_path: Path) -> None:
    """Results finished on a worker but not yet fetched die with it: Dask recomputes them, none is lost or failed."""
    cls = load_strategy(str(_strategy(tmp_path / "toy_unread.py")))
    ctx = opt.EvalContext.of(cls, load_csv(data), RunConfig(), "return")
    doomed = cluster.worker("unread", 1)
    cluster.wait_workers("steady", "unread")
    sweep = opt.run_trials(ctx, [{"fast": f} for f in range(1, 13)], cluster=cluster.address, batch=1)
    got = [next(sweep)]  # the caller pauses here while the other trials finish on the workers, unread
    with distributed.Client(cluster.address, timeout=WAIT) as c:
        addr = next(a for a, w in c.scheduler_info()["workers"].items() if w["name"] == "unread")

        def unread() -> bool:  # one of these may be the result already read
            return sum(str(k).startswith("_eval_batch_with") for k in c.has_what().get(addr, ())) >= 2

        _until(unread, "results held by the doomed worker")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(WAIT)
    got += list(sweep)
    assert [r["error"] for r in got if r["status"] != "done"] == []
    assert sorted(r["params"]["fast"] for r in got) == list(range(1, 13))


def test_no_worker_or_no_scheduler_is_a_clear_error(data: Path, tmp_path: Path,
                                                    cashup: Callable[..., tuple[int, str, str]]) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    strat = _strategy(tmp_path / "toy.py")
    common = ("optimize", str(strat), "--data", str(data), "--grid", "fast=1:3", "--wait-workers", "1")
    code, _, err = cashup(tmp_path / "a.sqlite", *common, "--cluster", f"tcp://127.0.0.1:{port}")
    assert code == 1 and f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1 s" in err
    assert "dask scheduler" in err and "Traceback" not in err
    lonely = Cluster(tmp_path / "lonely")  # a scheduler without workers
    try:
        code, _, err = cashup(tmp_path / "b.sqlite", *common, "--cluster", lonely.address)
    finally:
        lonely.close()
    assert code == 1, err
    assert f"no Dask worker joined the scheduler at {lonely.address} within 1 s" in err
    assert "--wait-workers" in err and "Traceback" not in err
