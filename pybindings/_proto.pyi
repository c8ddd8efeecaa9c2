"""Type stubs for openbf._proto (pybindings/_proto.pyx)."""

from collections.abc import Mapping
from typing import Literal, NamedTuple

PROTO_VERSION: int
MAX_TAIL: int
FRAME_HDR_SIZE: int
FRAME_REPLY: int
FRAME_POSTED: int
DEVICE_SIZE: int

Kind = Literal["u32", "i32", "u64", "devptr", "handle"]
Mode = Literal["waited", "posted", "retired"]

class Field(NamedTuple):
    name: str
    kind: Kind

class Message(NamedTuple):
    fields: tuple[Field, ...]
    tail: str | None
    wire_size: int
    is_reply: bool

class Op(NamedTuple):
    id: int
    name: str
    mode: Mode
    request: Message
    reply: Message

class FrameHeader(NamedTuple):
    length: int
    op: int
    flags: int
    request_id: int

class ConfigRow(NamedTuple):
    variable: str
    default: str
    doc: str

class Device(NamedTuple):
    name: str
    uuid: bytes
    total_mem: int
    window_base: int
    window_size: int
    attributes: tuple[int, ...]
    pci_bus_id: str

class BfError(Exception):
    status: int
    status_name: str
    def __init__(self, status: int, detail: str | None = None) -> None: ...

class BfInputError(BfError): ...
class BfProtocolError(BfInputError): ...

OPS: tuple[Op, ...]

def op(key: int | str) -> Op: ...
def encode(op_id: int, is_reply: bool, fields: Mapping[str, int], tail: bytes = b"") -> bytes: ...
def decode(op_id: int, is_reply: bool, payload: bytes) -> tuple[dict[str, int], bytes]: ...
def frame(op_id: int, flags: int, request_id: int, payload: bytes) -> bytes: ...
def parse_header(data: bytes) -> FrameHeader: ...
def decode_devices(data: bytes, count: int) -> list[Device]: ...
def config_table() -> tuple[ConfigRow, ...]: ...
def listen(address: str) -> int: ...
