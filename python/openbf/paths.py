"""Where openbf's compiled parts are: a meson build directory (``BF_BUILD_DIR``) or the package.

Installed, the binaries live in ``openbf/_lib``. During development ``BF_BUILD_DIR`` names a meson
build directory, whose layout mirrors the source tree. ``BF_WORKER_PATH`` names the bf-worker
executable itself and wins over both: the sanitizer job (tools/dev/sanitize.sh) runs a bf-server
from a plain build with the worker of an AddressSanitizer build.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_LIB = Path(__file__).resolve().parent / "_lib"

# name -> path inside a meson build directory
_BUILD_LAYOUT = {
    "libbf.so": "libintercept/libbf.so",
    "libbfemu.so": "emulator/libbfemu.so",
    "bf-worker": "server/bf-worker",
    "libbftrace_rt.so": "interpose/libbftrace_rt.so",
}


def _find(name: str) -> Path:
    build_dir = os.environ.get("BF_BUILD_DIR")
    path = Path(build_dir) / _BUILD_LAYOUT[name] if build_dir else _PACKAGE_LIB / name
    if not path.exists():
        where = f"BF_BUILD_DIR={build_dir}" if build_dir else f"the installed package ({_PACKAGE_LIB})"
        raise FileNotFoundError(f"openbf: {name} not found in {where}; build or reinstall openbf")
    return path


def libbf() -> Path:
    """The driver front, preloaded into CUDA programs (SONAME libcuda.so.1)."""
    return _find("libbf.so")


def libbfemu() -> Path:
    """The CPU emulator driver."""
    return _find("libbfemu.so")


def libbftrace_rt() -> Path:
    """bf-trace's runtime-level interposer, preloaded while recording (docs/trace.md)."""
    return _find("libbftrace_rt.so")


def worker() -> Path:
    """The per-session worker executable (``BF_WORKER_PATH`` when set)."""
    override = os.environ.get("BF_WORKER_PATH")
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"openbf: BF_WORKER_PATH={override} is not a file")
        return path
    return _find("bf-worker")
