"""Put the activation-noise EBM paper's claims to the test with NoisyEBMClassifier.

Claims (seed 000, abstract and introduction):
  1. activation noise improves accuracy (about +200%), at training and at inference;
  2. accuracy is best when the inference noise follows the training distribution;
  3. (their sweeps) accuracy against the number of samples T and the noise scale alpha.

Every model is fitted once per *training* setting; the inference settings (noise
distribution, scale, T, aggregate) are changed on the fitted model with set_params.
Inputs are standardized inside a Pipeline (the scaler is fitted on the training rows).

    python benchmarks/ebm_claims.py            # full: 5 data sets x 5 seeds
    python benchmarks/ebm_claims.py --quick    # ~1 minute smoke run
    python benchmarks/ebm_claims.py --jobs 8   # (data set, seed) tasks in parallel

Writes benchmarks/results/ebm_claims[_quick].md, .csv and the PNGs beside them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, machine_description, mean_std, report_header, write_report  # noqa: E402
from sknoise import NoisyEBMClassifier  # noqa: E402

OTHER_ACTIVATION = {"relu": "sigmoid", "sigmoid": "relu"}
DISTRIBUTIONS = ["gaussian", "uniform", "laplace", "logistic", "cauchy", "gumbel", "rademacher"]


def synthetic(random_state=0):
    return make_classification(n_samples=600, n_features=20, n_informative=8, n_redundant=4, n_classes=4,
                               n_clusters_per_class=2, class_sep=1.0, random_state=random_state)


DATASETS = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "synthetic": synthetic,
}


def run_task(name: str, seed: int, cfg: dict) -> list[dict]:
    """Every fit and evaluation of one (data set, seed): a list of result rows."""
    torch.set_num_threads(1)
    X, y = DATASETS[name]()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    rows: list[dict] = []
    t0 = time.perf_counter()

    def fit(**params):
        params = {"activation": cfg["activation"], "objective": cfg["objective"], "batching": cfg["batching"], **params}
        ebm = NoisyEBMClassifier(hidden_layer_sizes=cfg["hidden"], max_epochs=cfg["max_epochs"],
                                 n_iter_no_change=cfg["patience"], lr=cfg["lr"], random_state=seed, **params)
        return make_pipeline(StandardScaler(), ebm).fit(X_train, y_train)

    def evaluate(pipe, experiment, **labels):
        pipe[-1].set_params(**{k: v for k, v in labels.items() if k in pipe[-1].get_params()})
        proba = pipe.predict_proba(X_test)
        acc = float(np.mean(pipe.classes_[proba.argmax(axis=1)] == y_test))
        rows.append(dict(dataset=name, seed=seed, experiment=experiment, accuracy=acc,
                         log_loss=float(log_loss(y_test, proba, labels=pipe.classes_)),
                         epochs=pipe[-1].n_iter_, **labels))

    alpha, T = cfg["alpha"], cfg["T"]
    # Claim 1: no noise; training noise only; training and inference noise.
    clean = fit(noise="gaussian", noise_scale=0.0, inference_noise=None)
    evaluate(clean, "claim1", setting="no noise")
    # Claim 2 (and 1): one model per training distribution, every inference distribution.
    for train in cfg["distributions"]:
        pipe = fit(noise=train, noise_scale=alpha, inference_noise="same", n_inference_samples=T)
        evaluate(pipe, "matrix", train=train, inference="same", n_inference_samples=T)  # tau fitted for this
        if train == "gaussian":
            rows[-1]["experiment"], rows[-1]["setting"] = "claim1", "train + inference noise"
            gaussian = pipe
            # Training noise only: the temperature refitted (training rows) for the clean inference.
            pipe[-1].set_params(inference_noise=None).calibrate(pipe[0].transform(X_train), y_train)
            evaluate(pipe, "claim1", setting="training noise only")
        for inference in ["none", *cfg["distributions"]]:
            evaluate(pipe, "matrix", train=train, inference_noise=None if inference == "none" else inference,
                     n_inference_samples=T)
            rows[-1]["inference"] = inference
            rows[-1].pop("inference_noise")
    # Claim 3a: accuracy against T (Gaussian model), for both aggregates.
    for aggregate in ("mean", "logmeanexp"):
        for t in cfg["T_grid"]:
            evaluate(gaussian, "T", inference_noise="gaussian", n_inference_samples=t, energy_aggregate=aggregate)
    gaussian[-1].set_params(energy_aggregate="mean")
    # Claim 3b: accuracy against alpha (training scale = inference scale), with and without inference noise.
    for a in cfg["alpha_grid"]:
        pipe = gaussian if a == alpha else (clean if a == 0 else fit(noise="gaussian", noise_scale=a,
                                                                       n_inference_samples=T))
        for inference in (None, "gaussian"):
            evaluate(pipe, "alpha", noise_scale=a, inference_noise=inference, n_inference_samples=T)
            rows[-1]["inference"] = str(inference)
            rows[-1].pop("inference_noise")
    # The other activation, same noise.
    other = OTHER_ACTIVATION[cfg["activation"]]
    pipe = fit(noise="gaussian", noise_scale=alpha, activation=other, n_inference_samples=T)
    for inference in (None, "gaussian"):
        evaluate(pipe, "activation", activation=other, inference_noise=inference)
        rows[-1]["inference"] = str(inference)
        rows[-1].pop("inference_noise")
    print(f"  {name:>13} seed {seed}: {time.perf_counter() - t0:6.1f}s", flush=True)
    return rows


def claim1_table(df: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    d = df[df.experiment == "claim1"]
    order = ["no noise", "training noise only", "train + inference noise"]
    acc = d.groupby(["dataset", "setting"]).accuracy.apply(mean_std).unstack()[order]
    ll = d.groupby(["dataset", "setting"]).log_loss.mean().unstack()[order].round(3)
    means = d.groupby(["dataset", "setting"]).accuracy.mean().unstack()[order]
    rel = (100 * (means[order[2]] / means[order[0]] - 1)).round(1).rename("rel. gain train+inf vs none (%)")
    table = pd.concat([acc, ll.add_prefix("log loss: "), rel], axis=1)
    # Over all data sets: mean accuracy and mean epochs trained (early stopping) per setting.
    overall = pd.DataFrame({"mean accuracy": means.mean().round(3),
                            "mean epochs": d.groupby("setting").epochs.mean()[order].round(1)}).T[order]
    return table.to_markdown() + "\n\nAll data sets:\n\n" + overall.to_markdown(), means


def matrix(df: pd.DataFrame) -> pd.DataFrame:
    d = df[df.experiment == "matrix"]
    d = d[d.inference != "same"]
    return d.groupby(["dataset", "train", "inference"]).accuracy.mean()


def plot_heatmaps(mat: pd.Series, datasets, dists, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["none", *dists]
    panels = [*datasets, "mean over data sets"]
    n_cols = min(3, len(panels))
    n_rows = -(-len(panels) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(5.2 * n_cols, 4.8 * n_rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, ds in zip(axes.flat, panels):
        m = (mat.groupby(["train", "inference"]).mean() if ds == panels[-1] else mat.loc[ds]).unstack()
        m = m.loc[dists, cols]
        im = ax.imshow(m.values, cmap="viridis")
        ax.set_xticks(range(len(cols)), cols, rotation=60, fontsize=7)
        ax.set_yticks(range(len(dists)), dists, fontsize=7)
        for i in range(len(dists)):
            best = int(np.argmax(m.values[i, 1:])) + 1
            ax.add_patch(plt.Rectangle((best - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=1.5))
            for j in range(len(cols)):
                ax.text(j, i, f"{m.values[i, j]:.2f}", ha="center", va="center", fontsize=6.5, color="w")
        ax.set_title(ds, fontsize=9)
        ax.set_xlabel("inference noise")
        ax.set_ylabel("training noise")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Test accuracy, training x inference distribution (red: best inference per row)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lines(table: pd.DataFrame, x: str, path: Path, title: str, logx: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, series in table.items():
        ax.plot(series.index, series.values, marker="o", ms=3, label=" / ".join(map(str, np.atleast_1d(label))))
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(x)
    ax.set_ylabel("test accuracy (mean over seeds)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 data sets, 1 seed, short training")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="parallel (data set, seed) tasks")
    parser.add_argument("--activation", default="relu", choices=sorted(OTHER_ACTIVATION),
                        help="hidden activation of the main runs (the other one is compared once)")
    parser.add_argument("--objective", default="generative", choices=["generative", "joint"],
                        help="the EBM's training objective (the paper's: generative)")
    parser.add_argument("--batching", default="rows", choices=["rows", "per_class"],
                        help="the EBM's training batches: mixed rows, or batch_size rows of every class")
    parser.add_argument("--suffix", default="", help="appended to the output file names")
    parser.add_argument("--from-csv", type=Path, help="rebuild the report from an earlier run's CSV")
    parser.add_argument("--run-note", default="", help="with --from-csv: the command and machine of that run")
    args = parser.parse_args()

    cfg = dict(activation=args.activation, objective=args.objective, batching=args.batching,
               hidden=(64,), max_epochs=100, patience=10, lr=1e-2, alpha=0.5, T=32,
               distributions=DISTRIBUTIONS, T_grid=[1, 2, 4, 8, 16, 32, 64, 128, 256],
               alpha_grid=[0.0, 0.1, 0.25, 0.5, 1.0, 2.0])
    datasets, seeds = list(DATASETS), list(range(args.seeds))
    if args.quick:
        datasets, seeds = ["iris", "wine"], [0]
        cfg.update(max_epochs=25, T_grid=[1, 8, 32], alpha_grid=[0.0, 0.5, 1.0])
    suffix = ("_quick" if args.quick else "") + args.suffix
    tasks = [(d, s) for d in datasets for s in seeds]
    torch.set_num_threads(1)  # as in every task (run_task), so that the description below says so
    machine = machine_description()  # measured before the runs load the machine
    print(f"{len(tasks)} tasks ({len(datasets)} data sets x {len(seeds)} seeds), {args.jobs} job(s)", flush=True)
    print(f"machine: {machine}", flush=True)
    started = time.time()
    start = time.perf_counter()
    if args.from_csv:
        # Only empty cells are missing: 'None' and 'none' are inference settings.
        results = [pd.read_csv(args.from_csv, keep_default_na=False, na_values=[""]).to_dict("records")]
        datasets = [d for d in datasets if d in {r["dataset"] for r in results[0]}]
        seeds = sorted({r["seed"] for r in results[0]})
    elif args.jobs > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=args.jobs, verbose=0)(delayed(run_task)(d, s, cfg) for d, s in tasks)
    else:
        results = [run_task(d, s, cfg) for d, s in tasks]
    elapsed = time.perf_counter() - start
    df = pd.DataFrame([row for rows in results for row in rows])
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / f"ebm_claims{suffix}.csv", index=False)

    c1, c1_means = claim1_table(df)
    mat = matrix(df)
    dists = cfg["distributions"]
    plot_heatmaps(mat, datasets, dists, RESULTS / f"ebm_train_x_inference{suffix}.png")
    mean_mat = mat.groupby(["train", "inference"]).mean().unstack().loc[dists, ["none", *dists]]
    diag_rows = []
    for ds in [*datasets, "mean"]:
        m = (mean_mat if ds == "mean" else mat.loc[ds].unstack().loc[dists, ["none", *dists]])
        noisy = m[dists]
        wins = sum(noisy.loc[t, t] >= noisy.loc[t].max() - 1e-12 for t in dists)
        off = noisy.values[~np.eye(len(dists), dtype=bool)]
        # Cauchy (no variance) wrecks every column and row it touches; compare without it too.
        tame = noisy.drop(index="cauchy", columns="cauchy", errors="ignore").values
        tame_off = tame[~np.eye(len(tame), dtype=bool)]
        diag_rows.append(dict(dataset=ds, diagonal_is_best_row=f"{wins}/{len(dists)}",
                              mean_diagonal=np.diag(noisy.values).mean(), mean_off_diagonal=off.mean(),
                              diagonal_without_cauchy=np.diag(tame).mean(),
                              off_diagonal_without_cauchy=tame_off.mean(),
                              no_inference_noise=m["none"].drop("cauchy", errors="ignore").mean()))
    diag = pd.DataFrame(diag_rows).set_index("dataset").round(3)

    t_tab = (df[df.experiment == "T"].groupby(["dataset", "energy_aggregate", "n_inference_samples"])
             .accuracy.mean().unstack(["dataset", "energy_aggregate"]))
    a_tab = (df[df.experiment == "alpha"].groupby(["dataset", "inference", "noise_scale"])
             .accuracy.mean().unstack(["dataset", "inference"]))
    plot_lines(t_tab, "T (Monte-Carlo passes)", RESULTS / f"ebm_accuracy_vs_T{suffix}.png",
               f"Gaussian activation noise alpha={cfg['alpha']}: accuracy vs T", logx=True)
    plot_lines(a_tab, "alpha (training = inference scale)", RESULTS / f"ebm_accuracy_vs_alpha{suffix}.png",
               "Gaussian noise: accuracy vs alpha (inference noise off or gaussian)", logx=False)
    act = df[df.experiment == "activation"].groupby(["dataset", "inference"]).accuracy.apply(mean_std).unstack()
    sig = df[(df.experiment == "alpha") & (df.noise_scale == cfg["alpha"])]
    act_tab = pd.concat([sig.groupby(["dataset", "inference"]).accuracy.apply(mean_std).unstack()
                         .add_prefix(f"{cfg['activation']}, inference "),
                         act.add_prefix(f"{OTHER_ACTIVATION[cfg['activation']]}, inference ")], axis=1)

    matrix_tables = "\n\n".join(
        f"**{ds}**\n\n" + mat.loc[ds].unstack().loc[dists, ["none", *dists]].round(3).to_markdown()
        for ds in datasets)
    command = " ".join(["python benchmarks/ebm_claims.py", *sys.argv[1:]])
    if args.from_csv:
        run_header = (f"Rebuilt from `{args.from_csv.name}` (seeds: {len(seeds)}, data sets: {', '.join(datasets)}); "
                      "the command and machine above are the rebuild's.\n")
        run_header += f"Run: {args.run_note}\n" if args.run_note else ""
    else:
        run_header = (f"Seeds: {len(seeds)}, data sets: {', '.join(datasets)}; wall time of the fits "
                      f"{elapsed / 60:.1f} min; {args.jobs} worker process(es), 1 torch thread each, on the CPU.\n")
    other = OTHER_ACTIVATION[cfg["activation"]]
    title = "NoisyEBMClassifier: the activation-noise paper's claims"
    body = f"""{run_header}
Setup: 70/30 stratified split per seed, StandardScaler + NoisyEBMClassifier in a Pipeline;
one autoencoder per class, hidden {cfg['hidden']} {cfg['activation']} units carrying activation noise,
objective '{cfg['objective']}', batching '{cfg['batching']}',
adam lr={cfg['lr']}, batch 'auto', early stopping (10% held out, patience {cfg['patience']},
max {cfg['max_epochs']} epochs), noise scale alpha={cfg['alpha']} unless varied, T={cfg['T']}
Monte-Carlo passes, energy aggregate 'mean' unless varied. Accuracy on the test rows,
mean ± std over seeds. Log loss uses the temperature fitted at fit time (smoothed log
loss on the training rows), except "training noise only", whose temperature was refitted
on the training rows (with `calibrate`) after switching inference noise off.

## Claim 1: noise improves accuracy (paper: about +200%)

{c1}

## Claim 2: training x inference distribution (paper: the diagonal wins)

Inference scale = training scale = {cfg['alpha']}, T={cfg['T']}; 'none' = deterministic inference.
![heatmap](ebm_train_x_inference{suffix}.png)

{diag.to_markdown()}

`diagonal_is_best_row`: rows (training distributions) whose best noisy inference
distribution is the training one (ties count as wins). `no_inference_noise`: mean of the
'none' column over the training distributions other than Cauchy.

{matrix_tables}

## Claim 3a: accuracy against T (Gaussian, alpha={cfg['alpha']})

![T](ebm_accuracy_vs_T{suffix}.png)

{t_tab.round(3).to_markdown()}

## Claim 3b: accuracy against alpha (Gaussian; inference 'None' or 'gaussian' at the same scale)

![alpha](ebm_accuracy_vs_alpha{suffix}.png)

{a_tab.round(3).to_markdown()}

## Activation: {cfg['activation']} vs {other} (Gaussian, alpha={cfg['alpha']}, T={cfg['T']})

{act_tab.to_markdown()}
"""
    started = None if args.from_csv else started
    print(report_header(title, command, machine, started) + body)
    write_report(f"ebm_claims{suffix}", title, command, body, machine=machine, started=started)
    print(f"done in {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
