"""References, the op log sink and runner settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nosana_node import units
from nosana_node.errors import ConfigError, SecretError
from nosana_node.flow.context import NoVaultResolver
from nosana_node.flow.logs import LogSink, read_log
from nosana_node.flow.refs import Resolver, context_ref, is_ref, result_ref
from nosana_node.secrets.masking import process_masker
from nosana_node.secrets.refs import SecretRef
from nosana_node.settings import RunnerSettings


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
    scope = process_masker().scope("test")
    resolver = Resolver(results.get, set(results), {"NOS_JOB_ADDRESS": "JobAddr"}, secrets, scope)
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
    assert process_masker().mask("x pa55word-resolve y") == "x [MASKED] y"  # registered in the scope
    scope.close()
    assert process_masker().mask("x pa55word-resolve y") == "x pa55word-resolve y"  # and forgotten with it


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


def test_units_parse_and_format() -> None:
    assert units.parse_size("512m") == 512 * units.MIB and units.parse_size("2GiB") == 2 * units.GIB
    assert units.parse_size("10") == 10 and units.parse_size(7) == 7 and units.parse_size("1.5k") == 1536
    assert units.parse_duration("90") == 90 and units.parse_duration("10m") == 600
    assert units.parse_duration("500ms") == 0.5 and units.parse_duration("1d") == 86400
    for bad, parser in (("lots", units.parse_size), ("soon", units.parse_duration), ("-1", units.parse_size)):
        with pytest.raises(ValueError, match=r"^a (size|duration) "):
            parser(bad)
    with pytest.raises(ValueError):
        units.parse_size(True)  # type: ignore[arg-type]
    assert units.size(4 * units.GIB) == "4 GiB" and units.size(1536) == "1536 bytes"
    assert units.duration(86400) == "1d" and units.duration(90) == "90s" and units.duration(600) == "10m"
    assert units.approx_size(512) == "512 B" and units.approx_size(1536) == "1.5 KiB"
    assert units.approx_size(1023 * units.GIB) == "1023.0 GiB"
    assert units.approx_size(units.TIB) == "1.0 TiB" and units.approx_size(3 << 50) == "3.0 PiB"
    assert units.approx_size(1000 * 1024**5) == "1000.0 PiB" and units.approx_size(2**64) == "16.0 EiB"
    assert (
        units.elapsed(1.234) == "1.23s" and units.elapsed(123.4) == "2m03.4s" and units.elapsed(None) == "-"
    )
    for value in (units.parse_size("3g"), 1536):  # what is written reads back the same
        assert units.parse_size(units.size(value).replace(" bytes", "").replace(" ", "")) == value


def test_settings_defaults_are_the_configuration_schema_defaults(tmp_path: Path) -> None:
    from nosana_node.config.schema import BY_KEY

    settings = RunnerSettings(home=tmp_path)
    assert settings.memory == BY_KEY["docker.memory"].default == 4 * units.GIB
    assert settings.job_timeout == BY_KEY["docker.timeout"].default == 3600
    assert settings.artifact_cap == BY_KEY["storage.max-artifact-size"].default
    assert (settings.pull_policy, settings.gpus, settings.network) == ("if-not-present", None, "isolated")
    with pytest.raises(ConfigError, match="pull policy"):
        RunnerSettings(home=tmp_path, pull_policy="sometimes")
    with pytest.raises(ConfigError, match="memory must be positive"):
        RunnerSettings(home=tmp_path, memory=0)
    assert RunnerSettings(home=tmp_path).describe()["home"] == str(tmp_path)
