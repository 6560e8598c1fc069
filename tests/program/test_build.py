"""The build: clang-19 + tools/sbflink.py reproduce the committed .so; the linker's checks.

Needs Debian's clang-19 (``make clang`` / scripts/ensure-clang.sh installs it; CI does).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from nosana_node.localnet.program import PROGRAM_PATH

ROOT = Path(__file__).resolve().parents[2]
CLANG = shutil.which("clang-19")

pytestmark = [
    pytest.mark.clang,
    pytest.mark.skipif(
        CLANG is None, reason="clang-19 is not installed (scripts/ensure-clang.sh installs it)"
    ),
]


def _tool(name: str) -> ModuleType:
    """A module of tools/ (not a package: found through sys.path, as the build script does)."""
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    return importlib.import_module(name)


def test_rebuild_is_byte_identical_to_the_committed_program(tmp_path: Path) -> None:
    out = tmp_path / "nosana_jobs.so"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_program.py"), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    version = subprocess.run([CLANG, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    assert out.read_bytes() == PROGRAM_PATH.read_bytes(), (
        f"the rebuilt program differs from the committed one (clang here: {version}): "
        "run `make program` and commit the result"
    )


def _compile(tmp_path: Path, source: str, name: str, cpu: str = "v2") -> str:
    src, obj = tmp_path / f"{name}.c", tmp_path / f"{name}.o"
    src.write_text(source)
    flags = ["-target", "bpfel", f"-mcpu={cpu}", "-O2", "-ffreestanding", "-fno-builtin", "-c"]
    subprocess.run([CLANG, *flags, str(src), "-o", str(obj)], check=True, capture_output=True)
    return str(obj)


def test_linker_rejects_writable_globals(tmp_path: Path) -> None:
    sbflink = _tool("sbflink")
    obj = _compile(
        tmp_path, "unsigned long counter = 1;\nunsigned long entrypoint(void) { return counter++; }\n", "w"
    )
    with pytest.raises(sbflink.LinkError, match=r"writable section .*counter"):
        sbflink.link([obj], str(tmp_path / "w.so"))


def test_linker_rejects_unknown_syscalls(tmp_path: Path) -> None:
    sbflink = _tool("sbflink")
    src = (
        "void sol_lgo_(const char *, unsigned long);\n"
        'unsigned long entrypoint(void) { sol_lgo_("x", 1); return 0; }\n'
    )
    with pytest.raises(sbflink.LinkError, match="sol_lgo_"):
        sbflink.link([_compile(tmp_path, src, "u")], str(tmp_path / "u.so"))


def test_linker_rejects_instructions_sbpf_v0_lacks(tmp_path: Path) -> None:
    sbflink = _tool("sbflink")
    src = "unsigned long entrypoint(const unsigned int *p) { return p[0] < p[1] ? p[2] + p[3] : 7; }\n"
    obj = _compile(tmp_path, src, "v3", cpu="v3")  # v3: 32-bit jumps and ALU
    with pytest.raises(sbflink.LinkError, match="not in SBPF v0"):
        sbflink.link([obj], str(tmp_path / "v3.so"))
    with pytest.raises(sbflink.LinkError, match="not a BPF relocatable"):
        sbflink.link([str(Path(sbflink.__file__))], str(tmp_path / "x.so"))


def test_function_pointers_and_rodata_work_in_the_vm(tmp_path: Path) -> None:
    """callx (the register moved to imm) and pointers in .rodata (absolute VM addresses)."""
    sbflink = _tool("sbflink")
    src = r"""
    typedef unsigned long u64;
    void sol_log_(const char *, u64);
    __attribute__((noinline)) static u64 twice(u64 x) { return 2 * x; }
    __attribute__((noinline)) static u64 square(u64 x) { return x * x; }
    struct op { const char *name; u64 (*fn)(u64); };
    static const struct op OPS[] = {{"twice", twice}, {"square", square}};
    u64 entrypoint(const unsigned char *input) {
      const unsigned char *data = input + 16;        /* no accounts: u64 count, u64 len, data */
      const struct op *op = &OPS[data[0] & 1];
      sol_log_(op->name, data[0] & 1 ? 6 : 5);
      return op->fn(data[1]) == data[2] ? 0 : 1;     /* 0 = success */
    }
    """
    out = tmp_path / "ops.so"
    sbflink.link([_compile(tmp_path, src, "ops")], str(out))
    svm, payer, program = LiteSVM(), Keypair(), Pubkey.new_unique()
    svm.add_program(program, out.read_bytes())
    svm.airdrop(payer.pubkey(), 10**9)
    for data, log in ((bytes([0, 21, 42]), "twice"), (bytes([1, 9, 81]), "square")):
        tx = Transaction(
            [payer], Message([Instruction(program, data, [])], payer.pubkey()), svm.latest_blockhash()
        )
        result = svm.send_transaction(tx)
        assert not callable(getattr(result, "err", None)), result
        assert f"Program log: {log}" in result.logs()
