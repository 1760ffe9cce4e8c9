"""A scikit-learn script in SageMaker's script mode: hyperparameters as arguments, the train
channel in SM_CHANNEL_TRAIN (CSV, label first), the model saved to SM_MODEL_DIR. Serving
defines only model_fn: the scikit-learn container's defaults decode, predict and encode."""

import argparse
import glob
import os

import joblib
import numpy as np
from iris_helpers import features  # shipped as a dependency
from sklearn.linear_model import LogisticRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args, _ = parser.parse_known_args()
    data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2)
                      for f in sorted(glob.glob(os.path.join(args.train, "*.csv")))])
    model = LogisticRegression(C=args.C, max_iter=500).fit(features(data[:, 1:]), data[:, 0])
    print(f"train_accuracy={model.score(features(data[:, 1:]), data[:, 0]):.4f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
