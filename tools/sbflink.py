#!/usr/bin/env python3
"""Link BPF relocatable objects into a Solana SBPF v0 shared object.

Input: objects built by ``clang-19 -target bpfel -mcpu=v2`` (ELF64, EM_BPF, ET_REL).
Output: an ELF64 ET_DYN that the legacy BPF loaders (and LiteSVM's ``add_program``) accept.

How the output is laid out and why:

* Every loaded section sits at virtual address == file offset. The VM maps the read-only
  part of the file (``.text`` and ``.rodata``) at ``MM_PROGRAM_START + address``, so data
  addresses are resolved here, once, to absolute VM addresses: the 64-bit immediate of
  ``lddw`` (R_BPF_64_64) and pointers stored in ``.rodata`` (R_BPF_64_ABS64).
* Calls between our own functions (R_BPF_64_32 against a defined symbol) become
  pc-relative ``call imm``; the loader turns them into its internal function keys.
* Calls to undefined symbols must be Solana syscalls. They stay as R_BPF_64_32 dynamic
  relocations against ``.dynsym`` entries; the loader resolves them by name. Unknown names
  are rejected here, because LiteSVM accepts them at load time and only fails when called.
* Writable data (``.data``, ``.bss``) does not exist for Solana programs: rejected.
* Instructions that SBPF v0 lacks (JMP32 class, atomics, 32-bit ALU except mov/endian,
  the v4 sign-extending and byte-swap forms) are rejected with their offset.
* ``callx``: upstream LLVM encodes the register in the dst field, SBPF v0 reads it from the
  immediate; the linker moves it.

The result is deterministic: same objects in, same bytes out.

usage: python tools/sbflink.py -o out.so a.o [b.o ...]
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

MM_PROGRAM_START = 1 << 32
EM_BPF = 247
ET_DYN = 3

R_BPF_NONE = 0
R_BPF_64_64 = 1
R_BPF_64_ABS64 = 2
R_BPF_64_32 = 10

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4

#: Syscalls provided by the Solana runtime (name -> resolved by the loader via its hash).
SYSCALLS = frozenset(
    """
    abort sol_panic_ sol_log_ sol_log_64_ sol_log_compute_units_ sol_log_pubkey sol_log_data
    sol_create_program_address sol_try_find_program_address sol_sha256 sol_keccak256 sol_blake3
    sol_secp256k1_recover sol_memcpy_ sol_memmove_ sol_memset_ sol_memcmp_ sol_invoke_signed_c
    sol_invoke_signed_rust sol_set_return_data sol_get_return_data sol_get_clock_sysvar
    sol_get_rent_sysvar sol_get_epoch_schedule_sysvar sol_get_fees_sysvar
    sol_get_epoch_rewards_sysvar sol_get_last_restart_slot sol_get_sysvar sol_get_stack_height
    sol_get_processed_sibling_instruction sol_remaining_compute_units sol_get_epoch_stake
    sol_curve_validate_point sol_curve_group_op sol_curve_multiscalar_mul sol_poseidon
    sol_alt_bn128_group_op sol_alt_bn128_compression sol_big_mod_exp sol_alloc_free_
    """.split()  # noqa: SIM905 - a word list reads better than 40 quoted names
)


class LinkError(Exception):
    """A problem with the input objects; the message names the object and the cause."""


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment if alignment > 1 else value


@dataclass
class Region:
    """One output region (``text`` or ``rodata``) built by concatenating input sections."""

    name: str
    data: bytearray = field(default_factory=bytearray)
    base: int = 0  # file offset == virtual address, set once the layout is known

    def append(self, blob: bytes, alignment: int) -> int:
        self.data.extend(bytes(_align(len(self.data), alignment) - len(self.data)))
        offset = len(self.data)
        self.data.extend(blob)
        return offset


class OutSection(NamedTuple):
    """One section of the output file (loaded ones sit at address == offset)."""

    name: str
    type: int
    flags: int
    offset: int
    data: bytes
    link: int = 0
    info: int = 0
    align: int = 8
    entsize: int = 0


@dataclass
class Placement:
    region: Region
    offset: int  # offset of the input section inside its region


class Linker:
    """Collects objects, lays them out, applies relocations and writes the shared object."""

    def __init__(self) -> None:
        self.text = Region(".text")
        self.rodata = Region(".rodata")
        self.objects: list[tuple[str, ELFFile]] = []
        self.placed: dict[tuple[int, int], Placement] = {}  # (object index, section index)
        self.globals: dict[str, tuple[Placement, int]] = {}  # name -> (placement, value)
        self.syscalls: list[str] = []  # in order of first use: .dynsym order
        self.dynamic_relocs: list[tuple[int, str]] = []  # (text offset, syscall name)

    # -- input ------------------------------------------------------------------------
    def add_object(self, path: str) -> None:
        try:
            elf = ELFFile(io.BytesIO(Path(path).read_bytes()))
        except ELFError as exc:
            raise LinkError(f"{path}: not a BPF relocatable object ({exc})") from None
        if elf.elfclass != 64 or not elf.little_endian:
            raise LinkError(f"{path}: not a 64-bit little-endian ELF")
        if elf["e_machine"] not in ("EM_BPF", EM_BPF) or elf["e_type"] != "ET_REL":
            raise LinkError(f"{path}: not a BPF relocatable object (compile with clang -target bpfel -c)")
        index = len(self.objects)
        self.objects.append((path, elf))
        for sec_index, sec in enumerate(elf.iter_sections()):
            flags, size = sec["sh_flags"], sec["sh_size"]
            if not flags & SHF_ALLOC or size == 0:
                continue
            if flags & SHF_WRITE or sec["sh_type"] == "SHT_NOBITS":
                names = self._symbols_in(elf, sec_index)
                raise LinkError(
                    f"{path}: writable section {sec.name} ({size} bytes; {names}): Solana programs "
                    "have no writable globals - make them const or move them to the stack"
                )
            region = self.text if flags & SHF_EXECINSTR else self.rodata
            alignment = max(sec["sh_addralign"], 8 if region is self.text else 1)
            self.placed[(index, sec_index)] = Placement(region, region.append(sec.data(), alignment))
        for sym in elf.get_section_by_name(".symtab").iter_symbols():
            shndx = sym["st_shndx"]
            if sym["st_info"]["bind"] == "STB_LOCAL" or not isinstance(shndx, int):
                continue
            if (index, shndx) not in self.placed:
                continue
            if sym.name in self.globals:
                raise LinkError(f"{path}: duplicate global symbol {sym.name}")
            self.globals[sym.name] = (self.placed[(index, shndx)], sym["st_value"])

    @staticmethod
    def _symbols_in(elf: ELFFile, sec_index: int) -> str:
        syms = [
            s.name
            for s in elf.get_section_by_name(".symtab").iter_symbols()
            if s["st_shndx"] == sec_index and s.name and s["st_info"]["type"] == "STT_OBJECT"
        ]
        return ", ".join(syms) or "no named symbol"

    # -- relocation -------------------------------------------------------------------
    def _address(self, obj: int, sym) -> int | None:
        """Virtual address of a symbol, or None when it is undefined everywhere."""
        shndx = sym["st_shndx"]
        if isinstance(shndx, int) and (obj, shndx) in self.placed:
            p = self.placed[(obj, shndx)]
            return p.region.base + p.offset + sym["st_value"]
        if sym.name in self.globals:
            p, value = self.globals[sym.name]
            return p.region.base + p.offset + value
        return None

    def relocate(self) -> None:
        for obj, (path, elf) in enumerate(self.objects):
            for rel_sec in elf.iter_sections():
                if rel_sec["sh_type"] == "SHT_RELA":
                    raise LinkError(f"{path}: RELA relocations are not expected from the BPF target")
                if rel_sec["sh_type"] != "SHT_REL" or (obj, rel_sec["sh_info"]) not in self.placed:
                    continue  # relocations of debug sections, which are not loaded
                target = self.placed[(obj, rel_sec["sh_info"])]
                symtab = elf.get_section(rel_sec["sh_link"])
                for rel in rel_sec.iter_relocations():
                    sym = symtab.get_symbol(rel["r_info_sym"])
                    self._apply(path, obj, target, rel["r_offset"], rel["r_info_type"], sym)

    def _apply(self, path: str, obj: int, target: Placement, r_offset: int, kind: int, sym) -> None:
        buf, at = target.region.data, target.offset + r_offset
        address = self._address(obj, sym)
        if kind == R_BPF_NONE:
            return
        if kind == R_BPF_64_64:  # lddw rX, imm64: the addend is the first slot's imm
            if address is None:
                raise LinkError(f"{path}: undefined data symbol {sym.name}")
            value = MM_PROGRAM_START + address + struct.unpack_from("<i", buf, at + 4)[0]
            struct.pack_into("<I", buf, at + 4, value & 0xFFFFFFFF)
            struct.pack_into("<I", buf, at + 12, value >> 32)
        elif kind == R_BPF_64_ABS64:  # a pointer stored in data
            if address is None:
                raise LinkError(f"{path}: undefined data symbol {sym.name}")
            addend = struct.unpack_from("<q", buf, at)[0]
            struct.pack_into("<Q", buf, at, MM_PROGRAM_START + address + addend)
        elif kind == R_BPF_64_32:  # call imm
            if target.region is not self.text or buf[at] != 0x85:
                raise LinkError(f"{path}: R_BPF_64_32 that is not on a call instruction ({sym.name})")
            if address is None:
                self._syscall(path, target.offset + r_offset, sym.name)
                return
            if sym["st_info"]["type"] == "STT_SECTION":
                # call to a static function: clang stores (offset in section / 8) - 1 in imm
                address += (struct.unpack_from("<i", buf, at + 4)[0] + 1) * 8
            pc = self.text.base + at
            struct.pack_into("<i", buf, at + 4, (address - pc - 8) // 8)
        else:
            raise LinkError(f"{path}: unsupported relocation type {kind} against {sym.name}")

    def _syscall(self, path: str, text_offset: int, name: str) -> None:
        if name not in SYSCALLS:
            raise LinkError(f"{path}: undefined symbol {name!r} is neither defined nor a Solana syscall")
        if name not in self.syscalls:
            self.syscalls.append(name)
        struct.pack_into("<i", self.text.data, text_offset + 4, -1)
        self.dynamic_relocs.append((text_offset, name))

    # -- instruction checks -----------------------------------------------------------
    def check_instructions(self) -> None:
        text = self.text.data
        if len(text) % 8:
            raise LinkError(".text is not a whole number of instructions")
        pc = 0
        while pc < len(text):
            op, regs = text[pc], text[pc + 1]
            off = struct.unpack_from("<h", text, pc + 2)[0]
            cls = op & 0x07
            problem = None
            if cls == 0x06:
                problem = "JMP32 class"
            elif op in (0xC3, 0xDB):
                problem = "atomic operation"
            elif cls == 0x04 and op not in (0xB4, 0xBC, 0xD4, 0xDC):
                problem = "32-bit ALU operation"
            elif op == 0xD7:
                problem = "byte swap (v4)"
            elif cls == 0x07 and off != 0:
                problem = "signed division or sign-extending move (v4)"
            elif op in (0x81, 0x89, 0x91, 0x99):
                problem = "sign-extending load (v4)"
            if problem:
                raise LinkError(
                    f"instruction {op:#04x} at .text+{pc:#x}: {problem} is not in SBPF v0 "
                    "(compile with -mcpu=v2)"
                )
            if op == 0x8D:  # callx: register from dst to imm
                struct.pack_into("<i", text, pc + 4, regs & 0x0F)
                text[pc + 1] = regs & 0xF0
            pc += 16 if op == 0x18 else 8  # lddw takes two slots

    # -- output -----------------------------------------------------------------------
    def layout(self) -> None:
        headers_end = 64 + 56 * 4  # ELF header + up to four program headers
        self.text.base = _align(headers_end, 8)
        self.rodata.base = _align(self.text.base + len(self.text.data), 8)

    def write(self, out: str) -> dict[str, object]:
        if "entrypoint" not in self.globals or self.globals["entrypoint"][0].region is not self.text:
            raise LinkError("no global function `entrypoint`")
        p, value = self.globals["entrypoint"]
        entry = self.text.base + p.offset + value

        dynstr = bytearray(b"\0")

        def strtab_add(table: bytearray, s: str) -> int:
            pos = len(table)
            table.extend(s.encode() + b"\0")
            return pos

        # .dynsym: null, entrypoint (global function), then one undefined entry per syscall
        dynsym = bytearray(24)
        dynsym += struct.pack("<IBBHQQ", strtab_add(dynstr, "entrypoint"), 0x12, 0, 1, entry, 0)
        sym_index = {}
        for name in self.syscalls:
            sym_index[name] = len(dynsym) // 24
            dynsym += struct.pack("<IBBHQQ", strtab_add(dynstr, name), 0x10, 0, 0, 0, 0)
        reldyn = b"".join(
            struct.pack("<QQ", self.text.base + at, (sym_index[name] << 32) | R_BPF_64_32)
            for at, name in self.dynamic_relocs
        )

        dyn_off = _align(self.rodata.base + len(self.rodata.data), 8)
        n_dyn = 8
        dynsym_off = dyn_off + 16 * n_dyn
        dynstr_off = dynsym_off + len(dynsym)
        rel_off = _align(dynstr_off + len(dynstr), 8)
        dyn_end = rel_off + len(reldyn)
        entries = [(6, dynsym_off), (11, 24), (5, dynstr_off), (10, len(dynstr))]
        if reldyn:
            entries += [(17, rel_off), (18, len(reldyn)), (19, 16)]
        entries += [(0, 0)] * (n_dyn - len(entries))  # DT_NULL terminates (and pads)
        dynamic = b"".join(struct.pack("<qQ", tag, val) for tag, val in entries)

        shstrtab = bytearray(b"\0")
        sections = [OutSection(".text", 1, SHF_ALLOC | SHF_EXECINSTR, self.text.base, bytes(self.text.data))]
        if self.rodata.data:
            sections.append(OutSection(".rodata", 1, SHF_ALLOC, self.rodata.base, bytes(self.rodata.data)))
        dynsym_idx = len(sections) + 2  # section header index of .dynsym (0 is the null header)
        sections += [
            OutSection(".dynamic", 6, SHF_ALLOC, dyn_off, dynamic, link=dynsym_idx + 1, entsize=16),
            OutSection(
                ".dynsym", 11, SHF_ALLOC, dynsym_off, bytes(dynsym), link=dynsym_idx + 1, info=1, entsize=24
            ),
            OutSection(".dynstr", 3, SHF_ALLOC, dynstr_off, bytes(dynstr), align=1),
        ]
        if reldyn:
            sections.append(
                OutSection(".rel.dyn", 9, SHF_ALLOC, rel_off, reldyn, link=dynsym_idx, entsize=16)
            )
        names = [strtab_add(shstrtab, s.name) for s in sections]
        shstr_name = strtab_add(shstrtab, ".shstrtab")
        sections.append(OutSection(".shstrtab", 3, 0, dyn_end, bytes(shstrtab), align=1))
        names.append(shstr_name)
        sh_off = _align(dyn_end + len(shstrtab), 8)
        n_sections = len(sections) + 1  # with the null header

        image = bytearray(sh_off + 64 * n_sections)
        for sec in sections:
            image[sec.offset : sec.offset + len(sec.data)] = sec.data

        phdrs = [(1, 5, self.text.base, len(self.text.data))]  # PT_LOAD R+X
        if self.rodata.data:
            phdrs.append((1, 4, self.rodata.base, len(self.rodata.data)))  # PT_LOAD R
        phdrs.append((1, 4, dyn_off, dyn_end - dyn_off))
        phdrs.append((2, 6, dyn_off, len(dynamic)))  # PT_DYNAMIC
        ident = b"\x7fELF\x02\x01\x01" + bytes(9)
        struct.pack_into(
            "<16sHHIQQQIHHHHHH", image, 0, ident, ET_DYN, EM_BPF, 1, entry, 64, sh_off, 0, 64, 56,
            len(phdrs), 64, n_sections, n_sections - 1,
        )  # fmt: skip
        for i, (ptype, pflags, off, size) in enumerate(phdrs):
            struct.pack_into("<IIQQQQQQ", image, 64 + 56 * i, ptype, pflags, off, off, off, size, size, 8)
        for i, (sec, name) in enumerate(zip(sections, names, strict=True), start=1):
            addr = sec.offset if sec.flags & SHF_ALLOC else 0
            struct.pack_into(
                "<IIQQQQIIQQ", image, sh_off + 64 * i, name, sec.type, sec.flags, addr, sec.offset,
                len(sec.data), sec.link, sec.info, sec.align, sec.entsize,
            )  # fmt: skip
        Path(out).write_bytes(image)
        return {"text": len(self.text.data), "rodata": len(self.rodata.data), "syscalls": list(self.syscalls)}


def link(objects: list[str], out: str) -> dict[str, object]:
    """Link ``objects`` into ``out``; returns a small summary (sizes, syscalls used)."""
    linker = Linker()
    for path in objects:
        linker.add_object(path)
    linker.layout()
    linker.relocate()
    linker.check_instructions()
    return linker.write(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Link BPF objects into a Solana SBPF v0 program.")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("objects", nargs="+")
    args = parser.parse_args(argv)
    try:
        summary = link(args.objects, args.output)
    except (LinkError, OSError) as exc:
        print(f"sbflink: error: {exc}", file=sys.stderr)
        return 1
    print(f"sbflink: {args.output}: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
