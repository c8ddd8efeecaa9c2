"""Type stubs for openbf._trace (pybindings/_trace.pyx): the bf-trace file reader."""

from os import PathLike

import numpy as np

VERSION: int
RECORD_SIZE: int
HEADER_SIZE: int
MAGIC: bytes
RUNTIME_API_BASE: int
REC_CALL: int
REC_DEVICE: int
REC_STRING: int
REC_PROCESS: int
F_RUNTIME: int
F_POSTED: int
F_WAITED: int
F_PTDS: int
ARGS_NONE: int
ARGS_ALLOC: int
ARGS_FREE: int
ARGS_COPY: int
ARGS_SET: int
ARGS_LAUNCH: int
ARGS_HANDLE: int
ARGS_SYNC: int
RECORD_DTYPE: np.dtype

class TraceFormatError(ValueError): ...

class Trace:
    path: str
    version: int
    pid: int
    realtime_ns: int
    monotonic_ns: int
    command: str
    calls: np.ndarray
    devices: np.ndarray
    processes: np.ndarray
    api_names: dict[int, str]
    kernel_names: dict[int, str]
    cmdlines: dict[int, str]
    def api_name(self, api: int) -> str: ...
    def kernel_name(self, ident: int) -> str: ...

def header_bytes(command: str, pid: int, realtime_ns: int, monotonic_ns: int) -> bytes: ...
def load(path: str | PathLike[str]) -> Trace: ...
def parse(data: bytes, path: str = ...) -> Trace: ...
