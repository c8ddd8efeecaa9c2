"""bf-worker's capture of device output: what the driver writes to the worker's fds 1 and 2 reaches
the client as OUTPUT frames, before the reply of the op after which it was written, never on the
posted path, and at the end of the session; the worker's own log stays out of them.

The driver is server/libbf_test_output_driver.so (tests/c/worker/output_driver.c): libbfemu.so with
cuCtxSynchronize writing a line to fds 1 and 2 and cuMemFree one to fd 1.
"""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest
from openbf import paths
from worker_harness import FRAME_POSTED, FRAME_REPLY, Worker

pytestmark = pytest.mark.timeout(60)


def _driver() -> Path:
    build_dir = os.environ.get("BF_BUILD_DIR")
    if not build_dir:
        pytest.skip("needs BF_BUILD_DIR (the test driver is not installed)")
    path = Path(build_dir) / "server" / "libbf_test_output_driver.so"
    if not path.exists():
        pytest.skip(f"{path} not built")
    return path


def _worker() -> Worker:
    return Worker(driver=_driver(), env={"BF_TEST_REAL_DRIVER": str(paths.libbfemu())})


def _nothing_pending(w: Worker, timeout: float = 0.3) -> bool:
    ready, _, _ = select.select([w.sock], [], [], timeout)
    return not ready


def test_output_precedes_the_reply_of_the_op_that_flushed_it() -> None:
    with _worker() as w:
        w.hello()
        assert w.sync() == 0
        assert w.output == [(1, b"printf from sync 1\n"), (2, b"assert message from sync\n")]
        w.output.clear()
        assert w.sync() == 0
        assert w.output == [(1, b"printf from sync 2\n"), (2, b"assert message from sync\n")]
        ended = w.goodbye()
    assert ended.returncode == 0
    # The worker's log still goes to its original stderr, and device output does not.
    assert "session ended" in ended.log
    assert "printf from sync" not in ended.log


def test_posted_ops_send_no_output_until_a_reply() -> None:
    with _worker() as w:
        w.hello()
        ptr = w.alloc(4096)
        w.output.clear()
        w.post("MEM_FREE", {"dptr": ptr})
        # Written by the driver at once, but a posted op never looks at the capture.
        assert _nothing_pending(w)
        reply = w.call("MEM_GET_INFO", {"device": 0})
        assert reply.result == 0
        assert w.output == [(1, b"printf from free\n")]
        w.goodbye()


def test_output_left_at_the_end_of_the_session_is_sent() -> None:
    with _worker() as w:
        w.hello()
        ptr = w.alloc(4096)
        w.output.clear()
        w.post("MEM_FREE", {"dptr": ptr})
        w.post("GOODBYE", {"reason": 0})
        frames = []
        while True:
            try:
                frames.append(w.recv(timeout=10))
            except EOFError:
                break
        out = [f for f in frames if f.op == "OUTPUT"]
        assert [(f.fields["fd"], f.tail) for f in out] == [(1, b"printf from free\n")]
        assert all(f.flags == FRAME_POSTED and f.request_id == 0 for f in out)
        assert not any(f.flags & FRAME_REPLY for f in frames)
        assert w.wait().returncode == 0


def test_a_client_output_frame_is_ignored() -> None:
    with _worker() as w:
        w.hello()
        w.post("OUTPUT", {"fd": 1}, b"not for the worker")
        assert w.sync() == 0
        ended = w.goodbye()
    assert ended.returncode == 0
    assert ended.stats is not None and ended.stats["reason"] == "client closed"
