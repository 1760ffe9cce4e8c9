"""Writes Factorization Machines' example data: 3,000 rows of 10 standard-normal features and
a target y = 0.5 x0 + 2 x1 x2 - 1.5 x3 x4 + N(0, 0.1²) (two planted pairwise interactions no
linear model can see), label first, with a fixed seed; 2,500 training rows and 500 test rows.
The committed CSVs were made by this script; rerun it to check."""

from pathlib import Path

import numpy as np

SEED = 7


def main(out: Path = Path(__file__).parent / "fm") -> None:
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((3000, 10))
    y = 0.5 * X[:, 0] + 2.0 * X[:, 1] * X[:, 2] - 1.5 * X[:, 3] * X[:, 4]
    y += 0.1 * rng.standard_normal(3000)
    rows = np.column_stack([y, X])
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "train.csv", rows[:2500], delimiter=",", fmt="%.4f")
    np.savetxt(out / "test.csv", rows[2500:], delimiter=",", fmt="%.4f")


if __name__ == "__main__":
    main()
