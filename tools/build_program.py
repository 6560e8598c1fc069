#!/usr/bin/env python3
"""Build the jobs program (programs/nosana_jobs/*.c) into an SBPF v0 shared object.

Compiles every C file with Debian's clang-19 for the BPF target and links the objects with
tools/sbflink.py. The build is deterministic (sorted inputs, no paths or times in the output),
so rebuilding reproduces the committed nosana_node/localnet/program/nosana_jobs.so byte
for byte; ``make program`` runs this script.

Before compiling, the discriminators written in programs/nosana_jobs/*.h and the custom errors
of errors.c are checked against the Python protocol layer (nosana_node/chain), which is the
single source of truth.

usage: python tools/build_program.py [--out PATH] [--clang clang-19]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "programs" / "nosana_jobs"
DEFAULT_OUT = ROOT / "nosana_node" / "localnet" / "program" / "nosana_jobs.so"

CFLAGS = [
    "-target", "bpfel", "-mcpu=v2",  # SBPF v0 understands the v2 instruction set (no JMP32/ALU32)
    "-O2", "-std=c11", "-ffreestanding", "-fno-builtin", "-fno-stack-protector",
    "-fno-ident", "-Wall", "-Wextra", "-Werror",
    "-mllvm", "-bpf-stack-size=4096",  # Solana frames are 4 KiB, upstream's default check is 512
]  # fmt: skip

#: The clang the committed .so was built with; another version may emit other bytes.
REFERENCE_CLANG = "Debian clang version 19.1.7 (3~deb12u1)"

sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def find_clang(name: str | None) -> str:
    """The clang-19 executable (``$CLANG`` or ``clang-19`` on PATH)."""
    candidate = name or os.environ.get("CLANG") or "clang-19"
    path = shutil.which(candidate)
    if path is None:
        raise BuildError(f"{candidate} not found: install it with `make clang` (scripts/ensure-clang.sh)")
    return path


def clang_version(clang: str) -> str:
    """First line of ``clang --version``."""
    proc = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines()[0].strip() if proc.stdout else "unknown"


def check_discriminators() -> None:
    """The C headers' discriminator constants must equal the Python protocol layer's."""
    from nosana_node.chain.accounts import JobAccount, MarketAccount, RunAccount, StakeAccount
    from nosana_node.chain.instructions import INSTRUCTIONS

    def constants(header: str, prefix: str) -> dict[str, bytes]:
        text = (SOURCE_DIR / header).read_text()
        found = re.findall(rf"#define {prefix}(\w+)\s+0x([0-9a-f]{{16}})ull", text)
        return {name: int(value, 16).to_bytes(8, "little") for name, value in found}

    ix = constants("instructions.h", "IX_")
    expected = {name.upper(): spec.discriminator for name, spec in INSTRUCTIONS.items()}
    if ix != expected:
        raise BuildError(f"instructions.h discriminators differ from nosana_node/chain/instructions.py: {ix}")
    accounts = constants("layouts.h", "DISC_")
    expected = {
        "MARKET_ACCOUNT": MarketAccount.DISCRIMINATOR,
        "JOB_ACCOUNT": JobAccount.DISCRIMINATOR,
        "RUN_ACCOUNT": RunAccount.DISCRIMINATOR,
        "STAKE_ACCOUNT": StakeAccount.DISCRIMINATOR,
    }
    if accounts != expected:
        raise BuildError(f"layouts.h discriminators differ from nosana_node/chain/accounts.py: {accounts}")


def check_errors() -> None:
    """The custom errors in errors.c (code, name, message) must be the IDL's."""
    from nosana_node.chain.idl import ERROR_MESSAGES

    text = (SOURCE_DIR / "errors.c").read_text()
    found = [(int(code), name, msg) for code, name, msg in re.findall(r'\{(\d+), "(\w+)", "([^"]*)"\}', text)]
    expected = [(int(e), e.name, msg) for e, msg in ERROR_MESSAGES.items()]
    if found != expected:
        raise BuildError(f"errors.c differs from the IDL's errors (nosana_node/chain/idl.py): {found}")


def build(out: Path, clang: str | None = None, quiet: bool = False) -> bytes:
    """Compile and link the program into ``out``; returns the bytes written."""
    import sbflink

    check_discriminators()
    check_errors()
    compiler = find_clang(clang)
    version = clang_version(compiler)
    if version != REFERENCE_CLANG and not quiet:
        print(f"build_program: warning: {version!r}; the committed .so was built with {REFERENCE_CLANG!r}",
              file=sys.stderr)  # fmt: skip
    sources = sorted(SOURCE_DIR.glob("*.c"))
    if not sources:
        raise BuildError(f"no C sources in {SOURCE_DIR}")
    with tempfile.TemporaryDirectory(prefix="nosana-jobs-build-") as tmp:
        objects = []
        for src in sources:
            obj = Path(tmp) / (src.stem + ".o")
            # relative source names keep the objects independent of where the repo lives
            cmd = [compiler, *CFLAGS, "-c", src.name, "-o", str(obj)]
            proc = subprocess.run(cmd, cwd=SOURCE_DIR, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise BuildError(f"clang failed on {src.name}:\n{proc.stderr.strip()}")
            objects.append(str(obj))
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tmp) / "nosana_jobs.so"
        try:
            summary = sbflink.link(objects, str(staged))
        except sbflink.LinkError as exc:
            raise BuildError(f"link failed: {exc}") from None
        data = staged.read_bytes()
    out.write_bytes(data)
    if not quiet:
        digest = hashlib.sha256(data).hexdigest()[:16]
        print(
            f"build_program: {out} ({len(data)} bytes: text {summary['text']}, "
            f"rodata {summary['rodata']}; sha256 {digest}…)",
            file=sys.stderr,
        )
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Nosana jobs program with clang-19.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output .so (default: {DEFAULT_OUT})")
    parser.add_argument("--clang", help="clang executable (default: $CLANG or clang-19)")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.clang)
    except BuildError as exc:
        print(f"build_program: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
