"""bf-worker's code ops: LIBRARY_LOAD (images named by content hash, shipped once, the kernel table
in the reply), LAUNCH_KERNEL (posted, packed parameters), faults latched and cleared by a reset,
LIBRARY_UNLOAD. A socketpair client (worker_harness) against the worker and the emulator."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest
from openbf import paths
from worker_harness import CUDA_ERROR_INVALID_VALUE, Worker

pytestmark = pytest.mark.timeout(60)

CUDA_ERROR_INVALID_IMAGE = 200
CUDA_ERROR_INVALID_HANDLE = 400
CUDA_ERROR_NOT_FOUND = 500
CUDA_ERROR_ILLEGAL_ADDRESS = 700
KERNEL_BITS = 20
FUNC_ATTRS = 32
CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0

# fill(u32 *p, u32 v): p[tid.x] = v
PTX = b"""
.version 7.5
.target sm_75
.address_size 64

.visible .entry fill(
    .param .u64 fill_param_0,
    .param .u32 fill_param_1
)
{
    .reg .b32 %r<3>;
    .reg .b64 %rd<5>;
    ld.param.u64 %rd1, [fill_param_0];
    ld.param.u32 %r1, [fill_param_1];
    cvta.to.global.u64 %rd2, %rd1;
    mov.u32 %r2, %tid.x;
    mul.wide.u32 %rd3, %r2, 4;
    add.s64 %rd4, %rd2, %rd3;
    st.global.u32 [%rd4], %r1;
    ret;
}
\0"""


def code_hash(data: bytes) -> tuple[int, int]:
    """protocol/code_info.h's bf_code_hash."""
    mask, prime = (1 << 64) - 1, 0x100000001B3
    a, b = 0xCBF29CE484222325, 0x84222325CBF29CE4
    for byte in data:
        a = ((a ^ byte) * prime) & mask
        b = ((b ^ (((byte << 3) | (byte >> 5)) & 0xFF)) * prime) & mask
    a = ((a ^ len(data)) * prime) & mask
    b = ((b ^ ((len(data) * 0x9E3779B97F4A7C15) & mask)) * prime) & mask
    return a, b


def parse_kernels(tail: bytes, count: int) -> list[tuple[str, list[tuple[int, int]], list[int]]]:
    fixed = struct.Struct(f"<II{FUNC_ATTRS}i")
    kernels, at = [], 0
    for _ in range(count):
        name_len, param_count, *attrs = fixed.unpack_from(tail, at)
        name = tail[at + fixed.size:at + fixed.size + name_len].decode()
        p = at + fixed.size + name_len
        params = [struct.unpack_from("<II", tail, p + 8 * i) for i in range(param_count)]
        kernels.append((name, params, attrs))
        at += (fixed.size + name_len + 8 * param_count + 3) & ~3
    assert at == len(tail)
    return kernels


@pytest.fixture
def session():
    try:
        driver = str(paths.libbfemu())
    except FileNotFoundError as exc:
        pytest.skip(f"needs the emulator: {exc}")
    with Worker(driver=driver) as w:
        reply, devices = w.hello()
        assert reply.result == 0, reply
        yield w


def load(session: Worker, library: int, image: bytes | None, digest: tuple[int, int]):
    fields = {"library": library, "hash_lo": digest[0], "hash_hi": digest[1],
              "image_len": 0 if image is None else len(image)}
    return session.call("LIBRARY_LOAD", fields, image or b"")


def launch(session: Worker, kernel: int, ptr: int, value: int, threads: int = 32) -> None:
    session.post("LAUNCH_KERNEL", {"kernel": kernel, "grid_x": 1, "grid_y": 1, "grid_z": 1,
                                   "block_x": threads, "block_y": 1, "block_z": 1,
                                   "shared_bytes": 0, "stream": 0, "params_len": 12},
                 struct.pack("<QI", ptr, value))


def test_image_is_shipped_once_and_described(session):
    digest = code_hash(PTX)
    # Named by hash before the worker has it: NOT_FOUND, the client then sends it.
    assert load(session, 1, None, digest).result == CUDA_ERROR_NOT_FOUND
    reply = load(session, 1, PTX, digest)
    assert reply.result == 0, reply
    assert reply.fields["kernel_count"] == 1
    [(name, params, attrs)] = parse_kernels(reply.tail, 1)
    assert name == "fill"
    assert params == [(0, 8), (8, 4)]
    assert attrs[CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK] == 1024
    # The second load of the same image needs only its hash.
    again = load(session, 2, None, digest)
    assert again.result == 0 and again.tail == reply.tail
    # A library id in use, and bytes that do not match their hash, are refused.
    assert load(session, 2, None, digest).result == CUDA_ERROR_INVALID_VALUE
    other = PTX[:-1] + b" \0"
    assert load(session, 4, other, digest).result == CUDA_ERROR_INVALID_IMAGE
    assert load(session, 5, b"not an image\0", code_hash(b"not an image\0")).result != 0


def test_launch_runs_faults_latch_and_reset_clears(session):
    assert load(session, 7, PTX, code_hash(PTX)).result == 0
    kernel = 7 << KERNEL_BITS
    ptr = session.alloc(4096)
    launch(session, kernel, ptr, 0x1234)
    reply = session.call("MEMCPY_DTOH", {"src": ptr, "size": 128})
    assert (reply.result, reply.tail) == (0, struct.pack("<I", 0x1234) * 32)

    launch(session, kernel + 5, ptr, 1)           # no such kernel
    assert session.sync() == CUDA_ERROR_INVALID_HANDLE
    launch(session, kernel, ptr + (64 << 20), 1)  # 64 MiB past the allocation
    assert session.sync() == CUDA_ERROR_ILLEGAL_ADDRESS
    assert session.call("MEM_ALLOC", {"device": 0, "bytesize": 64}).result == CUDA_ERROR_ILLEGAL_ADDRESS
    assert session.call("CTX_RESET", {"device": 0}).result == 0
    assert session.sync() == 0
    fresh = session.alloc(4096)
    launch(session, kernel, fresh, 7)             # the library survives the reset
    reply = session.call("MEMCPY_DTOH", {"src": fresh, "size": 8})
    assert (reply.result, reply.tail) == (0, struct.pack("<2I", 7, 7))

    session.post("LIBRARY_UNLOAD", {"library": 7})
    launch(session, kernel, fresh, 9)
    assert session.sync() == CUDA_ERROR_INVALID_HANDLE
    assert session.goodbye().returncode == 0


# ---- fatbins and rdc bundles (protocol/code_info.h) -----------------------------------------------

BUNDLE_MAGIC = 0x444E4246  # "FBND"


@pytest.fixture(scope="module")
def fatbin(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    nvcc = shutil.which("nvcc") or ("/usr/local/bin/nvcc" if os.path.exists("/usr/local/bin/nvcc") else None)
    if nvcc is None:
        pytest.skip("nvcc not found: no fatbin to load")
    out = tmp_path_factory.mktemp("fatbin")
    source = out / "fill.cu"
    source.write_text("__global__ void fill(unsigned *p, unsigned v) { p[threadIdx.x] = v; }\n")
    subprocess.run([nvcc, "-fatbin", "-arch=compute_75", "-o", str(out / "fill.fatbin"), str(source)],
                   check=True, capture_output=True, timeout=120)
    return (out / "fill.fatbin").read_bytes()


def bundle(*fatbins: bytes, lengths: list[int] | None = None) -> bytes:
    parts = [struct.pack("<II", BUNDLE_MAGIC, len(fatbins))]
    for i, f in enumerate(fatbins):
        n = len(f) if lengths is None else lengths[i]
        parts.append(struct.pack("<Q", n) + f + b"\0" * (-len(f) % 8))
    return b"".join(parts)


def test_rdc_bundle_loads_as_a_version_2_wrapper(session, fatbin):
    image = bundle(fatbin, fatbin)  # the linked fatbin and one per-TU fatbin
    reply = load(session, 20, image, code_hash(image))
    assert reply.result == 0, reply
    assert [name for name, _, _ in parse_kernels(reply.tail, reply.fields["kernel_count"])] == ["_Z4fillPjj"]
    ptr = session.alloc(4096)
    launch(session, 20 << KERNEL_BITS, ptr, 77)
    assert session.call("MEMCPY_DTOH", {"src": ptr, "size": 8}).tail == struct.pack("<II", 77, 77)


def test_fatbins_that_do_not_fit_are_refused(session, fatbin):
    # A plain fatbin whose header says more than was sent: the driver would read past the copy.
    cut = fatbin[:-8]
    assert load(session, 30, cut, code_hash(cut)).result == CUDA_ERROR_INVALID_IMAGE
    bad = [
        bundle(fatbin, lengths=[len(fatbin) + 64]),        # length past the end of the image
        bundle(fatbin, cut, lengths=[len(fatbin), len(fatbin)]),  # a per-TU fatbin cut short
        bundle(b"\0" * 32),                                   # not a fatbin
        struct.pack("<II", BUNDLE_MAGIC, 0),                  # no fatbin at all
        struct.pack("<II", BUNDLE_MAGIC, 1 << 20),            # more than the image holds
    ]
    for i, image in enumerate(bad):
        assert load(session, 31 + i, image, code_hash(image)).result == CUDA_ERROR_INVALID_IMAGE, i
    # The worker is unharmed.
    assert load(session, 40, fatbin, code_hash(fatbin)).result == 0


GLOBAL_PTX = b"""
.version 7.5
.target sm_75
.address_size 64

.visible .global .align 4 .u32 counter[4];

.visible .entry bump()
{
    .reg .b32 %r<3>;
    ld.global.u32 %r1, [counter];
    add.u32 %r2, %r1, 1;
    st.global.u32 [counter], %r2;
    ret;
}
\0"""


def test_globals_are_session_memory_until_their_library_goes(session):
    assert load(session, 50, GLOBAL_PTX, code_hash(GLOBAL_PTX)).result == 0
    name = b"counter"
    reply = session.call("LIBRARY_GET_GLOBAL", {"library": 50, "device": 0, "name_len": len(name)}, name)
    assert reply.result == 0 and reply.fields["size"] == 16, reply
    addr = reply.fields["dptr"]
    session.post("MEMCPY_HTOD", {"dst": addr, "size": 4, "stream": 0}, struct.pack("<I", 41))
    session.post("LAUNCH_KERNEL", {"kernel": 50 << KERNEL_BITS, "grid_x": 1, "grid_y": 1, "grid_z": 1,
                                   "block_x": 1, "block_y": 1, "block_z": 1, "shared_bytes": 0,
                                   "stream": 0, "params_len": 0})
    # A global is never freed as an allocation.
    session.post("MEM_FREE", {"dptr": addr})
    assert session.sync() == CUDA_ERROR_INVALID_VALUE
    assert session.call("MEMCPY_DTOH", {"src": addr, "size": 4}).tail == struct.pack("<I", 42)
    # The unload waits for the work before it; then the global is no memory of the session.
    session.post("LIBRARY_UNLOAD", {"library": 50})
    assert session.sync() == 0
    assert session.call("MEMCPY_DTOH", {"src": addr, "size": 4}).result == CUDA_ERROR_INVALID_VALUE


def test_unload_waits_for_queued_launches(session):
    assert load(session, 60, PTX, code_hash(PTX)).result == 0
    ptr = session.alloc(4096)
    for value in range(1, 200):
        launch(session, 60 << KERNEL_BITS, ptr, value)
    session.post("LIBRARY_UNLOAD", {"library": 60})
    assert session.sync() == 0   # no launch found its kernel gone
    assert session.call("MEMCPY_DTOH", {"src": ptr, "size": 4}).tail == struct.pack("<I", 199)
