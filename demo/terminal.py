"""Terminal output: colours, numbered step headers, and a live region redrawn in place.

Two audiences: a person at a terminal, who gets colours, a spinner and tables refreshed in
place; and a log (CI, `make demo | cat`), which gets plain text written once, line by line, with
no escape codes. `Console.detect` decides: live output needs a TTY whose TERM is not `dumb`, and
colours additionally honour NO_COLOR (https://no-color.org).

The live region is the last few lines of the screen. Permanent lines are printed above it; a
ticker thread redraws it ten times a second so the spinner moves while the main thread blocks.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TICK_SECONDS = 0.1
INDENT = "    "
TITLE_WIDTH = 46


def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


def pad(text: str, width: int) -> str:
    """Left-align `text` (which may hold colour codes) in `width` visible columns."""
    return text + " " * max(0, width - visible_len(text))


def truncate(text: str, width: int) -> str:
    """Cut `text` to `width` visible columns, keeping colour codes (and resetting at the cut)."""
    if visible_len(text) <= width:
        return text
    out, seen, pos = [], 0, 0
    while pos < len(text) and seen < width:
        code = _ANSI.match(text, pos)
        if code:
            out.append(code.group())
            pos = code.end()
            continue
        out.append(text[pos])
        seen += 1
        pos += 1
    return "".join(out) + "\x1b[0m"


class Console:
    """Where the demo writes; thread-safe, so the ticker can redraw while the main thread prints."""

    def __init__(self, stream: TextIO, *, color: bool, live: bool) -> None:
        self.stream = stream
        self.color = color
        self.is_live = live
        self._lock = threading.RLock()
        self._render: Callable[[str], list[str]] | None = None
        self._drawn = 0
        self._frame = 0
        self._stop_ticker = threading.Event()

    @classmethod
    def detect(cls, stream: TextIO, environ: Mapping[str, str]) -> Console:
        live = stream.isatty() and environ.get("TERM") != "dumb"
        return cls(stream, color=live and not environ.get("NO_COLOR"), live=live)

    def paint(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        return "\x1b[" + ";".join(STYLES[s] for s in styles) + "m" + text + "\x1b[0m"

    # ----- permanent output ------------------------------------------------------------------------

    def print(self, text: str = "") -> None:
        """Write lines permanently (above the live region, if one is shown)."""
        with self._lock:
            self._erase()
            self.stream.write(text + "\n")
            self._draw()
            self.stream.flush()

    def write(self, text: str) -> None:
        """Write without a newline (only used when nothing is live)."""
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    # ----- the live region -------------------------------------------------------------------------

    @contextmanager
    def live(self, render: Callable[[str], list[str]]) -> Iterator[None]:
        """Show `render(spinner_frame)` at the bottom, redrawn until the block ends, then erased."""
        if not self.is_live:
            yield
            return
        with self._lock:
            self._render = render
            self.stream.write("\x1b[?25l")  # a blinking cursor over the spinner is distracting
            self._draw()
        self._stop_ticker.clear()
        ticker = threading.Thread(target=self._tick, name="demo-ticker", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            self._stop_ticker.set()
            ticker.join()
            with self._lock:
                self._erase()
                self._render = None
                self.stream.write("\x1b[?25h")
                self.stream.flush()

    def refresh(self) -> None:
        with self._lock:
            self._erase()
            self._draw()
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop_ticker.wait(TICK_SECONDS):
            with self._lock:
                self._frame += 1
            self.refresh()

    def _draw(self) -> None:
        if self._render is None:
            return
        width = max(20, shutil.get_terminal_size().columns - 1)
        lines = [truncate(line, width) for line in self._render(SPINNER[self._frame % len(SPINNER)])]
        self.stream.write("\n".join(lines))
        self._drawn = len(lines)

    def _erase(self) -> None:
        if self._drawn:
            up = f"\x1b[{self._drawn - 1}A" if self._drawn > 1 else ""
            self.stream.write("\r" + up + "\x1b[J")
            self._drawn = 0


def seconds(value: float) -> str:
    return f"{value:.1f}s"


class Step:
    """One numbered step: a header, progress while it runs, a result line, then its notes."""

    def __init__(self, console: Console, label: str, title: str) -> None:
        self.console = console
        self.label = label
        self.title = title
        self.activity = ""
        """What the step is doing right now (shown beside the spinner)."""
        self.body: Callable[[], list[str]] | None = None
        """Extra live lines under the header (a terminal only), e.g. a table refreshed in place."""
        self.notes: list[str] = []
        self.started = time.monotonic()
        self._header_open = False  # plain output: the header line still waits for its result
        self._header_printed = False  # live output: the header became permanent (lines followed it)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def header(self) -> str:
        dots = "." * max(3, TITLE_WIDTH - len(self.title))
        return f"{self.console.paint(self.label, 'bold')} {self.title} {self.console.paint(dots, 'dim')}"

    def note(self, text: str = "") -> None:
        """A detail line printed (indented) after the result line."""
        self.notes.extend(text.splitlines() or [""])

    def emit(self, text: str) -> None:
        """A progress line printed now, below the header (a log of what happens)."""
        if self._header_open:
            self.console.write("\n")
            self._header_open = False
        if self.console.is_live and not self._header_printed:
            self.console.print("  " + self.header())
            self._header_printed = True
        for line in text.splitlines():
            self.console.print(INDENT + line)

    def render(self, spinner: str) -> list[str]:
        paint = self.console.paint
        status = paint(f"{self.activity}  {seconds(self.elapsed)}".strip(), "dim")
        first = (
            f"{INDENT}{paint(spinner, 'cyan')} {status}"
            if self._header_printed
            else (f"{paint(spinner, 'cyan')} {self.header()} {status}")
        )
        return [first, *(self.body() if self.body else [])]

    def begin(self) -> None:
        if not self.console.is_live:
            self.console.write(self.header())
            self._header_open = True

    def finish(self, ok: bool) -> None:
        paint = self.console.paint
        verdict = paint("ok", "green") if ok else paint("failed", "red", "bold")
        result = f"{verdict} ({seconds(self.elapsed)})"
        if self._header_open:
            self.console.write(f" {result}\n")
        elif self._header_printed or not self.console.is_live:
            self.console.print(f"{INDENT}{result}")
        else:
            mark = paint("✓", "green") if ok else paint("✗", "red", "bold")
            self.console.print(f"{mark} {self.header()} {result}")
        for line in self.notes:
            self.console.print(INDENT + line if line else "")


class Steps:
    """Numbers the steps of a run (`1/9 ...`) and shows each one's progress."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.number = 0

    @contextmanager
    def step(self, title: str) -> Iterator[Step]:
        self.number += 1
        step = Step(self.console, f"{self.number}/{self.total}", title)
        step.begin()
        ok = False
        try:
            with self.console.live(step.render):
                yield step
            ok = True
        finally:
            step.finish(ok)
