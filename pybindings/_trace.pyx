# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False
"""openbf._trace: the bf-trace file reader (format: docs/trace.md, libintercept/trace/bf_trace_format.h).

``load(path)`` reads a whole file into NumPy structured arrays in one pass over its records:
``calls`` (one row per API call, the C record layout as a dtype), ``processes`` (one row per
process that recorded), and the file's strings (API names, kernel names, command lines). A file
that is not a bf-trace file, has another version, is cut short or is corrupt raises
TraceFormatError with a message that says which and where.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

cnp.import_array()

cdef extern from "bf_trace_format.h":
    cdef unsigned BF_TRACE_VERSION
    cdef unsigned BF_TRACE_RECORD_SIZE
    cdef unsigned BF_TRACE_RUNTIME_API_BASE
    ctypedef struct bf_trace_header_t:
        char magic[8]
        uint32_t version
        uint32_t header_len
        uint32_t record_size
        uint32_t pid
        uint64_t realtime_ns
        uint64_t monotonic_ns
        uint32_t cmd_len
        uint32_t reserved
    ctypedef struct bf_trace_record_t:
        uint64_t start_ns
        uint64_t end_ns
        uint64_t seq
        uint64_t request_id
        uint64_t stream
        uint64_t bytes_sent
        uint64_t bytes_recv
        uint64_t arg[4]
        uint32_t pid
        uint32_t tid
        int32_t result
        uint16_t api
        uint8_t type
        uint8_t flags
    enum:
        BF_TRACE_REC_CALL
        BF_TRACE_REC_DEVICE
        BF_TRACE_REC_STRING
        BF_TRACE_REC_PROCESS
        BF_TRACE_STR_API
        BF_TRACE_STR_KERNEL
        BF_TRACE_STR_CMDLINE
        BF_TRACE_F_RUNTIME
        BF_TRACE_F_POSTED
        BF_TRACE_F_WAITED
        BF_TRACE_F_PTDS
        BF_TRACE_ARGS_NONE
        BF_TRACE_ARGS_ALLOC
        BF_TRACE_ARGS_FREE
        BF_TRACE_ARGS_COPY
        BF_TRACE_ARGS_SET
        BF_TRACE_ARGS_LAUNCH
        BF_TRACE_ARGS_HANDLE
        BF_TRACE_ARGS_SYNC

VERSION = BF_TRACE_VERSION
RECORD_SIZE = BF_TRACE_RECORD_SIZE
HEADER_SIZE = sizeof(bf_trace_header_t)
MAGIC = b"OPENBFTR"
cdef const char *MAGIC_C = b"OPENBFTR"
RUNTIME_API_BASE = BF_TRACE_RUNTIME_API_BASE

REC_CALL = BF_TRACE_REC_CALL
REC_DEVICE = BF_TRACE_REC_DEVICE
REC_STRING = BF_TRACE_REC_STRING
REC_PROCESS = BF_TRACE_REC_PROCESS
F_RUNTIME = BF_TRACE_F_RUNTIME
F_POSTED = BF_TRACE_F_POSTED
F_WAITED = BF_TRACE_F_WAITED
F_PTDS = BF_TRACE_F_PTDS
ARGS_NONE = BF_TRACE_ARGS_NONE
ARGS_ALLOC = BF_TRACE_ARGS_ALLOC
ARGS_FREE = BF_TRACE_ARGS_FREE
ARGS_COPY = BF_TRACE_ARGS_COPY
ARGS_SET = BF_TRACE_ARGS_SET
ARGS_LAUNCH = BF_TRACE_ARGS_LAUNCH
ARGS_HANDLE = BF_TRACE_ARGS_HANDLE
ARGS_SYNC = BF_TRACE_ARGS_SYNC

# The C record as a NumPy dtype (checked against sizeof at import).
RECORD_DTYPE = np.dtype([
    ("start_ns", "<u8"), ("end_ns", "<u8"), ("seq", "<u8"), ("request_id", "<u8"), ("stream", "<u8"),
    ("bytes_sent", "<u8"), ("bytes_recv", "<u8"), ("arg", "<u8", (4,)),
    ("pid", "<u4"), ("tid", "<u4"), ("result", "<i4"), ("api", "<u2"), ("type", "u1"),
    ("flags", "u1"),
])
assert RECORD_DTYPE.itemsize == sizeof(bf_trace_record_t) == BF_TRACE_RECORD_SIZE

# Strings longer than this are corrupt (the writer cuts them at 4000 bytes).
cdef uint64_t STRING_LIMIT = 1 << 20


class TraceFormatError(ValueError):
    """The file is not a readable bf-trace file: the message says why and where."""


class Trace:
    """A loaded file: header fields, ``calls``, ``devices`` (device times of ops, by request_id)
    and ``processes`` (RECORD_DTYPE arrays, in file order), ``api_names`` {api id: name},
    ``kernel_names`` {id: name}, ``cmdlines`` {pid: text}."""

    def __init__(self, path, version, pid, realtime_ns, monotonic_ns, command, calls, devices,
                 processes, api_names, kernel_names, cmdlines):
        self.path = path
        self.version = version
        self.pid = pid
        self.realtime_ns = realtime_ns
        self.monotonic_ns = monotonic_ns
        self.command = command
        self.calls = calls
        self.devices = devices
        self.processes = processes
        self.api_names = api_names
        self.kernel_names = kernel_names
        self.cmdlines = cmdlines

    def api_name(self, api):
        name = self.api_names.get(int(api))
        return name if name is not None else f"api#{int(api)}"

    def kernel_name(self, ident):
        if int(ident) == 0:
            return "?"
        name = self.kernel_names.get(int(ident))
        return name if name is not None else f"kernel#{int(ident)}"


def header_bytes(command, pid, realtime_ns, monotonic_ns):
    """The header `bf-trace record` writes before the program starts."""
    cdef bf_trace_header_t h
    cmd = command.encode("utf-8", "replace")
    total = (sizeof(bf_trace_header_t) + len(cmd) + 7) // 8 * 8
    memcpy(h.magic, MAGIC_C, 8)
    h.version = BF_TRACE_VERSION
    h.header_len = total
    h.record_size = BF_TRACE_RECORD_SIZE
    h.pid = pid
    h.realtime_ns = realtime_ns
    h.monotonic_ns = monotonic_ns
    h.cmd_len = len(cmd)
    h.reserved = 0
    raw = (<char *>&h)[:sizeof(bf_trace_header_t)] + cmd
    return raw + b"\0" * (total - len(raw))


def _fail(path, message):
    raise TraceFormatError(f"{path}: {message}")


def load(path):
    """Reads the bf-trace file at path; raises TraceFormatError for anything but a good file
    (and OSError when it cannot be read)."""
    path = str(path)
    with open(path, "rb") as f:
        data = f.read()
    return parse(data, path)


def parse(data, path="<bytes>"):
    """Like load, from the bytes of a file."""
    cdef const uint8_t[::1] buf = memoryview(data).cast("B") if len(data) else b"\0"
    cdef Py_ssize_t size = len(data)
    cdef bf_trace_header_t h
    cdef const bf_trace_record_t *rec
    cdef Py_ssize_t count, i, n_calls = 0, n_procs = 0, at
    cdef uint64_t slen, extra
    cdef int64_t[::1] call_idx
    cdef int64_t[::1] proc_idx
    cdef int64_t[::1] dev_idx
    cdef Py_ssize_t n_devs = 0

    if size < <Py_ssize_t>sizeof(bf_trace_header_t):
        if size >= 8 and memcmp(&buf[0], MAGIC_C, 8) != 0:
            _fail(path, "not a bf-trace file (no OPENBFTR magic)")
        _fail(path, f"truncated: {size} bytes, shorter than the {sizeof(bf_trace_header_t)}-byte header")
    memcpy(&h, &buf[0], sizeof(bf_trace_header_t))
    if memcmp(h.magic, MAGIC_C, 8) != 0:
        _fail(path, "not a bf-trace file (no OPENBFTR magic)")
    if h.version != BF_TRACE_VERSION:
        _fail(path, f"unsupported bf-trace format version {h.version} (this openbf reads version "
              f"{BF_TRACE_VERSION}); record it again or use a matching openbf")
    if h.record_size != BF_TRACE_RECORD_SIZE:
        _fail(path, f"corrupt header: record size {h.record_size}, expected {BF_TRACE_RECORD_SIZE}")
    if (h.header_len < sizeof(bf_trace_header_t) + h.cmd_len or h.header_len % 8 != 0
            or h.header_len > sizeof(bf_trace_header_t) + h.cmd_len + 8):
        _fail(path, f"corrupt header: header length {h.header_len} for a {h.cmd_len}-byte command")
    if <Py_ssize_t>h.header_len > size:
        _fail(path, f"truncated: {size} bytes, the header alone is {h.header_len}")
    command = bytes(buf[sizeof(bf_trace_header_t):sizeof(bf_trace_header_t) + h.cmd_len]).decode(
        "utf-8", "replace")
    body = size - h.header_len
    if body % BF_TRACE_RECORD_SIZE != 0:
        _fail(path, f"truncated: the last record is incomplete ({body % BF_TRACE_RECORD_SIZE} of "
              f"{BF_TRACE_RECORD_SIZE} bytes) after {body // BF_TRACE_RECORD_SIZE} whole records")
    count = body // BF_TRACE_RECORD_SIZE

    call_np = np.empty(count, dtype=np.int64)
    proc_np = np.empty(count, dtype=np.int64)
    call_idx = call_np
    proc_idx = proc_np
    dev_np = np.empty(count, dtype=np.int64)
    dev_idx = dev_np
    api_names = {}
    kernel_names = {}
    cmdlines = {}
    i = 0
    while i < count:
        at = h.header_len + i * BF_TRACE_RECORD_SIZE
        rec = <const bf_trace_record_t *>&buf[at]
        if rec.type == BF_TRACE_REC_CALL:
            call_idx[n_calls] = i
            n_calls += 1
            i += 1
        elif rec.type == BF_TRACE_REC_PROCESS:
            proc_idx[n_procs] = i
            n_procs += 1
            i += 1
        elif rec.type == BF_TRACE_REC_DEVICE:
            dev_idx[n_devs] = i
            n_devs += 1
            i += 1
        elif rec.type == BF_TRACE_REC_STRING:
            slen = rec.arg[2]
            if slen > STRING_LIMIT:
                _fail(path, f"corrupt record #{i} at offset {at}: a string of {slen} bytes")
            extra = (slen + BF_TRACE_RECORD_SIZE - 1) // BF_TRACE_RECORD_SIZE
            if <uint64_t>(count - i - 1) < extra:
                _fail(path, f"truncated: string record #{i} at offset {at} runs past the end")
            text = bytes(buf[at + BF_TRACE_RECORD_SIZE:at + BF_TRACE_RECORD_SIZE + slen]).decode(
                "utf-8", "replace")
            if rec.arg[0] == BF_TRACE_STR_API:
                api_names[int(rec.arg[1])] = text
            elif rec.arg[0] == BF_TRACE_STR_KERNEL:
                kernel_names[int(rec.arg[1])] = text
            elif rec.arg[0] == BF_TRACE_STR_CMDLINE:
                cmdlines[int(rec.arg[1])] = text
            else:
                _fail(path, f"corrupt record #{i} at offset {at}: unknown string kind {rec.arg[0]}")
            i += 1 + <Py_ssize_t>extra
        else:
            _fail(path, f"corrupt record #{i} at offset {at}: unknown record type {rec.type}")

    records = np.frombuffer(data, dtype=RECORD_DTYPE, count=count, offset=h.header_len)
    calls = records[call_np[:n_calls]]
    devices = records[dev_np[:n_devs]]
    processes = records[proc_np[:n_procs]]
    return Trace(path, h.version, h.pid, h.realtime_ns, h.monotonic_ns, command, calls, devices,
                 processes, api_names, kernel_names, cmdlines)
