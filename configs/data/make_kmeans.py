"""Writes the K-Means example data: scikit-learn's handwritten digits (1,797 rows of 64 pixel
intensities, 0-16), shuffled with a fixed seed, features only (K-Means reads no label), split
into train (1,500 rows) and test (297 rows). The committed CSVs were made by this script;
rerun it to check."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

SEED = 42


def main(out: Path = Path(__file__).parent / "kmeans") -> None:
    X = load_digits().data[np.random.default_rng(SEED).permutation(1797)]
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "train.csv", X[:1500], delimiter=",", fmt="%d")
    np.savetxt(out / "test.csv", X[1500:], delimiter=",", fmt="%d")


if __name__ == "__main__":
    main()
