"""The `cashup` command: a root group whose sub-groups are imported only when invoked,
so `cashup --help` and `cashup --version` stay fast (no textual/pandas/ccxt/sqlmodel), and
whose unset options cost no pydantic import (`_defer_coercion`)."""

from __future__ import annotations

import importlib
import sys
from functools import cached_property
from typing import Any

import typer
import typer.core
from typer.core import TyperGroup

from cashup_tui import __version__

# name -> (module, help). Each module defines `app = typer.Typer(...)` (a group) or `command` (a function).
GROUPS: dict[str, tuple[str, str]] = {
    "config": ("cashup_tui.cli.config", "Show, locate, create and edit the settings file."),
    "data": ("cashup_tui.cli.data", "Import, list, export, resample and fetch OHLCV candles."),
    "feed": ("cashup_tui.cli.feed", "Watch live Gate.io streams headless; replay captures."),
    "sim": ("cashup_tui.cli.sim", "Run the Gate-compatible loopback simulator."),
    "strategies": ("cashup_tui.cli.strategies", "List strategies and their parameters."),
    "backtest": ("cashup_tui.cli.backtest", "Run, list, show and compare backtests."),
    "optimize": ("cashup_tui.cli.optimize", "Grid/random parameter search, walk-forward, Dask."),
    "trade": ("cashup_tui.cli.trade", "Run strategies headless (demo, paper, testnet, live)."),
    "orders": ("cashup_tui.cli.orders", "Place, list, cancel and reconcile orders."),
    "positions": ("cashup_tui.cli.positions", "Show positions."),
    "fills": ("cashup_tui.cli.fills", "Executions with fees and realised PnL (JSON, CSV)."),
    "audit": ("cashup_tui.cli.audit", "The audit log: who did what, allowed or denied."),
    "risk": ("cashup_tui.cli.risk", "Risk status, kill switch, resume, report."),
    "notify": ("cashup_tui.cli.notify", "Test notification channels; show history."),
    "keys": ("cashup_tui.cli.keys", "Manage exchange API keys in the encrypted vault."),
    "serve": ("cashup_tui.cli.serve", "Serve the workstation to a browser on localhost."),
    "tui": ("cashup_tui.cli.tui", "Open the workstation (the default with no command)."),
}


def _available(name: str) -> bool:
    module = GROUPS[name][0]
    return importlib.util.find_spec(module) is not None


class LazyGroup(TyperGroup):
    """Lists every group from GROUPS; imports a group's module only when it runs."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [n for n in GROUPS if _available(n)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in GROUPS or not _available(cmd_name):
            return None
        module = importlib.import_module(GROUPS[cmd_name][0])
        obj = getattr(module, "app", None) or module.command
        if isinstance(obj, typer.Typer):
            obj._add_completion = False  # completion is offered once, not per group
            cmd = typer.main.get_command(obj)
        else:
            cmd = typer.main.get_command(_single(obj))
        cmd.help = cmd.help or GROUPS[cmd_name][1]
        return cmd

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(n, GROUPS[n][1]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _defer_coercion() -> bool:
    """Let typer build a parameter's pydantic coercion only for a value that needs it.

    typer (0.29) coerces every parameter through a pydantic TypeAdapter, built on first use, and
    uses it also for the options a command line leaves unset (--help, --db, the completion flags...),
    although for their value None `RuntimeParam.coerce` returns before touching the adapter. Building
    that first adapter imports pydantic and its schema machinery, the larger part of a short command's
    start (`cashup data list`). Here typer gets a stand-in: None is handled by typer's own `coerce`; a
    str given to a plain `str` parameter is returned as it is and one given to a choice (Literal, Enum)
    goes through typer's own `coerce_cli_choice`, which is all the adapter would do with either (the
    adapter wraps exactly these; a choice that does not match goes to typer's adapter for its message);
    any other value builds typer's runtime parameter (once) and hands over to it. Where typer's layout
    differs, nothing is installed (behaviour unchanged, only slower; False) and tests/test_cli_startup.py
    says so in its skip reason; the same tests hold the shortcuts equal to typer's adapters."""
    try:
        from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
        from typer._param_types import choice_coercion_annotation, coerce_cli_choice
    except ImportError:  # pragma: no cover - another typer layout
        return False
    if (getattr(typer.core, "build_runtime_param", None) is not build_runtime_param
            or not {"coerce", "_coerce_value"} <= set(vars(RuntimeParam))
            or any("coerce" in vars(c) for c in RuntimeParam.__subclasses__())):
        return False  # pragma: no cover - another typer layout (a subclass's own coerce would be bypassed)

    class Deferred(RuntimeParam):
        descriptor: TypeDescriptor  # not a dataclass field: set once in __init__

        def __init__(self, descriptor: TypeDescriptor) -> None:
            super().__init__(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
            object.__setattr__(self, "descriptor", descriptor)  # RuntimeParam is a frozen dataclass

        @cached_property
        def built(self) -> RuntimeParam:
            return build_runtime_param(self.descriptor)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            d = self.descriptor
            if type(value) is str and d.file_annotation is None and d.parameter_info.parser is None:
                if d.annotation is str:
                    return value
                choice = choice_coercion_annotation(d.annotation, d.parameter_info)  # None for a list of them
                if choice is not None:
                    try:
                        return coerce_cli_choice(value, choices=choice[0], case_sensitive=choice[1], ctx=ctx)
                    except ValueError:
                        pass  # not a choice: typer's adapter says so in its own words
            return self.built._coerce_value(value, param=param, ctx=ctx)

    def deferred(descriptor: TypeDescriptor) -> RuntimeParam:
        try:
            return Deferred(descriptor)
        except TypeError:  # pragma: no cover - RuntimeParam has grown fields: typer's own, built now
            return build_runtime_param(descriptor)

    typer.core.build_runtime_param = deferred
    return True


COERCION_DEFERRED = _defer_coercion()


def _single(fn: Any) -> typer.Typer:
    t = typer.Typer(add_completion=False)
    t.command()(fn)
    return t


app = typer.Typer(
    cls=LazyGroup,
    name="cashup",
    help="CashUp: a terminal trading workstation for Gate.io USDT perpetual futures.\n\n"
    "With no command it opens the workstation in DEMO mode (no keys, no network).",
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"cashup {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", "-c", help="Settings file (TOML). Default: CASHUP_CONFIG, then the user config dir."),
    db: str = typer.Option(None, "--db", help="Store location: a SQLite path or any SQLAlchemy URL."),
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """CashUp: a terminal trading workstation for Gate.io USDT perpetual futures.

    With no command it opens the workstation in DEMO mode.
    """
    ctx.obj = {"config": config, "db": db}
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            sys.stderr.write("error: `cashup` with no command opens the workstation and needs a terminal; "
                             "run a command instead (`cashup --help` lists them)\n")
            raise typer.Exit(2)
        if _available("tui"):
            ctx.invoke(LazyGroup.get_command(ctx.command, ctx, "tui"))  # type: ignore[arg-type]
        else:
            typer.echo(ctx.get_help())


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: clean errors, never a traceback wall."""
    from cashup_tui.cli.common import run_guarded

    run_guarded(lambda: app(args=argv, prog_name="cashup", standalone_mode=False))


if __name__ == "__main__":  # pragma: no cover
    run(sys.argv[1:])
