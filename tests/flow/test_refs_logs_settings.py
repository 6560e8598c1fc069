"""References, the op log sink and runner settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nosana_node.errors import ConfigError, SecretError
from nosana_node.flow.context import NoVaultResolver
from nosana_node.flow.logs import LogSink, read_log
from nosana_node.flow.refs import Resolver, context_ref, is_ref, result_ref
from nosana_node.secrets.masking import process_masker
from nosana_node.secrets.refs import SecretRef
from nosana_node.settings import RunnerSettings, parse_duration, parse_gpus, parse_size


class StaticSecrets:
    """An in-memory SecretResolver for tests (stands in for the vault, which is not part of this area)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: list[str] = []

    def resolve(self, ref: SecretRef) -> str:
        self.asked.append(str(ref))
        try:
            return self.values[str(ref)]
        except KeyError:
            raise SecretError(f"secret {ref} not found") from None


def test_resolution_of_each_reference_kind() -> None:
    results = {"build": {"artifacts": {"dist": {"digest": "sha256:x"}}}, "a.b": {"k": "dotted"}}
    secrets = StaticSecrets({"db#password": "pa55word-resolve"})
    resolver = Resolver(results.get, set(results), {"NOS_JOB_ADDRESS": "JobAddr"}, secrets)
    args = {
        "env": {
            "PASS": SecretRef("db", "password").to_json(),
            "JOB": context_ref("NOS_JOB_ADDRESS"),
            "COMMIT": context_ref("NOS_COMMIT_SHA"),
        },
        "res": [result_ref("build", "artifacts", "dist"), {"$result": "a.b.k"}, result_ref("build", "nope")],
        "plain": {"$secret": 3},
    }
    resolved = resolver.resolve(args)
    assert resolved["env"] == {"PASS": "pa55word-resolve", "JOB": "JobAddr", "COMMIT": None}
    assert resolved["res"] == [{"digest": "sha256:x"}, "dotted", None]
    assert resolved["plain"] == {"$secret": 3}  # not a reference: left alone
    assert args["env"]["PASS"] == {"$secret": "db#password"}  # the flow's own copy stays symbolic
    assert process_masker().mask("x pa55word-resolve y") == "x [MASKED] y"


def test_is_ref() -> None:
    assert is_ref({"$secret": "a"}) and is_ref({"$context": "A"}) and is_ref({"$result": ["a", "b"]})
    assert not is_ref({"$result": []}) and not is_ref({"$secret": "a", "x": 1}) and not is_ref("$secret")


def test_default_resolver_fails_naming_the_reference() -> None:
    with pytest.raises(SecretError, match=r"^no vault configured for secret db/creds#user$"):
        NoVaultResolver().resolve(SecretRef("db/creds", "user"))


def test_log_sink_masks_across_chunks_and_decodes_split_characters(tmp_path: Path) -> None:
    secret = "split-across-chunks-secret"
    process_masker().add(secret)
    seen: list[tuple[str, str]] = []
    sink = LogSink(tmp_path / "log.jsonl", cap=10_000, forward=lambda s, t: seen.append((s, t)))
    sink.write("stdout", b"value: split-across-")
    sink.write("stdout", b"chunks-secret done \xc3")
    sink.write("stdout", b"\xa9t\xc3\xa9\n")
    sink.write("stderr", b"warning\n")
    summary = sink.close()
    stdout = "".join(t for s, t in seen if s == "stdout")
    assert stdout == "value: [MASKED] done \u00e9t\u00e9\n"
    records = list(read_log(tmp_path / "log.jsonl"))
    assert {s for _, s, _ in records} == {"stdout", "stderr"}
    assert secret not in (tmp_path / "log.jsonl").read_text()
    assert summary["truncated"] is False and summary["received"] == 53
    assert summary["excerpt"].endswith("warning")


def test_log_sink_truncates_with_one_marker_and_keeps_counting(tmp_path: Path) -> None:
    sink = LogSink(tmp_path / "log.jsonl", cap=100)
    for _ in range(50):
        sink.write("stdout", b"0123456789\n")
    summary = sink.close()
    records = list(read_log(tmp_path / "log.jsonl"))
    kept = "".join(t for _, s, t in records if s == "stdout")
    assert len(kept.encode()) == 100 and kept.startswith("0123456789\n")
    markers = [t for _, s, t in records if s == "node"]
    assert len(markers) == 1 and "log truncated" in markers[0]
    assert summary == {**summary, "truncated": True, "kept": 100, "received": 550}
    assert json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])["t"] > 0


def test_parsers() -> None:
    assert (
        parse_size("512m") == 512 * 1024**2 and parse_size("2GiB") == 2 * 1024**3 and parse_size("10") == 10
    )
    assert parse_duration("90") == 90 and parse_duration("10m") == 600 and parse_duration("500ms") == 0.5
    assert (
        parse_gpus("all") == -1
        and parse_gpus("2") == 2
        and parse_gpus("none") is None
        and parse_gpus(None) is None
    )
    for bad, parser in (("lots", parse_size), ("soon", parse_duration), ("many", parse_gpus)):
        with pytest.raises(ConfigError):
            parser(bad)


def test_settings_defaults_env_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOSANA_HOME", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    default = RunnerSettings.from_env()
    assert default.home == Path.home() / ".nosana-node"
    assert (default.pull_policy, default.gpus, default.network) == ("if-not-present", None, "bridge")
    monkeypatch.setenv("NOSANA_HOME", str(tmp_path / "env-home"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/other.sock")
    from_env = RunnerSettings.from_env(cpus=None)
    assert from_env.home == tmp_path / "env-home" and from_env.docker_url == "unix:///tmp/other.sock"
    flagged = RunnerSettings.from_env(home=tmp_path / "flag-home", cpus=0.5)
    assert flagged.home == tmp_path / "flag-home" and flagged.cpus == 0.5
    assert flagged.with_overrides(pids=10, memory=None).pids == 10
    with pytest.raises(ConfigError, match="pull policy"):
        RunnerSettings(pull_policy="sometimes")
    with pytest.raises(ConfigError, match="memory must be positive"):
        RunnerSettings(memory=0)
    assert RunnerSettings(home=tmp_path).describe()["home"] == str(tmp_path)
