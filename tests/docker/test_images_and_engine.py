"""Pull policies (no registry is reachable here) and an engine that does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from nosana_node.docker.images import ImageUnavailableError
from tests.corekit import IMAGE, cli, no_traceback, pipeline, run_pipeline, write

pytestmark = pytest.mark.docker
MISSING = "localhost/nosana-does-not-exist:never"


def test_present_image_is_used_without_pulling(home: Path) -> None:
    flow = run_pipeline(home, pipeline("  - name: a\n    commands: [echo ok]\n"), pull_policy="never")
    assert flow.status == "succeeded"


@pytest.mark.parametrize(
    ("policy", "image", "message"),
    [
        ("never", MISSING, f"image '{MISSING}' is not present and the pull policy is 'never'"),
        ("if-not-present", MISSING, f"cannot pull image '{MISSING}': "),
        ("always", IMAGE, f"cannot pull image '{IMAGE}': "),  # present, but 'always' must pull
    ],
)
def test_an_image_that_cannot_be_had_stops_everything_first(
    home: Path, policy: str, image: str, message: str
) -> None:
    text = pipeline(
        "  - name: first\n    commands: [echo ok]\n"
        f"  - name: second\n    image: {image}\n    commands: [echo ok]\n"
    )
    with pytest.raises(ImageUnavailableError) as info:
        run_pipeline(home, text, pull_policy=policy)
    assert str(info.value).startswith(message)
    assert info.value.exit_code == 2
    assert not list(home.glob("flows/*")), "nothing may run or be stored"


def test_cli_missing_image_exit_2_one_line(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, pipeline(f"  - name: a\n    image: {MISSING}\n    commands: [echo ok]\n"))
    proc = cli("pipeline", "run", str(path), "--pull", "never", home=home)
    assert proc.returncode == 2
    assert proc.stderr == f"error: image '{MISSING}' is not present and the pull policy is 'never'\n"
    assert "▶" not in proc.stdout


def test_cli_engine_unavailable_one_line(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, pipeline("  - name: a\n    commands: [echo ok]\n"))
    proc = cli("pipeline", "run", str(path), "--docker-url", f"unix://{tmp_path}/no.sock", home=home)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith(
        f"error: no Docker engine answers at unix://{tmp_path}/no.sock: No such file or directory"
    )
    assert no_traceback(proc.stderr)
