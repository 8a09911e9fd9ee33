"""The README's multi-machine search, on a real PostgreSQL server.

The test starts its own server (Debian's PostgreSQL binaries: initdb, pg_ctl) on the
loopback address in a temporary directory, creates one optuna study in it and lets two
worker processes (examples/optuna_worker.py) fill it, as workers on several machines
would. Where no server binaries or no database driver are installed it is skipped,
with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
ROOT = Path(__file__).resolve().parents[1]


def _server_binaries() -> Path | None:
    for candidate in [shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))]:
        if candidate and Path(candidate).with_name("initdb").exists():
            return Path(candidate).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg", reason="no PostgreSQL driver: pip install 'psycopg[binary]'")
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    # PostgreSQL refuses to run as root: run it as the 'postgres' system user then.
    as_user: list[str] = []
    # Not under pytest's tmp_path: the server's user must be able to reach the directory.
    home = Path(tempfile.mkdtemp(prefix="sknoise-pg-"))
    data = home / "data"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            pytest.skip("running as root without a 'postgres' user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(home, "postgres")
    port = _free_port()

    def run(*args):
        return subprocess.run([*as_user, *map(str, args)], capture_output=True, text=True, timeout=120)

    init = run(binaries / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync")
    if init.returncode:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    started = run(binaries / "pg_ctl", "-D", data, "-o", options, "-l", data / "server.log", "-w", "start")
    if started.returncode:
        pytest.skip(f"the PostgreSQL server did not start: {started.stderr.strip()[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_fill_one_study_on_a_postgresql_server(postgres_url):
    # Create the study once (as the README says), then start the workers against it.
    optuna.create_study(study_name="sknoise", storage=postgres_url, direction="maximize")
    cmd = [sys.executable, str(ROOT / "examples" / "optuna_worker.py"), "--storage", postgres_url,
           "--n-trials", "2", "--max-epochs", "3"]
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    study = optuna.load_study(study_name="sknoise", storage=postgres_url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4
    assert len({t.user_attrs["worker_pid"] for t in complete}) == 2
    assert len({t.number for t in complete}) == 4  # no trial number handed out twice
