"""The kernel path beyond pass/fail of each program: 100,000 launches cost a handful of waited round
trips (BF_STATS=1), a kernel fault is logged with the kernel, PTX line and address, and after a
faulting session the same server serves a new session."""

from __future__ import annotations

import re

import pytest

ROUND_TRIPS_MAX = 50


@pytest.mark.timeout(300)
@pytest.mark.parametrize("variant", ["static", "shared"])
def test_many_launches_are_posted(variant, runner, conformance_binaries):
    binary = conformance_binaries[("manylaunch", variant)]
    env = runner.openbf_env()
    env["BF_STATS"] = "1"
    outcome = runner.run_program(runner.through_bf(binary), "manylaunch", variant, "emu", env)
    assert outcome.ok, outcome.explain()
    found = re.search(r"openbf: stats: (\d+) waited round trips", outcome.stderr)
    assert found, outcome.stderr[-2000:]
    # 101,000 launches, a few allocations, copies and synchronisations.
    assert int(found.group(1)) <= ROUND_TRIPS_MAX, found.group(0)


@pytest.mark.timeout(300)
def test_fault_is_logged_and_the_server_serves_a_new_session(runner, conformance_binaries, tcp_server):
    env = runner.openbf_env()
    oob = runner.run_program(runner.through_bf(conformance_binaries[("oob", "static")], tcp_server.address),
                             "oob", "static", "tcp", env)
    assert oob.ok, oob.explain()
    fresh = runner.run_program(runner.through_bf(conformance_binaries[("vectoradd", "shared")],
                                                 tcp_server.address), "vectoradd", "shared", "tcp", env)
    assert fresh.ok, fresh.explain()


@pytest.mark.timeout(300)
def test_fault_message_names_kernel_line_and_address(runner, conformance_binaries):
    outcome = runner.run_program(runner.through_bf(conformance_binaries[("oob", "shared")]), "oob",
                                 "shared", "emu", runner.openbf_env())
    assert outcome.ok, outcome.explain()
    assert re.search(r"kernel _Z8read_farPKiPi faulted at PTX line \d+, address 0x[0-9a-f]+",
                     outcome.stderr), outcome.stderr[-2000:]
