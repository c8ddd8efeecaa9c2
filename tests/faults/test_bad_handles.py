"""(a) Pointers outside the session's allocations, freed pointers and bogus context handles get
CUDA's error from the call itself, and the program's next valid call still works. The worker
survives: its session ends normally, and a later session is served."""

from __future__ import annotations

import subprocess

import pytest
from conftest import client_env, session_end_lines, wait_for


@pytest.mark.timeout(120)
def test_bad_pointers_and_handles_fail_at_once(server, fault_client, libbf):
    env = client_env(libbf, server.address)
    run = subprocess.run([str(fault_client), "bad-handles"], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert run.returncode == 0 and not failed, (
        f"exit status {run.returncode}\n" + "\n".join(failed) + f"\nstderr:\n{run.stderr}")
    assert "PASS bad-handles: all checks" in run.stdout

    assert wait_for(lambda: len(session_end_lines(server.log())) >= 1, 10), server.log()
    end = session_end_lines(server.log())[0]
    assert "worker killed" not in end and "without statistics" not in end, end

    # The server still serves: a second session runs the same checks.
    again = subprocess.run([str(fault_client), "bad-handles"], env=env, capture_output=True, text=True,
                           timeout=60, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
