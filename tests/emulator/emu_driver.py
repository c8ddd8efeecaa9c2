"""ctypes access to a libcuda-compatible library, for the emulator's own tests.

Each test runs its calls in a fresh process (``run_driver_script``): the emulator reads its
BF_EMU_* variables once, at cuInit, and a process can initialise it only once. The script sees
``cu`` (the loaded library, with argument types for the calls used here), ``CUDA_MEMCPY2D`` and
``check(result, what)``; what it prints on stdout comes back to the test.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from openbf import paths

_HERE = Path(__file__).resolve().parent

c_size_t = ctypes.c_size_t
c_u64 = ctypes.c_uint64
c_int = ctypes.c_int
c_uint = ctypes.c_uint
c_void_p = ctypes.c_void_p
P = ctypes.POINTER


class CUDA_MEMCPY2D(ctypes.Structure):  # noqa: N801 (cuda.h's name)
    _fields_ = [
        ("srcXInBytes", c_size_t),
        ("srcY", c_size_t),
        ("srcMemoryType", c_int),
        ("srcHost", c_void_p),
        ("srcDevice", c_u64),
        ("srcArray", c_void_p),
        ("srcPitch", c_size_t),
        ("dstXInBytes", c_size_t),
        ("dstY", c_size_t),
        ("dstMemoryType", c_int),
        ("dstHost", c_void_p),
        ("dstDevice", c_u64),
        ("dstArray", c_void_p),
        ("dstPitch", c_size_t),
        ("WidthInBytes", c_size_t),
        ("Height", c_size_t),
    ]


_SIGNATURES: dict[str, list[object]] = {
    "cuInit": [c_uint],
    "cuGetProcAddress_v2": [ctypes.c_char_p, P(c_void_p), c_int, c_u64, P(c_int)],
    "cuGetErrorName": [c_int, P(ctypes.c_char_p)],
    "cuGetErrorString": [c_int, P(ctypes.c_char_p)],
    "cuDeviceGetAttribute": [P(c_int), c_int, c_int],
    "cuDeviceComputeCapability": [P(c_int), P(c_int), c_int],
    "cuDeviceTotalMem_v2": [P(c_size_t), c_int],
    "cuDeviceGetName": [ctypes.c_char_p, c_int, c_int],
    "cuDeviceGetUuid_v2": [ctypes.c_char_p, c_int],
    "cuDeviceGetPCIBusId": [ctypes.c_char_p, c_int, c_int],
    "cuDevicePrimaryCtxRetain": [P(c_void_p), c_int],
    "cuDevicePrimaryCtxRelease_v2": [c_int],
    "cuDevicePrimaryCtxReset_v2": [c_int],
    "cuDevicePrimaryCtxGetState": [c_int, P(c_uint), P(c_int)],
    "cuCtxSetCurrent": [c_void_p],
    "cuCtxGetCurrent": [P(c_void_p)],
    "cuCtxGetDevice_v2": [P(c_int), c_void_p],
    "cuCtxSynchronize_v2": [c_void_p],
    "cuMemAlloc_v2": [P(c_u64), c_size_t],
    "cuMemFree_v2": [c_u64],
    "cuMemGetInfo_v2": [P(c_size_t), P(c_size_t)],
    "cuMemcpyHtoD_v2": [c_u64, c_void_p, c_size_t],
    "cuMemcpyDtoH_v2": [c_void_p, c_u64, c_size_t],
    "cuMemcpyDtoD_v2": [c_u64, c_u64, c_size_t],
    "cuMemcpy2D_v2": [P(CUDA_MEMCPY2D)],
    "cuMemcpy2DUnaligned_v2": [P(CUDA_MEMCPY2D)],
    "cuMemsetD8_v2": [c_u64, ctypes.c_ubyte, c_size_t],
    "cuMemsetD16_v2": [c_u64, ctypes.c_ushort, c_size_t],
    "cuMemsetD32_v2": [c_u64, c_uint, c_size_t],
    "cuPointerGetAttribute": [c_void_p, c_int, c_u64],
}


def load(path: str) -> ctypes.CDLL:
    """Opens the library and declares the argument types of the calls the tests make."""
    lib = ctypes.CDLL(path)
    for name, argtypes in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = c_int
    return lib


def check(result: int, what: str) -> None:
    """Fails the script with the call's name and result when a call did not succeed."""
    if result != 0:
        raise SystemExit(f"{what} failed with CUresult {result}")


_PRELUDE = f"""
import ctypes, json, os, sys
sys.path.insert(0, {str(_HERE)!r})
from emu_driver import CUDA_MEMCPY2D, check, load
cu = load(os.environ["BF_TEST_DRIVER"])
"""


def run_driver_script(
    script: str, env: dict[str, str] | None = None, library: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Runs script in a new Python process with the emulator (or library) loaded as ``cu``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BF_EMU_")}
    full_env["BF_TEST_DRIVER"] = str(library or paths.libbfemu())
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(paths.__file__).parents[1]),
                                                           os.environ.get("PYTHONPATH", "")]))
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", _PRELUDE + script],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@cache
def cuda_header() -> str:
    """The text of the cuda.h the project builds against (the pinned nvidia-cuda-runtime wheel)."""
    import nvidia.cu13  # type: ignore[import-not-found]

    return (Path(list(nvidia.cu13.__path__)[0]) / "include" / "cuda.h").read_text()


def cuda_enum(type_name: str) -> dict[str, int]:
    """The named members of a cuda.h enum typedef (``} type_name;``) with their values."""
    header = cuda_header()
    match = re.search(r"typedef enum \w+ \{([^{}]*)\}\s*" + re.escape(type_name) + r";", header)
    assert match is not None, f"enum {type_name} not found in cuda.h"
    body = re.sub(r"/\*.*?\*/", "", match.group(1), flags=re.S)
    members: dict[str, int] = {}
    for name, value in re.findall(r"(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)", body):
        members[name] = int(value, 0)
    return members
