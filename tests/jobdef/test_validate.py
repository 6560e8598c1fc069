"""Hand-made job definitions: each problem is one line with its place; valid ones give the model."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from nosana_node.jobdef import JobProblems, load, loads
from nosana_node.jobdef.schema import HFResource, OllamaResource, RunOp, S3BucketResource, VolumeOp
from tests.jobdef.conftest import minimal, write_json


def _refused(tmp_path: Path, data: Any, name: str = "job.json") -> list[str]:
    path = write_json(tmp_path, data, name)
    with pytest.raises(JobProblems) as caught:
        load(path)
    prefix = f"{path}:"
    assert all(line.startswith(prefix) for line in caught.value.lines)
    return [line.removeprefix(prefix) for line in caught.value.lines]


def _two_groups(**run_args: Any) -> dict[str, Any]:
    """A setter op in group ``pre`` with a result, then ``main`` reading whatever ``run_args`` say."""
    return {
        "version": "0.1",
        "type": "container",
        "global": {"variables": {"MODEL": "tiny"}},
        "ops": [
            {
                "type": "container/run",
                "id": "setter",
                "args": {"image": "ubuntu", "cmd": "echo port: 80"},
                "results": {"port": "(?<=port: ).*"},
                "execution": {"group": "pre"},
            },
            {
                "type": "container/run",
                "id": "main",
                "args": {"image": "ubuntu", **run_args},
                "execution": {"group": "main"},
            },
        ],
    }


def test_a_valid_definition_gives_the_model_and_plan(tmp_path: Path) -> None:
    data = _two_groups(
        env={
            "PORT": "%%ops.setter.results.port%%",
            "M": "%%global.variables.MODEL%%",
            "H": "%%ops.setter.host%%",
        },
        expose=[
            {
                "port": 8000,
                "health_checks": [
                    {
                        "type": "http",
                        "path": "/",
                        "method": "GET",
                        "expected_status": 200,
                        "continuous": False,
                    }
                ],
            },
            "9000-9010",
        ],
        resources=[
            {"type": "S3", "url": "s3://models/llama", "bucket": "models", "target": "/models"},
            {"type": "HF", "repo": "org/tiny", "target": "/hf"},
            {"type": "Ollama", "model": "qwen3:0.6b"},
        ],
    )
    job = load(write_json(tmp_path, data))
    assert job.format == "json"
    assert job.warnings == []
    _, main = job.definition.ops
    assert isinstance(main, RunOp)
    assert main.args.env == data["ops"][1]["args"]["env"]
    kinds = [type(r) for r in main.args.resources or []]
    assert kinds == [S3BucketResource, HFResource, OllamaResource]
    assert [(g.name, g.ops) for g in job.plan.groups] == [("pre", ("setter",)), ("main", ("main",))]
    assert job.plan.ends_before("setter", "main") and not job.plan.ends_before("main", "setter")


def test_literal_naming_an_unknown_op(tmp_path: Path) -> None:
    lines = _refused(tmp_path, _two_groups(env={"X": "%%ops.settr.results.port%%"}))
    assert lines == [
        "30:16: ops[1].args.env.X: %%ops.settr.results.port%%: no op with id 'settr' (did you mean 'setter'?)"
    ]


def test_literal_naming_an_unknown_result_variable_or_global(tmp_path: Path) -> None:
    data = _two_groups(
        cmd=[
            "%%ops.setter.results.prt%%",
            "%%global.variables.MODL%%",
            "%%global.jb%%",
            "%%ops.main.status%%",
        ]
    )
    lines = _refused(tmp_path, data)
    assert len(lines) == 4
    assert (
        "ops[1].args.cmd[0]: %%ops.setter.results.prt%%: op 'setter' has no result 'prt'"
        " (did you mean 'port'?)" in lines[0]
    )
    assert (
        "ops[1].args.cmd[1]: %%global.variables.MODL%%: no global variable 'MODL' (did you mean 'MODEL'?)"
        in lines[1]
    )
    assert "ops[1].args.cmd[2]: unknown literal '%%global.jb%%'" in lines[2]
    assert "ops[1].args.cmd[3]: unknown literal '%%ops.main.status%%'" in lines[3]


def test_results_of_an_op_of_the_same_group_are_not_known_yet(tmp_path: Path) -> None:
    data = _two_groups(env={"P": "%%ops.setter.results.port%%"})
    data["ops"][1]["execution"] = {"group": "pre", "depends_on": ["setter"]}
    (line,) = _refused(tmp_path, data)
    assert "op 'setter' runs in the same group as 'main'; its results are known only when it ends" in line
    # a host is known from the start: reading it from the same group is fine
    data["ops"][1]["args"]["env"] = {"P": "%%ops.setter.host%%"}
    assert load(write_json(tmp_path, data)).definition.ops[1].id == "main"


def test_dependency_cycle_self_unknown_and_cross_group(tmp_path: Path) -> None:
    data = minimal()
    run = data["ops"][0]
    data["ops"] = [
        {**copy.deepcopy(run), "id": "a", "execution": {"group": "g", "depends_on": ["b"]}},
        {**copy.deepcopy(run), "id": "b", "execution": {"group": "g", "depends_on": ["a"]}},
    ]
    (line,) = _refused(tmp_path, data)
    assert line.endswith("ops[0].execution.depends_on: dependency cycle: a → b → a")

    data["ops"][1]["execution"] = {"group": "g", "depends_on": ["b", "zz"]}
    data["ops"].append({**copy.deepcopy(run), "id": "c", "execution": {"group": "h", "depends_on": ["a"]}})
    lines = _refused(tmp_path, data)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "ops[1].execution.depends_on[0]: op 'b' cannot depend on itself",
        "ops[1].execution.depends_on[1]: no op with id 'zz'",
        "ops[2].execution.depends_on[0]: 'a' is in group 'g', not 'h': dependencies must be in the same group"
        " (groups already run in order)",
    ]


def test_stop_if_dependent_stops_needs_depends_on(tmp_path: Path) -> None:
    data = minimal()
    data["ops"][0]["execution"] = {"stop_if_dependent_stops": True}
    (line,) = _refused(tmp_path, data)
    assert "ops[0].execution.stop_if_dependent_stops: only allowed together with 'depends_on'" in line


@pytest.mark.parametrize(
    ("expose", "message"),
    [
        (70000, "ops[0].args.expose: port 70000 is out of range (1-65535)"),
        ([0], "ops[0].args.expose[0]: port 0 is out of range (1-65535)"),
        ("9000-8000", "ops[0].args.expose: port range '9000-8000' must have 1 <= start < end <= 65535"),
        ("80-70000", "ops[0].args.expose: port range '80-70000' must have 1 <= start < end <= 65535"),
        ([8000, 8000], "ops[0].args.expose[1]: port 8000 is exposed twice (also at ops[0].args.expose[0])"),
        (["8000-8010", "8005-8020"], "ops[0].args.expose[1]: port range 8005-8020 overlaps 8000-8010"),
        ([{"port": 8005}, "8000-8010"], "ops[0].args.expose[0]: port 8005 falls within range 8000-8010"),
        ([80.5], "ops[0].args.expose[0]: expected an integer, got a number (80.5)"),
        ("http", "ops[0].args.expose: expected a port, a range 'start-end' or a literal '%%…%%', got 'http'"),
        ({"port": 80}, "ops[0].args.expose: a {port, …} mapping must be inside a list: expose: [{port: …}]"),
    ],
)
def test_ports_out_of_range_or_overlapping(tmp_path: Path, expose: Any, message: str) -> None:
    data = minimal()
    data["ops"][0]["args"]["expose"] = expose
    lines = _refused(tmp_path, data)
    assert len(lines) == 1, lines
    assert message in lines[0]


def test_adjacent_ranges_and_literals_are_fine(tmp_path: Path) -> None:
    data = minimal()
    data["ops"][0]["args"]["expose"] = ["8000-8010", "8011-8020", 9000, "%%global.variables.PORT%%"]
    data["global"] = {"variables": {"PORT": "80"}}
    assert load(write_json(tmp_path, data)).warnings == []


def test_every_problem_at_once_in_file_order_with_yaml_positions(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        "version: '0.1'\n"
        "type: containr\n"
        "ops:\n"
        "  - type: container/rn\n"
        "    id: a\n"
        "    args: {image: x}\n"
        "  - type: container/run\n"
        "    id: b\n"
        "    args:\n"
        "      image: x\n"
        "      gpu: null\n"
        "      enviroment: {A: b}\n"
        "      env: {A: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(JobProblems) as caught:
        load(path)
    assert [line.removeprefix(f"{path}:") for line in caught.value.lines] == [
        "2:7: type: must be 'container', got the string 'containr' (did you mean 'container'?)",
        "4:11: ops[0].type: must be 'container/run' or 'container/create-volume', got the string"
        " 'container/rn' (did you mean 'container/run'?)",
        "11:12: ops[1].args.gpu: must not be null (leave the key out instead)",
        "12:7: ops[1].args.enviroment: unknown key 'enviroment' (the format calls it 'env')",
        "13:16: ops[1].args.env.A: expected a string, got a number (1) (quote it to make it a string)",
    ]


def test_ids_repeated_empty_or_with_spaces(tmp_path: Path) -> None:
    data = minimal()
    run = data["ops"][0]
    data["ops"] = [run, copy.deepcopy(run), {**copy.deepcopy(run), "id": ""}]
    lines = _refused(tmp_path, data)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "ops[1].id: duplicate op id 'run' (first used on line 7)",
        "ops[2].id: must not be empty",
    ]
    data["ops"] = [{**run, "id": "my op"}]
    job = load(write_json(tmp_path, data))
    assert [w.message for w in job.warnings] == [
        "op id 'my op' contains whitespace: literals cannot name it (@nosana/types refuses it)"
    ]


def test_volumes_must_be_made_by_an_earlier_create_volume_op(tmp_path: Path) -> None:
    data = minimal()
    data["ops"][0]["args"]["volumes"] = [{"name": "data", "dest": "/data"}]
    (line,) = _refused(tmp_path, data)
    assert "ops[0].args.volumes[0].name: no container/create-volume op makes 'data'" in line
    data["ops"].append({"type": "container/create-volume", "id": "vol", "args": {"name": "data"}})
    (line,) = _refused(tmp_path, data)
    assert "volume 'data' is made by op 'vol', which does not run before 'run'" in line
    data["ops"].insert(0, data["ops"].pop())
    job = load(write_json(tmp_path, data))
    assert isinstance(job.definition.ops[0], VolumeOp)
    data["ops"][1]["args"]["volumes"] = [{"name": "data", "dest": "/a"}, {"name": "data", "dest": "/b"}]
    (line,) = _refused(tmp_path, data)
    assert "ops[1].args.volumes: at most one volume per op (@nosana/sdk 0.4.69 takes exactly one)" in line


def test_args_must_fit_the_op_type(tmp_path: Path) -> None:
    data = minimal()
    data["ops"][0]["type"] = "container/create-volume"
    lines = _refused(tmp_path, data)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "ops[0].args.name: missing required key 'name'",
        "ops[0].args.image: unknown key 'image'",
    ]


def test_resources_shapes(tmp_path: Path) -> None:
    """Shape problems come first; the rules across the document run once the shape is right."""
    data = minimal()
    data["ops"][0]["args"]["resources"] = [
        {"type": "huggingface", "url": "https://huggingface.co/x", "target": "/m"},
        {"type": "Ollama"},
        {"type": "HF", "repo": "a/b", "target": "/m", "allowWrite": True},
    ]
    lines = _refused(tmp_path, data)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "ops[0].args.resources[0].type: must be 'S3', got the string 'huggingface'",
        "ops[0].args.resources[1].model: missing required key 'model'",
        "ops[0].args.resources[2].allowWrite: unknown key 'allowWrite'",
    ]
    data["ops"][0]["args"]["resources"] = [
        {"type": "S3", "target": "/m"},
        {"type": "HF", "repo": "a/b", "target": "models"},
        "__remove-if-empty__",
        {"__spread__": "%%global.variables.R%%"},
    ]
    data["global"] = {"variables": {"R": "[]"}}
    lines = _refused(tmp_path, data)
    assert [line.split(": ", 1)[1] for line in lines] == [
        "ops[0].args.resources[0]: an S3 resource needs 'url' (or 'bucket' with 'url', or 'buckets')",
        "ops[0].args.resources[1].target: must be an absolute path, got 'models'",
    ]


def test_json_syntax_errors_and_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text('{\n  "version": "0.1",\n  "type": "container"\n  "ops": []\n}\n', encoding="utf-8")
    with pytest.raises(JobProblems) as caught:
        load(path)
    assert str(caught.value) == f"{path}:4:3: JSON syntax error: expected ',' or '}}'"
    path.write_text(
        '{"version": "0.1", "type": "container", "type": "container", "ops": []}', encoding="utf-8"
    )
    job = load(path)
    assert [str(w) for w in job.warnings] == [
        f"{path}:1:41: type: duplicate key 'type': the last value counts",
        f"{path}:1:69: ops: no ops: nothing will run",
    ]


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("", "job.json", "1:1: empty file: expected a job definition (JSON)"),
        ("# nothing\n", "job.yaml", "1:1: empty file: expected a job definition (YAML)"),
        ("[1, 2]", "job.json", "1:1: expected a mapping with 'version', 'type' and 'ops', got a list"),
        ('{"a": "\\x"}', "job.json", "1:8: JSON syntax error: invalid \\escape"),
        ('{"a": tru}', "job.json", "1:7: JSON syntax error: expected a value, got 't'"),
        ("{} {}", "job.json", "1:4: JSON syntax error: unexpected text after the JSON value"),
        ("a: [\n", "job.yaml", "2:1: YAML syntax error"),
        ("[" * 100, "job.json", "JSON syntax error: nested too deeply (over 64 levels)"),
    ],
)
def test_unreadable_input_is_one_line(tmp_path: Path, text: str, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(JobProblems) as caught:
        load(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_format_follows_the_extension_else_the_content(tmp_path: Path) -> None:
    text = '{"version": "0.1", "type": "container", "ops": []}'
    for name, fmt in (("a.json", "json"), ("a.yml", "yaml"), ("a.yaml", "yaml"), ("a", "json")):
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert load(tmp_path / name).format == fmt
    (tmp_path / "b").write_text("version: '0.1'\ntype: container\nops: []\n", encoding="utf-8")
    assert load(tmp_path / "b").format == "yaml"


def test_loads_from_memory() -> None:
    job = loads('{"version": "0.1", "type": "container", "ops": []}', name="ipfs:Qm")
    assert job.document.file == "ipfs:Qm"
    with pytest.raises(JobProblems) as caught:
        loads('{"version": 1}', name="ipfs:Qm")
    assert caught.value.lines == [
        "ipfs:Qm:1:1: ops: missing required key 'ops'",
        "ipfs:Qm:1:1: type: missing required key 'type'",
        "ipfs:Qm:1:13: version: expected a string, got a number (1) (quote it to make it a string)",
    ]


def test_system_requirements_are_read_and_checked(tmp_path: Path) -> None:
    data = minimal(
        meta={"trigger": "cli", "system_requirements": {"required_vram": 8, "required_cuda": ["12.8"]}}
    )
    meta = load(write_json(tmp_path, data)).definition.meta
    assert meta is not None and meta.system_requirements is not None
    assert meta.system_requirements.required_vram == 8
    data["meta"]["system_requirements"] = {"required_vram": -1, "required_cuda": "twelve", "gpus": 2}
    path = write_json(tmp_path, data)
    with pytest.raises(JobProblems) as caught:
        load(path)
    assert [p.message for p in caught.value.problems if not p.warning] == [
        "must not be negative, got -1",
        "expected a CUDA version like '12.8', got 'twelve'",
    ]
    assert [w.message for w in caught.value.warnings] == ["unknown requirement 'gpus'; ignored"]
