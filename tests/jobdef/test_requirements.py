"""Requirements of a job definition against GPU inventories (no GPU here: inventories are given)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nosana_node.host.gpus import Gpu, GpuProbe, StaticInventory
from nosana_node.jobdef import JobProblems, load
from nosana_node.jobdef.requirements import check_requirements
from tests.jobdef.conftest import minimal, write_json

RTX_4090 = Gpu(0, "NVIDIA GeForce RTX 4090", 24564, "GPU-1", (8, 9))
RTX_3060 = Gpu(1, "NVIDIA GeForce RTX 3060", 12288, "GPU-2", (8, 6))
NONE = StaticInventory().probe()


def _job(tmp_path: Path, requirements: dict[str, Any] | None = None, **args: Any) -> Any:
    data = minimal(meta={"trigger": "cli", **({"system_requirements": requirements} if requirements else {})})
    data["ops"][0]["args"].update(args)
    return load(write_json(tmp_path, data)).definition


def _codes(definition: Any, probe: GpuProbe) -> list[str]:
    return [r.code for r in check_requirements(definition, probe)]


def test_cpu_job_runs_anywhere(tmp_path: Path) -> None:
    assert check_requirements(_job(tmp_path), NONE) == []


def test_gpu_job_needs_a_gpu(tmp_path: Path) -> None:
    definition = _job(tmp_path, gpu=True)
    (reason,) = check_requirements(definition, NONE)
    assert (reason.code, reason.op) == ("no-gpu", "run")
    assert str(reason) == "op 'run' needs a GPU (gpu: true); this host has no GPU (no GPUs configured)"
    assert check_requirements(definition, GpuProbe(gpus=(RTX_3060,))) == []


def test_global_gpu_applies_unless_the_op_says_otherwise(tmp_path: Path) -> None:
    data = minimal(**{"global": {"gpu": True}})
    definition = load(write_json(tmp_path, data)).definition
    assert _codes(definition, NONE) == ["no-gpu"]
    data["ops"][0]["args"]["gpu"] = False
    assert _codes(load(write_json(tmp_path, data)).definition, NONE) == []


def test_required_vram_is_gigabytes_on_some_gpu(tmp_path: Path) -> None:
    host = GpuProbe(gpus=(RTX_3060, RTX_4090), cuda_version="12.8")
    # 24564 MiB ≈ 25.8 GB
    assert check_requirements(_job(tmp_path, {"required_vram": 24}), host) == []
    (reason,) = check_requirements(_job(tmp_path, {"required_vram": 48}), host)
    assert reason.code == "vram"
    assert str(reason) == (
        "the job needs a GPU with 48 GB; the largest GPU here has 24564 MiB"
        " (25.8 GB, NVIDIA GeForce RTX 4090)"
    )
    assert _codes(_job(tmp_path, required_vram=16), GpuProbe(gpus=(RTX_3060,))) == ["vram"]
    assert _codes(_job(tmp_path, required_vram=12), GpuProbe(gpus=(RTX_3060,))) == []


def test_vram_total_mb_is_mebibytes_as_nvml_reports(tmp_path: Path) -> None:
    assert _codes(_job(tmp_path, {"vram_total_mb": 12288}), GpuProbe(gpus=(RTX_3060,))) == []
    assert _codes(_job(tmp_path, {"vram_total_mb": 12289}), GpuProbe(gpus=(RTX_3060,))) == ["vram-total"]


def test_required_cuda_needs_the_lowest_listed_version(tmp_path: Path) -> None:
    definition = _job(tmp_path, {"required_cuda": ["12.9", "12.8"]})
    assert _codes(definition, GpuProbe(gpus=(RTX_4090,), cuda_version="12.8")) == []
    assert _codes(definition, GpuProbe(gpus=(RTX_4090,), cuda_version="13.0")) == []
    (reason,) = check_requirements(definition, GpuProbe(gpus=(RTX_4090,), cuda_version="12.4"))
    assert str(reason) == "the job needs CUDA 12.8 or later; this host's driver supports 12.4"
    assert _codes(definition, GpuProbe(gpus=(RTX_4090,))) == ["cuda-unknown"]


def test_every_unmet_requirement_is_listed(tmp_path: Path) -> None:
    definition = _job(
        tmp_path, {"required_vram": 8, "required_cuda": "12.8", "vram_total_mb": 8192}, gpu=True
    )
    assert _codes(definition, NONE) == ["no-gpu", "vram", "vram-total", "cuda-unknown"]


def test_corpus_on_a_single_4090(corpus: Path) -> None:
    """A 24 GB card with CUDA 12.8 serves every corpus job asking for at most 24564 MiB / 25.7 GB."""
    host = GpuProbe(gpus=(RTX_4090,), cuda_version="12.8")
    served = refused = 0
    for path in sorted((corpus / "jobdefs").iterdir()):
        try:
            definition = load(path).definition
        except JobProblems:
            continue
        wanted = definition.meta.system_requirements if definition.meta else None
        too_big = wanted is not None and (
            (wanted.required_vram or 0) * 1e9 > 24564 * 1024 * 1024 or (wanted.vram_total_mb or 0) > 24564
        )
        reasons = check_requirements(definition, host)
        assert bool(reasons) == too_big, (path.name, reasons)
        served += not reasons
        refused += bool(reasons)
    assert served > 300 and refused > 10
