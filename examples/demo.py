"""sknoise in well under a minute: fit the estimators on a built-in table and compare them.

The sknoise estimators take the DataFrame as it is (their built-in preprocessing
scales it); sklearn's MLP gets the usual StandardScaler pipeline and gradient boosting
the frame. Every model is scored by 3-fold cross-validation on the breast cancer data
set (accuracy, log loss, fit time), the folds fitted in parallel on the machine's cores
(each fit with its share of them). Run with ``make demo`` or ``python examples/demo.py``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine_description, mean_std  # noqa: E402
from sknoise import NINRClassifier, NoisyEBMClassifier, NoisyMLPClassifier  # noqa: E402


def models() -> dict:
    return {
        "sklearn MLPClassifier (default)": make_pipeline(StandardScaler(), MLPClassifier(random_state=0)),
        "HistGradientBoostingClassifier (default)": HistGradientBoostingClassifier(random_state=0),
        "NoisyMLPClassifier, noise off": NoisyMLPClassifier(noise="none", random_state=0),
        "NoisyMLPClassifier (default: gaussian 0.2)": NoisyMLPClassifier(random_state=0),
        "NoisyMLPClassifier, MC inference T=32": NoisyMLPClassifier(inference_noise="same", random_state=0),
        "NoisyEBMClassifier (default)": NoisyEBMClassifier(random_state=0),
        "NINRClassifier (in-NINR, default)": NINRClassifier(random_state=0),
    }


def main() -> None:
    t0 = time.perf_counter()
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    print(f"machine: {machine_description()}")
    print(f"breast_cancer: {X.shape[0]} rows x {X.shape[1]} features (a DataFrame), 3-fold CV\n")
    print(f"{'model':45s} {'accuracy':>15s} {'log loss':>15s} {'fit s':>7s}")
    for name, model in models().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores = cross_validate(model, X, y, cv=cv, scoring=("accuracy", "neg_log_loss"), n_jobs=-1)
        acc, loss = scores["test_accuracy"], -scores["test_neg_log_loss"]
        print(
            f"{name:45s} {mean_std(acc):>15s} {mean_std(loss):>15s} {np.mean(scores['fit_time']):7.2f}",
            flush=True,
        )
    print(f"\ndone in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
