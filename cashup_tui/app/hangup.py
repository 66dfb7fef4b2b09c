"""Leaving the terminal: SIGHUP (dropped SSH / killed tmux: the pty is gone), SIGTERM, and a hard exit
when a clean stop hangs.

Why this exists: when the pty closes, the kernel sends SIGHUP *and SIGCONT*. Textual's Linux driver
treats every SIGCONT as "resumed after Ctrl+Z" and starts application mode again on the dead tty: a
second writer thread dies on its first write (EIO), the main thread then blocks for good in the dead
writer's full queue, and a second input thread spins on end-of-file (100% CPU). A loop blocked that
way never runs asyncio signal callbacks, so SIGTERM and SIGHUP seemed ignored and the node never
stopped. Here:

- `HangupSafeDriver` ignores a SIGCONT that does not follow a suspend, and its output never raises
  (a write to a hung-up tty is dropped and reported once as "terminal gone");
- `ShutdownGuard` handles SIGHUP/SIGTERM with plain `signal.signal` handlers (they run on the main
  thread even while it waits on a lock), asks the app for a clean stop, and arms a watchdog that
  ends the process with `os._exit` if the clean stop has not finished in `grace_s`; a second
  SIGTERM ends it at once (a hangup brings several SIGHUPs, which are not a second request). The
  store is crash-safe (write-ahead journal), so a hard exit loses nothing that
  `kill -9` would not.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import threading
from collections.abc import Callable
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver

HARD_EXIT_GRACE_S = 4.0
DEAD_TTY_ERRNOS = frozenset({errno.EIO, errno.ENXIO, errno.EPIPE, errno.EBADF})  # hung up or closed
SIGNALS = (signal.SIGHUP, signal.SIGTERM)
_current_driver: Any = None  # the one driver of this process (one workstation per process); see set_current_driver


def set_current_driver(driver: Any) -> None:
    """The driver to silence when the terminal (or the browser's server) is gone: it has `terminal_gone()`."""
    global _current_driver
    _current_driver = driver


def terminal_alive(fd: int) -> bool:
    """False once the tty behind `fd` is hung up (its ioctls fail) or closed."""
    try:
        return os.isatty(fd)
    except OSError:
        return False


def detach_from_terminal() -> None:
    """Point stdin/stdout/stderr at /dev/null so nothing later (Textual's restore sequences, Python's
    final flush) writes to or reads from the hung-up tty."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
        if null > 2:
            os.close(null)


class _GuardedOutput:
    """The driver's output file: a failed write (EIO on a hung-up tty) is dropped and reported once,
    instead of killing Textual's writer thread (whose queue would then block the app forever)."""

    def __init__(self, file: IO[str], on_gone: Callable[[], None]) -> None:
        self._file = file
        self._on_gone = on_gone
        self.gone = False

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, OSError) and exc.errno not in DEAD_TTY_ERRNOS:
            raise exc  # e.g. EAGAIN: a slow terminal is not a dead one
        if not self.gone:
            self.gone = True
            self._on_gone()

    def write(self, text: str) -> int:
        if self.gone:
            return len(text)
        try:
            return self._file.write(text)
        except (OSError, ValueError) as exc:
            self._failed(exc)
            return len(text)

    def flush(self) -> None:
        if self.gone:
            return
        try:
            self._file.flush()
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return not self.gone and self._file.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class HangupSafeDriver(LinuxDriver):
    """Textual's Linux driver that survives its terminal going away (see the module docstring)."""

    on_terminal_gone: Callable[[], None] | None = None  # set by ShutdownGuard.install

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._file = _GuardedOutput(self._file, self._gone)  # type: ignore[assignment]
        set_current_driver(self)

    def _gone(self) -> None:
        self.terminal_gone()
        callback = type(self).on_terminal_gone
        if callback is not None:
            callback()

    def terminal_gone(self) -> None:
        """Stop reading and writing the dead tty: the input thread ends, output is dropped."""
        out = self._file
        if isinstance(out, _GuardedOutput):
            out.gone = True
        self.exit_event.set()  # the input thread reads EOF from a hung-up tty in a tight loop otherwise

    def _sigcont_application(self, *args: Any) -> None:
        writer = self._writer_thread
        if writer is not None and writer.is_alive():
            return  # not suspended: the SIGCONT that comes with a hangup, not a resume after Ctrl+Z
        if isinstance(self._file, _GuardedOutput) and self._file.gone:
            return
        super()._sigcont_application(*args)


class ShutdownGuard:
    """SIGHUP/SIGTERM for the workstation process: a clean stop, bounded by a hard exit.

    `request_stop(signum, terminal_gone)` is called on the event loop and must stop the node and exit
    the app. `hard_exit` is `os._exit` (tests may pass another)."""

    def __init__(self, request_stop: Callable[[int, bool], None], *, grace_s: float = HARD_EXIT_GRACE_S,
                 hard_exit: Callable[[int], None] = os._exit, note: Callable[[str], None] | None = None) -> None:
        self.request_stop = request_stop
        self.grace_s = grace_s
        self.hard_exit = hard_exit
        self.note = note
        self.signalled: int | None = None
        self.node_stopped = False  # set by the app once the node's clean stop returned (journal flushed)
        self.terminal_gone = False
        self._left = False  # the stop began because the browser's session ended (`leave`), not by a signal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, Any] = {}
        self._watchdog: threading.Timer | None = None

    def install(self) -> ShutdownGuard:
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        HangupSafeDriver.on_terminal_gone = self._on_terminal_gone
        return self

    def claim(self, loop: asyncio.AbstractEventLoop, signals: tuple[int, ...] = (*SIGNALS, signal.SIGINT)) -> None:
        """Take the signals back from a driver that set its own on the loop: Textual's web driver turns
        SIGINT/SIGTERM into a bare exit that skips the node's stop. SIGINT counts here because Ctrl-C in
        `cashup serve`'s terminal reaches its app processes too."""
        for sig in signals:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)
            previous = signal.signal(sig, self._on_signal)
            self._previous.setdefault(sig, previous)

    def leave(self, why: str) -> None:
        """The screen went away without a signal (the browser closed its session): the SIGHUP path."""
        if self.signalled is not None:
            return
        self.signalled = signal.SIGHUP
        self._left = True
        self._say(why)
        self._begin(signal.SIGHUP, True)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
        self._previous.clear()
        HangupSafeDriver.on_terminal_gone = None
        if self._watchdog is not None:
            self._watchdog.cancel()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the app runs on (set by the app once it runs); a signal that came earlier is served now."""
        self._loop = loop
        if self.signalled is not None:
            loop.call_soon(self.request_stop, self.signalled, self.terminal_gone)

    def _say(self, text: str) -> None:
        if self.note is not None:
            with contextlib.suppress(Exception):
                self.note(text)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.signalled is not None:
            # a hangup brings several SIGHUPs (the kernel's, then the dying shell's): only a second
            # SIGTERM means "now"; the watchdog bounds the rest
            if signum in (signal.SIGTERM, signal.SIGINT):
                if self._left:  # the browser left first (its server is stopping): this is the first request
                    self._left = False
                    return
                self._say(f"second {signal.Signals(signum).name}: hard exit")
                self.hard_exit(128 + signum)
            return
        self.signalled = signum
        gone = signum == signal.SIGHUP and not terminal_alive(0)
        self._begin(signum, gone)

    def _on_terminal_gone(self) -> None:
        """The driver found the tty dead (a write failed) without a SIGHUP first: same path as SIGHUP."""
        if self.signalled is None:
            self.signalled = signal.SIGHUP
            self._begin(signal.SIGHUP, True)

    def _begin(self, signum: int, gone: bool) -> None:
        self._say(f"{signal.Signals(signum).name}: stopping the node" + (" (the terminal is gone)" if gone else ""))
        if gone:
            self.terminal_gone = True
            detach_from_terminal()
            driver = _current_driver
            if driver is not None:
                driver.terminal_gone()
        self._watchdog = threading.Timer(self.grace_s, self._expired, args=(signum,))
        self._watchdog.daemon = True
        self._watchdog.start()
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # the app is not running (yet, or any more): nothing to stop but the process
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.request_stop, signum, gone)

    def _expired(self, signum: int) -> None:
        if self.node_stopped:  # only the UI teardown is slow (a loaded machine): nothing is left to save
            self._say(f"node stopped; UI teardown after {signal.Signals(signum).name} took over {self.grace_s:.0f} s")
            self.hard_exit(0)
            return
        self._say(f"clean stop after {signal.Signals(signum).name} took over {self.grace_s:.0f} s: hard exit")
        self.hard_exit(128 + signum)
