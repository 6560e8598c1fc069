"""End to end: a long secret from a real OpenBao, printed by ``base64`` in a busybox job on the real
engine, wrapped at 76 columns (and at 64, and inside ``base64("user:" + secret)``, and line by
line with pauses so each line arrives in its own chunk, on stdout and stderr).

Every line of the wrapped form is masked in the live output, the ``--json`` result, `flow show
--logs`, the stored logs and the state database; no line of it is found anywhere under the
node's home.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.corekit import IMAGE, home  # noqa: F401 - `home` is a fixture
from tests.vault.bao import BaoServer

pytestmark = [pytest.mark.openbao, pytest.mark.docker]

#: 190 bytes: three lines and a bit once base64 wraps it at 76 columns
LONG = "-----BEGIN-----" + secrets.token_urlsafe(130) + "-----END-----"
SHORT = "p@ss-" + secrets.token_hex(27)  # 59 bytes: just over one line (57 bytes encode to 76)

PIPELINE = f"""
global:
  image: {IMAGE}
  environment:
    LONG: {{type: nos/vault, value: keys#long}}
    SHORT: {{type: nos/vault, value: keys#short}}
jobs:
  - name: wrap
    commands:
      - printf %s "$LONG" | base64
      - printf %s "$SHORT" | base64
      - printf %s "$LONG" | base64 -w 64 >&2
      - printf %s "user:$LONG" | base64
      - printf %s "$LONG" | base64 | while read -r line; do echo "$line"; sleep 0.2; done
      - echo done
"""


def wrapped_lines(value: str, width: int = 76, before: bytes = b"") -> list[str]:
    encoded = base64.b64encode(before + value.encode()).decode()
    return [encoded[i : i + width] for i in range(0, len(encoded), width)]


def job_lines(text: str, mark: str = "|") -> list[str]:
    head = f"wrap {mark} "
    return [line.removeprefix(head) for line in text.splitlines() if line.startswith(head)]


def check_masked(lines: list[str], where: str) -> None:
    """The job's output lines, as shown: each line of a wrapped secret is masked."""
    body = [line for line in lines if not line.startswith("$ ")]
    assert body[-1] == "done", (where, body)
    long_lines = len(wrapped_lines(LONG))
    short_lines = len(wrapped_lines(SHORT))
    auth = wrapped_lines(LONG, before=b"user:")
    expected = ["[MASKED]"] * long_lines + ["[MASKED]"] * short_lines
    plain = body[: long_lines + short_lines]
    assert plain == expected, (where, plain)
    basic = body[long_lines + short_lines : long_lines + short_lines + len(auth)]
    assert basic[0] == auth[0][:7] + "[MASKED]", (where, basic)  # "user:" stays, the rest goes
    assert basic[1:-1] == ["[MASKED]"] * (len(auth) - 2), (where, basic)
    assert re.fullmatch(r"\[MASKED\][A-Za-z0-9+/]?=*", basic[-1]), (where, basic)
    paced = body[long_lines + short_lines + len(auth) : -1]
    assert paced == ["[MASKED]"] * long_lines, (where, paced)


def test_every_line_of_wrapped_base64_is_masked(
    bao: BaoServer,
    prefix: str,
    tmp_path: Path,
    home: Path,  # noqa: F811 - fixture
) -> None:
    assert len(LONG) > 57 * 3 and 57 < len(SHORT) < 76
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/keys", secret={"long": LONG, "short": SHORT}
    )
    cfg = tmp_path / "config.edn"
    cfg.write_text(
        f'{{:vault {{:backend :openbao :address "{bao.addr}" :token #env NODE_VAULT_TOKEN'
        f' :path-prefix "{prefix}"}}}}'
    )
    pipeline = tmp_path / "wrap.yml"
    pipeline.write_text(PIPELINE)
    env = {"NOSANA_HOME": str(home), "NODE_VAULT_TOKEN": bao.root_token}

    live = run_cli("--config", str(cfg), "pipeline", "run", str(pipeline), env=env)
    assert live.returncode == 0, live.stdout + live.stderr
    check_masked(job_lines(live.stdout), "live output")
    assert job_lines(live.stdout, "!") == ["[MASKED]"] * len(wrapped_lines(LONG, 64))

    again = run_cli("--config", str(cfg), "pipeline", "run", "--fresh", "--json", str(pipeline), env=env)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    excerpt = result["jobs"][0]["log"]["excerpt"]
    assert excerpt.endswith("\n".join(["[MASKED]"] * len(wrapped_lines(LONG)) + ["$ echo done", "done"]))
    check_masked(job_lines(again.stderr), "--json run, live on stderr")

    show = run_cli("flow", "show", result["flow_id"], "--logs", env=env)
    assert show.returncode == 0
    shown = [line.removeprefix("    | ") for line in show.stdout.splitlines() if line.startswith("    | ")]
    check_masked(shown, "flow show --logs")

    # nothing of the wrapped forms anywhere: outputs, logs, state database, artifacts
    leaks = {
        *wrapped_lines(LONG),
        *wrapped_lines(SHORT),
        *wrapped_lines(LONG, 64),
        *wrapped_lines(LONG, before=b"user:")[1:],
    }
    leaks = {line for line in leaks if len(line) >= 8}  # a 2-character tail could occur by chance
    texts = {"live": live.stdout + live.stderr, "json": again.stdout + again.stderr, "show": show.stdout}
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "state.db" for p in files) and any(p.suffix == ".jsonl" for p in files)
    for line in leaks:
        for name, text in texts.items():
            assert line not in text, f"a line of a wrapped secret in {name}"
        for path in files:
            assert line.encode() not in path.read_bytes(), f"a line of a wrapped secret in {path}"
