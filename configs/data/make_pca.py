"""Writes PCA's example data: 1,200 rows of 16 features that lie near a 3-dimensional
subspace (a fixed random basis, per-direction scales 5, 3 and 2, unit noise 0.3), with a fixed
seed; features only (PCA reads no label), 1,000 training rows and 200 test rows. The committed
CSVs were made by this script; rerun it to check."""

from pathlib import Path

import numpy as np

SEED = 7


def main(out: Path = Path(__file__).parent / "pca") -> None:
    rng = np.random.default_rng(SEED)
    basis = np.linalg.qr(rng.standard_normal((16, 3)))[0].T  # 3 orthonormal directions
    latent = rng.standard_normal((1200, 3)) * np.array([5.0, 3.0, 2.0])
    X = latent @ basis + 0.3 * rng.standard_normal((1200, 16)) + rng.uniform(-1, 1, 16)
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "train.csv", X[:1000], delimiter=",", fmt="%.5f")
    np.savetxt(out / "test.csv", X[1000:], delimiter=",", fmt="%.5f")


if __name__ == "__main__":
    main()
