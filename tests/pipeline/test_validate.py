"""Schema and cross-job validation: every problem, with position, key path and a suggestion."""

from __future__ import annotations

import pytest

from nosana_node.pipeline.loader import load_text
from nosana_node.pipeline.problems import ProblemList
from nosana_node.pipeline.schema import Pipeline, SecretValue
from nosana_node.pipeline.validate import allowed_keys, validate


def problems(text: str, strict: bool = False) -> list[str]:
    with pytest.raises(ProblemList) as info:
        validate(load_text(text, "p.yml"), strict=strict)
    return info.value.lines


def valid(text: str) -> Pipeline:
    return validate(load_text(text, "p.yml"))


def warnings(text: str) -> list[str]:
    doc = load_text(text, "p.yml")
    validate(doc)
    return [str(w) for w in doc.warnings]


MINIMAL = "global: {image: busybox}\njobs:\n  - name: a\n    commands: [echo hi]\n"


def test_minimal_pipeline_is_valid() -> None:
    pipeline = valid(MINIMAL)
    assert pipeline.global_.image == "busybox"
    assert pipeline.jobs[0].commands == ["echo hi"]


def test_full_spec_example_is_valid() -> None:
    pipeline = valid(
        """\
nosana:
  description: Build and test
global:
  image: node:18
  trigger:
    branch: ["main"]
    push: {branches: [main], tags: [v1]}
  environment:
    APP_ENV: production
    PORT: 8080
    DEBUG: false
    DB_PASSWORD: {type: nos/vault, value: db/password}
  secrets: [NPM_TOKEN]
  allow_failure: false
  image_pull_secrets:
    url: registry.example.com
    username: u
    password: {type: nos/vault, value: registry/password}
jobs:
  - name: install
    image: node:18
    environment: {CI: "true"}
    secrets: [NPM_TOKEN]
    work_dir: /root/project
    allow_failure: false
    commands:
      - npm ci
      - cmd: npm run lint
        working_dir: packages/app
        allow_failure: true
    artifacts:
      - {name: node_modules, path: ./node_modules/}
  - name: test
    resources:
      - {name: node_modules, path: ./}
    commands: [npm test]
"""
    )
    env = pipeline.global_.environment
    assert env["PORT"] == "8080" and env["DEBUG"] == "false"
    assert isinstance(env["DB_PASSWORD"], SecretValue)
    assert env["DB_PASSWORD"].ref().path == "db/password"


def test_unknown_keys_are_warnings_with_suggestions_at_the_key() -> None:
    assert warnings(MINIMAL.replace("commands:", "comands: [x]\n    commands:")) == [
        "p.yml:4:5: jobs[0].comands: unknown key 'comands' ignored (did you mean 'commands'?)",
    ]
    assert problems("global: {}\njobs:\n  - name: a\n    comands: [x]\n") == [
        "p.yml:3:5: jobs[0].commands: missing required key 'commands'",
    ]


def test_strict_makes_warnings_errors() -> None:
    text = MINIMAL + "job: []\n"
    assert warnings(text) == ["p.yml:5:1: job: unknown key 'job' ignored (did you mean 'jobs'?)"]
    assert problems(text, strict=True) == ["p.yml:5:1: job: unknown key 'job' ignored (did you mean 'jobs'?)"]


def test_unknown_key_hints() -> None:
    text = MINIMAL.replace("global: {image: busybox}", "global: {image: busybox, zzz: 1, env: {}}")
    text = text.replace("name: a", "name: a\n    API_TOKEN: x\n    trigger: {branch: main, secrets: [A]}")
    assert warnings(text) == [
        "p.yml:1:26: global.zzz: unknown key 'zzz' ignored"
        " (known here: image, trigger, environment, secrets, allow_failure, image_pull_secrets)",
        "p.yml:1:34: global.env: unknown key 'env' ignored (did you mean 'environment'?)",
        "p.yml:4:5: jobs[0].API_TOKEN: unknown key 'API_TOKEN' ignored"
        " (an environment variable? it belongs under 'environment:')",
        "p.yml:5:29: jobs[0].trigger.secrets: unknown key 'secrets' ignored"
        " ('secrets' belongs to global or a job: check the indentation)",
    ]


def test_missing_global_and_jobs() -> None:
    assert problems("nosana: {description: x}\n") == [
        "p.yml:1:1: global: missing required key 'global'",
        "p.yml:1:1: jobs: missing required key 'jobs'",
    ]


def test_every_problem_is_reported_in_file_order() -> None:
    with pytest.raises(ProblemList) as info:
        validate(
            load_text(
                """\
global:
  image: 3
  environemnt: {A: 1}
  secrets: [1BAD]
jobs:
  - name: a
    commands:
      - cmd: echo
        alow_failure: true
      - [x]
    environment:
      X: null
      Y: {type: nos/vaul, value: a}
    work_dir: relative
  - name: b
    commands: []
    allow_failure: "yes"
""",
                "p.yml",
            )
        )
    assert [f"{p.label}: {p}" for p in info.value.problems] == [
        "error: p.yml:2:10: global.image: expected a string, got a number (3) (quote it to make it a string)",
        "warning: p.yml:3:3: global.environemnt: unknown key 'environemnt' ignored"
        " (did you mean 'environment'?)",
        "error: p.yml:4:13: global.secrets[0]: '1BAD' is not a valid environment variable name",
        "warning: p.yml:9:9: jobs[0].commands[0].alow_failure: unknown key 'alow_failure' ignored"
        " (did you mean 'allow_failure'?)",
        "error: p.yml:10:9: jobs[0].commands[1]: expected a string, got a list",
        "error: p.yml:12:10: jobs[0].environment.X: expected a string, a number, a boolean"
        " or a secret reference {type: nos/vault, value: …}",
        "error: p.yml:13:17: jobs[0].environment.Y.type: must be 'nos/vault' or 'nosana/secret',"
        " got the string 'nos/vaul'"
        " (did you mean 'nos/vault'?)",
        "error: p.yml:14:15: jobs[0].work_dir: must be an absolute path, got 'relative'",
        "error: p.yml:16:15: jobs[1].commands: must not be empty",
        "error: p.yml:17:20: jobs[1].allow_failure: expected true or false, got the string 'yes'",
    ]


def test_bad_environment_name_points_at_the_key() -> None:
    (line,) = problems(MINIMAL.replace("commands: [echo hi]", "commands: [x]\n    environment: {1X: a}"))
    assert line == "p.yml:5:19: jobs[0].environment.1X: '1X' is not a valid environment variable name"


def test_registry_password_must_be_a_reference() -> None:
    (line,) = problems(
        MINIMAL.replace(
            "global: {image: busybox}",
            "global:\n  image_pull_secrets: {url: r, username: u, password: hunter22}",
        )
    )
    assert "global.image_pull_secrets.password: must be a secret reference" in line


def test_empty_strings_are_refused() -> None:
    (line,) = problems(MINIMAL.replace("name: a", "name: '  '"))
    assert line == "p.yml:3:11: jobs[0].name: must not be empty"


def test_jobs_must_be_a_non_empty_list() -> None:
    assert problems("global: {}\njobs: {a: 1}\n") == ["p.yml:2:7: jobs: expected a list, got a mapping"]
    assert problems("global: {}\njobs: []\n") == ["p.yml:2:7: jobs: must not be empty"]


def test_document_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == ["p.yml:1:1: expected a mapping with 'global' and 'jobs', got a list"]


def test_duplicate_job_names() -> None:
    (line,) = problems(MINIMAL + "  - name: a\n    commands: [y]\n")
    assert line == "p.yml:5:11: jobs[1].name: duplicate job name 'a'"


def test_resource_must_come_from_an_earlier_job() -> None:
    text = """\
global: {}
jobs:
  - name: build
    commands: [x]
    artifacts: [{name: dist, path: dist}]
  - name: test
    commands: [y]
    resources: [{name: dits}, {name: report}, {name: cache, required: false}, checkout]
  - name: report
    commands: [z]
    artifacts: [{name: report, path: r}]
"""
    doc = load_text(text, "p.yml")
    with pytest.raises(ProblemList) as info:
        validate(doc)
    assert [f"{p.label}: {p}" for p in info.value.problems] == [
        "warning: p.yml:8:24: jobs[1].resources[0].name: no job makes an artifact 'dits'"
        " (did you mean 'dist'?); the job will fail when it starts",
        "error: p.yml:8:38: jobs[1].resources[1].name: artifact 'report' is made by job 'report',"
        " which runs later",
        "warning: p.yml:8:54: jobs[1].resources[2].name: no job makes an artifact 'cache'; skipped"
        " (required: false)",
    ]


def test_duplicate_artifact_names_in_one_job() -> None:
    (line,) = problems(
        MINIMAL.replace(
            "commands: [echo hi]", "commands: [x]\n    artifacts: [{name: a, path: x}, {name: a, path: y}]"
        )
    )
    assert line == "p.yml:5:44: jobs[0].artifacts[1].name: duplicate artifact name 'a'"


def test_allowed_keys_follow_the_schema() -> None:
    assert "commands" in allowed_keys(("jobs", 0))
    assert allowed_keys(("jobs", 0, "commands", 0)) == ["cmd", "working_dir", "allow_failure"]
    assert "global" in allowed_keys(())
    assert allowed_keys(("jobs", 0, "environment", "X")) == ["type", "value", "endpoint"]
