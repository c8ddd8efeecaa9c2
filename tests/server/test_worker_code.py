"""bf-worker's code ops: LIBRARY_LOAD (images named by content hash, shipped once, the kernel table
in the reply), LAUNCH_KERNEL (posted, packed parameters), faults latched and cleared by a reset,
LIBRARY_UNLOAD. A socketpair client (worker_harness) against the worker and the emulator."""

from __future__ import annotations

import struct

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
