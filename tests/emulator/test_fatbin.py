"""The emulator's fatbin reader (emulator/fatbin.c) on real nvcc outputs and on corrupt input.

Driven through the build's ``fatbin_tool`` (tests/c/emulator/fatbin_tool.c), which calls fatbin.c
directly. The nvcc-based cases compile small programs and skip when no nvcc is installed; the
corrupt-input cases need none. A decode of every compression mode must give back, line for line,
the PTX ``nvcc -ptx`` writes for the same source (nvcc minifies what it embeds: comments become
empty lines and runs of blanks one space, so both sides are compared in that normal form).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

OK, NOT_FOUND, INVALID = 0, 3, 4

KERNELS = r"""
__device__ int dev_counter = 5;
__constant__ float scale[4] = {1, 2, 3, 4};
extern "C" __global__ void vadd(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) c[i] = a[i] + b[i] * scale[0];
}
struct __align__(16) S { char c; double d; int i; };
__global__ void mixed(char c, S s, short h, void *p, bool b, unsigned long long u)
{
    if (threadIdx.x == 0 && p) ((int *)p)[0] = c + s.i + h + b + (int)u + dev_counter;
}
int main() { float *d; cudaMalloc(&d, 16); vadd<<<1, 1>>>(d, d, d, 1); cudaDeviceSynchronize(); return 0; }
"""

RDC_A = r"""
__device__ int twice(int x);
extern "C" __global__ void ka(int *p) { p[threadIdx.x] = twice(threadIdx.x); }
int main() { int *d; cudaMalloc(&d, 64); ka<<<1, 16>>>(d); cudaDeviceSynchronize(); return 0; }
"""
RDC_B = "__device__ int twice(int x) { return 2 * x; }\n"

FLAG_LZ4, FLAG_ZSTD = 0x2000, 0x8000


def tool() -> Path:
    build_dir = os.environ.get("BF_BUILD_DIR")
    if not build_dir:
        pytest.skip("BF_BUILD_DIR is not set: fatbin_tool lives in a build directory")
    path = Path(build_dir) / "emulator" / "fatbin_tool"
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with ninja -C {build_dir}", pytrace=False)
    return path


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(tool()), *map(str, args)], capture_output=True, timeout=120, check=False,
                          env={**os.environ, "BF_LOG": "error"})


def normal_form(ptx: str) -> list[str]:
    """PTX lines without comments, blank lines and differences in blanks."""
    lines = []
    for line in ptx.replace("\0", "").splitlines():
        line = line.split("//", 1)[0].strip()
        if line:
            lines.append(" ".join(line.split()))
    return lines


def entries(fatbin: bytes) -> list[dict[str, int]]:
    """The entry headers of a fatbin (shared/CUDA-ABI.md §2.3)."""
    magic, _version, header_size, size = struct.unpack_from("<IHHQ", fatbin, 0)
    assert magic == 0xBA55ED50
    found, pos = [], header_size
    while pos < header_size + size:
        kind, _, hsize, psize, csize, _opt, _mn, _mj, arch, _on, _ol, flags, _z, usize = struct.unpack_from(
            "<HHIQIIHHIIIQQQ", fatbin, pos)
        found.append({"kind": kind, "offset": pos, "header_size": hsize, "payload_size": psize,
                      "compressed_size": csize, "arch": arch, "flags": flags, "uncompressed_size": usize})
        pos += hsize + psize
    return found


def elf_sections(image: bytes) -> dict[str, tuple[int, int, int]]:
    """name -> (address, file offset, size) of an ELF64 executable's sections."""
    shoff = struct.unpack_from("<Q", image, 0x28)[0]
    entsize, count, strndx = struct.unpack_from("<HHH", image, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", image, shoff + i * entsize) for i in range(count)]
    names = headers[strndx][4]
    sections = {}
    for name, _type, _flags, addr, offset, size in headers:
        end = image.index(b"\0", names + name)
        sections[image[names + name:end].decode()] = (addr, offset, size)
    return sections


def wrappers(executable: Path) -> list[tuple[int, bytes]]:
    """(version, fatbin bytes) of every fatbin wrapper in an executable's .nvFatBinSegment."""
    image = executable.read_bytes()
    sections = elf_sections(image)
    _, seg_offset, seg_size = sections[".nvFatBinSegment"]
    fb_addr, fb_offset, _ = sections[".nv_fatbin"]
    found = []
    for pos in range(seg_offset, seg_offset + seg_size, 24):
        magic, version, data, _ = struct.unpack_from("<IIQQ", image, pos)
        assert magic == 0x466243B1
        start = fb_offset + data - fb_addr
        header_size, size = struct.unpack_from("<HQ", image, start + 6)
        found.append((version, image[start:start + header_size + size]))
    return found


@pytest.fixture(scope="module")
def nvcc_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compiles KERNELS (and the -rdc pair) every way the tests below read."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    work = tmp_path_factory.mktemp("nvcc")
    (work / "k.cu").write_text(KERNELS)
    (work / "a.cu").write_text(RDC_A)
    (work / "b.cu").write_text(RDC_B)

    def build(*args: str) -> None:
        subprocess.run([nvcc, *args], cwd=work, check=True, capture_output=True, timeout=240)

    for mode in ("default", "size", "speed", "none"):
        build("-fatbin", f"--compress-mode={mode}", "-o", f"{mode}.fatbin", "k.cu")
    for mode in ("size", "speed"):
        build("-fatbin", f"--compress-mode={mode}", "-Xfatbin", "-compress-all", "-o", f"{mode}-all.fatbin",
              "k.cu")
    build("-ptx", "-arch=compute_75", "-o", "k.ptx", "k.cu")
    build("-cubin", "-arch=sm_75", "-o", "k.cubin", "k.cu")
    build("-fatbin", "-gencode", "arch=compute_75,code=sm_75", "-o", "sass.fatbin", "k.cu")
    build("-fatbin", "-gencode", "arch=compute_75,code=compute_75", "-gencode",
          "arch=compute_80,code=compute_80", "-gencode", "arch=compute_90,code=sm_90", "-o", "multi.fatbin",
          "k.cu")
    build("-o", "k_exe", "k.cu")
    build("-rdc=true", "-o", "rdc_exe", "a.cu", "b.cu")
    return work


# --- real nvcc outputs --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "ptx_flag"), [
    ("default", FLAG_ZSTD), ("size", FLAG_ZSTD), ("speed", FLAG_LZ4), ("none", 0),
    ("size-all", FLAG_ZSTD), ("speed-all", FLAG_LZ4),
])
def test_every_compression_mode(nvcc_outputs: Path, name: str, ptx_flag: int) -> None:
    fatbin = nvcc_outputs / f"{name}.fatbin"
    ptx_entries = [e for e in entries(fatbin.read_bytes()) if e["kind"] == 1]
    # The case covers the decoder it claims to: the PTX entry is compressed the expected way.
    assert [e["flags"] & (FLAG_LZ4 | FLAG_ZSTD) for e in ptx_entries] == [ptx_flag]
    want = normal_form((nvcc_outputs / "k.ptx").read_text())
    for mode in ("image", "pointer"):
        result = run_tool(mode, fatbin)
        assert result.returncode == OK, result.stderr.decode()
        assert normal_form(result.stdout.decode()) == want
        assert b"arch 75" in result.stderr


def test_lz4_payload_decodes_to_the_raw_one(nvcc_outputs: Path, tmp_path: Path) -> None:
    speed = (nvcc_outputs / "speed-all.fatbin").read_bytes()
    raw = (nvcc_outputs / "none.fatbin").read_bytes()
    raw_by_kind = {e["kind"]: e for e in entries(raw)}
    for entry in entries(speed):
        assert entry["flags"] & FLAG_LZ4
        start = entry["offset"] + entry["header_size"]
        payload = tmp_path / f"kind{entry['kind']}.lz4"
        payload.write_bytes(speed[start:start + entry["compressed_size"]])
        result = run_tool("lz4", payload, str(entry["uncompressed_size"]))
        assert result.returncode == OK
        plain = raw_by_kind[entry["kind"]]
        plain_start = plain["offset"] + plain["header_size"]
        # The cubin is byte for byte the uncompressed one; the PTX too, up to its padding.
        assert result.stdout == raw[plain_start:plain_start + entry["uncompressed_size"]]


def test_executable_wrapper(nvcc_outputs: Path, tmp_path: Path) -> None:
    """The version-1 wrapper a whole-program build registers, as cudart hands it over."""
    found = [fatbin for version, fatbin in wrappers(nvcc_outputs / "k_exe") if version == 1]
    assert len(found) == 1
    (tmp_path / "exe.fatbin").write_bytes(found[0])
    result = run_tool("wrapper", "1", tmp_path / "exe.fatbin")
    assert result.returncode == OK, result.stderr.decode()
    assert normal_form(result.stdout.decode()) == normal_form((nvcc_outputs / "k.ptx").read_text())


def test_rdc_linked_wrapper_needs_ptx(nvcc_outputs: Path, tmp_path: Path) -> None:
    """-rdc=true: the version-2 wrapper's linked image holds SASS only, which the emulator cannot
    run; the refusal says so and how to rebuild."""
    linked = [fatbin for version, fatbin in wrappers(nvcc_outputs / "rdc_exe") if version == 2]
    assert len(linked) == 1
    (tmp_path / "linked.fatbin").write_bytes(linked[0])
    result = run_tool("wrapper", "2", tmp_path / "linked.fatbin")
    assert result.returncode == NOT_FOUND
    message = result.stderr.decode()
    assert "-rdc=true" in message and "has no PTX for compute_75" in message and "sm_75 SASS" in message


def test_sass_only_images_are_refused_with_a_hint(nvcc_outputs: Path) -> None:
    for image in ("sass.fatbin", "k.cubin"):
        result = run_tool("image", nvcc_outputs / image)
        assert result.returncode == NOT_FOUND, image
        message = result.stderr.decode()
        assert "has no PTX for compute_75 or lower" in message
        assert "-gencode arch=compute_75,code=compute_75" in message and "-arch=sm_75" in message


@pytest.mark.parametrize(("cc", "arch"), [(75, 75), (80, 80), (86, 80), (90, 80), (70, None)])
def test_highest_ptx_at_or_below_the_compute_capability(nvcc_outputs: Path, cc: int,
                                                         arch: int | None) -> None:
    result = run_tool("image", nvcc_outputs / "multi.fatbin", str(cc))
    if arch is None:
        assert result.returncode == NOT_FOUND
        assert b"compute_75 PTX, compute_80 PTX, sm_90 SASS" in result.stderr
    else:
        assert result.returncode == OK
        assert f"arch {arch},".encode() in result.stderr


def test_plain_ptx_text(nvcc_outputs: Path) -> None:
    ptx = nvcc_outputs / "k.ptx"
    for mode in ("image", "pointer"):
        result = run_tool(mode, ptx)
        assert result.returncode == OK
        assert result.stdout == ptx.read_bytes()


# --- corrupt input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("stream", "capacity", "expected"), [
    (b"", 16, b""),
    (b"\x40abcd", 16, b"abcd"),                     # literals only
    (b"\x22ab\x02\x00", 16, b"abababab"),           # overlapping match (offset 2, length 6)
    (b"\xf0\x00" + b"x" * 15, 32, b"x" * 15),       # literal length 15 + an extension byte of 0
])
def test_lz4_valid_streams(tmp_path: Path, stream: bytes, capacity: int, expected: bytes) -> None:
    (tmp_path / "s").write_bytes(stream)
    result = run_tool("lz4", tmp_path / "s", str(capacity))
    assert result.returncode == OK
    assert result.stdout == expected


@pytest.mark.parametrize(("stream", "capacity"), [
    (b"\x50abc", 64),                     # more literals announced than there are
    (b"\x10a\x00\x00", 64),               # offset 0
    (b"\x10a\x05\x00", 64),               # offset before the start of the output
    (b"\x10a\x01", 64),                   # offset cut short
    (b"\xf0\xff\xff", 64),                # literal length extension runs off the end
    (b"\x1fa\x01\x00\xff\xff", 64),       # match length extension runs off the end
    (b"\x1fa\x01\x00\xff\x10", 64),       # match longer than the output buffer
    (b"\x50abcdefgh", 4),                 # more literals than the output buffer holds
])
def test_lz4_corrupt_streams_are_rejected(tmp_path: Path, stream: bytes, capacity: int) -> None:
    (tmp_path / "s").write_bytes(stream)
    result = run_tool("lz4", tmp_path / "s", str(capacity))
    assert result.returncode == INVALID, result.stdout


def test_lz4_fuzz(nvcc_outputs: Path, tmp_path: Path) -> None:
    speed = (nvcc_outputs / "speed-all.fatbin").read_bytes()
    for entry in entries(speed):
        start = entry["offset"] + entry["header_size"]
        payload = tmp_path / "payload"
        payload.write_bytes(speed[start:start + entry["compressed_size"]])
        result = run_tool("fuzz-lz4", payload, str(entry["uncompressed_size"]), "20000")
        assert result.returncode == OK, result.stdout
        ok, rejected = (int(x) for x in result.stdout.split()[1::2])
        assert ok + rejected == 20000 and rejected > 1000


@pytest.mark.parametrize("name", ["default", "speed-all", "none"])
def test_fatbin_fuzz(nvcc_outputs: Path, name: str) -> None:
    result = run_tool("fuzz-fatbin", nvcc_outputs / f"{name}.fatbin", "5000")
    assert result.returncode == OK, result.stdout
    ok, rejected = (int(x) for x in result.stdout.split()[1::2])
    assert ok + rejected == 5000 and ok > 0 and rejected > 0


def test_malformed_fatbins_are_rejected(tmp_path: Path) -> None:
    header = struct.pack("<IHHQ", 0xBA55ED50, 1, 16, 0x40)
    entry = struct.pack("<HHIQ", 1, 0x101, 0x40, 1 << 40) + bytes(0x40 - 16)
    cases = {
        "short": header[:12],
        "size_beyond_end": header,
        "payload_beyond_end": header + entry,
        "small_entry_header": struct.pack("<IHHQ", 0xBA55ED50, 1, 16, 0x40) + struct.pack("<HHI", 1, 0x101, 8)
        + bytes(0x38),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = run_tool("image", tmp_path / name)
        assert result.returncode == INVALID, name
    # A fatbin with no entries at all has no PTX either.
    (tmp_path / "empty").write_bytes(struct.pack("<IHHQ", 0xBA55ED50, 1, 16, 0))
    assert run_tool("image", tmp_path / "empty").returncode == NOT_FOUND


def test_text_that_is_not_ptx_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"hello, this is not a code image\n")
    assert run_tool("image", tmp_path / "junk").returncode == INVALID
    assert run_tool("pointer", tmp_path / "junk").returncode == INVALID
