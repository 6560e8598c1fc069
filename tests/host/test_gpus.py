"""GPU inventory through NVML: the real bindings against a stand-in libnvidia-ml.so.1.

No GPU exists on the test hosts, so a small C library with NVML's functions, signatures and
return codes (``nvml_standin.c``, compiled here) plays the driver; ``nvidia-ml-py`` loads it by
its real name through ``LD_LIBRARY_PATH`` in a child process, exactly as it loads the driver's.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nosana_node.host.gpus import GpuInventory, NvmlInventory, StaticInventory, cuda_version_text

HERE = Path(__file__).resolve().parent
PROBE = (
    "import json; from dataclasses import asdict; from nosana_node.host.gpus import NvmlInventory;"
    "print(json.dumps(asdict(NvmlInventory().probe())))"
)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the stand-in ``libnvidia-ml.so.1``."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the NVML stand-in")
    out = tmp_path_factory.mktemp("nvml")
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O1",
            "-o",
            str(out / "libnvidia-ml.so.1"),
            str(HERE / "nvml_standin.c"),
        ],
        check=True,
    )
    return out


def _probe(standin: Path, **env: str) -> dict[str, object]:
    environment = {**os.environ, "LD_LIBRARY_PATH": str(standin), **env}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(proc.stdout)


def test_gpus_from_nvml(standin: Path) -> None:
    gb24 = 24564 * 1024 * 1024
    probe = _probe(
        standin,
        NVML_STANDIN_GPUS=(
            f"NVIDIA GeForce RTX 4090|GPU-aaaa|{gb24}|8|9;NVIDIA A100|GPU-bbbb|{80 * 1024**3}|8|0"
        ),
        NVML_STANDIN_CUDA="12080",
        NVML_STANDIN_DRIVER="570.86.15",
    )
    assert probe == {
        "gpus": [
            {
                "index": 0,
                "name": "NVIDIA GeForce RTX 4090",
                "memory_mib": 24564,
                "uuid": "GPU-aaaa",
                "compute_capability": [8, 9],
            },
            {
                "index": 1,
                "name": "NVIDIA A100",
                "memory_mib": 81920,
                "uuid": "GPU-bbbb",
                "compute_capability": [8, 0],
            },
        ],
        "cuda_version": "12.8",
        "driver_version": "570.86.15",
        "note": "",
        "extra": {},
    }


def test_driver_without_gpus_and_driver_not_loaded(standin: Path) -> None:
    probe = _probe(standin, NVML_STANDIN_GPUS="")
    assert probe["gpus"] == [] and probe["note"] == "no GPUs: NVML reports none"
    probe = _probe(standin, NVML_STANDIN_INIT="9")
    assert probe["gpus"] == []
    assert probe["note"] == "no GPUs: NVML unavailable (the NVIDIA driver is not loaded)"


def test_no_driver_means_no_gpus_clearly() -> None:
    probe = NvmlInventory().probe()
    if ctypes.util.find_library("nvidia-ml") is None:
        assert probe.gpus == ()
        assert probe.note == "no GPUs: NVML unavailable (libnvidia-ml.so.1 not found: no NVIDIA driver)"
    else:  # a GPU host: the real driver answers
        assert probe.cuda_version is not None


def test_inventories_share_one_interface() -> None:
    assert isinstance(NvmlInventory(), GpuInventory)
    assert isinstance(StaticInventory(), GpuInventory)
    assert StaticInventory().probe().note == "no GPUs configured"
    assert cuda_version_text(12080) == "12.8" and cuda_version_text(11040) == "11.4"
