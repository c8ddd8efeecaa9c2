"""(d) A client SIGKILLed in the middle of a big copy loop: its worker exits, the server logs the
end of that session with a reason, and a later session sees all the device memory free."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from conftest import Client, client_env, pid_alive, session_end_lines, wait_for, worker_pids


def _meminfo(program, env) -> tuple[int, int]:
    run = subprocess.run([str(program), "meminfo"], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    _, free, total = run.stdout.split()
    return int(free), int(total)


@pytest.mark.timeout(120)
def test_killed_client_ends_its_session(server, fault_client_rt, libbf, clients):
    env = client_env(libbf, server.address)
    free_before, total = _meminfo(fault_client_rt, env)

    client = Client([str(fault_client_rt), "copy-loop"], env)
    clients.append(client)
    assert client.read_until("READY", 60), f"no READY: {client.lines}\n{client.stderr()}"
    time.sleep(1.0)  # well inside the copy loop: 64 MiB frames in both directions
    assert client.sigkill() == -9

    # Session 1 was the meminfo run, session 2 the copy loop.
    assert wait_for(lambda: len(session_end_lines(server.log())) >= 2, 15), server.log()
    log = server.log()
    pids = worker_pids(log)
    assert len(pids) >= 2, log
    assert wait_for(lambda: not pid_alive(pids[1]), 10), f"worker {pids[1]} still running"
    end = session_end_lines(log)[1]
    reason = re.search(r"ended: (.*)$", end)
    assert reason and reason.group(1).strip(), end
    assert "without statistics" not in end, end

    free_after, total_after = _meminfo(fault_client_rt, env)
    assert total_after == total
    assert free_after == free_before, (
        f"free memory {free_after} after the killed session, {free_before} before")
