"""Progress of long commands: plain lines when the output is not a terminal."""

import io

from bench.progress import step


def test_plain_lines_name_the_step_and_how_far_it_is() -> None:
    stream = io.StringIO()
    with step("Cold start", 8, stream=stream) as advance:
        for _ in range(8):
            advance(1)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Cold start: started (8)"
    assert lines[1:4] == ["Cold start: 2/8", "Cold start: 4/8", "Cold start: 6/8"]
    assert lines[4].startswith("Cold start: done (8/8, ")
    assert len(lines) == 5


def test_a_terminal_gets_a_progress_bar() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with step("Warm overhead", 4, stream=stream) as advance:
        advance(4)
    assert "Warm overhead" in stream.getvalue()
    assert "4/4" in stream.getvalue()
    assert "started" not in stream.getvalue()
