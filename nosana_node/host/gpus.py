"""The host's GPUs: a declared inventory interface, NVML as the real provider.

:class:`NvmlInventory` asks NVIDIA's management library (``libnvidia-ml.so.1``, through the
``nvidia-ml-py`` bindings) for each GPU's name, UUID, total memory and compute capability, and
for the highest CUDA version the driver supports. A host without the NVIDIA driver has no GPUs:
the probe says so in its ``note`` instead of failing. :class:`StaticInventory` serves a fixed
list (configuration, tests).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

MIB = 1024 * 1024


@dataclass(frozen=True)
class Gpu:
    """One GPU as the node sees it. ``memory_mib`` is NVML's ``memory.total`` in MiB."""

    index: int
    name: str
    memory_mib: int
    uuid: str = ""
    compute_capability: tuple[int, int] | None = None

    @property
    def memory_gb(self) -> float:
        """Total memory in GB (10^9 bytes), the unit of ``required_vram``."""
        return self.memory_mib * MIB / 1e9


@dataclass(frozen=True)
class GpuProbe:
    """What an inventory found: the GPUs, the driver's CUDA version, and a note when there are none."""

    gpus: tuple[Gpu, ...] = ()
    cuda_version: str | None = None
    driver_version: str | None = None
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class GpuInventory(Protocol):
    """Where a node learns about its GPUs."""

    def probe(self) -> GpuProbe:
        """The GPUs of this host now (never raises: no GPU is an answer, with a note)."""
        ...


def cuda_version_text(value: int) -> str:
    """NVML's integer CUDA version (``12080``) as ``12.8``."""
    return f"{value // 1000}.{(value % 1000) // 10}"


class StaticInventory:
    """A fixed inventory: GPUs given by configuration or a test."""

    def __init__(self, gpus: list[Gpu] | tuple[Gpu, ...] = (), cuda_version: str | None = None) -> None:
        self._probe = GpuProbe(
            gpus=tuple(gpus), cuda_version=cuda_version, note="" if gpus else "no GPUs configured"
        )

    def probe(self) -> GpuProbe:
        """The configured GPUs."""
        return self._probe


class NvmlInventory:
    """GPUs from NVML; no driver (or no ``nvidia-ml-py``) means no GPUs, with the reason noted."""

    _lock = threading.Lock()  # NVML init/shutdown are reference-counted process-wide

    def probe(self) -> GpuProbe:
        """Ask NVML for the GPUs and the driver's CUDA version."""
        try:
            import pynvml
        except ImportError:
            return GpuProbe(note="no GPUs: the nvidia-ml-py package is not installed")
        with self._lock:
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError as exc:
                return GpuProbe(note=f"no GPUs: NVML unavailable ({_nvml_reason(pynvml, exc)})")
            try:
                return self._read(pynvml)
            except pynvml.NVMLError as exc:
                return GpuProbe(note=f"no GPUs: NVML failed ({_nvml_reason(pynvml, exc)})")
            finally:
                with contextlib.suppress(pynvml.NVMLError):
                    pynvml.nvmlShutdown()

    @staticmethod
    def _read(nvml: object) -> GpuProbe:
        n = nvml  # the pynvml module
        gpus = []
        for index in range(n.nvmlDeviceGetCount()):  # type: ignore[attr-defined]
            handle = n.nvmlDeviceGetHandleByIndex(index)  # type: ignore[attr-defined]
            memory = n.nvmlDeviceGetMemoryInfo(handle)  # type: ignore[attr-defined]
            try:
                capability = tuple(n.nvmlDeviceGetCudaComputeCapability(handle))  # type: ignore[attr-defined]
            except n.NVMLError:  # type: ignore[attr-defined]
                capability = None
            gpus.append(
                Gpu(
                    index=index,
                    name=str(n.nvmlDeviceGetName(handle)),  # type: ignore[attr-defined]
                    memory_mib=int(memory.total) // MIB,
                    uuid=str(n.nvmlDeviceGetUUID(handle)),  # type: ignore[attr-defined]
                    compute_capability=capability,  # type: ignore[arg-type]
                )
            )
        cuda = cuda_version_text(n.nvmlSystemGetCudaDriverVersion_v2())  # type: ignore[attr-defined]
        driver = str(n.nvmlSystemGetDriverVersion())  # type: ignore[attr-defined]
        return GpuProbe(
            gpus=tuple(gpus),
            cuda_version=cuda,
            driver_version=driver,
            note="" if gpus else "no GPUs: NVML reports none",
        )


def _nvml_reason(nvml: object, exc: Exception) -> str:
    names = {
        getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", -1): "libnvidia-ml.so.1 not found: no NVIDIA driver",
        getattr(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", -1): "the NVIDIA driver is not loaded",
        getattr(nvml, "NVML_ERROR_NO_PERMISSION", -1): "no permission to talk to the driver",
    }
    value = getattr(exc, "value", None)
    return names.get(value, str(exc)) if value is not None else str(exc)
