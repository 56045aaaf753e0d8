"""A real training run, logged with eventlog: a small numpy MLP learning two interleaved spirals.

Run it with `make demo` (or `.venv/bin/python examples/demo.py`). It writes into the embedded
default store `./.eventlog` (or $EVENTLOG_URI), then prints the experiment's runs and the summary of
its metrics. Nothing is downloaded: the data set is generated.
"""

from __future__ import annotations

import numpy as np
import polars as pl

import eventlog


def spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals in 2-D with a little noise: a problem a linear model cannot solve."""
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    label = rng.integers(0, 2, n)
    sign = np.where(label == 1, 1.0, -1.0)
    x = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) / (3 * np.pi)
    return x + rng.normal(scale=0.02, size=x.shape), label.astype(np.float64)


def train(exp: eventlog.Experiment, *, hidden: int, lr: float, epochs: int, seed: int) -> float:
    """Train a one-hidden-layer MLP with full-batch gradient descent, logging as it goes."""
    rng = np.random.default_rng(seed)
    x, y = spirals(2_000, rng)
    x_val, y_val = spirals(500, rng)
    exp.log_params({"hidden": hidden, "lr": lr, "epochs": epochs, "seed": seed, "model": "mlp-tanh"})
    w1 = rng.normal(scale=1.0, size=(2, hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(scale=1.0 / np.sqrt(hidden), size=hidden)
    b2 = 0.0

    def forward(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.tanh(inputs @ w1 + b1)
        return h, 1.0 / (1.0 + np.exp(-(h @ w2 + b2)))

    for step in range(epochs):
        h, p = forward(x)
        loss = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        grad_out = (p - y) / len(y)
        grad_h = np.outer(grad_out, w2) * (1 - h**2)
        w2 -= lr * h.T @ grad_out
        b2 -= lr * grad_out.sum()
        w1 -= lr * x.T @ grad_h
        b1 -= lr * grad_h.sum(axis=0)
        _, p_val = forward(x_val)
        exp.log_metrics(
            {
                "train/loss": float(loss),
                "train/acc": float(np.mean((p > 0.5) == y)),
                "val/acc": float(np.mean((p_val > 0.5) == y_val)),
            },
            step=step,
        )
        exp.log_metric("grad_norm", float(np.linalg.norm(grad_h)), step=step)
    final = float(np.mean((forward(x_val)[1] > 0.5) == y_val))
    exp.log_metric("val/final_acc", final, step=epochs)
    return final


def main() -> None:
    """Two runs with different hyper-parameters, then the runs table and the metric summary."""
    log = eventlog.open()
    exp = log.experiment("spirals")
    for hidden, lr in ((8, 1.0), (32, 1.0)):
        with exp:
            exp.log_system()
            exp.log_extra(tag="demo")
            accuracy = train(exp, hidden=hidden, lr=lr, epochs=1000, seed=hidden)
            print(f"run {exp.run}: hidden={hidden} lr={lr} -> validation accuracy {accuracy:.3f}")
    log.close()

    pl.Config.set_tbl_cols(12)
    pl.Config.set_tbl_width_chars(140)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_fmt_str_lengths(24)
    print(f"\nstore: {log.uri}\n\nruns of experiment 'spirals':")
    runs = exp.runs()
    print(runs.select("run", "status", "duration_s", "param.hidden", "param.lr", "metric.train/loss", "metric.val/acc"))
    print("\nsummary of the metrics of all runs:")
    print(exp.summary().drop("event"))
    figure = exp.plot(["val/acc", "train/loss"], smooth=0.9)
    figure.savefig("spirals.png")
    print("\nplotted val/acc and train/loss of every run to spirals.png")
    print(f"\nsee every run and curve in the browser: .venv/bin/eventlog ui --store {log.uri}")


if __name__ == "__main__":
    main()
