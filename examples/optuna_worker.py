"""One worker of a distributed optuna search: run it on as many processes or machines as you like.

All workers that name the same ``--storage`` and ``--study-name`` share one study: each
asks the storage for the next trial, so trials spread over the workers and every
worker's results inform the others' sampler. The storage is an RDB URL or a journal file:

    # one machine, several processes: a journal file (no server needed)
    python examples/optuna_worker.py --storage journal:./study.journal --n-trials 20 &
    python examples/optuna_worker.py --storage journal:./study.journal --n-trials 20 &

    # many machines: a PostgreSQL server they all reach
    #   createdb sknoise_study   (on the server; pip install 'psycopg[binary]' on the workers)
    python examples/optuna_worker.py \\
        --storage postgresql://USER@db.example.org:5432/sknoise_study --n-trials 20

The URL names no password: a command line is visible to every process on the machine
(``ps``, ``/proc/PID/cmdline``), so the worker refuses one there. PostgreSQL's client
library finds it by itself: in the password file ``~/.pgpass`` (or the file
``PGPASSFILE`` names; one line ``db.example.org:5432:sknoise_study:USER:PASSWORD``, mode
0600), or in the environment variable ``PGPASSWORD`` (readable by the same user only,
through ``/proc/PID/environ``; PostgreSQL's documentation prefers the file).

On machines with several GPUs start one worker per GPU and pin each to its device with
``CUDA_VISIBLE_DEVICES=i python examples/optuna_worker.py --device cuda ...``.
"""

from __future__ import annotations

import argparse
import os
from urllib.parse import parse_qs, urlsplit

import optuna
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknoise import NoisyMLPClassifier, suggest_params


def password_in(url: str) -> bool:
    """Whether an RDB URL carries a password (``user:password@host``, or ``?password=`` in its query)."""
    parts = urlsplit(url)
    return parts.password is not None or "password" in parse_qs(parts.query)


def open_storage(spec: str):
    """An optuna storage from ``journal:PATH`` or an RDB URL (sqlite:///..., postgresql://...)."""
    if spec.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(spec.removeprefix("journal:")))
    return spec


def objective(trial: optuna.Trial, device: str, max_epochs: int) -> float:
    X, y = load_breast_cancer(return_X_y=True)
    params = suggest_params(trial, NoisyMLPClassifier.search_space(prefix="noisymlpclassifier__"))
    model = make_pipeline(
        StandardScaler(),
        NoisyMLPClassifier((64,), max_epochs=max_epochs, device=device, random_state=trial.number),
    ).set_params(**params)
    trial.set_user_attr("worker_pid", os.getpid())
    return cross_val_score(model, X, y, cv=3).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description="one worker of a shared optuna study")
    parser.add_argument("--storage", required=True,
                        help="journal:PATH or an RDB URL without a password (~/.pgpass or PGPASSWORD hold it)")
    parser.add_argument("--study-name", default="sknoise")
    parser.add_argument("--n-trials", type=int, default=10)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if password_in(args.storage):
        parser.error(
            "the --storage URL holds a password, and a command line is visible to every process on this machine. "
            "Leave it out of the URL: PostgreSQL's client library reads it from ~/.pgpass (or the file PGPASSFILE "
            "names; mode 0600) or from the PGPASSWORD environment variable."
        )
    study = optuna.create_study(
        study_name=args.study_name, storage=open_storage(args.storage), direction="maximize", load_if_exists=True
    )
    study.optimize(lambda t: objective(t, args.device, args.max_epochs), n_trials=args.n_trials)
    print(f"worker {os.getpid()}: best so far {study.best_value:.4f} with {study.best_params}")


if __name__ == "__main__":
    main()
