"""The README's multi-machine search, on a real PostgreSQL server.

The test starts its own server (Debian's PostgreSQL binaries: initdb, pg_ctl) on the
loopback address in a temporary directory, creates one optuna study in it and lets two
worker processes (examples/optuna_worker.py) fill it, as workers on several machines
would. The server asks for a password, which the workers find as the README says: in a
password file named by ``PGPASSFILE`` (the URL on their command line has none). Where no
server binaries or no database driver are installed it is skipped, with the reason.
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

    # Connections over TCP need the password; the server's own socket (pg_ctl) does not.
    password = "sknoise-test-secret"
    pwfile = home / "pwfile"
    pwfile.write_text(password + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres")
    init = run(binaries / "initdb", "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
               f"--pwfile={pwfile}", "--no-sync")
    if init.returncode:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    started = run(binaries / "pg_ctl", "-D", data, "-o", options, "-l", data / "server.log", "-w", "start")
    if started.returncode:
        pytest.skip(f"the PostgreSQL server did not start: {started.stderr.strip()[-300:]}")
    # The clients' password file (libpq reads it, and refuses one that others can read).
    passfile = Path(tempfile.mkdtemp(prefix="sknoise-pgpass-")) / "pgpass"
    passfile.write_text(f"127.0.0.1:{port}:*:postgres:{password}\n")
    passfile.chmod(0o600)
    before = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(passfile)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if before is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = before
        run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(passfile.parent, ignore_errors=True)


def test_two_workers_fill_one_study_on_a_postgresql_server(postgres_url):
    # The server refuses a client without the password: the workers below found it in the file.
    psycopg = pytest.importorskip("psycopg")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres_url, passfile=os.devnull).close()
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


def test_F5_the_worker_refuses_a_password_on_its_command_line():
    # Issue 21: every process on the machine can read a command line (ps, /proc/PID/cmdline).
    for url in ("postgresql://postgres:secret@127.0.0.1:9/postgres",
                "postgresql://postgres@127.0.0.1:9/postgres?password=secret"):
        done = subprocess.run([sys.executable, str(ROOT / "examples" / "optuna_worker.py"), "--storage", url,
                               "--n-trials", "1"], capture_output=True, text=True, timeout=300)
        assert done.returncode != 0
        assert "password" in done.stderr and "~/.pgpass" in done.stderr and "PGPASSWORD" in done.stderr, done.stderr
