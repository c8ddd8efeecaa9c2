"""The emulator's device runtime (emulator/devrt.c and the engine's BUILTIN operations): device
printf written to fd 1 at flush points, failed device asserts (CUDA_ERROR_ASSERT, NVIDIA's message
on fd 2), trap (CUDA_ERROR_LAUNCH_FAILED), the malloc heap with per-chunk bounds, the limits of
cuCtxSetLimit/cuCtxGetLimit, the cache configuration, and recursion against CU_LIMIT_STACK_SIZE.

The kernels are tests/emulator/ptx/cuda/devrt.cu and recursion.cu, as nvcc -ptx -arch=compute_75
made them; each case runs in a fresh process (run_driver_script).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from emu_driver import run_driver_script

pytestmark = pytest.mark.timeout(120)

CUDA = Path(__file__).resolve().parent / "ptx" / "cuda"

CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_ILLEGAL_ADDRESS = 700
CUDA_ERROR_ASSERT = 710
CUDA_ERROR_HARDWARE_STACK_ERROR = 714
CUDA_ERROR_LAUNCH_FAILED = 719
CUDA_ERROR_UNSUPPORTED_LIMIT = 215

PRELUDE = """
from ctypes import byref, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint, c_uint64, c_void_p
from ctypes import POINTER, cast
def sig(name, *args):
    fn = getattr(cu, name)
    fn.argtypes = list(args)
    fn.restype = c_int
    return fn
P = POINTER
sig("cuModuleLoadData", P(c_void_p), c_void_p)
sig("cuModuleGetFunction", P(c_void_p), c_void_p, c_char_p)
sig("cuModuleGetGlobal_v2", P(c_uint64), P(c_size_t), c_void_p, c_char_p)
sig("cuLaunchKernel", c_void_p, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_void_p,
    P(c_void_p), P(c_void_p))
sig("cuCtxSetLimit", c_int, c_size_t)
sig("cuCtxGetLimit", P(c_size_t), c_int)
sig("cuCtxSetCacheConfig", c_int)
sig("cuCtxGetCacheConfig", P(c_int))
sig("cuCtxResetPersistingL2Cache")
sig("cuFuncGetModule", P(c_void_p), c_void_p)
check(cu.cuInit(0), "cuInit")
ctx = c_void_p()
check(cu.cuDevicePrimaryCtxRetain(byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
def load(name):
    text = open(os.environ["CUDA_DIR"] + "/" + name, "rb").read() + b"\\0"
    m = c_void_p()
    check(cu.cuModuleLoadData(byref(m), cast(ctypes.create_string_buffer(text, len(text)), c_void_p)), "load")
    return m
def function(m, name):
    f = c_void_p()
    check(cu.cuModuleGetFunction(byref(f), m, name.encode()), "function " + name)
    return f
def launch(f, grid, block, *args):
    holders = list(args)
    ptrs = (c_void_p * max(1, len(holders)))(*[cast(byref(a), c_void_p) for a in holders])
    return cu.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, None, ptrs, None)
def alloc(nbytes):
    d = c_uint64()
    check(cu.cuMemAlloc_v2(byref(d), nbytes), "alloc")
    return d
def out(*values):
    sys.stdout.flush()
    os.write(1, (" ".join(str(v) for v in values) + "\\n").encode())
"""


def run(script: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    result = run_driver_script(PRELUDE + script, {"CUDA_DIR": str(CUDA), **(env or {})})
    assert result.returncode == 0, f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout, result.stderr


def test_printf_appears_at_the_flush_point() -> None:
    stdout, _ = run("""
m = load("devrt.ptx")
s = c_uint64()
size = c_size_t()
f = function(m, "printf_k")
check(cu.cuModuleGetGlobal_v2(byref(s), byref(size), m, b"word"), "global")
check(launch(f, 1, 4, c_int(4), c_double(2.5), s), "launch")
out("before sync")
check(cu.cuCtxSynchronize_v2(None), "sync")
out("after sync")
check(launch(function(m, "printf_noargs_k"), 1, 2), "launch")
check(cu.cuCtxSynchronize_v2(None), "sync")
""")
    lines = stdout.splitlines()
    assert lines[0] == "before sync"
    assert lines[1:5] == [
        f"t{i}/4 d=2.500 f={0.5 * i:g} s=hello c={chr(97 + i)} ll={1234567890123 * (i + 1)} x={255 + i:#x} "
        f"w=[{i:5d}|{i:<4d}] p={'odd' if i & 1 else 'even'}%" for i in range(4)]
    assert lines[5] == "returned 11"
    assert lines[6] == "after sync"
    assert lines[7:] == ["no arguments"] * 2


def test_printf_fifo_limit_drops_records() -> None:
    stdout, _ = run("""
print(cu.cuCtxSetLimit(1, 100))
v = c_size_t()
check(cu.cuCtxGetLimit(byref(v), 1), "get")
out(v.value)
m = load("devrt.ptx")
check(launch(function(m, "printf_noargs_k"), 1, 32), "launch")
check(cu.cuCtxSynchronize_v2(None), "sync")
out(cu.cuCtxSetLimit(1, 4096))
""")
    lines = stdout.splitlines()
    assert lines[:2] == ["0", "100"]
    assert lines[2:-1] == ["no arguments"] * (100 // 13)
    assert lines[-1] == str(CUDA_ERROR_INVALID_VALUE)  # printf was used: the FIFO size is fixed


def test_failed_assert() -> None:
    stdout, stderr = run("""
m = load("devrt.ptx")
o = alloc(4 * 64)
r = launch(function(m, "assert_k"), 2, 32, c_int(40), o)
out(r, cu.cuCtxSynchronize_v2(None), cu.cuMemAlloc_v2(byref(c_uint64()), 16))
""")
    assert stdout.split() == [str(CUDA_ERROR_ASSERT)] * 3
    lines = [line for line in stderr.splitlines() if "Assertion" in line]
    want = [f"devrt.cu:23: void assert_k(int, int *): block: [1,0,0], thread: [{t},0,0] "
            "Assertion `i < limit` failed." for t in range(8, 32)]
    assert lines == want


def test_trap_is_launch_failed() -> None:
    stdout, stderr = run("""
m = load("devrt.ptx")
out(launch(function(m, "trap_k"), 1, 1), cu.cuCtxSynchronize_v2(None))
""")
    assert stdout.split() == [str(CUDA_ERROR_LAUNCH_FAILED)] * 2
    assert "trap" in stderr


def test_malloc_heap_across_launches() -> None:
    stdout, _ = run("""
m = load("devrt.ptx")
n, words = 64, 10
ptrs = alloc(8 * n)
sums = alloc(4 * n)
check(launch(function(m, "malloc_k"), 2, 32, ptrs, c_int(words)), "malloc_k")
host = (c_uint64 * n)()
check(cu.cuMemcpyDtoH_v2(host, ptrs.value, 8 * n), "copy")
out(len(set(host)), all(p % 16 == 0 and p != 0 for p in host))
check(launch(function(m, "free_k"), 2, 32, ptrs, c_int(words), sums), "free_k")
res = (c_int * n)()
check(cu.cuMemcpyDtoH_v2(res, sums.value, 4 * n), "copy")
out(list(res) == [i * 1000 * words + 45 for i in range(n)])
# Freed: the same sizes fit again; the heap size can no longer change.
check(launch(function(m, "malloc_k"), 2, 32, ptrs, c_int(words)), "malloc_k again")
out(cu.cuCtxSetLimit(2, 1 << 20))
""")
    assert stdout.split() == ["64", "True", "True", str(CUDA_ERROR_INVALID_VALUE)]


def test_malloc_exhaustion_and_overrun() -> None:
    stdout, stderr = run("""
check(cu.cuCtxSetLimit(2, 4096), "heap size")
m = load("devrt.ptx")
n = 64
ptrs = alloc(8 * n)
check(launch(function(m, "malloc_k"), 1, n, ptrs, c_int(32)), "malloc_k")
host = (c_uint64 * n)()
check(cu.cuMemcpyDtoH_v2(host, ptrs.value, 8 * n), "copy")
out(sum(1 for p in host if p), sum(1 for p in host if not p))
out(launch(function(m, "overrun_k"), 1, 1, c_int(1)))
""")
    assert stdout.split() == ["32", "32", str(CUDA_ERROR_ILLEGAL_ADDRESS)]
    assert "out-of-bounds store" in stderr


def test_limits_and_cache_config() -> None:
    stdout, _ = run("""
v = c_size_t()
for limit in (0, 1, 2, 3, 4, 5):
    r = cu.cuCtxGetLimit(byref(v), limit)
    out(limit, r, v.value if r == 0 else "-")
out(cu.cuCtxGetLimit(byref(v), 6), cu.cuCtxSetLimit(3, 4), cu.cuCtxSetLimit(0, 4096))
check(cu.cuCtxGetLimit(byref(v), 0), "stack")
out(v.value)
c = c_int(-1)
check(cu.cuCtxGetCacheConfig(byref(c)), "get cache")
out(c.value, cu.cuCtxSetCacheConfig(2), cu.cuCtxSetCacheConfig(9))
check(cu.cuCtxGetCacheConfig(byref(c)), "get cache")
out(c.value, cu.cuCtxResetPersistingL2Cache())
m = load("devrt.ptx")
f = function(m, "trap_k")
mm = c_void_p()
out(cu.cuFuncGetModule(byref(mm), f), mm.value == m.value)
""")
    lines = stdout.splitlines()
    assert lines[:6] == ["0 0 1024", "1 0 1048576", "2 0 8388608", "3 0 2", "4 0 2048", "5 0 64"]
    assert lines[6] == f"{CUDA_ERROR_UNSUPPORTED_LIMIT} {CUDA_ERROR_UNSUPPORTED_LIMIT} 0"
    assert lines[7] == "4096"
    assert lines[8] == f"0 0 {CUDA_ERROR_INVALID_VALUE}"
    assert lines[9:] == ["2 0", "0 True"]


def test_recursion_stack_limit() -> None:
    stdout, stderr = run("""
m = load("recursion.ptx")
f = function(m, "deep_k")
n = 2000
i = alloc(8)
o = alloc(8)
check(cu.cuMemcpyHtoD_v2(i.value, byref(c_int64(n)), 8), "copy")
check(cu.cuCtxSetLimit(0, 16384), "stack")
check(launch(f, 1, 1, i, o), "deep 2000 with 16 KiB")
r = c_int64()
check(cu.cuMemcpyDtoH_v2(byref(r), o.value, 8), "copy")
out(r.value)
check(cu.cuCtxSetLimit(0, 1024), "stack")
out(launch(f, 1, 1, i, o), cu.cuCtxSynchronize_v2(None))
""")
    expect = 0
    for k in range(1, 2001):
        expect = k + expect * 2 % 1000003
    assert stdout.split() == [str(expect)] + [str(CUDA_ERROR_HARDWARE_STACK_ERROR)] * 2
    assert "call stack overflow" in stderr
