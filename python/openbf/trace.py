"""bf-trace: record every CUDA call of a program run through openbf, summarise it, export a timeline.

``bf-trace record -o run.bft [--server ADDR] -- CMD ARGS`` runs CMD as ``bf run`` does, with
libbf.so recording one event per driver call into run.bft (and, for programs that use the shared
runtime, one per runtime call, from libbftrace_rt.so). ``bf-trace summary run.bft`` prints per-API
and per-kernel statistics; ``bf-trace export --format chrome|jsonl run.bft -o out`` writes a
timeline for Perfetto / chrome://tracing, or one JSON object per event. The file format is
docs/trace.md; the reader is the Cython extension openbf._trace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from openbf import __version__, cli, paths

EXIT_OK = 0
EXIT_BAD_FILE = 1
EXIT_BF_FAILED = cli.EXIT_BF_FAILED

# Copy kinds as recorded (cudaMemcpyKind numbering).
COPY_KINDS = {0: "HtoH", 1: "HtoD", 2: "DtoH", 3: "DtoD", 4: "Default"}

# Track ids of device streams in the Chrome export: above any Linux thread id.
STREAM_TRACK_BASE = 1 << 30


class TraceError(Exception):
    """bf-trace cannot read what it was given; the message is for the user."""


def say(message: str) -> None:
    print(f"bf-trace: {message}", file=sys.stderr, flush=True)


def _reader() -> Any:
    try:
        from openbf import _trace
    except ImportError as e:
        raise TraceError(f"openbf's compiled trace reader is missing ({e}); build openbf or set "
                         "BF_BUILD_DIR") from e
    return _trace


def load(path: str | Path) -> Any:
    """The trace at path (an openbf._trace.Trace); TraceError with a clear message otherwise."""
    reader = _reader()
    try:
        return reader.load(path)
    except reader.TraceFormatError as e:
        raise TraceError(str(e)) from e
    except OSError as e:
        raise TraceError(f"{path}: {e.strerror or e}") from e


# ---- record ------------------------------------------------------------------------------------

def uses_shared_runtime(command: str) -> bool:
    """Whether command may load libcudart.so.13 dynamically: an ELF file that names it, or anything
    that is not an ELF file we can read (a script's interpreter may load it). The interposer is
    harmless elsewhere; this only keeps it out of programs that certainly cannot use it."""
    found = shutil.which(command)
    if found is None:
        return True
    try:
        with open(found, "rb") as f:
            data = f.read(16 << 20)
    except OSError:
        return True
    if not data.startswith(b"\x7fELF"):
        return True
    return b"libcudart.so.13" in data


def write_header(out: Path, command: list[str]) -> None:
    reader = _reader()
    header = reader.header_bytes(" ".join(command), os.getpid(), time.time_ns(), time.monotonic_ns())
    with open(out, "wb") as f:
        f.write(header)


def cmd_record(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        say("record: no command given (usage: bf-trace record -o FILE [--server ADDR] [--] CMD [ARGS...])")
        return EXIT_BF_FAILED
    out = Path(args.output).resolve()
    try:
        write_header(out, command)
    except (OSError, TraceError) as e:
        say(f"cannot create {args.output}: {getattr(e, 'strerror', None) or e}")
        return EXIT_BF_FAILED

    saved = {k: os.environ.get(k) for k in ("BF_TRACE_FILE", "LD_PRELOAD")}
    os.environ["BF_TRACE_FILE"] = str(out)
    if not args.no_runtime and uses_shared_runtime(command[0]):
        try:
            os.environ["LD_PRELOAD"] = cli.preload_with(os.environ.get("LD_PRELOAD"),
                                                        str(paths.libbftrace_rt()))
        except FileNotFoundError as e:
            say(f"{e}; runtime calls are not recorded")
    try:
        status = cli.cmd_run(argparse.Namespace(server=args.server, command=command))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        trace = load(out)
        pids = {int(p) for p in trace.processes["pid"]}
        say(f"{len(trace.calls)} calls from {len(pids)} process(es) recorded in {args.output}")
    except TraceError as e:
        say(str(e))
    return status


# ---- summary -----------------------------------------------------------------------------------

def _layer(api: int, reader: Any) -> str:
    return "runtime" if api >= reader.RUNTIME_API_BASE else "driver"


def api_table(trace: Any) -> list[dict[str, Any]]:
    """One row per API: calls, total/mean/max/min time (ns), bytes each way, waited and posted
    calls, failed calls; sorted by total time, longest first."""
    reader = _reader()
    calls = trace.calls
    if len(calls) == 0:
        return []
    dur = (calls["end_ns"] - calls["start_ns"]).astype(np.float64)
    apis, inverse = np.unique(calls["api"], return_inverse=True)
    n = len(apis)
    count = np.bincount(inverse, minlength=n)
    total = np.bincount(inverse, weights=dur, minlength=n)
    longest = np.zeros(n)
    np.maximum.at(longest, inverse, dur)
    shortest = np.full(n, np.inf)
    np.minimum.at(shortest, inverse, dur)
    sent = np.bincount(inverse, weights=calls["bytes_sent"].astype(np.float64), minlength=n)
    recv = np.bincount(inverse, weights=calls["bytes_recv"].astype(np.float64), minlength=n)
    flags = calls["flags"]
    waited = np.bincount(inverse, weights=(flags & reader.F_WAITED) != 0, minlength=n)
    posted = np.bincount(inverse, weights=(flags & reader.F_POSTED) != 0, minlength=n)
    failed = np.bincount(inverse, weights=calls["result"] != 0, minlength=n)
    rows = []
    for i, api in enumerate(apis):
        rows.append({
            "name": trace.api_name(api), "layer": _layer(int(api), reader), "calls": int(count[i]),
            "total_ns": int(total[i]), "mean_ns": float(total[i] / count[i]),
            "max_ns": int(longest[i]), "min_ns": int(shortest[i]),
            "bytes_sent": int(sent[i]), "bytes_recv": int(recv[i]),
            "waited": int(waited[i]), "posted": int(posted[i]), "failed": int(failed[i]),
        })
    rows.sort(key=lambda r: (-r["total_ns"], r["name"]))
    return rows


def _launches(trace: Any) -> np.ndarray:
    """The driver-level launch records (a runtime launch shows up again beneath, as cuLaunchKernel)."""
    reader = _reader()
    calls = trace.calls
    kind = calls["flags"] >> 4
    driver = (calls["flags"] & reader.F_RUNTIME) == 0
    return calls[(kind == reader.ARGS_LAUNCH) & driver]


def _dim3(packed: int, launch_grid: bool) -> tuple[int, int, int]:
    if launch_grid:
        return packed & 0xFFFFFFFF, (packed >> 32) & 0xFFFF, (packed >> 48) & 0xFFFF
    return packed & 0xFFFF, (packed >> 16) & 0xFFFF, (packed >> 32) & 0xFFFF


# A copy larger than this travels as several operations (BF_PROTO_MAX_TAIL, protocol/proto.h); the
# worker times each, and only the last one's request id is in the call's record.
PART_BYTES = 64 << 20


def _keys(pid: np.ndarray, request_id: np.ndarray) -> np.ndarray:
    return (pid.astype(np.uint64) << np.uint64(40)) | request_id.astype(np.uint64)


def device_times(trace: Any, calls: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Device start and end (client clock, ns) of each call's operations, 0 where the worker
    reported none: DEVICE records joined to calls by (pid, request_id). A copy sent in parts spans
    from its first part's start to its last part's end (_part_spans)."""
    calls = trace.calls if calls is None else calls
    start = np.zeros(len(calls), dtype=np.uint64)
    end = np.zeros(len(calls), dtype=np.uint64)
    dev = trace.devices
    if len(dev) == 0 or len(calls) == 0:
        return start, end
    key_dev = _keys(dev["pid"], dev["request_id"])
    order = np.argsort(key_dev, kind="stable")
    sorted_keys = key_dev[order]
    key_call = _keys(calls["pid"], calls["request_id"])
    pos = np.minimum(np.searchsorted(sorted_keys, key_call), len(sorted_keys) - 1)
    hit = (calls["request_id"] != 0) & (sorted_keys[pos] == key_call)
    start[hit] = dev["start_ns"][order][pos[hit]]
    end[hit] = dev["end_ns"][order][pos[hit]]
    part_keys, part_start, part_end = _part_spans(trace, key_dev)
    if len(part_keys):
        at = np.minimum(np.searchsorted(part_keys, key_call), len(part_keys) - 1)
        big = (calls["request_id"] != 0) & (part_keys[at] == key_call)
        start[big] = np.where(hit[big], np.minimum(start[big], part_start[at[big]]), part_start[at[big]])
        end[big] = np.maximum(end[big], part_end[at[big]])
    return start, end


def _part_spans(trace: Any, key_dev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The earlier parts of copies sent in several operations: DEVICE records whose op is no call's
    last request go to the first copy larger than PART_BYTES of the same process that sent a later
    request (its parts are the requests its thread sent just before the last one). Returns the
    sorted keys of those copies with the earliest start and latest end of their earlier parts.
    Two threads copying more than PART_BYTES at the same moment can have their parts mixed."""
    reader = _reader()
    all_calls = trace.calls
    dev = trace.devices
    empty = np.zeros(0, dtype=np.uint64)
    kind = all_calls["flags"] >> 4
    driver = (all_calls["flags"] & reader.F_RUNTIME) == 0
    big = driver & (kind == reader.ARGS_COPY) & (all_calls["arg"][:, 0] > PART_BYTES) & \
        (all_calls["request_id"] != 0)
    if not big.any():
        return empty, empty, empty
    call_keys = np.sort(_keys(all_calls["pid"], all_calls["request_id"]))
    cand = np.unique(_keys(all_calls["pid"][big], all_calls["request_id"][big]))
    found = np.minimum(np.searchsorted(call_keys, key_dev), len(call_keys) - 1)
    orphan = np.flatnonzero(call_keys[found] != key_dev)
    if len(orphan) == 0:
        return empty, empty, empty
    owner = np.searchsorted(cand, key_dev[orphan], side="right")
    inside = owner < len(cand)
    orphan, owner = orphan[inside], owner[inside]
    same_pid = (cand[owner] >> np.uint64(40)) == (key_dev[orphan] >> np.uint64(40))
    orphan, owner = orphan[same_pid], owner[same_pid]
    part_start = np.full(len(cand), np.iinfo(np.uint64).max, dtype=np.uint64)
    part_end = np.zeros(len(cand), dtype=np.uint64)
    np.minimum.at(part_start, owner, dev["start_ns"][orphan])
    np.maximum.at(part_end, owner, dev["end_ns"][orphan])
    used = part_end > 0
    return cand[used], part_start[used], part_end[used]


def memory_table(trace: Any) -> list[dict[str, Any]]:
    """One row per driver copy and memset entry point: operations, bytes, how many the worker
    timed, total and mean device time (ns); sorted by total device time."""
    reader = _reader()
    calls = trace.calls
    kind = calls["flags"] >> 4
    driver = (calls["flags"] & reader.F_RUNTIME) == 0
    ops = calls[driver & ((kind == reader.ARGS_COPY) | (kind == reader.ARGS_SET)) & (calls["result"] == 0)]
    if len(ops) == 0:
        return []
    dev_start, dev_end = device_times(trace, ops)
    timed = dev_end > 0
    dev_dur = np.where(timed, dev_end.astype(np.float64) - dev_start.astype(np.float64), 0.0)
    apis, inverse = np.unique(ops["api"], return_inverse=True)
    n = len(apis)
    count = np.bincount(inverse, minlength=n)
    n_bytes = np.bincount(inverse, weights=ops["arg"][:, 0].astype(np.float64), minlength=n)
    n_timed = np.bincount(inverse, weights=timed, minlength=n)
    dev_total = np.bincount(inverse, weights=dev_dur, minlength=n)
    rows = []
    for i, api in enumerate(apis):
        rows.append({
            "name": trace.api_name(api), "ops": int(count[i]), "bytes": int(n_bytes[i]),
            "device_timed": int(n_timed[i]), "device_total_ns": int(dev_total[i]),
            "device_mean_ns": float(dev_total[i] / n_timed[i]) if n_timed[i] else 0.0,
        })
    rows.sort(key=lambda r: (-r["device_total_ns"], -r["ops"], r["name"]))
    return rows


def kernel_table(trace: Any) -> list[dict[str, Any]]:
    """One row per kernel name: launches, failed launches, device time (total and mean over the
    launches the worker timed, ns), time of the launch calls on the client, and the grid and block
    of its first launch; sorted by total device time, then launches."""
    launches = _launches(trace)
    if len(launches) == 0:
        return []
    dur = (launches["end_ns"] - launches["start_ns"]).astype(np.float64)
    dev_start, dev_end = device_times(trace, launches)
    timed = dev_end > 0
    dev_dur = np.where(timed, dev_end.astype(np.float64) - dev_start.astype(np.float64), 0.0)
    ids, first, inverse = np.unique(launches["arg"][:, 3], return_index=True, return_inverse=True)
    n = len(ids)
    count = np.bincount(inverse, minlength=n)
    total = np.bincount(inverse, weights=dur, minlength=n)
    failed = np.bincount(inverse, weights=launches["result"] != 0, minlength=n)
    n_timed = np.bincount(inverse, weights=timed, minlength=n)
    dev_total = np.bincount(inverse, weights=dev_dur, minlength=n)
    rows = []
    for i, ident in enumerate(ids):
        rec = launches[first[i]]
        rows.append({
            "name": trace.kernel_name(ident), "launches": int(count[i]), "failed": int(failed[i]),
            "device_timed": int(n_timed[i]), "device_total_ns": int(dev_total[i]),
            "device_mean_ns": float(dev_total[i] / n_timed[i]) if n_timed[i] else 0.0,
            "launch_total_ns": int(total[i]), "launch_mean_ns": float(total[i] / count[i]),
            "grid": list(_dim3(int(rec["arg"][0]), True)), "block": list(_dim3(int(rec["arg"][1]), False)),
            "shared_mem": int(rec["arg"][2]),
        })
    rows.sort(key=lambda r: (-r["device_total_ns"], -r["launches"], r["name"]))
    return rows


def _fmt_ns(value: float) -> str:
    return f"{value:,.0f}"


def render_summary(trace: Any, out: IO[str]) -> None:
    apis = api_table(trace)
    kernels = kernel_table(trace)
    pids = sorted({int(p) for p in trace.processes["pid"]})
    print(f"bf-trace {trace.path}: {trace.command}", file=out)
    print(f"{len(trace.calls)} calls, {len(pids)} process(es)", file=out)
    print("", file=out)
    print("API calls (client side, sorted by total time):", file=out)
    grand = sum(r["total_ns"] for r in apis) or 1
    head = (f"{'Time(%)':>7} {'Total(ns)':>14} {'Calls':>9} {'Mean(ns)':>12} {'Max(ns)':>12} "
            f"{'Sent(B)':>12} {'Recv(B)':>12} {'Waited':>8} {'Posted':>8} {'Failed':>6}  Name")
    print(head, file=out)
    for r in apis:
        print(f"{100.0 * r['total_ns'] / grand:7.1f} {_fmt_ns(r['total_ns']):>14} {r['calls']:9d} "
              f"{_fmt_ns(r['mean_ns']):>12} {_fmt_ns(r['max_ns']):>12} {r['bytes_sent']:12d} "
              f"{r['bytes_recv']:12d} {r['waited']:8d} {r['posted']:8d} {r['failed']:6d}  "
              f"{r['name']}{' (runtime)' if r['layer'] == 'runtime' else ''}", file=out)
    print("", file=out)
    memory = memory_table(trace)
    print("Copies and memsets (driver calls; device time from the driver's timing events):", file=out)
    if memory:
        print(f"{'Ops':>9} {'Timed':>9} {'Bytes':>16} {'DevTotal(ns)':>14} {'DevMean(ns)':>12}  Name",
              file=out)
        for m in memory:
            print(f"{m['ops']:9d} {m['device_timed']:9d} {m['bytes']:16,d} "
                  f"{_fmt_ns(m['device_total_ns']):>14} {_fmt_ns(m['device_mean_ns']):>12}  {m['name']}",
                  file=out)
    else:
        print("  (no copies or memsets)", file=out)
    print("", file=out)
    print("Kernels (device time from the driver's timing events, sorted by total device time):",
          file=out)
    if not kernels:
        print("  (no launches)", file=out)
        return
    print(f"{'Launches':>9} {'Timed':>9} {'DevTotal(ns)':>14} {'DevMean(ns)':>12} "
          f"{'LaunchMean(ns)':>15} {'Grid':>16} {'Block':>14} {'Smem':>6}  Name", file=out)
    for k in kernels:
        grid = "x".join(str(v) for v in k["grid"])
        block = "x".join(str(v) for v in k["block"])
        print(f"{k['launches']:9d} {k['device_timed']:9d} {_fmt_ns(k['device_total_ns']):>14} "
              f"{_fmt_ns(k['device_mean_ns']):>12} {_fmt_ns(k['launch_mean_ns']):>15} {grid:>16} "
              f"{block:>14} {k['shared_mem']:6d}  {k['name']}", file=out)


def cmd_summary(args: argparse.Namespace) -> int:
    trace = load(args.file)
    if args.json:
        json.dump({"command": trace.command, "calls": len(trace.calls), "apis": api_table(trace),
                   "kernels": kernel_table(trace), "memory": memory_table(trace)}, sys.stdout, indent=1)
        print()
    else:
        render_summary(trace, sys.stdout)
    return EXIT_OK


# ---- export ------------------------------------------------------------------------------------

def event_args(trace: Any, rec: Any) -> dict[str, Any]:
    """The arguments of one call record, by its argument kind (docs/trace.md)."""
    reader = _reader()
    kind = int(rec["flags"]) >> 4
    a = [int(v) for v in rec["arg"]]
    out: dict[str, Any] = {}
    if kind == reader.ARGS_ALLOC:
        out = {"bytes": a[0], "ptr": hex(a[1])}
    elif kind == reader.ARGS_FREE:
        out = {"ptr": hex(a[1])}
    elif kind == reader.ARGS_COPY:
        out = {"bytes": a[0], "dst": hex(a[1]), "src": hex(a[2]), "kind": COPY_KINDS.get(a[3], str(a[3]))}
    elif kind == reader.ARGS_SET:
        out = {"bytes": a[0], "dst": hex(a[1]), "value": a[2], "element_size": a[3]}
    elif kind == reader.ARGS_LAUNCH:
        out = {"grid": list(_dim3(a[0], True)), "block": list(_dim3(a[1], False)), "shared_mem": a[2]}
        if not int(rec["flags"]) & reader.F_RUNTIME:
            out["kernel"] = trace.kernel_name(a[3])
    elif kind == reader.ARGS_HANDLE:
        out = {"handle": hex(a[1]), "flags": a[2]}
    elif kind == reader.ARGS_SYNC:
        out = {"handle": hex(a[1])}
    return out


def stream_label(rec: Any) -> str:
    reader = _reader()
    stream = int(rec["stream"])
    if stream == 0:
        return "per-thread" if int(rec["flags"]) & reader.F_PTDS else "legacy"
    return {1: "legacy", 2: "per-thread"}.get(stream, hex(stream))


def _stream_ordered(trace: Any) -> np.ndarray:
    """Mask of the calls that put work on a stream: copies, memsets and launches of the driver."""
    reader = _reader()
    calls = trace.calls
    kind = calls["flags"] >> 4
    driver = (calls["flags"] & reader.F_RUNTIME) == 0
    work = (kind == reader.ARGS_COPY) | (kind == reader.ARGS_SET) | (kind == reader.ARGS_LAUNCH)
    return driver & work & (calls["result"] == 0)


def _call_name(trace: Any, rec: Any) -> str:
    return str(trace.api_name(rec["api"]))


def chrome_events(trace: Any) -> Iterator[dict[str, Any]]:
    reader = _reader()
    calls = trace.calls
    order = np.argsort(calls["start_ns"], kind="stable")
    dev_start, dev_end = device_times(trace)
    starts = [int(calls["start_ns"].min())] if len(calls) else []
    if len(trace.devices):
        starts.append(int(trace.devices["start_ns"].min()))
    base = min(starts) if starts else 0
    for rec in trace.processes:
        pid = int(rec["pid"])
        name = trace.cmdlines.get(pid, "")
        yield {"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
               "args": {"name": f"pid {pid}: {name}" if name else f"pid {pid}"}}
    for pid, tid in sorted({(int(p), int(t)) for p, t in zip(calls["pid"], calls["tid"], strict=True)}):
        yield {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
               "args": {"name": f"thread {tid}" + (" (main)" if pid == tid else "")}}
        yield {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": 0}}
    ordered = _stream_ordered(trace)
    streams: dict[tuple[int, str], int] = {}
    for i in order:
        rec = calls[i]
        if ordered[i]:
            key = (int(rec["pid"]), stream_label(rec))
            if key not in streams:
                streams[key] = STREAM_TRACK_BASE + len(streams)
                yield {"ph": "M", "name": "thread_name", "pid": key[0], "tid": streams[key],
                       "args": {"name": f"stream {key[1]} (device)"}}
                yield {"ph": "M", "name": "thread_sort_index", "pid": key[0], "tid": streams[key],
                       "args": {"sort_index": 1 + len(streams)}}
    for i in order:
        rec = calls[i]
        runtime = bool(int(rec["flags"]) & reader.F_RUNTIME)
        ts = (int(rec["start_ns"]) - base) / 1000.0
        dur = (int(rec["end_ns"]) - int(rec["start_ns"])) / 1000.0
        args = event_args(trace, rec)
        args.update({"result": int(rec["result"]), "seq": int(rec["seq"]),
                     "bytes_sent": int(rec["bytes_sent"]), "bytes_recv": int(rec["bytes_recv"]),
                     "waited": bool(int(rec["flags"]) & reader.F_WAITED),
                     "posted": bool(int(rec["flags"]) & reader.F_POSTED)})
        if int(rec["stream"]) or ordered[i]:
            args["stream"] = stream_label(rec)
        name = _call_name(trace, rec)
        yield {"ph": "X", "name": name, "cat": "runtime" if runtime else "driver", "ts": ts, "dur": dur,
               "pid": int(rec["pid"]), "tid": int(rec["tid"]), "args": args}
        if ordered[i]:
            # Device work on its stream's track: when the device ran it, or, without a device time
            # from the worker, while the client enqueued it (category "enqueued").
            track = streams[(int(rec["pid"]), stream_label(rec))]
            label = args.get("kernel", name)
            category = "enqueued"
            if dev_end[i]:
                ts = (int(dev_start[i]) - base) / 1000.0
                dur = (int(dev_end[i]) - int(dev_start[i])) / 1000.0
                category = "device"
            yield {"ph": "X", "name": label, "cat": category, "ts": ts, "dur": dur,
                   "pid": int(rec["pid"]), "tid": track, "args": {**args, "call": name}}


def jsonl_events(trace: Any) -> Iterator[dict[str, Any]]:
    reader = _reader()
    calls = trace.calls
    dev_start, dev_end = device_times(trace)
    for i in np.argsort(calls["start_ns"], kind="stable"):
        rec = calls[i]
        flags = int(rec["flags"])
        event = {
            "type": "call", "api": _call_name(trace, rec),
            "layer": "runtime" if flags & reader.F_RUNTIME else "driver",
            "pid": int(rec["pid"]), "tid": int(rec["tid"]), "seq": int(rec["seq"]),
            "start_ns": int(rec["start_ns"]), "end_ns": int(rec["end_ns"]),
            "result": int(rec["result"]), "stream": stream_label(rec),
            "bytes_sent": int(rec["bytes_sent"]), "bytes_recv": int(rec["bytes_recv"]),
            "waited": bool(flags & reader.F_WAITED), "posted": bool(flags & reader.F_POSTED),
        }
        if int(rec["request_id"]):
            event["request_id"] = int(rec["request_id"])
        if dev_end[i]:
            event["device_start_ns"] = int(dev_start[i])
            event["device_end_ns"] = int(dev_end[i])
        event.update(event_args(trace, rec))
        yield event


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as f:
        yield f


def cmd_export(args: argparse.Namespace) -> int:
    trace = load(args.file)
    try:
        with _output(args.output) as out:
            if args.format == "chrome":
                out.write('{"displayTimeUnit": "ns", "otherData": ')
                json.dump({"command": trace.command, "format_version": trace.version}, out)
                out.write(', "traceEvents": [\n')
                for n, event in enumerate(chrome_events(trace)):
                    if n:
                        out.write(",\n")
                    json.dump(event, out, separators=(",", ":"))
                out.write("\n]}\n")
            else:
                for event in jsonl_events(trace):
                    out.write(json.dumps(event, separators=(",", ":")))
                    out.write("\n")
    except BrokenPipeError:
        raise
    except OSError as e:
        raise TraceError(f"{args.output}: {e.strerror or e}") from e
    return EXIT_OK


# ---- main --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bf-trace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"bf-trace (openbf) {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    record = sub.add_parser("record", help="run a program with openbf and record its CUDA calls",
                            usage="bf-trace record [-h] -o FILE [--server ADDR] [--no-runtime] "
                            "[--] CMD [ARGS...]",
                            description="Runs CMD as `bf run` does, recording one event per CUDA driver "
                            "call (and per runtime call for programs using libcudart.so.13) in FILE. "
                            "Exit status: CMD's, as bf run reports it.")
    record.add_argument("-o", "--output", required=True, metavar="FILE", help="the trace file to write")
    record.add_argument("--server", metavar="ADDR", help="bf-server address (as bf run --server)")
    record.add_argument("--no-runtime", action="store_true",
                        help="do not preload the runtime interposer (driver calls only)")
    record.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD [ARGS...]")
    record.set_defaults(func=cmd_record)

    summary = sub.add_parser("summary", help="per-API and per-kernel statistics of a trace")
    summary.add_argument("file", metavar="FILE")
    summary.add_argument("--json", action="store_true", help="print the tables as JSON")
    summary.set_defaults(func=cmd_summary)

    export = sub.add_parser("export", help="write a trace as a Chrome/Perfetto timeline or JSON lines")
    export.add_argument("file", metavar="FILE")
    export.add_argument("--format", choices=("chrome", "jsonl"), default="chrome",
                        help="chrome: trace-event JSON (Perfetto, chrome://tracing); jsonl: one JSON "
                        "object per event")
    export.add_argument("-o", "--output", metavar="OUT", help="output file (default: standard output)")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TraceError as e:
        say(str(e))
        return EXIT_BAD_FILE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
