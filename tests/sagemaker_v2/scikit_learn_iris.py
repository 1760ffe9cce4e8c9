# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
sagemaker-python-sdk/scikit_learn_iris/scikit_learn_estimator_example_with_batch_transform.ipynb
(commit a75d5f253ef1), with its entry point code/scikit_learn_iris/scikit_learn_iris.py copied
unchanged from the same folder.

scikit-learn script mode (``sagemaker.sklearn.estimator.SKLearn``): a folder staged with
``sagemaker_session.upload_data(WORK_DIRECTORY, key_prefix=...)`` (default bucket), trained,
deployed, and called with a numpy array through the ``SKLearnPredictor`` defaults.

Then the batch-transform half: ``sklearn.transformer(...)``, ``transform(s3_prefix,
content_type="text/csv")`` (no split_type: each file is one request), ``transformer.wait()``,
and one ``.out`` per input file holding the container's JSON answer.

Changed beyond imports and data: the ``%%bash`` cells (27: ``shuf`` sampling and ``cut``; 33:
``diff`` against the labels) and ``!aws s3 cp`` / ``!head`` (32) are written in Python, doing
the same.
Data: ``iris.data`` is written from scikit-learn's bundled iris in the UCI file's format
(class names as strings) instead of downloaded; the notebook's own pandas code converts it.
"""

# ---- data (replaces s3_client.download_file(... "datasets/tabular/iris/iris.data" ...)) ----
import os

from sklearn.datasets import load_iris

os.makedirs("./data", exist_ok=True)
_iris = load_iris()
with open("./data/iris.csv", "w") as f:
    for row, target in zip(_iris.data, _iris.target):
        f.write(",".join(f"{v:.1f}" for v in row) + "," + f"Iris-{_iris.target_names[target]}\n")

# ---- [5] ----
# S3 prefix
prefix = "DEMO-scikit-iris"

from mlcore import sagemaker
from mlcore.sagemaker import get_execution_role

sagemaker_session = sagemaker.Session()
region = sagemaker_session.boto_region_name
role = get_execution_role()

# ---- [7] ----
import boto3
import numpy as np
import pandas as pd
import os

os.makedirs("./data", exist_ok=True)

df_iris = pd.read_csv("./data/iris.csv", header=None)
df_iris[4] = df_iris[4].map({"Iris-setosa": 0, "Iris-versicolor": 1, "Iris-virginica": 2})
iris = df_iris[[4, 0, 1, 2, 3]].to_numpy()
np.savetxt("./data/iris.csv", iris, delimiter=",", fmt="%1.1f, %1.3f, %1.3f, %1.3f, %1.3f")

# ---- [9] ----
WORK_DIRECTORY = "data"

train_input = sagemaker_session.upload_data(
    WORK_DIRECTORY, key_prefix="{}/{}".format(prefix, WORK_DIRECTORY)
)

# ---- [13] ----
from mlcore.sagemaker.sklearn.estimator import SKLearn

FRAMEWORK_VERSION = "1.2-1"
script_path = "scikit_learn_iris.py"

sklearn = SKLearn(
    entry_point=script_path,
    framework_version=FRAMEWORK_VERSION,
    instance_type="ml.c4.xlarge",
    role=role,
    sagemaker_session=sagemaker_session,
    hyperparameters={"max_leaf_nodes": 30},
)

# ---- [15] ----
sklearn.fit({"train": train_input})

# ---- [17] ----
predictor = sklearn.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge")

# ---- [19] ----
import itertools
import pandas as pd

shape = pd.read_csv("data/iris.csv", header=None)

a = [50 * i for i in range(3)]
b = [40 + i for i in range(10)]
indices = [i + j for i, j in itertools.product(a, b)]

test_data = shape.iloc[indices[:-1]]
test_X = test_data.iloc[:, 1:]
test_y = test_data.iloc[:, 0]

# ---- [21] ----
predicted = predictor.predict(test_X.values)
print(predicted)
print(test_y.values)

# ---- corpus check (not in the notebook) ----
accuracy = float((np.asarray(predicted).ravel() == test_y.values).mean())
print("accuracy", accuracy)
assert len(np.asarray(predicted).ravel()) == len(test_y) and accuracy > 0.9, accuracy

# ---- [23] ----
predictor.delete_endpoint()

# ---- [25] ----
# Define an SKLearn Transformer from the trained SKLearn Estimator
transformer = sklearn.transformer(instance_count=1, instance_type="ml.m5.xlarge")

# ---- [27] (%%bash: shuf -n 100 and cut, in Python) ----
import random

_rows = open("data/iris.csv").read().splitlines()
_rng = random.Random(27)
for d in ("batch_data/XY", "batch_data/X", "batch_data/Y"):
    os.makedirs(d, exist_ok=True)
for i in range(10):
    sample = _rng.sample(_rows, 100)
    with open(f"batch_data/XY/iris_sample_{i}.csv", "w") as f:
        f.write("\n".join(sample) + "\n")
    with open(f"batch_data/X/iris_sample_X_{i}.csv", "w") as f:
        f.write("\n".join(r.split(",", 1)[1] for r in sample) + "\n")
    with open(f"batch_data/Y/iris_sample_Y_{i}.csv", "w") as f:
        f.write("\n".join(r.split(",", 1)[0] for r in sample) + "\n")

# ---- [28] ----
# Upload input data from local file system to S3
batch_input_s3 = sagemaker_session.upload_data("batch_data/X", key_prefix=prefix + "/batch_input")

# ---- [30] ----
# Start a transform job and wait for it to finish
transformer.transform(batch_input_s3, content_type="text/csv")
print("Waiting for transform job: " + transformer.latest_transform_job.job_name)
transformer.wait()

# ---- [32] (!aws s3 cp --recursive and !head, in Python) ----
# Download the output data from S3 to local file system
batch_output = transformer.output_path
from mlcore.sagemaker.s3 import S3Downloader

os.makedirs("batch_data/output", exist_ok=True)
S3Downloader.download(batch_output, "batch_data/output")
for name in sorted(os.listdir("batch_data/output"))[:2]:
    print(name, open(os.path.join("batch_data/output", name)).read()[:200])

# ---- [33] (%%bash diff, in Python) ----
# For each sample file, compare the predicted labels from batch output to the true labels
import json

_same = 0
for i in range(1, 10):
    truth = open(f"batch_data/Y/iris_sample_Y_{i}.csv").read().split()
    predicted = json.load(open(f"batch_data/output/iris_sample_X_{i}.csv.out"))
    print(f"Files batch_data/Y/iris_sample_Y_{i}.csv and batch_data/output/iris_sample_X_{i}.csv.out",
          "are identical" if [float(t) for t in truth] == [float(p) for p in predicted] else "differ")
    _same += sum(float(t) == float(p) for t, p in zip(truth, predicted))

# ---- corpus check (not in the notebook) ----
assert sorted(os.listdir("batch_data/output")) == [f"iris_sample_X_{i}.csv.out" for i in range(10)]
print("batch accuracy", _same / 900)
assert _same / 900 > 0.9, _same
