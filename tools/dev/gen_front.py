#!/usr/bin/env python3
"""Derives the front's entry points from libintercept/entry/cuda_api.def and status.def.

At build time (a meson custom_target) it writes:
  --stubs FILE.c   a refusing stub for every UNSUPPORTED symbol, with cuda.h's exact signature,
                   returning bf_unsupported("<symbol>") (CUDA_ERROR_NOT_SUPPORTED, said once);
  --gpa FILE.c     the cuGetProcAddress tables: base names in strcmp order, each with its
                   (version, exported function) breakpoints, default and per-thread;
  --map FILE.map   the linker version script exporting exactly the cuda.h names.
By hand, after editing status.def or regenerating cuda_api.def:
  --doc FILE.md    docs/compatibility.md, every exported name with its family and status.

bf-trace (docs/trace.md), at build time:
  --rename FILE.h  the forced include of libbf.so's sources: cuda.h, then `#define cuX bf_impl_cuX`
                   for every IMPLEMENTED symbol and the prototypes of the bf_impl_ names, so that
                   driver/ defines the implementations under those names;
  --trace FILE.c   the exported cuX of every IMPLEMENTED symbol: a wrapper that calls bf_impl_cuX,
                   recording the call when bf_trace_on (argument capture from --trace-args).
The stubs, the lookup table and the wrappers undo the renaming for themselves.

--stub-implemented also emits weak refusing stubs for the IMPLEMENTED symbols, so that libbf.so
links (and its export list can be tested) before driver/ defines them all; a real definition
overrides the weak one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "libintercept" / "entry"

# cuGetProcAddress flags a BF_GPA row can carry (cuda.h CUdriverProcAddress_flags).
GPA_FLAGS_DEFAULT = 0
GPA_FLAGS_PER_THREAD = 2

FAMILY_TITLES: dict[str, str] = {
    "error": "Error handling",
    "init": "Initialization and version",
    "device": "Device management",
    "context": "Context management (primary contexts included)",
    "module": "Module management",
    "library": "Library management",
    "memory": "Memory management",
    "vmm": "Virtual memory management",
    "mempool": "Stream-ordered memory allocator",
    "multicast": "Multicast objects",
    "pointer": "Unified addressing",
    "stream": "Stream management",
    "event": "Event management",
    "external": "External resource interoperability",
    "memop": "Stream memory operations",
    "launch": "Execution control",
    "graph": "Graph management",
    "occupancy": "Occupancy",
    "texture": "Texture references and objects",
    "surface": "Surface references and objects",
    "tensor": "Tensor maps",
    "peer": "Peer context memory access",
    "graphics": "Graphics interoperability",
    "entry": "Driver entry points",
    "coredump": "Coredump attributes",
    "greenctx": "Green contexts",
    "logs": "Error log management",
    "checkpoint": "Checkpointing",
}


@dataclasses.dataclass(frozen=True)
class Api:
    symbol: str
    ret: str
    params: str  # without the parentheses; "void" when there are none
    args: tuple[str, ...]
    family: str


@dataclasses.dataclass(frozen=True)
class Gpa:
    name: str
    version: int
    flags: int
    symbol: str


def fail(message: str) -> NoReturn:
    sys.exit(f"gen_front: {message}")


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def macro_rows(text: str, macro: str) -> Iterable[list[str]]:
    """The comma-separated arguments of every `macro(...)` row, nested parentheses kept whole."""
    for m in re.finditer(rf"\b{macro}\(", text):
        depth, args, start = 1, [], m.end()
        for i in range(m.end(), len(text)):
            ch = text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    args.append(text[start:i].strip())
                    break
            elif ch == "," and depth == 1:
                args.append(text[start:i].strip())
                start = i + 1
        else:
            fail(f"unterminated {macro}( row")
        yield args


def unparen(text: str) -> str:
    if not (text.startswith("(") and text.endswith(")")):
        fail(f"expected a parenthesised list, got {text!r}")
    return text[1:-1].strip()


def read_api(path: Path) -> tuple[list[Api], list[Gpa]]:
    text = strip_comments(path.read_text())
    apis: list[Api] = []
    for row in macro_rows(text, "BF_ENTRY"):
        if len(row) != 5:
            fail(f"{path}: BF_ENTRY row with {len(row)} fields: {row}")
        symbol, ret, params, args, family = row
        arg_list = tuple(a.strip() for a in unparen(args).split(",") if a.strip())
        apis.append(Api(symbol, ret, unparen(params), arg_list, family))
    gpas: list[Gpa] = []
    for row in macro_rows(text, "BF_GPA"):
        if len(row) != 4:
            fail(f"{path}: BF_GPA row with {len(row)} fields: {row}")
        gpas.append(Gpa(row[0], int(row[1]), int(row[2]), row[3]))
    symbols = {a.symbol for a in apis}
    if len(symbols) != len(apis):
        fail(f"{path}: a symbol is listed twice")
    for g in gpas:
        if g.symbol not in symbols:
            fail(f"{path}: BF_GPA({g.name}, {g.version}, {g.flags}) names {g.symbol}: no BF_ENTRY row")
        if g.flags not in (GPA_FLAGS_DEFAULT, GPA_FLAGS_PER_THREAD):
            fail(f"{path}: BF_GPA({g.name}, {g.version}) has flags {g.flags}")
    return apis, gpas


def read_status(path: Path, apis: list[Api]) -> dict[str, bool]:
    """symbol -> implemented; every symbol of cuda_api.def exactly once, and nothing else."""
    text = strip_comments(path.read_text())
    status: dict[str, bool] = {}
    for m in re.finditer(r"\b(IMPLEMENTED|UNSUPPORTED)\(\s*(\w+)\s*\)", text):
        if m.group(2) in status:
            fail(f"{path}: {m.group(2)} is listed twice")
        status[m.group(2)] = m.group(1) == "IMPLEMENTED"
    known = {a.symbol for a in apis}
    extra = sorted(set(status) - known)
    missing = sorted(known - set(status))
    if extra:
        fail(f"{path}: not exported symbols of cuda.h (see cuda_api.def): {', '.join(extra)}")
    if missing:
        fail(f"{path}: no IMPLEMENTED/UNSUPPORTED row for: {', '.join(missing)}")
    return status


C_PRELUDE = """\
/* The legacy (unversioned, 32-bit) and _ptds/_ptsz prototypes exist only in this configuration. */
#ifndef __CUDA_API_VERSION_INTERNAL
#define __CUDA_API_VERSION_INTERNAL 1
#endif
/* The functions defined here are exported (the library builds with -fvisibility=hidden). */
#ifndef __CUDA_API_PUSH_VISIBILITY_DEFAULT
#define __CUDA_API_PUSH_VISIBILITY_DEFAULT 1
#endif
#include <cuda.h>
"""


def rename_undo(apis: list[Api], status: dict[str, bool]) -> list[str]:
    """Lines that take back the forced include's renaming (generated files that define or take the
    address of the exported names themselves)."""
    out = ["/* The exported names themselves here (see entry_rename.h). */"]
    out.extend(f"#undef {api.symbol}" for api in apis if status[api.symbol])
    out.append("")
    return out


def render_rename(apis: list[Api], status: dict[str, bool]) -> str:
    out = [
        "/* entry_rename.h: generated by tools/dev/gen_front.py from cuda_api.def and status.def, do not",
        "   edit. Forced into every source of libbf.so (-include): the IMPLEMENTED entry points are",
        "   defined as bf_impl_<name> and exported through the wrappers of entry_trace.c (bf-trace). */",
        "#ifndef BF_ENTRY_RENAME_H",
        "#define BF_ENTRY_RENAME_H",
        C_PRELUDE,
        "/* Default visibility as the definitions' BF_API says; the version script keeps them local. */",
    ]
    for api in apis:
        if status[api.symbol]:
            out.append(f'__attribute__((visibility("default"))) {api.ret} '
                       f"bf_impl_{api.symbol}({api.params});")
    out.append("")
    for api in apis:
        if status[api.symbol]:
            out.append(f"#define {api.symbol} bf_impl_{api.symbol}")
    out += ["", "#endif", ""]
    return "\n".join(out)


def base_name(symbol: str) -> str:
    """cuMemcpyHtoD_v2_ptds -> cuMemcpyHtoD: the name a --trace-args row is keyed by."""
    return re.sub(r"_v\d+$", "", re.sub(r"_pt(ds|sz)$", "", symbol))


def read_trace_args(path: Path) -> dict[str, str]:
    """base name -> capture statement (C, with $t the bf_trace_call_t * and $r the result)."""
    rows: dict[str, str] = {}
    for row in macro_rows(strip_comments(path.read_text()), "BF_TRACE_ARGS"):
        if len(row) != 2:
            fail(f"{path}: BF_TRACE_ARGS row with {len(row)} fields: {row}")
        if row[0] in rows:
            fail(f"{path}: {row[0]} is listed twice")
        rows[row[0]] = row[1]
    return rows


def render_trace(apis: list[Api], status: dict[str, bool], capture: dict[str, str]) -> str:
    out = [
        "/* entry_trace.c: generated by tools/dev/gen_front.py from cuda_api.def, status.def and",
        "   trace_args.def, do not edit. The exported IMPLEMENTED entry points: each calls its",
        "   bf_impl_ definition, and records the call when bf-trace is recording (docs/trace.md). */",
        *rename_undo(apis, status),
        C_PRELUDE,
        '#include "trace/trace.h"',
        "",
        "const char *const bf_trace_api_names[] = {",
        *(f'    "{api.symbol}",' for api in apis),
        "};",
        f"const uint16_t bf_trace_api_count = {len(apis)};",
        "",
    ]
    used: set[str] = set()
    for api_id, api in enumerate(apis):
        if not status[api.symbol]:
            continue
        args = ", ".join(api.args)
        call = f"bf_impl_{api.symbol}({args})"
        per_thread = re.search(r"_pt(ds|sz)$", api.symbol) is not None
        stmt = capture.get(base_name(api.symbol))
        if stmt is not None:
            used.add(base_name(api.symbol))
        else:
            streams = [m.group(1) for m in re.finditer(r"\bCUstream\s+(\w+)", api.params)]
            if streams:
                stmt = f"bf_trace_args_stream($t, {streams[0]})"
        # The recording path is a cold function of its own, so that the exported one stays a
        # test and a tail jump when bf-trace is off.
        out.append(f"static __attribute__((noinline, cold)) {api.ret} traced_{api.symbol}({api.params})")
        out.append("{")
        out.append("    bf_trace_call_t bf_call_;")
        out.append("    bf_trace_begin(&bf_call_);")
        out.append(f"    {api.ret} bf_r_ = {call};")
        if stmt is not None:
            c_stmt = stmt.replace("$t", "&bf_call_").replace("$r", "(int)bf_r_")
            out.append(f"    {c_stmt};")
        if per_thread:
            out.append("    bf_call_.rec.flags |= BF_TRACE_F_PTDS;")
        out.append(f"    bf_trace_end(&bf_call_, {api_id}, (int)bf_r_);")
        out.append("    return bf_r_;")
        out.append("}")
        out.append("")
        out.append(f'__attribute__((visibility("default"))) {api.ret} {api.symbol}({api.params})')
        out.append("{")
        out.append("    if (__builtin_expect(bf_trace_on, 0))")
        out.append(f"        return traced_{api.symbol}({args});")
        out.append(f"    return {call};")
        out.append("}")
        out.append("")
    unused = sorted(set(capture) - used)
    if unused:
        fail(f"trace_args.def: rows for names with no IMPLEMENTED symbol: {', '.join(unused)}")
    return "\n".join(out)


def render_stubs(apis: list[Api], status: dict[str, bool], stub_implemented: bool) -> str:
    out = [
        "/* entry_stubs.c: generated by tools/dev/gen_front.py from cuda_api.def and status.def,",
        "   do not edit. */",
        C_PRELUDE,
        '#include "engine.h"',
        '#include "trace/trace.h"',
        "",
    ]
    count = 0
    for api_id, api in enumerate(apis):
        implemented = status[api.symbol]
        if implemented and not stub_implemented:
            continue
        count += 1
        attrs = '__attribute__((visibility("default")))'
        if implemented:
            attrs += " __attribute__((weak))"
        out.append(f"{attrs} {api.ret} {api.symbol}({api.params})")
        out.append("{")
        out.extend(f"    (void){arg};" for arg in api.args)
        if not implemented:
            # bf-trace records refused calls too (a weak stub of an IMPLEMENTED name is called
            # through its recording wrapper already).
            out.append("    if (__builtin_expect(bf_trace_on, 0))")
            out.append(f'        return bf_trace_unsupported({api_id}, "{api.symbol}");')
        out.append(f'    return bf_unsupported("{api.symbol}");')
        out.append("}")
        out.append("")
    out.append(f"/* {count} stubs */")
    return "\n".join(out) + "\n"


def render_gpa(gpas: list[Gpa], undo: list[str]) -> str:
    by_name: dict[str, dict[int, list[Gpa]]] = {}
    for g in gpas:
        by_name.setdefault(g.name, {}).setdefault(g.flags, []).append(g)
    # Byte-wise order, the order strcmp() gives, for the binary search.
    names = sorted(by_name, key=lambda n: n.encode())
    out = [
        "/* entry_gpa_table.c: generated by tools/dev/gen_front.py from cuda_api.def, do not edit. */",
        *undo,
        C_PRELUDE,
        '#include "gpa.h"',
        "",
        "/* Per name: its default breakpoints, then its per-thread ones, each oldest first. */",
        "const bf_cl_gpa_variant_t bf_cl_gpa_variants[] = {",
    ]
    rows: list[str] = []
    index = 0
    for name in names:
        flavours = by_name[name]
        default = sorted(flavours.get(GPA_FLAGS_DEFAULT, []), key=lambda g: g.version)
        per_thread = sorted(flavours.get(GPA_FLAGS_PER_THREAD, []), key=lambda g: g.version)
        for g in default + per_thread:
            out.append(f"    {{{g.version}, (void *){g.symbol}}},")
        if index >= 1 << 16 or len(default) >= 1 << 8 or len(per_thread) >= 1 << 8:
            fail(f"{name}: the table outgrew bf_cl_gpa_name_t's fields (gpa.h)")
        rows.append(f'    {{"{name}", {index}, {len(default)}, {len(per_thread)}}},')
        index += len(default) + len(per_thread)
    out += [
        "};",
        "",
        "const bf_cl_gpa_name_t bf_cl_gpa_names[] = {",
        *rows,
        "};",
        "",
        "const size_t bf_cl_gpa_name_count = sizeof(bf_cl_gpa_names) / sizeof(bf_cl_gpa_names[0]);",
        "",
    ]
    return "\n".join(out)


def render_map(apis: list[Api]) -> str:
    out = [
        "/* libbf.map: generated by tools/dev/gen_front.py from cuda_api.def, do not edit.",
        "   libbf.so exports exactly the functions cuda.h declares. */",
        "{",
        "  global:",
    ]
    out.extend(f"    {api.symbol};" for api in sorted(apis, key=lambda a: a.symbol))
    out += ["  local:", "    *;", "};", ""]
    return "\n".join(out)


def render_doc(apis: list[Api], status: dict[str, bool]) -> str:
    families: dict[str, list[Api]] = {}
    for api in apis:
        families.setdefault(api.family, []).append(api)
    order = [f for f in FAMILY_TITLES if f in families] + sorted(set(families) - set(FAMILY_TITLES))
    total_impl = sum(status.values())
    out = [
        "<!-- generated by tools/dev/gen_front.py, do not edit: "
        "python3 tools/dev/gen_front.py --doc docs/compatibility.md -->",
        "",
        "# CUDA driver API compatibility",
        "",
        "Every function NVIDIA's CUDA 13.0 `cuda.h` declares is exported by `libbf.so` under its real",
        "symbol name: the default names (`cuMemAlloc_v2`), the legacy unversioned ones (`cuMemAlloc`) and",
        "the per-thread default stream variants (`_ptds`, `_ptsz`). `cuGetProcAddress` hands out the same",
        "functions. A function marked *not supported* returns `CUDA_ERROR_NOT_SUPPORTED` (801) and prints",
        "`openbf: <name> is not supported yet` on stderr the first time it is called.",
        "",
        f"Implemented: **{total_impl}** of {len(apis)} exported names.",
        "",
        "| family | implemented | not supported | total |",
        "|---|---:|---:|---:|",
    ]
    for fam in order:
        impl = sum(status[a.symbol] for a in families[fam])
        out.append(f"| [{fam}](#{fam}) | {impl} | {len(families[fam]) - impl} | {len(families[fam])} |")
    out.append(f"| all | {total_impl} | {len(apis) - total_impl} | {len(apis)} |")
    for fam in order:
        title = FAMILY_TITLES.get(fam, fam)
        out += ["", f'<a id="{fam}"></a>', f"## {fam}: {title}", "", "| name | status |", "|---|---|"]
        for api in sorted(families[fam], key=lambda a: a.symbol):
            out.append(f"| `{api.symbol}` | {'implemented' if status[api.symbol] else 'not supported'} |")
    out.append("")
    return "\n".join(out)


def write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", type=Path, default=ENTRY / "cuda_api.def")
    parser.add_argument("--status", type=Path, default=ENTRY / "status.def")
    parser.add_argument("--stubs", type=Path)
    parser.add_argument("--gpa", type=Path)
    parser.add_argument("--map", type=Path)
    parser.add_argument("--doc", type=Path)
    parser.add_argument("--rename", type=Path, help="bf-trace: the forced include (entry_rename.h)")
    parser.add_argument("--trace", type=Path, help="bf-trace: the exported wrappers (entry_trace.c)")
    parser.add_argument("--trace-args", type=Path, default=ROOT / "libintercept" / "trace" / "trace_args.def")
    parser.add_argument(
        "--stub-implemented",
        action="store_true",
        help="also emit weak stubs for IMPLEMENTED symbols (development builds)",
    )
    ns = parser.parse_args(argv)

    apis, gpas = read_api(ns.api)
    status = read_status(ns.status, apis)
    unknown = sorted({a.family for a in apis} - set(FAMILY_TITLES))
    if unknown:
        fail(f"families without a title in FAMILY_TITLES: {', '.join(unknown)}")
    if ns.stubs:
        write(ns.stubs, render_stubs(apis, status, ns.stub_implemented))
    if ns.gpa:
        write(ns.gpa, render_gpa(gpas, rename_undo(apis, status)))
    if ns.map:
        write(ns.map, render_map(apis))
    if ns.doc:
        write(ns.doc, render_doc(apis, status))
    if ns.rename:
        write(ns.rename, render_rename(apis, status))
    if ns.trace:
        write(ns.trace, render_trace(apis, status, read_trace_args(ns.trace_args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
