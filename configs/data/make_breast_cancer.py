"""Writes the quickstart data: scikit-learn's Wisconsin breast-cancer set (569 rows, 30
features, binary label), split 70/20/10 with a fixed seed into SageMaker's CSV convention
(label first, no header). The committed CSVs were made by this script; rerun it to check."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer

SEED = 42


def main(out: Path = Path(__file__).parent / "breast-cancer") -> None:
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(SEED).permutation(len(y))
    X, y = X[order], y[order]
    n_train, n_val = int(0.7 * len(y)), int(0.2 * len(y))
    out.mkdir(parents=True, exist_ok=True)
    parts = {"train": slice(0, n_train), "validation": slice(n_train, n_train + n_val)}
    for name, sl in parts.items():
        np.savetxt(out / f"{name}.csv", np.column_stack([y[sl], X[sl]]), delimiter=",", fmt="%.6g")
    # test.csv holds features only: what a client sends to the endpoint
    np.savetxt(out / "test.csv", X[n_train + n_val:], delimiter=",", fmt="%.6g")
    np.savetxt(out / "test-labels.csv", y[n_train + n_val:], fmt="%d")


if __name__ == "__main__":
    main()
