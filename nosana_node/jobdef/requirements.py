"""Can this host serve a job definition? Its requirements against the host's GPUs.

Rules (units as the Nosana market uses them):

- an op with ``gpu: true`` (its own, else ``global.gpu``) needs at least one GPU;
- ``meta.system_requirements.required_vram`` and an op's ``args.required_vram`` are GB
  (10^9 bytes): some GPU must have at least that much memory — a "24 GB" card reporting
  24564 MiB serves ``required_vram: 24``;
- ``meta.system_requirements.vram_total_mb`` is MiB, as NVML reports ``memory.total``: some GPU
  must have at least that much;
- ``meta.system_requirements.required_cuda`` (a version or a list of acceptable versions) needs
  the driver to support at least the lowest of them (CUDA drivers run older runtimes).

A job that asks nothing of GPUs needs nothing. Each unmet rule is one :class:`Unmet` reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nosana_node.host.gpus import GpuProbe
from nosana_node.jobdef.schema import JobDefinition, RunOp

Code = Literal["no-gpu", "vram", "vram-total", "cuda", "cuda-unknown"]


@dataclass(frozen=True)
class Unmet:
    """One requirement this host does not meet: a typed code, the op (if any) and a sentence."""

    code: Code
    message: str
    op: str | None = None

    def __str__(self) -> str:
        return self.message


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _largest(probe: GpuProbe) -> str:
    if not probe.gpus:
        return "this host has no GPU" + (f" ({probe.note})" if probe.note else "")
    best = max(probe.gpus, key=lambda g: g.memory_mib)
    return f"the largest GPU here has {best.memory_mib} MiB ({best.memory_gb:.1f} GB, {best.name})"


def check_requirements(definition: JobDefinition, host: GpuProbe) -> list[Unmet]:
    """Every requirement of ``definition`` that ``host`` does not meet (empty: it can run)."""
    reasons: list[Unmet] = []
    memory = [g.memory_mib for g in host.gpus]
    global_gpu = bool(definition.global_ and definition.global_.gpu)
    for op in definition.ops:
        if not isinstance(op, RunOp):
            continue
        wants_gpu = op.args.gpu if op.args.gpu is not None else global_gpu
        if wants_gpu and not host.gpus:
            reasons.append(Unmet("no-gpu", f"op {op.id!r} needs a GPU (gpu: true); {_largest(host)}", op.id))
        vram = op.args.required_vram
        if vram is not None and not any(m * 1024 * 1024 >= vram * 1e9 for m in memory):
            reasons.append(Unmet("vram", f"op {op.id!r} needs a GPU with {vram} GB; {_largest(host)}", op.id))
    meta = definition.meta
    wanted = meta.system_requirements if meta else None
    if wanted is None:
        return reasons
    if wanted.required_vram is not None and not any(
        m * 1024 * 1024 >= wanted.required_vram * 1e9 for m in memory
    ):
        reasons.append(Unmet("vram", f"the job needs a GPU with {wanted.required_vram} GB; {_largest(host)}"))
    if wanted.vram_total_mb is not None and not any(m >= wanted.vram_total_mb for m in memory):
        reasons.append(
            Unmet("vram-total", f"the job needs a GPU with {wanted.vram_total_mb} MiB; {_largest(host)}")
        )
    cuda = wanted.required_cuda
    versions = [cuda] if isinstance(cuda, str) else list(cuda or [])
    if versions:
        lowest = min(versions, key=_version)
        if host.cuda_version is None:
            reasons.append(
                Unmet(
                    "cuda-unknown",
                    f"the job needs CUDA {lowest} or later; this host's CUDA version is unknown",
                )
            )
        elif _version(host.cuda_version) < _version(lowest):
            reasons.append(
                Unmet(
                    "cuda",
                    f"the job needs CUDA {lowest} or later; this host's driver supports {host.cuda_version}",
                )
            )
    return reasons
