"""Writes Random Cut Forest's example data: 6 features, rows from three elongated Gaussian
clusters (fixed random centres and covariances) with anomalies planted close to them: points
on a shell ``GAP`` to ``GAP + 1`` Mahalanobis units around a cluster (a normal row lies 2.3
units out on average, about 1% beyond 4), kept only where every cluster is at least ``GAP``
away. Fixed seed. ``train.csv``: 2,000 rows, features only (RCF's train channel reads no
label), 1% of them anomalies, as real training data is contaminated; ``test.csv``: 500 rows,
the label first (1 = anomaly, 5% of the rows), for ``content_type: text/csv;label_size=1``.
The committed CSVs were made by this script; rerun it to check."""

from pathlib import Path

import numpy as np

SEED, FEATURES, GAP = 7, 6, 4.0


def make(rng: np.random.Generator, rows: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` rows, ``share`` of them anomalies, shuffled: ``(X [rows, 6], y [rows])``."""
    setup = np.random.default_rng(SEED)  # the same clusters for every split
    centres = setup.uniform(-4, 4, (3, FEATURES))
    shapes = [np.linalg.qr(setup.standard_normal((FEATURES, FEATURES)))[0]
              * setup.uniform(0.3, 1.5, FEATURES) for _ in range(3)]
    anomalies = int(round(rows * share))
    normal = rows - anomalies
    which = rng.integers(0, 3, normal)
    X = centres[which] + np.einsum("nj,nkj->nk", rng.standard_normal((normal, FEATURES)),
                                   np.stack(shapes)[which])
    planted = []
    while len(planted) < anomalies:
        z = rng.standard_normal(FEATURES)
        k = rng.integers(0, 3)
        p = centres[k] + shapes[k] @ (z / np.linalg.norm(z) * rng.uniform(GAP, GAP + 1))
        nearest = min(np.linalg.norm(np.linalg.solve(S, p - c))
                      for S, c in zip(shapes, centres, strict=True))
        if nearest >= GAP:  # in Mahalanobis units of that cluster
            planted.append(p)
    X = np.vstack([X, np.array(planted).reshape(-1, FEATURES)])
    y = np.r_[np.zeros(normal), np.ones(anomalies)]
    order = rng.permutation(rows)
    return X[order], y[order]


def main(out: Path = Path(__file__).parent / "rcf") -> None:
    rng = np.random.default_rng(SEED + 1)
    X, _ = make(rng, 2000, 0.01)
    T, y = make(rng, 500, 0.05)
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "train.csv", X, delimiter=",", fmt="%.4f")
    np.savetxt(out / "test.csv", np.column_stack([y, T]), delimiter=",", fmt="%.4f")


if __name__ == "__main__":
    main()
