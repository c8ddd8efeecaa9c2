"""bf run and bf config: exit status, LD_PRELOAD, the private server's lifetime, the config listing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bfhelpers import bf, proc_cmdline, processes_matching, require_built, tool_env

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def run_ready():
    """bf run needs libbf.so; with a private server also bf-worker, libbfemu.so and the extension."""
    require_built("libbf", "_proto", "worker", "libbfemu")


def some_library() -> str:
    """A harmless shared library that exists on this machine, to stand for a user's LD_PRELOAD."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1]
        if "/libc.so" in path or "/libm.so" in path:
            return path
    pytest.skip("no libc.so path found in /proc/self/maps")


# ---- exit status ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exit_status_is_the_commands(run_ready, code):
    assert bf("run", "--", "sh", "-c", f"exit {code}").returncode == code


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV])
def test_killed_command_gives_128_plus_signal(run_ready, sig):
    assert bf("run", "--", "sh", "-c", f"kill -{int(sig)} $$").returncode == 128 + sig


def test_double_dash_is_optional(run_ready):
    result = bf("run", "sh", "-c", "echo hello; exit 3")
    assert result.returncode == 3 and result.stdout == "hello\n"


def test_missing_command(run_ready):
    assert bf("run").returncode == 125
    result = bf("run", "--", "/nonexistent/program")
    assert result.returncode == 127
    assert "not found" in result.stderr


# ---- environment ----------------------------------------------------------------------------------

def test_ld_preload_is_appended_not_replaced(run_ready):
    from openbf import paths

    existing = some_library()
    result = bf("run", "--", "sh", "-c", 'echo "$LD_PRELOAD"', env=tool_env(LD_PRELOAD=existing))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{existing}:{paths.libbf()}"


def test_ld_preload_without_previous_value(run_ready):
    from openbf import paths

    env = tool_env()
    env.pop("LD_PRELOAD", None)
    result = bf("run", "--", "sh", "-c", 'echo "$LD_PRELOAD"', env=env)
    assert result.stdout.strip() == str(paths.libbf())


CHILDREN_SCRIPT = r"""
import os, sys
sys.path.insert(0, os.environ["BF_TEST_HELPERS"])
from bfhelpers import children_of
print(os.environ["BF_SERVER"], os.getpid(), *children_of(os.getppid()))
"""


def test_given_server_is_used_and_none_is_started(run_ready):
    env = tool_env(BF_TEST_HELPERS=str(Path(__file__).resolve().parent))
    result = bf("run", "--server", "tcp:192.0.2.1:7777", "--", sys.executable, "-c", CHILDREN_SCRIPT, env=env)
    assert result.returncode == 0, result.stderr
    server, me, *children_of_bf = result.stdout.split()
    assert server == "tcp:192.0.2.1:7777"
    assert children_of_bf == [me], "bf run must not start a server when one is given"


def test_bf_server_variable_is_used(run_ready):
    result = bf("run", "--", "sh", "-c", 'echo "$BF_SERVER"', env=tool_env(BF_SERVER="unix:@somewhere"))
    assert result.stdout.strip() == "unix:@somewhere"


# ---- the private server ---------------------------------------------------------------------------

# Run under bf run: opens a session on $BF_SERVER by hand, then reports what it saw as JSON.
SESSION_SCRIPT = r"""
import json, os, socket, sys
sys.path.insert(0, os.environ["BF_TEST_HELPERS"])
from bfhelpers import RawClient, children_of, proc_cmdline
client = RawClient(os.environ["BF_SERVER"])
fields, _ = client.hello(who="bf run test")
servers = [p for p in children_of(os.getppid())
           if p != os.getpid() and "openbf.server" in (proc_cmdline(p) or "")]
workers = [w for s in servers for w in children_of(s)]
print(json.dumps({"address": os.environ["BF_SERVER"], "result": fields["result"],
                  "servers": servers, "workers": workers,
                  "server_environ": open(f"/proc/{servers[0]}/environ", "rb").read().decode()}))
"""


def test_private_server_serves_and_is_gone_afterwards(run_ready):
    helpers = str(Path(__file__).resolve().parent)
    env = tool_env(BF_TEST_HELPERS=helpers, LD_PRELOAD=some_library(), SECRET_OF_THE_APP="x")
    result = bf("run", "--", sys.executable, "-c", SESSION_SCRIPT, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "a normal session under bf run must not write to the terminal"
    seen = json.loads(result.stdout)
    assert seen["address"].startswith("unix:@openbf-")
    assert seen["result"] == 0, "the private server must serve a real session"
    assert len(seen["servers"]) == 1 and len(seen["workers"]) == 1
    server_env = dict(v.split("=", 1) for v in seen["server_environ"].split("\0") if "=" in v)
    assert "LD_PRELOAD" not in server_env and "SECRET_OF_THE_APP" not in server_env
    assert server_env.get("BF_EMU_MEMORY") == env["BF_EMU_MEMORY"]
    for pid in seen["servers"] + seen["workers"]:
        cmdline = proc_cmdline(pid)
        assert cmdline is None or ("openbf.server" not in cmdline and "bf-worker" not in cmdline), \
            f"process {pid} ({cmdline}) outlived bf run"
    assert processes_matching(seen["address"][len("unix:@"):]) == []


def test_private_server_dies_with_bf_run(run_ready, tmp_path):
    """Even when bf run is killed outright, its server goes too."""
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-m", "openbf.cli", "run", "--", "sh", "-c",
                             f'echo "$BF_SERVER $$" > {marker}.tmp; mv {marker}.tmp {marker}; exec sleep 60'],
                            env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    command_pid = None
    try:
        deadline = time.monotonic() + 15
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "bf run did not start the command"
            time.sleep(0.05)
        address, pid = marker.read_text().split()
        command_pid = int(pid)
        name = address[len("unix:@"):]
        assert processes_matching(name), "the private server should be running"
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while processes_matching(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_matching(name) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # The command (now `sleep 60`) is orphaned: bf run was killed before it could wait for it.
        if command_pid is not None and "sleep" in (proc_cmdline(command_pid) or ""):
            os.kill(command_pid, signal.SIGKILL)


def test_server_that_cannot_start_is_reported(tmp_path, run_ready):
    from openbf import paths

    # A build dir with libbf.so but without the rest: the private server cannot start.
    (tmp_path / "libintercept").mkdir()
    (tmp_path / "libintercept" / "libbf.so").symlink_to(paths.libbf())
    result = bf("run", "--", "true", env=tool_env(BF_BUILD_DIR=str(tmp_path)))
    assert result.returncode == 125
    assert "bf-server" in result.stderr and "before it was ready" in result.stderr


# ---- bf config and --version ----------------------------------------------------------------------

def test_config_lists_variables_with_values():
    require_built("_proto")
    result = bf("config", env=tool_env(BF_EMU_MEMORY="123M"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "BF_SERVER=" in out
    assert "BF_EMU_MEMORY=123M  (set; default: 4G)" in out
    from openbf import _proto

    for row in _proto.config_table():
        assert f"{row.variable}=" in out and row.doc in out


def test_version():
    from openbf import __version__

    result = bf("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_run_help_explains():
    result = bf("run", "--help")
    assert result.returncode == 0
    assert "LD_PRELOAD" in result.stdout and "128+N" in result.stdout
