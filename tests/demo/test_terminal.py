"""The demo's terminal output: when colours and the live region are used, and plain-text layout."""

from __future__ import annotations

import io
import re

import pytest

from demo.terminal import Console, Steps, pad, truncate, visible_len

RED_X = "\x1b[31mx\x1b[0m"


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "environ", "color", "live"),
    [
        (True, {}, True, True),
        (True, {"NO_COLOR": "1"}, False, True),
        (True, {"TERM": "dumb"}, False, False),
        (False, {}, False, False),
    ],
    ids=["terminal", "terminal-with-no-color", "dumb-terminal", "pipe"],
)
def test_detect_uses_colours_and_live_output_only_where_they_belong(
    tty: bool, environ: dict[str, str], color: bool, live: bool
) -> None:
    console = Console.detect(FakeTty() if tty else io.StringIO(), environ)

    assert (console.color, console.is_live) == (color, live)


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [("abc", 5, "abc  "), (RED_X, 3, RED_X + "  "), ("abcdef", 2, "abcdef")],
    ids=["plain", "coloured-text-pads-by-visible-width", "too-long-is-left-alone"],
)
def test_pad_counts_visible_columns(text: str, width: int, expected: str) -> None:
    assert pad(text, width) == expected


def test_truncate_keeps_colour_codes_and_resets_at_the_cut() -> None:
    cut = truncate("\x1b[32mgreen text\x1b[0m", 5)

    assert visible_len(cut) == 5
    assert cut == "\x1b[32mgreen\x1b[0m"


def test_a_piped_step_prints_its_header_result_and_notes_as_plain_lines() -> None:
    out = io.StringIO()
    steps = Steps(Console(out, color=False, live=False), total=2)

    with steps.step("Doing a thing") as step:
        step.note("a detail")

    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"1/2 Doing a thing \.+ ok \(\d+\.\ds\)", lines[0])
    assert lines[1:] == ["    a detail"]


def test_progress_lines_end_the_header_and_the_result_follows_them() -> None:
    out = io.StringIO()
    steps = Steps(Console(out, color=False, live=False), total=1)

    with pytest.raises(RuntimeError), steps.step("Watching") as step:
        step.emit("something happened")
        raise RuntimeError("boom")

    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"1/1 Watching \.+", lines[0])
    assert lines[1] == "    something happened"
    assert re.fullmatch(r"    failed \(\d+\.\ds\)", lines[2])


def test_a_live_step_erases_its_region_and_leaves_the_final_line() -> None:
    out = FakeTty()
    steps = Steps(Console(out, color=False, live=True), total=1)

    with steps.step("Live") as step:
        step.body = lambda: ["row one", "row two"]
        steps.console.refresh()

    text = out.getvalue()
    assert "row two" in text, "the body is drawn while the step runs"
    assert "\x1b[2A\x1b[J" in text, "three drawn lines are erased by moving up two"
    assert re.search(r"✓ 1/1 Live \.+ ok \(\d+\.\ds\)\n$", text)
    assert text.count("\x1b[?25l") == text.count("\x1b[?25h") == 1
