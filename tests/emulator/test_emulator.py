"""What only the emulator promises, beyond the driver contract: its attribute table, the BF_EMU_*
variables, where and how it maps device memory, its cuGetProcAddress table, its error table, its
strict bounds checks and its export list. Every case runs in a fresh process (run_driver_script).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from emu_driver import cuda_enum, run_driver_script
from openbf import paths

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_OUT_OF_MEMORY = 2
CUDA_ERROR_NOT_INITIALIZED = 3
CUDA_ERROR_INVALID_CONTEXT = 201
CUDA_ERROR_CONTEXT_IS_DESTROYED = 709
CUDA_ERROR_NOT_SUPPORTED = 801


def run_ok(script: str, env: dict[str, str] | None = None) -> str:
    result = run_driver_script(script, env)
    assert result.returncode == 0, f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def device_attributes() -> dict[str, int]:
    """CU_DEVICE_ATTRIBUTE_* names (without the prefix) and numbers, aliases included."""
    return {name.removeprefix("CU_DEVICE_ATTRIBUTE_"): value
            for name, value in cuda_enum("CUdevice_attribute").items()}


def attribute_max() -> int:
    return max(device_attributes().values()) + 1


QUERY_ALL_ATTRIBUTES = """
cu.cuInit(0)
values = {}
for a in range(0, int(sys.argv[1]) + 1):
    v = ctypes.c_int(-12345)
    r = cu.cuDeviceGetAttribute(ctypes.byref(v), a, 0)
    values[a] = [r, v.value]
print(json.dumps(values))
"""


def query_all_attributes(env: dict[str, str] | None = None) -> dict[int, tuple[int, int]]:
    script = QUERY_ALL_ATTRIBUTES.replace("int(sys.argv[1])", str(attribute_max()))
    return {int(k): (r, v) for k, (r, v) in json.loads(run_ok(script, env)).items()}


# --- devices ------------------------------------------------------------------------------------------


def test_every_attribute_is_answered() -> None:
    values = query_all_attributes()
    top = attribute_max()
    missing = [a for a in range(1, top) if values[a][0] != CUDA_SUCCESS]
    assert not missing, f"attributes without an answer: {missing}"
    assert values[0][0] == CUDA_ERROR_INVALID_VALUE
    assert values[top][0] == CUDA_ERROR_INVALID_VALUE


def test_docs_attribute_table_matches_library() -> None:
    """docs/emulator.md lists every attribute with the value the library gives."""
    text = (ROOT / "docs" / "emulator.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (-?\d+) \|", text, re.M)
    numbers = device_attributes()
    documented = {int(num): (name, int(value)) for num, name, value in rows}
    assert len(rows) == len(documented), "an attribute is listed twice in docs/emulator.md"
    assert sorted(documented) == list(range(1, attribute_max())), "docs/emulator.md misses attributes"
    values = query_all_attributes()
    for num, (name, value) in documented.items():
        assert numbers.get(name) == num, f"docs/emulator.md: {name} is not attribute {num}"
        assert values[num] == (CUDA_SUCCESS, value), f"docs/emulator.md: {name} is {value}, not {values[num]}"


def test_turing_profile() -> None:
    values = query_all_attributes()
    number = device_attributes()
    expected = {
        "WARP_SIZE": 32, "MAX_THREADS_PER_BLOCK": 1024, "MAX_SHARED_MEMORY_PER_BLOCK": 48 << 10,
        "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN": 64 << 10, "COMPUTE_CAPABILITY_MAJOR": 7,
        "COMPUTE_CAPABILITY_MINOR": 5, "INTEGRATED": 0, "UNIFIED_ADDRESSING": 1, "PCI_DOMAIN_ID": 0,
        "PCI_BUS_ID": 0x42, "PCI_DEVICE_ID": 0, "CONCURRENT_MANAGED_ACCESS": 0, "MAX_GRID_DIM_X": 2**31 - 1,
        "MEMORY_POOLS_SUPPORTED": 0, "VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED": 0,
    }
    for name, value in expected.items():
        assert values[number[name]] == (CUDA_SUCCESS, value), name


def test_compute_capability_from_env() -> None:
    values = query_all_attributes({"BF_EMU_CC": "8.6"})
    number = device_attributes()
    assert values[number["COMPUTE_CAPABILITY_MAJOR"]][1] == 8
    assert values[number["COMPUTE_CAPABILITY_MINOR"]][1] == 6
    out = run_ok("""
cu.cuInit(0)
major, minor = ctypes.c_int(), ctypes.c_int()
check(cu.cuDeviceComputeCapability(ctypes.byref(major), ctypes.byref(minor), 0), "cc")
print(major.value, minor.value)
""", {"BF_EMU_CC": "9.0"})
    assert out.split() == ["9", "0"]


def test_malformed_compute_capability_falls_back() -> None:
    result = run_driver_script("""
check(cu.cuInit(0), "cuInit")
major, minor = ctypes.c_int(), ctypes.c_int()
check(cu.cuDeviceComputeCapability(ctypes.byref(major), ctypes.byref(minor), 0), "cc")
print(major.value, minor.value)
""", {"BF_EMU_CC": "sm_86"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["7", "5"]
    assert "BF_EMU_CC" in result.stderr


def test_identity() -> None:
    out = run_ok("""
check(cu.cuInit(0), "cuInit")
name = ctypes.create_string_buffer(64)
check(cu.cuDeviceGetName(name, 64, 0), "name")
short = ctypes.create_string_buffer(7)
check(cu.cuDeviceGetName(short, 7, 0), "short name")
uuid = ctypes.create_string_buffer(16)
check(cu.cuDeviceGetUuid_v2(uuid, 0), "uuid")
bus = ctypes.create_string_buffer(32)
check(cu.cuDeviceGetPCIBusId(bus, 32, 0), "bus id")
print(json.dumps([name.value.decode(), short.value.decode(), uuid.raw.hex(), bus.value.decode()]))
""")
    name, short, uuid, bus = json.loads(out)
    assert name == "openbf emulated device"
    assert short == "openbf"
    assert uuid == "6f70656e62662d656d75ffffffff0000"
    assert bus == "0000:42:00.0"


# --- memory: size, placement, backing -------------------------------------------------------------------


def test_memory_size_from_env() -> None:
    out = run_ok("""
check(cu.cuInit(0), "cuInit")
ctx = ctypes.c_void_p()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
total = ctypes.c_size_t()
check(cu.cuDeviceTotalMem_v2(ctypes.byref(total), 0), "total")
free_b, total_b = ctypes.c_size_t(), ctypes.c_size_t()
check(cu.cuMemGetInfo_v2(ctypes.byref(free_b), ctypes.byref(total_b)), "info")
p, q = ctypes.c_uint64(), ctypes.c_uint64()
whole = cu.cuMemAlloc_v2(ctypes.byref(p), 64 << 20)
full = cu.cuMemAlloc_v2(ctypes.byref(q), 256)
check(cu.cuMemFree_v2(p), "free")
over = cu.cuMemAlloc_v2(ctypes.byref(q), (64 << 20) + 1)
print(json.dumps([total.value, free_b.value, total_b.value, whole, full, over]))
""", {"BF_EMU_MEMORY": "64M"})
    total, free_bytes, total_bytes, whole, full, over = json.loads(out)
    assert total == total_bytes == free_bytes == 64 << 20
    assert whole == CUDA_SUCCESS
    assert full == CUDA_ERROR_OUT_OF_MEMORY
    assert over == CUDA_ERROR_OUT_OF_MEMORY


def test_malformed_memory_size_fails_init() -> None:
    result = run_driver_script("print(cu.cuInit(0))", {"BF_EMU_MEMORY": "lots"})
    assert result.stdout.split() == [str(CUDA_ERROR_INVALID_VALUE)]
    assert "BF_EMU_MEMORY" in result.stderr


# An address range that a fresh process never uses on its own (32 TiB, below the 47-bit user limit).
VA_BASE = 0x200000000000

PLACEMENT = """
base = int(os.environ["BF_EMU_VA_BASE"], 16)
print(cu.cuInit(0))
ctx = ctypes.c_void_p()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
ptrs = []
for size in (1000, 1 << 20, 300):
    p = ctypes.c_uint64()
    check(cu.cuMemAlloc_v2(ctypes.byref(p), size), "alloc")
    ptrs.append(p.value)
# Device memory is this process's own memory at that address.
check(cu.cuMemsetD8_v2(ptrs[1], 0x5A, 16), "memset")
print(json.dumps([base, ptrs, ctypes.string_at(ptrs[1], 4).hex()]))
"""


def test_va_base_places_device_memory() -> None:
    out = run_ok(PLACEMENT, {"BF_EMU_VA_BASE": hex(VA_BASE), "BF_EMU_MEMORY": "1G"}).splitlines()
    assert out[0] == str(CUDA_SUCCESS)
    base, ptrs, head = json.loads(out[1])
    assert ptrs[0] == base, "the first allocation starts the arena"
    assert all(base <= p < base + (1 << 30) and p % 256 == 0 for p in ptrs)
    assert ptrs[1] == base + 1024 and ptrs[2] == base + 1024 + (1 << 20), "first fit, 256-byte steps"
    assert head == "5a5a5a5a"


def test_va_base_without_0x_prefix() -> None:
    out = run_ok(PLACEMENT, {"BF_EMU_VA_BASE": f"{VA_BASE:x}", "BF_EMU_MEMORY": "1G"}).splitlines()
    assert json.loads(out[1])[1][0] == VA_BASE


def test_va_base_taken_fails_init() -> None:
    result = run_driver_script(f"""
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE = 0x02, 0x20, 0x100000
# Something already lives in the middle of the window.
squat = {VA_BASE} + (512 << 20)
got = libc.mmap(squat, 4096, 0, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
assert got == squat, hex(got or 0)
print(cu.cuInit(0))
print(cu.cuDeviceGetCount(ctypes.byref(ctypes.c_int())))
libc.munmap(squat, 4096)
print(cu.cuInit(0))
""", {"BF_EMU_VA_BASE": hex(VA_BASE), "BF_EMU_MEMORY": "1G"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(CUDA_ERROR_OUT_OF_MEMORY), str(CUDA_ERROR_NOT_INITIALIZED),
                                     str(CUDA_SUCCESS)]
    assert "BF_EMU_VA_BASE" in result.stderr and hex(VA_BASE) in result.stderr


@pytest.mark.parametrize("value", ["not-hex", "0x0", "0x200000000001"])
def test_bad_va_base_fails_init(value: str) -> None:
    result = run_driver_script("print(cu.cuInit(0))", {"BF_EMU_VA_BASE": value})
    assert result.stdout.split() == [str(CUDA_ERROR_INVALID_VALUE)]
    assert "BF_EMU_VA_BASE" in result.stderr


def test_device_memory_is_backed_lazily_and_returned() -> None:
    if Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "2":
        pytest.skip("strict overcommit: MAP_NORESERVE has no effect")
    out = run_ok("""
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) << 10
check(cu.cuInit(0), "cuInit")
ctx = ctypes.c_void_p()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
r0 = rss()
big = ctypes.c_uint64()
check(cu.cuMemAlloc_v2(ctypes.byref(big), 16 << 30), "alloc 16 GiB")
r1 = rss()
check(cu.cuMemsetD8_v2(big.value + (8 << 30), 1, 128 << 20), "touch 128 MiB")
r2 = rss()
check(cu.cuMemFree_v2(big), "free")
r3 = rss()
print(json.dumps([r0, r1, r2, r3]))
""", {"BF_EMU_MEMORY": "64G"})
    r0, r1, r2, r3 = json.loads(out)
    mib = 1 << 20
    assert r1 - r0 < 16 * mib, "allocating must not touch memory"
    assert r2 - r1 >= 120 * mib, "touched device memory becomes resident"
    assert r2 - r3 >= 120 * mib, "freed device memory is returned to the kernel"


# --- contexts -------------------------------------------------------------------------------------------


def test_released_context_is_destroyed_until_retained() -> None:
    out = run_ok("""
check(cu.cuInit(0), "cuInit")
ctx = ctypes.c_void_p()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
p = ctypes.c_uint64()
check(cu.cuMemAlloc_v2(ctypes.byref(p), 4096), "alloc")
check(cu.cuDevicePrimaryCtxRelease_v2(0), "release")
out = []
cur = ctypes.c_void_p()
check(cu.cuCtxGetCurrent(ctypes.byref(cur)), "get current")
out.append(cur.value == ctx.value)
out.append(cu.cuMemAlloc_v2(ctypes.byref(ctypes.c_uint64()), 4096))
d = ctypes.c_int(-1)
out.append(cu.cuCtxGetDevice_v2(ctypes.byref(d), None))
out.append(cu.cuCtxSynchronize_v2(None))
again = ctypes.c_void_p()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(again), 0), "retain again")
out.append(again.value == ctx.value)
out.append(cu.cuMemFree_v2(p))
out.append(cu.cuMemAlloc_v2(ctypes.byref(ctypes.c_uint64()), 4096))
print(json.dumps(out))
""")
    assert json.loads(out) == [True, CUDA_ERROR_CONTEXT_IS_DESTROYED, CUDA_SUCCESS, CUDA_SUCCESS, True,
                               CUDA_ERROR_INVALID_VALUE, CUDA_SUCCESS]


def test_reset_keeps_the_retain_count() -> None:
    out = run_ok("""
check(cu.cuInit(0), "cuInit")
ctx = ctypes.c_void_p()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
flags, active = ctypes.c_uint(), ctypes.c_int()
out = [cu.cuDevicePrimaryCtxReset_v2(0)]
check(cu.cuDevicePrimaryCtxGetState(0, ctypes.byref(flags), ctypes.byref(active)), "state")
out.append(active.value)
out.append(cu.cuDevicePrimaryCtxRelease_v2(0))
out.append(cu.cuDevicePrimaryCtxRelease_v2(0))
print(json.dumps(out))
""")
    assert json.loads(out) == [CUDA_SUCCESS, 0, CUDA_SUCCESS, CUDA_ERROR_INVALID_CONTEXT]


# --- copies ---------------------------------------------------------------------------------------------

SETUP = """
check(cu.cuInit(0), "cuInit")
ctx = ctypes.c_void_p()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
def alloc(n):
    p = ctypes.c_uint64()
    check(cu.cuMemAlloc_v2(ctypes.byref(p), n), "alloc")
    return p.value
"""


def test_bounds_are_exact() -> None:
    """The emulator refuses even a one-byte overrun, which a GPU's 2 MiB pages would let through."""
    out = run_ok(SETUP + """
a = alloc(1000)
b = alloc(1000)
host = ctypes.create_string_buffer(4096)
out = [
    cu.cuMemcpyHtoD_v2(a, host, 1000),
    cu.cuMemcpyHtoD_v2(a, host, 1001),
    cu.cuMemcpyDtoH_v2(host, a + 1, 1000),
    cu.cuMemcpyDtoD_v2(b, a, 1001),
    cu.cuMemsetD8_v2(a + 999, 0, 2),
    cu.cuMemsetD32_v2(a + 2, 0, 1),
    cu.cuMemsetD16_v2(a + 1, 0, 1),
    cu.cuMemcpyHtoD_v2(a + 1000, host, 1),
    cu.cuMemcpyHtoD_v2(a, host, 0),
]
print(json.dumps(out))
""")
    assert json.loads(out) == [CUDA_SUCCESS] + [CUDA_ERROR_INVALID_VALUE] * 7 + [CUDA_SUCCESS]


def test_overlapping_device_copy() -> None:
    out = run_ok(SETUP + """
a = alloc(64)
src = bytes(range(64))
check(cu.cuMemcpyHtoD_v2(a, src, 64), "htod")
check(cu.cuMemcpyDtoD_v2(a + 8, a, 32), "overlapping dtod")
back = ctypes.create_string_buffer(64)
check(cu.cuMemcpyDtoH_v2(back, a, 64), "dtoh")
print(back.raw.hex())
""")
    expected = bytearray(range(64))
    expected[8:40] = bytes(range(32))
    assert bytes.fromhex(out.strip()) == bytes(expected)


def test_unallocated_arena_is_never_host_memory() -> None:
    """A 'host' pointer inside the arena but outside every allocation is refused, not copied."""
    out = run_ok(SETUP + """
a = alloc(4096)
b = alloc(64)
check(cu.cuMemFree_v2(a), "free")
print(json.dumps([cu.cuMemcpyHtoD_v2(b, a, 16), cu.cuMemcpyDtoH_v2(a + 128, b, 16)]))
""")
    assert json.loads(out) == [CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE]


def test_array_copies_are_not_supported() -> None:
    result = run_driver_script(SETUP + """
a = alloc(4096)
c = CUDA_MEMCPY2D()
c.srcMemoryType, c.srcArray = 3, 0x1234
c.dstMemoryType, c.dstDevice, c.dstPitch = 2, a, 64
c.WidthInBytes, c.Height = 16, 2
print(cu.cuMemcpy2D_v2(ctypes.byref(c)))
c.srcMemoryType, c.srcHost, c.srcPitch = 9, a, 64
print(cu.cuMemcpy2D_v2(ctypes.byref(c)))
""")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(CUDA_ERROR_NOT_SUPPORTED), str(CUDA_ERROR_INVALID_VALUE)]
    assert "array" in result.stderr


def test_2d_null_base_with_offsets_is_refused() -> None:
    """NULL plus a row offset must not pass for a host pointer."""
    out = run_ok(SETUP + """
a = alloc(4096)
out = []
for src_type in (1, 4):
    c = CUDA_MEMCPY2D()
    c.srcMemoryType, c.srcHost, c.srcDevice, c.srcPitch, c.srcY, c.srcXInBytes = src_type, None, 0, 64, 3, 8
    c.dstMemoryType, c.dstDevice, c.dstPitch = 2, a, 64
    c.WidthInBytes, c.Height = 16, 2
    out.append(cu.cuMemcpy2D_v2(ctypes.byref(c)))
print(json.dumps(out))
""")
    assert json.loads(out) == [CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE]


def test_max_pitch_applies_to_aligned_copies_only() -> None:
    out = run_ok(SETUP + """
host = ctypes.create_string_buffer(16)
a = alloc(4096)
c = CUDA_MEMCPY2D()
c.srcMemoryType, c.srcHost, c.srcPitch = 1, ctypes.addressof(host), 1 << 31
c.dstMemoryType, c.dstDevice, c.dstPitch = 2, a, 64
c.WidthInBytes, c.Height = 16, 1
print(json.dumps([cu.cuMemcpy2D_v2(ctypes.byref(c)), cu.cuMemcpy2DUnaligned_v2(ctypes.byref(c))]))
""")
    assert json.loads(out) == [CUDA_ERROR_INVALID_VALUE, CUDA_SUCCESS]


def test_pointer_attribute_values() -> None:
    out = run_ok(SETUP + """
a = alloc(1000)
def one(attr, ptr, ctype):
    v = ctype(-1) if ctype is not ctypes.c_void_p else ctype(1)
    r = cu.cuPointerGetAttribute(ctypes.byref(v), attr, ptr)
    return [r, v.value]
def batch(attrs, ptr):
    vals = [ctypes.c_uint64(0xFFFFFFFFFFFFFFFF) for _ in attrs]
    arr_a = (ctypes.c_int * len(attrs))(*attrs)
    arr_d = (ctypes.c_void_p * len(attrs))(*[ctypes.addressof(v) for v in vals])
    cu.cuPointerGetAttributes.argtypes = [ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    r = cu.cuPointerGetAttributes(len(attrs), arr_a, arr_d, ptr)
    return [r] + [v.value for v in vals]
host = ctypes.create_string_buffer(64)
first_id = one(7, a, ctypes.c_uint64)[1]
check(cu.cuMemFree_v2(a), "free")
b = alloc(1000)
print(json.dumps({
    "range_start": one(11, b + 500, ctypes.c_uint64),
    "range_size": one(12, b + 500, ctypes.c_uint64),
    "p2p": one(5, b, ctypes.c_uint64)[0],
    "ids": [first_id, one(7, b, ctypes.c_uint64)[1]],
    # IS_MANAGED, MAPPED, DEVICE_ORDINAL, HOST_POINTER, DEVICE_POINTER on device memory
    "device": batch([8, 13, 9, 4, 3], b + 8),
    # MEMORY_TYPE, DEVICE_ORDINAL, DEVICE_POINTER, BUFFER_ID, MAPPED on memory CUDA does not know
    "host": batch([2, 9, 3, 7, 13], ctypes.addressof(host)),
    "bad_attribute": batch([99], b),
}))
""")
    got = json.loads(out)
    base = got["range_start"][1]
    assert got["range_start"][0] == CUDA_SUCCESS and got["range_size"] == [CUDA_SUCCESS, 1000]
    assert got["p2p"] == CUDA_ERROR_NOT_SUPPORTED
    assert got["ids"][1] > got["ids"][0] > 0, "buffer ids are never reused"
    ones = 0xFFFFFFFFFFFFFFFF
    # Booleans are one byte, the ordinal four, pointers eight; unwritten bytes keep their 0xff.
    assert got["device"] == [CUDA_SUCCESS, ones & ~0xFF, (ones & ~0xFF) | 1, ones & ~0xFFFFFFFF, 0, base + 8]
    assert got["host"] == [CUDA_SUCCESS, ones & ~0xFFFFFFFF, (ones & ~0xFFFFFFFF) | 0xFFFFFFFE, 0, 0,
                           ones & ~0xFF]
    assert got["bad_attribute"] == [CUDA_ERROR_INVALID_VALUE, ones]


# --- tables ---------------------------------------------------------------------------------------------

GPA = """
def gpa(name, version, flags=0):
    fn, status = ctypes.c_void_p(), ctypes.c_int(-1)
    r = cu.cuGetProcAddress_v2(name.encode(), ctypes.byref(fn), version, flags, ctypes.byref(status))
    return [r, fn.value, status.value]
def sym(name):
    return ctypes.cast(getattr(cu, name), ctypes.c_void_p).value
print(json.dumps({"rows": [[q, gpa(*q[:3]), sym(q[3]) if q[3] else None] for q in QUERIES]}))
"""

# (name asked, version, flags, exported symbol expected or None)
GPA_QUERIES = [
    ("cuMemAlloc", 3020, 0, "cuMemAlloc_v2"),
    ("cuMemAlloc", 13000, 0, "cuMemAlloc_v2"),
    ("cuMemAlloc", 13000, 2, "cuMemAlloc_v2"),
    ("cuDeviceTotalMem", 13000, 0, "cuDeviceTotalMem_v2"),
    ("cuCtxSynchronize", 2000, 0, "cuCtxSynchronize"),
    ("cuCtxSynchronize", 12090, 0, "cuCtxSynchronize"),
    ("cuCtxSynchronize", 13000, 0, "cuCtxSynchronize_v2"),
    ("cuCtxGetDevice", 2000, 0, "cuCtxGetDevice"),
    ("cuCtxGetDevice", 13000, 0, "cuCtxGetDevice_v2"),
    ("cuDevicePrimaryCtxRelease", 7000, 0, "cuDevicePrimaryCtxRelease"),
    ("cuDevicePrimaryCtxRelease", 13000, 0, "cuDevicePrimaryCtxRelease_v2"),
    ("cuDevicePrimaryCtxReset", 11000, 0, "cuDevicePrimaryCtxReset_v2"),
    ("cuDevicePrimaryCtxSetFlags", 10020, 0, "cuDevicePrimaryCtxSetFlags"),
    ("cuDevicePrimaryCtxSetFlags", 11000, 0, "cuDevicePrimaryCtxSetFlags_v2"),
    ("cuDeviceGetUuid", 9020, 0, "cuDeviceGetUuid"),
    ("cuDeviceGetUuid", 11040, 0, "cuDeviceGetUuid_v2"),
    ("cuCtxPushCurrent", 4000, 0, "cuCtxPushCurrent_v2"),
    ("cuCtxPopCurrent", 13000, 0, "cuCtxPopCurrent_v2"),
    ("cuGetProcAddress", 11030, 0, "cuGetProcAddress"),
    ("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2"),
    ("cuMemcpyHtoD", 13000, 0, "cuMemcpyHtoD_v2"),
    ("cuMemcpyHtoD", 7000, 2, "cuMemcpyHtoD_v2_ptds"),
    ("cuMemcpyHtoD", 13000, 1, "cuMemcpyHtoD_v2"),
    ("cuMemcpy", 13000, 2, "cuMemcpy_ptds"),
    ("cuMemcpy2DUnaligned", 13000, 2, "cuMemcpy2DUnaligned_v2_ptds"),
    ("cuMemsetD2D32", 13000, 2, "cuMemsetD2D32_v2_ptds"),
    ("cuPointerGetAttributes", 7000, 0, "cuPointerGetAttributes"),
]


def test_get_proc_address_versions() -> None:
    script = f"QUERIES = {GPA_QUERIES!r}\n" + GPA
    rows = json.loads(run_ok(script))["rows"]
    for query, (result, fn, status), expected in rows:
        assert result == CUDA_SUCCESS and status == 0 and fn == expected, f"{query}: {result}, {status}"


def test_get_proc_address_misses() -> None:
    script = f"QUERIES = {[('cuMemAlloc', 2000, 0, None), ('cuNoSuchThing', 13000, 0, None)]!r}\n" + GPA
    rows = json.loads(run_ok(script))["rows"]
    assert rows[0][1] == [CUDA_SUCCESS, None, 2], "too old a version: VERSION_NOT_SUFFICIENT"
    assert rows[1][1] == [CUDA_SUCCESS, None, 1], "unknown name: SYMBOL_NOT_FOUND"
    out = run_ok("""
fn = ctypes.c_void_p()
print(json.dumps([cu.cuGetProcAddress_v2(b"cuInit", ctypes.byref(fn), 13010, 0, None),
                  cu.cuGetProcAddress_v2(b"cuInit", ctypes.byref(fn), 13000, 4, None),
                  cu.cuGetProcAddress_v2(None, ctypes.byref(fn), 13000, 0, None)]))
""")
    assert json.loads(out) == [CUDA_ERROR_INVALID_VALUE] * 3


def test_error_table_matches_cuda_h() -> None:
    """Every CUresult of cuda.h has its own name and a text; anything else is refused."""
    results = cuda_enum("CUresult")
    out = run_ok(f"""
out = {{}}
for value in {sorted(set(results.values()))!r} + [12345]:
    name, text = ctypes.c_char_p(), ctypes.c_char_p()
    r1 = cu.cuGetErrorName(value, ctypes.byref(name))
    r2 = cu.cuGetErrorString(value, ctypes.byref(text))
    out[value] = [r1, name.value and name.value.decode(), r2, text.value and text.value.decode()]
print(json.dumps(out))
""")
    table = {int(k): v for k, v in json.loads(out).items()}
    for name, value in results.items():
        r1, got_name, r2, text = table[value]
        assert (r1, r2) == (CUDA_SUCCESS, CUDA_SUCCESS), name
        assert got_name == name
        assert text and text.strip() == text, f"{name} has no text"
    assert table[12345] == [CUDA_ERROR_INVALID_VALUE, None, CUDA_ERROR_INVALID_VALUE, None]


def test_exports_only_cuda_names() -> None:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not found")
    listing = subprocess.run([nm, "-D", "--defined-only", str(paths.libbfemu())], capture_output=True,
                             text=True, check=True, timeout=30).stdout
    names = [line.split()[-1] for line in listing.splitlines() if line.strip()]
    assert names, "no exports"
    assert [n for n in names if not n.startswith("cu")] == []
    for required in ("cuGetProcAddress_v2", "cuMemAlloc_v2", "cuCtxSynchronize_v2", "cuMemcpyHtoD_v2_ptds"):
        assert required in names


def test_calls_before_init() -> None:
    out = run_ok("""
v = ctypes.c_int()
p = ctypes.c_uint64()
print(json.dumps([cu.cuDeviceGetAttribute(ctypes.byref(v), 1, 0), cu.cuMemAlloc_v2(ctypes.byref(p), 16),
                  cu.cuMemFree_v2(0), cu.cuCtxSynchronize_v2(None),
                  cu.cuPointerGetAttribute(ctypes.byref(v), 2, 0x1000)]))
""")
    assert json.loads(out) == [CUDA_ERROR_NOT_INITIALIZED] * 5
