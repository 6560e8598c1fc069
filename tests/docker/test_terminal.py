"""The operator's terminal: a hostile job name and hostile job output on the real engine.

The job's name (from the pipeline file) and its output carry a clear-screen, a cursor move, a
window title, an OSC 52 clipboard write, a bell, a carriage return and a right-to-left override.
In plain output (a pipe) none of it reaches the reader as a control character: each is shown
escaped and colours are dropped. On a terminal (a real pseudo-terminal, rich's display) colours
stay and the rest is escaped. `flow show --logs` follows the same rules. The stored log keeps the
bytes exactly as the job wrote them.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.corekit import CLI, IMAGE, cli, job_log, run_pipeline, write

pytestmark = pytest.mark.docker

NAME = r"evil\e]0;pwned\a\e[2J"  # YAML double-quoted escapes: ESC ] 0 ; pwned BEL ESC [ 2 J
COMMANDS = [
    r"printf 'A\033[2J\033[Hb\033]0;owned\007c\033]52;c;SGVsbG8=\007d\033[31mred\033[0m\n'",
    r"printf 'cr\rX bell\007 rtl\342\200\256x\n' >&2",
    r"printf 'last line without newline \033[1mbold'",
]


def hostile_pipeline() -> str:
    """The pipeline: one job, hostile name, commands printing hostile sequences."""
    lines = [f'global:\n  image: {IMAGE}\njobs:\n  - name: "{NAME}"\n    commands:\n']
    for command in COMMANDS:
        quoted = command.replace("'", "''")
        lines.append(f"      - '{quoted}'\n")
    return "".join(lines)


#: Control characters that must never reach a plain reader (anything but tab and newline).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")


def run_in_pty(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, bytes]:
    """Run the real CLI with a pseudo-terminal as stdout and stderr; returns (exit code, bytes)."""
    main, side = pty.openpty()
    proc = subprocess.Popen(args, stdout=side, stderr=side, stdin=subprocess.DEVNULL, env=env)
    os.close(side)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(main, 65536)
            except OSError:  # the other side closed: the process ended
                break
            if not data:
                break
            out += data
        return proc.wait(timeout=30), bytes(out)
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_plain_output_escapes_every_control_and_the_log_keeps_the_bytes(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, hostile_pipeline())
    proc = cli("pipeline", "run", str(path), home=home)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert not CONTROL.search(out), [m.group() for m in CONTROL.finditer(out)][:5]
    job = r"evil\x1b]0;pwned\x07\x1b[2J"
    assert f"▶ {job} (" in out and f"✔ {job} succeeded" in out
    assert rf"{job} | A\x1b[2J\x1b[Hb\x1b]0;owned\x07c\x1b]52;c;SGVsbG8=\x07dred" in out  # colour dropped
    assert rf"{job} ! cr\x0dX bell\x07 rtl\u202ex" in out
    assert f"{job} | last line without newline bold" in out

    shown = cli("flow", "show", "--logs", out.split()[1], home=home)
    assert shown.returncode == 0 and not CONTROL.search(shown.stdout)
    assert r"| A\x1b[2J\x1b[Hb\x1b]0;owned\x07c\x1b]52;c;SGVsbG8=\x07dred" in shown.stdout
    assert r"! cr\x0dX bell\x07 rtl\u202ex" in shown.stdout
    assert "| last line without newline bold" in shown.stdout
    assert r"evil\x1b]0;pwned\x07\x1b[2J [docker/run] succeeded" in shown.stdout

    listed = cli("flow", "list", home=home)
    assert not CONTROL.search(listed.stdout)
    checked = cli("pipeline", "validate", str(path))
    assert checked.returncode == 0 and not CONTROL.search(checked.stdout)
    assert rf"valid · 1 job: {job}" in checked.stdout


def test_stored_log_keeps_the_bytes(home: Path) -> None:
    flow = run_pipeline(home, hostile_pipeline())
    job = flow.ops[-1].id
    assert job == "evil\x1b]0;pwned\x07\x1b[2J"
    stdout = job_log(flow, job, "stdout")
    assert "A\x1b[2J\x1b[Hb\x1b]0;owned\x07c\x1b]52;c;SGVsbG8=\x07d\x1b[31mred\x1b[0m\n" in stdout
    assert stdout.endswith("last line without newline \x1b[1mbold")
    assert "cr\rX bell\x07 rtl\u202ex\n" in job_log(flow, job, "stderr")


def test_terminal_keeps_colours_and_nothing_else(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, hostile_pipeline())
    env = {**os.environ, "NOSANA_HOME": str(home), "COLUMNS": "250", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    code, raw = run_in_pty([CLI, "pipeline", "run", str(path)], env)
    assert code == 0, raw.decode(errors="replace")[-2000:]
    for bad in (b"\x1b]", b"\x07", b"\x1b[2J", b"\x1b[H", b"\x1b[1;1H", b"\xe2\x80\xae", b"cr\rX"):
        assert bad not in raw, bad
    text = raw.decode()
    assert "\x1b[31mred" in text  # the job's colour, rendered by the display
    assert r"\x1b]52;c;SGVsbG8=\x07" in text and r"\x1b[2J\x1b[H" in text and r"\u202e" in text
    flow_id = re.search(r"flow ([0-9a-f]{12})", text)
    assert flow_id
    code, raw = run_in_pty([CLI, "flow", "show", "--logs", flow_id.group(1)], env)
    assert code == 0
    for bad in (b"\x1b]", b"\x07", b"\x1b[2J", b"\x1b[H", b"\xe2\x80\xae"):
        assert bad not in raw, bad
    assert b"\x1b[31mred\x1b[0m" in raw and rb"\x1b]52;c;SGVsbG8=\x07" in raw


def test_a_line_without_end_is_cut_on_screen_whole_in_the_log(tmp_path: Path, home: Path) -> None:
    """3 MB without a newline: the live display shows the first 16 Ki characters and says it cut
    the line; the next line is shown normally; the stored log holds every byte."""
    from nosana_node.cli.display import LINE_CAP, cut_marker

    path = write(
        tmp_path,
        f"global:\n  image: {IMAGE}\njobs:\n  - name: flood\n    commands:\n"
        "      - 'head -c 3000000 /dev/zero | tr \"\\0\" x; echo; echo after'\n",
    )
    proc = cli("pipeline", "run", str(path), "--log-cap", "8m", home=home)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    cut = [line for line in lines if line.startswith("flood | xxx")]
    assert cut == ["flood | " + "x" * LINE_CAP + cut_marker(LINE_CAP)]
    assert "flood | after" in lines
    shown = cli("flow", "show", "--logs", lines[0].split()[1], home=home)
    assert "    | " + "x" * 3_000_000 in shown.stdout.splitlines()
