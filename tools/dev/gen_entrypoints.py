#!/usr/bin/env python3
"""Writes libintercept/entry/cuda_api.def from the pinned cuda.h and cudaTypedefs.h.

cuda.h declares each driver function under one name per configuration: the default names (macros
such as ``#define cuMemAlloc cuMemAlloc_v2`` applied), the per-thread names (``_ptds``/``_ptsz``,
with ``CUDA_API_PER_THREAD_DEFAULT_STREAM``) and the legacy names (``cuMemAlloc`` taking an
``unsigned int``, with ``__CUDA_API_VERSION_INTERNAL``). A real libcuda.so.1 exports all of them, so
the header is preprocessed in all three configurations and every function declared in any of them
becomes one ``BF_ENTRY`` row.

cudaTypedefs.h names every ABI a base name has had: ``PFN_cuMemAlloc_v2000`` and
``PFN_cuMemAlloc_v3020``, ``PFN_cuMemcpyHtoD_v7000_ptds``. Each typedef is paired with the exported
symbol of the same base name and flavour whose signature the compiler finds identical; the pairs
become the ``BF_GPA`` rows that cuGetProcAddress serves (newest version at or below the caller's).

Usage: gen_entrypoints.py [--include DIR] [--output FILE] [--check]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "libintercept" / "entry" / "cuda_api.def"

# The three ways cuda.h can be read; every function any of them declares is an exported symbol.
CONFIGURATIONS: dict[str, list[str]] = {
    "default": [],
    "per-thread": ["-DCUDA_API_PER_THREAD_DEFAULT_STREAM"],
    "legacy": ["-D__CUDA_API_VERSION_INTERNAL"],
}

# cuda.h's doxygen groups, folded into the families of the CUDA reference that openbf uses for its
# file layout (driver/<family>.c). A group missing here stops the generator: a new header must be
# looked at, not guessed.
GROUP_FAMILY: dict[str, str] = {
    "CUDA_ERROR": "error",
    "CUDA_INITIALIZE": "init",
    "CUDA_VERSION": "init",
    "CUDA_DEVICE": "device",
    "CUDA_DEVICE_DEPRECATED": "device",
    "CUDA_PRIMARY_CTX": "context",
    "CUDA_CTX": "context",
    "CUDA_CTX_DEPRECATED": "context",
    "CUDA_MODULE": "module",
    "CUDA_MODULE_DEPRECATED": "module",
    "CUDA_LIBRARY": "library",
    "CUDA_MEM": "memory",
    "CUDA_VA": "vmm",
    "CUDA_MALLOC_ASYNC": "mempool",
    "CUDA_MULTICAST": "multicast",
    "CUDA_UNIFIED": "pointer",
    "CUDA_STREAM": "stream",
    "CUDA_EVENT": "event",
    "CUDA_EXTRES_INTEROP": "external",
    "CUDA_MEMOP": "memop",
    "CUDA_EXEC": "launch",
    "CUDA_EXEC_DEPRECATED": "launch",
    "CUDA_GRAPH": "graph",
    "CUDA_OCCUPANCY": "occupancy",
    "CUDA_TEXREF_DEPRECATED": "texture",
    "CUDA_TEXOBJECT": "texture",
    "CUDA_SURFREF_DEPRECATED": "surface",
    "CUDA_SURFOBJECT": "surface",
    "CUDA_TENSOR_MEMORY": "tensor",
    "CUDA_PEER_ACCESS": "peer",
    "CUDA_GRAPHICS": "graphics",
    "CUDA_DRIVER_ENTRY_POINT": "entry",
    "CUDA_COREDUMP": "coredump",
    "CUDA_GREEN_CONTEXTS": "greenctx",
    "CUDA_LOGS": "logs",
    "CUDA_CHECKPOINT": "checkpoint",
}

# Base names cuda.h declares only outside any group (cuGraphInstantiate survives only as legacy
# names: the default name became a macro for cuGraphInstantiateWithFlags).
NAME_FAMILY: dict[str, str] = {
    "cuGetExportTable": "entry",
    "cuGraphInstantiate": "graph",
}

SYMBOL_RE = re.compile(r"^(?P<base>cu[A-Za-z0-9]+)(?:_v(?P<n>\d+))?(?:_(?P<pt>ptds|ptsz))?$")
TYPEDEF_RE = re.compile(
    r"typedef\s+(?P<ret>\w+)\s*\(\s*\*\s*PFN_(?P<base>cu[A-Za-z0-9]+)_v(?P<ver>\d+)(?:_(?P<pt>ptds|ptsz))?"
    r"\s*\)\s*\("
)
LINEMARKER_RE = re.compile(r'^#\s+(\d+)\s+"([^"]*)"')


@dataclasses.dataclass
class Function:
    """One exported symbol as cuda.h declares it."""

    symbol: str
    ret: str
    params: str  # the parameter list as written, without the parentheses
    line: int  # where cuda.h declares it (for the doxygen group)
    family: str = ""

    @property
    def base(self) -> str:
        return split_symbol(self.symbol)[0]

    @property
    def per_thread(self) -> bool:
        return split_symbol(self.symbol)[2] != ""

    @property
    def args(self) -> list[str]:
        return [param_name(p) for p in split_params(self.params)]


@dataclasses.dataclass(frozen=True)
class Breakpoint:
    """cuGetProcAddress(base, version >= this version, flags) means symbol."""

    base: str
    version: int
    flags: int  # 0: default/legacy stream, 2: per-thread default stream
    symbol: str


def fail(message: str) -> NoReturn:
    sys.exit(f"gen_entrypoints: {message}")


def split_symbol(symbol: str) -> tuple[str, int, str]:
    """cuMemcpyHtoD_v2_ptds -> ("cuMemcpyHtoD", 2, "ptds"); an unversioned name is version 1."""
    m = SYMBOL_RE.match(symbol)
    if not m:
        fail(f"unexpected symbol name {symbol}")
    return m["base"], int(m["n"] or 1), m["pt"] or ""


def split_top(text: str, sep: str) -> list[str]:
    """Splits text at sep outside parentheses and brackets."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def split_params(params: str) -> list[str]:
    if params.strip() in ("", "void"):
        return []
    return split_top(params, ",")


QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "struct", "enum", "union"}
BUILTIN_TYPES = {"int", "char", "short", "long", "float", "double", "void", "unsigned", "signed"}


def param_name(param: str) -> str:
    """The declared name of one parameter: `void (*fn)(void *)` -> fn, `char name[16]` -> name.
    Stops the generator on an unnamed parameter (`CUcontext`, `const char *`): stubs need names."""
    m = re.search(r"\(\s*\*\s*(\w+)\s*\)", param)
    if m:
        return m.group(1)
    tokens: list[str] = re.findall(r"\w+|\*", re.sub(r"\[[^\]]*\]", "", param))
    if len(tokens) < 2 or not re.fullmatch(r"\w+", tokens[-1]):
        fail(f"parameter without a name: {param!r}")
    type_tokens = [t for t in tokens[:-1] if t not in QUALIFIERS]
    if not type_tokens or tokens[-1] in BUILTIN_TYPES:
        fail(f"parameter without a name: {param!r}")
    return tokens[-1]


def strip_attributes(text: str) -> str:
    """Removes every __attribute__((...)) (cuda.h marks deprecated functions with one)."""
    while True:
        i = text.find("__attribute__")
        if i < 0:
            return text
        j = text.index("(", i)
        depth = 0
        for k in range(j, len(text)):
            if text[k] == "(":
                depth += 1
            elif text[k] == ")":
                depth -= 1
                if depth == 0:
                    text = text[:i] + " " + text[k + 1 :]
                    break


def preprocess(include: Path, header: str, flags: list[str]) -> list[tuple[str, int, str]]:
    """Runs gcc -E; returns (file, line, text) for each output line, from the line markers."""
    cmd = ["gcc", "-E", "-x", "c", *flags, "-I", str(include), "-"]
    out = subprocess.run(cmd, input=f"#include <{header}>\n", capture_output=True, text=True, check=True)
    lines: list[tuple[str, int, str]] = []
    current, lineno = "", 0
    for raw in out.stdout.splitlines():
        m = LINEMARKER_RE.match(raw)
        if m:
            lineno, current = int(m.group(1)), m.group(2)
            continue
        lines.append((current, lineno, raw))
        lineno += 1
    return lines


def statements(lines: Iterable[tuple[str, int, str]], wanted: Path) -> Iterable[tuple[int, str]]:
    """Top-level statements of one header: (line of the first token, text). Function bodies are
    dropped (cuda.h defines a static inline wrapper in the per-thread configuration)."""
    depth = 0
    in_body = False
    text: list[str] = []
    first = 0
    for name, lineno, raw in lines:
        if Path(name).resolve() != wanted:
            continue
        for ch in raw + "\n":
            if in_body:
                depth += {"{": 1, "}": -1}.get(ch, 0)
                if depth == 0:
                    in_body, text = False, []
                continue
            if ch == "{" and depth == 0 and "".join(text).rstrip().endswith(")"):
                in_body, depth = True, 1
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == ";" and depth == 0:
                yield first, " ".join("".join(text).split())
                text = []
                continue
            if not text and not ch.isspace():
                first = lineno
            if text or not ch.isspace():
                text.append(ch)


DECL_RE = re.compile(
    r"^(?:extern\s+)?(?P<ret>[A-Za-z_][\w\s\*]*?)\s*\b(?P<name>cu[A-Za-z0-9_]+)\s*\((?P<params>.*)\)$"
)


def parse_functions(include: Path) -> dict[str, Function]:
    cuda_h = (include / "cuda.h").resolve()
    found: dict[str, Function] = {}
    for config, flags in CONFIGURATIONS.items():
        for line, stmt in statements(preprocess(include, "cuda.h", flags), cuda_h):
            stmt = " ".join(strip_attributes(stmt).split())
            if stmt.startswith(("typedef", "static", "struct", "enum", "union")):
                continue
            m = DECL_RE.match(stmt)
            if not m:
                continue
            fn = Function(m["name"], " ".join(m["ret"].split()), m["params"].strip(), line)
            old = found.get(fn.symbol)
            if old is None:
                found[fn.symbol] = fn
            elif not same_params(old.params, fn.params):
                fail(
                    f"{fn.symbol} declared differently in configuration {config}: "
                    f"({old.params}) vs ({fn.params})"
                )
    return found


def same_params(a: str, b: str) -> bool:
    """Equal up to spacing and parameter names (the legacy section renames a few)."""

    def types(p: str) -> list[str]:
        return [" ".join(re.sub(rf"\b{param_name(x)}\b", "", x).split()) for x in split_params(p)]

    return types(a) == types(b)


def doxygen_groups(cuda_h: Path) -> list[tuple[int, int, str]]:
    """(first line, last line, group) for every \\defgroup of cuda.h; groups do not nest."""
    groups: list[tuple[int, int, str]] = []
    name, start = "", 0
    for lineno, text in enumerate(cuda_h.read_text().splitlines(), 1):
        m = re.search(r"\\defgroup\s+(\w+)", text)
        if m:
            name, start = m.group(1), lineno
        elif "@}" in text and name:
            groups.append((start, lineno, name))
            name = ""
    return groups


def assign_families(functions: dict[str, Function], cuda_h: Path) -> None:
    groups = doxygen_groups(cuda_h)
    by_base: dict[str, str] = {}
    for fn in functions.values():
        for first, last, group in groups:
            if first <= fn.line <= last:
                if group not in GROUP_FAMILY:
                    fail(f"{fn.symbol} is in doxygen group {group}, which GROUP_FAMILY does not map")
                fn.family = GROUP_FAMILY[group]
                by_base.setdefault(fn.base, fn.family)
                break
    # The legacy declarations sit in an ungrouped section at the end of cuda.h: they belong to the
    # family of the current name they are an older version of.
    for fn in functions.values():
        if not fn.family:
            fn.family = by_base.get(fn.base) or NAME_FAMILY.get(fn.base, "")
        if not fn.family:
            fail(f"{fn.symbol} (cuda.h line {fn.line}) has no doxygen group; add it to NAME_FAMILY")


def parse_typedefs(include: Path) -> list[tuple[str, int, str]]:
    """(base, version, "ptds"/"ptsz"/"") for each PFN typedef of cudaTypedefs.h, legacy ones included."""
    path = (include / "cudaTypedefs.h").resolve()
    found: list[tuple[str, int, str]] = []
    for _, stmt in statements(preprocess(include, "cudaTypedefs.h", CONFIGURATIONS["legacy"]), path):
        m = TYPEDEF_RE.match(stmt)
        if m:
            found.append((m["base"], int(m["ver"]), m["pt"] or ""))
    if not found:
        fail("no PFN typedefs found in cudaTypedefs.h")
    return found


def compatible_pairs(
    include: Path, functions: dict[str, Function], pairs: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The (typedef, symbol) pairs whose function types the compiler finds identical. Compiled in
    the legacy configuration, where every type a declaration uses exists."""
    src = [
        "#define __CUDA_API_VERSION_INTERNAL 1",
        "#include <stdio.h>",
        "#include <cuda.h>",
        "#include <cudaTypedefs.h>",
    ]
    for fn in functions.values():
        src.append(f"typedef {fn.ret} (*bf_sig_{fn.symbol})({fn.params or 'void'});")
    src.append("int main(void) {")
    for pfn, symbol in pairs:
        src.append(
            f'    printf("%d {pfn} {symbol}\\n", __builtin_types_compatible_p({pfn}, bf_sig_{symbol}));'
        )
    src += ["    return 0;", "}"]
    with tempfile.TemporaryDirectory() as tmp:
        c_file, exe = Path(tmp) / "check.c", Path(tmp) / "check"
        c_file.write_text("\n".join(src) + "\n")
        subprocess.run(["gcc", "-w", "-I", str(include), "-o", str(exe), str(c_file)], check=True)
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    result: set[tuple[str, str]] = set()
    for line in out.splitlines():
        ok, pfn, symbol = line.split()
        if ok == "1":
            result.add((pfn, symbol))
    return result


def breakpoints(include: Path, functions: dict[str, Function]) -> list[Breakpoint]:
    """Pairs every PFN typedef with the exported symbol it describes.

    Within one base name and flavour (default, or per-thread) the typedefs in version order and the
    symbols in suffix order (cuFoo, cuFoo_v2, ...) are the same sequence; the compiler confirms each
    pair has the same signature. Two ABIs that happen to have identical signatures
    (cuDevicePrimaryCtxRelease and _v2) are told apart by that order alone."""
    # (base, per-thread) -> {version: typedef name}
    groups: dict[tuple[str, bool], dict[int, str]] = {}
    for base, version, pt in parse_typedefs(include):
        name = f"PFN_{base}_v{version}" + (f"_{pt}" if pt else "")
        groups.setdefault((base, pt != ""), {})[version] = name
    symbols: dict[tuple[str, bool], list[str]] = {}
    for fn in functions.values():
        symbols.setdefault((fn.base, fn.per_thread), []).append(fn.symbol)

    planned: list[tuple[str, int, bool, str]] = []
    for (base, per_thread), typedefs in sorted(groups.items()):
        versions = sorted(typedefs)
        candidates = sorted(symbols.get((base, per_thread), []), key=lambda s: split_symbol(s)[1])
        if not candidates:
            # A typedef for a name cuda.h no longer declares (or an interop header's function):
            # nothing can be handed out for it.
            print(
                f"gen_entrypoints: note: PFN typedefs of {base} (per-thread {per_thread}) "
                "have no exported symbol; skipped",
                file=sys.stderr,
            )
            continue
        if len(candidates) != len(versions):
            fail(f"{base} (per-thread {per_thread}): versions {versions} but symbols {candidates}")
        for version, symbol in zip(versions, candidates, strict=True):
            planned.append((base, version, per_thread, symbol))

    pairs = [(groups[(b, pt)][v], s) for b, v, pt, s in planned]
    ok = compatible_pairs(include, functions, pairs)
    result: list[Breakpoint] = []
    for (base, version, per_thread, symbol), pair in zip(planned, pairs, strict=True):
        if pair not in ok:
            fail(f"{pair[0]} and {symbol} have different signatures")
        result.append(Breakpoint(base, version, 2 if per_thread else 0, symbol))

    described = {bp.symbol for bp in result}
    missing = sorted(set(functions) - described)
    if missing:
        fail(f"exported symbols with no PFN typedef (cuGetProcAddress could not serve them): {missing}")
    return result


def render(functions: dict[str, Function], bps: list[Breakpoint], cuda_version: str) -> str:
    out = [
        "/*",
        " * cuda_api.def: generated by tools/dev/gen_entrypoints.py, do not edit.",
        f" * Source: cuda.h and cudaTypedefs.h of CUDA {cuda_version} (pip nvidia-cuda-runtime, pinned).",
        " *",
        " * BF_ENTRY(symbol, return type, (parameters), (arguments), family)",
        " *   one row per exported symbol: default names, legacy unversioned names",
        " *   (__CUDA_API_VERSION_INTERNAL) and _ptds/_ptsz names (CUDA_API_PER_THREAD_DEFAULT_STREAM).",
        " * BF_GPA(name, cuda_version, flags, symbol)",
        " *   cuGetProcAddress(name, v, flags) returns the symbol of the row with the greatest",
        " *   cuda_version <= v; flags 0 rows serve the default and legacy stream, flags 2 rows",
        " *   (CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) the per-thread default stream; a name",
        " *   without flags 2 rows serves its flags 0 rows for every flag.",
        " */",
        "",
        "#ifdef BF_ENTRY",
    ]
    for fn in sorted(functions.values(), key=lambda f: f.symbol):
        params = fn.params or "void"
        out.append(f"BF_ENTRY({fn.symbol}, {fn.ret}, ({params}), ({', '.join(fn.args)}), {fn.family})")
    out += ["#endif", "", "#ifdef BF_GPA"]
    for bp in sorted(bps, key=lambda b: (b.base, b.flags, b.version)):
        out.append(f"BF_GPA({bp.base}, {bp.version}, {bp.flags}, {bp.symbol})")
    out += ["#endif", ""]
    return "\n".join(out)


def default_include() -> Path:
    import nvidia.cu13  # type: ignore[import-not-found]  # the pinned wheel; only needed here

    return Path(list(nvidia.cu13.__path__)[0]) / "include"


def cuda_version(include: Path) -> str:
    m = re.search(r"#define\s+CUDA_VERSION\s+(\d+)", (include / "cuda.h").read_text())
    if not m:
        fail("CUDA_VERSION not found in cuda.h")
    return m.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--include", type=Path, help="directory holding cuda.h (default: the pinned wheel)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the output file is not up to date")
    ns = parser.parse_args()
    include: Path = ns.include or default_include()
    if not (include / "cuda.h").is_file():
        fail(f"cuda.h not found in {include}")

    functions = parse_functions(include)
    assign_families(functions, (include / "cuda.h").resolve())
    text = render(functions, breakpoints(include, functions), cuda_version(include))

    output: Path = ns.output
    if ns.check:
        if not output.exists() or output.read_text() != text:
            print(f"{output} is stale: run tools/dev/gen_entrypoints.py", file=sys.stderr)
            return 1
        return 0
    tmp = output.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, output)
    print(f"wrote {output}: {len(functions)} symbols", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
