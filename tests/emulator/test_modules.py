"""What only the emulator promises about code loading and launch (emulator/module.c, library.c,
launch.c, occupancy.c), beyond the driver contract: handle checks, its messages for images it
cannot run and for kernel faults, module globals as arena allocations, libraries across a context
reset, the occupancy figures of its Turing profile, BF_EMU_CC choosing the PTX.

The code images are those of the contract suite (tests/c/contract/module_images.h, made from
module_kernels.cu), read back from the header, so that these tests need no CUDA compiler. Each case
runs in a fresh process (run_driver_script).
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest
from emu_driver import run_driver_script
from openbf import paths

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "tests" / "c" / "contract" / "module_images.h"

CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_INVALID_IMAGE = 200
CUDA_ERROR_NO_BINARY_FOR_GPU = 209
CUDA_ERROR_INVALID_PTX = 218
CUDA_ERROR_FILE_NOT_FOUND = 301
CUDA_ERROR_INVALID_HANDLE = 400
CUDA_ERROR_NOT_FOUND = 500
CUDA_ERROR_ILLEGAL_ADDRESS = 700
CUDA_ERROR_NOT_SUPPORTED = 801

NEW_ENTRY_POINTS = [
    "cuModuleLoad", "cuModuleLoadData", "cuModuleLoadDataEx", "cuModuleLoadFatBinary", "cuModuleUnload",
    "cuModuleGetFunction", "cuModuleGetFunctionCount", "cuModuleEnumerateFunctions", "cuModuleGetGlobal",
    "cuModuleGetLoadingMode", "cuLibraryLoadData", "cuLibraryLoadFromFile", "cuLibraryUnload",
    "cuLibraryGetKernel", "cuLibraryGetKernelCount", "cuLibraryEnumerateKernels", "cuLibraryGetModule",
    "cuLibraryGetGlobal", "cuLibraryGetManaged", "cuKernelGetFunction", "cuKernelGetLibrary",
    "cuKernelGetName", "cuKernelGetParamInfo", "cuKernelGetAttribute", "cuKernelSetAttribute",
    "cuKernelSetCacheConfig",
    "cuFuncGetAttribute", "cuFuncSetAttribute", "cuFuncSetCacheConfig", "cuFuncGetParamInfo", "cuFuncGetName",
    "cuFuncGetModule", "cuFuncIsLoaded", "cuFuncLoad", "cuLaunchKernel", "cuLaunchKernelEx",
    "cuOccupancyMaxActiveBlocksPerMultiprocessor", "cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags",
    "cuOccupancyMaxPotentialBlockSize", "cuOccupancyMaxPotentialBlockSizeWithFlags",
    "cuOccupancyAvailableDynamicSMemPerBlock",
]


def _c_array(name: str) -> str:
    match = re.search(r"static const [^\n]*\b" + name + r"\[\] =(.*?);\n", IMAGES.read_text(), re.S)
    assert match is not None, f"{name} not in {IMAGES}"
    return match.group(1)


def module_ptx() -> bytes:
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', _c_array("module_ptx"))
    text = "".join(literals)
    text = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)
    return text.encode()


def words(name: str) -> bytes:
    return b"".join(int(w, 16).to_bytes(8, "little") for w in re.findall(r"0x([0-9a-f]+)ull", _c_array(name)))


@pytest.fixture
def images(tmp_path: Path) -> dict[str, str]:
    """The contract's images as files, named by environment variables the scripts read."""
    if not hasattr(ctypes.CDLL(str(paths.libbfemu())), "cuModuleLoadData"):
        pytest.skip("this libbfemu.so has no code loading: it was built without the PTX engine")
    files = {"PTX": module_ptx() + b"\0", "FATBIN": words("module_fatbin"),
             "CUBIN": words("module_sass_cubin")}
    env = {}
    for key, data in files.items():
        path = tmp_path / key.lower()
        path.write_bytes(data)
        env[f"IMG_{key}"] = str(path)
    return env


# Declarations and a context for the scripts below; `image(name)` is a buffer holding an image.
PRELUDE = """
from ctypes import byref, c_char_p, c_int, c_size_t, c_uint, c_uint64, c_void_p, POINTER, cast
def image(key):
    data = open(os.environ["IMG_" + key], "rb").read()
    return ctypes.create_string_buffer(data, len(data) + 8)
def sig(name, *args):
    fn = getattr(cu, name)
    fn.argtypes = list(args)
    fn.restype = c_int
    return fn
P = POINTER
sig("cuModuleLoadData", P(c_void_p), c_void_p)
sig("cuModuleLoadDataEx", P(c_void_p), c_void_p, c_uint, P(c_int), P(c_void_p))
sig("cuModuleLoad", P(c_void_p), c_char_p)
sig("cuModuleUnload", c_void_p)
sig("cuModuleGetFunction", P(c_void_p), c_void_p, c_char_p)
sig("cuModuleGetGlobal_v2", P(c_uint64), P(c_size_t), c_void_p, c_char_p)
sig("cuModuleGetLoadingMode", P(c_int))
sig("cuLibraryLoadData", P(c_void_p), c_void_p, c_void_p, c_void_p, c_uint, c_void_p, c_void_p, c_uint)
sig("cuLibraryLoadFromFile", P(c_void_p), c_char_p, c_void_p, c_void_p, c_uint, c_void_p, c_void_p, c_uint)
sig("cuLibraryUnload", c_void_p)
sig("cuLibraryGetKernel", P(c_void_p), c_void_p, c_char_p)
sig("cuLibraryGetModule", P(c_void_p), c_void_p)
sig("cuLibraryGetGlobal", P(c_uint64), P(c_size_t), c_void_p, c_char_p)
sig("cuLibraryGetManaged", P(c_uint64), P(c_size_t), c_void_p, c_char_p)
sig("cuKernelGetFunction", P(c_void_p), c_void_p)
sig("cuKernelGetName", P(c_char_p), c_void_p)
sig("cuKernelSetAttribute", c_int, c_int, c_void_p, c_int)
sig("cuFuncGetAttribute", P(c_int), c_int, c_void_p)
sig("cuFuncGetName", P(c_char_p), c_void_p)
sig("cuLaunchKernel", c_void_p, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_void_p,
    P(c_void_p), P(c_void_p))
sig("cuOccupancyMaxActiveBlocksPerMultiprocessor", P(c_int), c_void_p, c_int, c_size_t)
sig("cuOccupancyMaxPotentialBlockSize", P(c_int), P(c_int), c_void_p, c_void_p, c_size_t, c_int)
sig("cuOccupancyAvailableDynamicSMemPerBlock", P(c_size_t), c_void_p, c_int, c_int)
sig("cuPointerGetAttribute", c_void_p, c_int, c_uint64)
sig("cuMemGetAddressRange_v2", P(c_uint64), P(c_size_t), c_uint64)
check(cu.cuInit(0), "cuInit")
ctx = c_void_p()
check(cu.cuDevicePrimaryCtxRetain(byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
def load_module(key="PTX"):
    m = c_void_p()
    check(cu.cuModuleLoadData(byref(m), cast(image(key), c_void_p)), "cuModuleLoadData")
    return m
def function(m, name):
    f = c_void_p()
    check(cu.cuModuleGetFunction(byref(f), m, name.encode()), "cuModuleGetFunction " + name)
    return f
class Wrapper(ctypes.Structure):
    _fields_ = [("magic", c_int), ("version", c_int), ("data", c_void_p), ("files", c_void_p)]
def load_library():
    fatbin = image("FATBIN")
    wrapper = Wrapper(0x466243B1, 1, cast(fatbin, c_void_p), None)
    lib = c_void_p()
    check(cu.cuLibraryLoadData(byref(lib), byref(wrapper), None, None, 0, None, None, 0), "cuLibraryLoadData")
    return lib, fatbin
"""


def run(script: str, images: dict[str, str], env: dict[str, str] | None = None) -> tuple[str, str]:
    result = run_driver_script(PRELUDE + script, {**images, **(env or {})})
    assert result.returncode == 0, f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout, result.stderr


def test_entry_points_resolve(images: dict[str, str]) -> None:
    out, _ = run(f"""
status = c_int(-1)
for name in {NEW_ENTRY_POINTS!r}:
    fn = c_void_p()
    check(cu.cuGetProcAddress_v2(name.encode(), byref(fn), 13000, 0, byref(status)), name)
    assert status.value == 0 and fn.value, name
for name in ("cuLaunchKernel", "cuLaunchKernelEx"):
    fn = c_void_p()
    check(cu.cuGetProcAddress_v2(name.encode(), byref(fn), 13000, 2, byref(status)), name)
    assert fn.value == cast(getattr(cu, name + "_ptsz"), c_void_p).value, name
print("ok")
""", images)
    assert out.strip() == "ok"


def test_handles_are_checked(images: dict[str, str]) -> None:
    out, _ = run("""
results = []
junk = ctypes.create_string_buffer(256)
f = c_void_p()
results.append(cu.cuModuleGetFunction(byref(f), cast(junk, c_void_p), b"vadd"))
m = load_module()
vadd = function(m, "vadd")
name = c_char_p()
results.append(cu.cuFuncGetName(byref(name), c_void_p(vadd.value + 8)))   # inside a function object
results.append(cu.cuLaunchKernel(ctx, 1, 1, 1, 1, 1, 1, 0, None, None, None))  # a context is no function
check(cu.cuModuleUnload(m), "unload")
results.append(cu.cuModuleGetFunction(byref(f), m, b"vadd"))
results.append(cu.cuModuleUnload(m))
results.append(cu.cuFuncGetName(byref(name), vadd))
lib, keep = load_library()
owned = c_void_p()
check(cu.cuLibraryGetModule(byref(owned), lib), "cuLibraryGetModule")
results.append(cu.cuModuleUnload(owned))  # belongs to the library
k = c_void_p()
check(cu.cuLibraryGetKernel(byref(k), lib, b"vadd"), "get kernel")
check(cu.cuLibraryUnload(lib), "library unload")
results.append(cu.cuLibraryGetKernel(byref(k), lib, b"vadd"))
results.append(cu.cuKernelGetName(byref(name), k))
results.append(cu.cuLibraryUnload(lib))
print(results)
""", images)
    assert out.strip() == str([CUDA_ERROR_INVALID_HANDLE] * 10)


def test_images_it_cannot_run(images: dict[str, str], tmp_path: Path) -> None:
    malformed = tmp_path / "malformed.ptx"
    malformed.write_bytes(b".version 9.0\n.target sm_75\n.address_size 64\nfoo bar;\n\0")
    out, err = run(f"""
m = c_void_p()
junk = ctypes.create_string_buffer(b"hello, not a code image")
r_junk = cu.cuModuleLoadData(byref(m), cast(junk, c_void_p))
r_sass = cu.cuModuleLoadData(byref(m), cast(image("CUBIN"), c_void_p))
bad = ctypes.create_string_buffer(open({str(malformed)!r}, "rb").read())
log = ctypes.create_string_buffer(512)
opts = (c_int * 2)(5, 6)   # CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
vals = (c_void_p * 2)(cast(log, c_void_p), c_void_p(512))
r_ptx = cu.cuModuleLoadDataEx(byref(m), cast(bad, c_void_p), 2, opts, vals)
print(r_junk, r_sass, r_ptx, vals[1], log.value.decode())
""", images)
    r_junk, r_sass, r_ptx, logged, log = out.split(maxsplit=4)
    assert (int(r_junk), int(r_sass), int(r_ptx)) == (CUDA_ERROR_INVALID_IMAGE, CUDA_ERROR_NO_BINARY_FOR_GPU,
                                                      CUDA_ERROR_INVALID_PTX)
    # The JIT error log gets the engine's message, and its size option the bytes written.
    assert log.startswith("line 4:") and int(logged) == len(log.strip()) + 1
    assert "has no PTX for compute_75 or lower" in err and "-arch=sm_75" in err
    assert "invalid PTX" in err


def test_globals_are_device_allocations(images: dict[str, str]) -> None:
    out, _ = run("""
m = load_module()
dptr, size = c_uint64(), c_size_t()
check(cu.cuModuleGetGlobal_v2(byref(dptr), byref(size), m, b"bias"), "get global")
mtype = c_uint(0)
# CU_POINTER_ATTRIBUTE_MEMORY_TYPE
check(cu.cuPointerGetAttribute(byref(mtype), 2, dptr.value), "memory type")
base, extent = c_uint64(), c_size_t()
check(cu.cuMemGetAddressRange_v2(byref(base), byref(extent), dptr.value), "address range")
value = ctypes.c_float()
check(cu.cuMemcpyDtoH_v2(byref(value), dptr.value, 4), "read")
missing = cu.cuModuleGetGlobal_v2(byref(dptr), byref(size), m, b"vadd")   # a kernel is no variable
print(size.value, mtype.value, base.value == dptr.value, extent.value, value.value, missing)
""", images)
    assert out.split() == ["4", "2", "True", "4", "0.5", str(CUDA_ERROR_NOT_FOUND)]


def test_library_loads_again_after_a_reset(images: dict[str, str]) -> None:
    out, _ = run("""
lib, keep = load_library()
dptr = c_uint64()
check(cu.cuLibraryGetGlobal(byref(dptr), None, lib, b"bias"), "global")
two = ctypes.c_float(2.0)
check(cu.cuMemcpyHtoD_v2(dptr.value, byref(two), 4), "write")
k = c_void_p()
check(cu.cuLibraryGetKernel(byref(k), lib, b"vadd"), "kernel")
check(cu.cuDevicePrimaryCtxReset_v2(0), "reset")
check(cu.cuDevicePrimaryCtxRetain(byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "current")
name = c_char_p()
check(cu.cuKernelGetName(byref(name), k), "kernel survives")
again = c_uint64()
check(cu.cuLibraryGetGlobal(byref(again), None, lib, b"bias"), "global again")
value = ctypes.c_float()
check(cu.cuMemcpyDtoH_v2(byref(value), again.value, 4), "read")
print(name.value.decode(), value.value)
""", images)
    # The library's module was unloaded with the context; the new one starts from the PTX's value.
    assert out.split() == ["vadd", "0.5"]


def test_kernel_settings_are_shared_with_its_functions(images: dict[str, str]) -> None:
    out, _ = run("""
lib, keep = load_library()
k = c_void_p()
check(cu.cuLibraryGetKernel(byref(k), lib, b"vadd"), "kernel")
check(cu.cuKernelSetAttribute(8, 60000, k, 0), "set max dynamic shared")
f = c_void_p()
check(cu.cuKernelGetFunction(byref(f), k), "function")
value = c_int()
check(cu.cuFuncGetAttribute(byref(value), 8, f), "get")
too_big = cu.cuKernelSetAttribute(8, 65537, k, 0)
print(value.value, too_big)
""", images)
    assert out.split() == ["60000", str(CUDA_ERROR_INVALID_VALUE)]


def test_managed_variables_are_not_supported(images: dict[str, str]) -> None:
    out, err = run("""
lib, keep = load_library()
dptr, size = c_uint64(), c_size_t()
print(cu.cuLibraryGetManaged(byref(dptr), byref(size), lib, b"bias"))
""", images)
    assert out.strip() == str(CUDA_ERROR_NOT_SUPPORTED)
    assert "managed memory is not supported" in err


def test_fault_is_sticky_and_logged(images: dict[str, str]) -> None:
    ptx = module_ptx().decode()
    entry = ptx.index(".entry poke(")
    store_line = ptx.count("\n", 0, ptx.index("st.global", entry)) + 1
    out, err = run("""
m = load_module()
poke = function(m, "poke")
bad = c_uint64(0x10)
args = (c_void_p * 1)(cast(byref(bad), c_void_p))
first = cu.cuLaunchKernel(poke, 1, 1, 1, 1, 1, 1, 0, None, args, None)
d = c_uint64()
print(first, cu.cuCtxSynchronize_v2(None), cu.cuMemAlloc_v2(byref(d), 256))
check(cu.cuDevicePrimaryCtxReset_v2(0), "reset")
check(cu.cuDevicePrimaryCtxRetain(byref(ctx), 0), "retain")
print(cu.cuMemAlloc_v2(byref(d), 256))
""", images)
    assert out.split() == [str(CUDA_ERROR_ILLEGAL_ADDRESS)] * 3 + ["0"]
    assert f"kernel poke faulted at PTX line {store_line}, address 0x10" in err


def test_launch_argument_errors(images: dict[str, str]) -> None:
    out, _ = run("""
m = load_module()
vadd = function(m, "vadd")
results = [cu.cuLaunchKernel(vadd, 1, 1, 1, 32, 1, 1, 0, None, None, None)]   # parameters missing
small = ctypes.create_string_buffer(16)
size = c_size_t(16)
extra = (c_void_p * 5)(c_void_p(1), cast(small, c_void_p), c_void_p(2), cast(byref(size), c_void_p), None)
results.append(cu.cuLaunchKernel(vadd, 1, 1, 1, 32, 1, 1, 0, None, None, extra))   # buffer too small
extra = (c_void_p * 3)(c_void_p(7), None, None)
results.append(cu.cuLaunchKernel(vadd, 1, 1, 1, 32, 1, 1, 0, None, None, extra))   # unknown key
results.append(cu.cuLaunchKernel(vadd, 1, 1, 1, 32, 1, 1, 0, c_void_p(0x1234), None, None))  # no such stream
print(results)
""", images)
    assert out.strip() == str([CUDA_ERROR_INVALID_VALUE] * 3 + [CUDA_ERROR_INVALID_HANDLE])


def test_occupancy_of_the_turing_profile(images: dict[str, str]) -> None:
    out, _ = run("""
m = load_module()
vadd = function(m, "vadd")
n = c_int()
blocks = []
for size, shared in ((32, 0), (128, 0), (1024, 0), (128, 32768)):
    check(cu.cuOccupancyMaxActiveBlocksPerMultiprocessor(byref(n), vadd, size, shared), "blocks")
    blocks.append(n.value)
grid, block = c_int(), c_int()
check(cu.cuOccupancyMaxPotentialBlockSize(byref(grid), byref(block), vadd, None, 0, 0), "block size")
avail = c_size_t()
check(cu.cuOccupancyAvailableDynamicSMemPerBlock(byref(avail), vadd, 2, 128), "available")
mode = c_int()
check(cu.cuModuleGetLoadingMode(byref(mode)), "loading mode")
print(blocks, grid.value, block.value, avail.value, mode.value)
""", images)
    # 16 blocks and 32 warps per multiprocessor, 64 KiB of shared memory, 40 multiprocessors.
    assert out.strip() == "[16, 8, 1, 2] 40 1024 32768 2"


def test_load_from_files(images: dict[str, str]) -> None:
    out, _ = run("""
m, lib = c_void_p(), c_void_p()
ok = cu.cuModuleLoad(byref(m), os.environ["IMG_PTX"].encode())
missing = cu.cuModuleLoad(byref(m), b"/nonexistent/module.ptx")
lib_ok = cu.cuLibraryLoadFromFile(byref(lib), os.environ["IMG_FATBIN"].encode(), None, None, 0, None, None, 0)
print(ok, missing, lib_ok)
""", images)
    assert out.split() == ["0", str(CUDA_ERROR_FILE_NOT_FOUND), "0"]


@pytest.mark.parametrize(("cc", "expected"), [("7.5", "0 75 75"), ("8.0", "0 75 80"), ("7.0", "209")])
def test_compute_capability_picks_the_ptx(images: dict[str, str], cc: str, expected: str) -> None:
    """The contract fatbin holds compute_75 PTX: a newer device runs it (JIT for its own
    architecture), an older one has nothing it may run."""
    out, _ = run("""
lib = c_void_p()
fatbin = image("FATBIN")
wrapper = Wrapper(0x466243B1, 1, cast(fatbin, c_void_p), None)
r = cu.cuLibraryLoadData(byref(lib), byref(wrapper), None, None, 0, None, None, 0)
if r != 0:
    print(r)
else:
    k, f = c_void_p(), c_void_p()
    check(cu.cuLibraryGetKernel(byref(k), lib, b"vadd"), "kernel")
    check(cu.cuKernelGetFunction(byref(f), k), "function")
    ptx, binary = c_int(), c_int()
    check(cu.cuFuncGetAttribute(byref(ptx), 5, f), "ptx version")
    check(cu.cuFuncGetAttribute(byref(binary), 6, f), "binary version")
    print(r, ptx.value, binary.value)
""", images, {"BF_EMU_CC": cc})
    assert out.strip() == expected
