# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
sagemaker-python-sdk/scikit_learn_iris/scikit_learn_estimator_example_with_batch_transform.ipynb
(commit a75d5f253ef1), with its entry point code/scikit_learn_iris/scikit_learn_iris.py copied
unchanged from the same folder.

scikit-learn script mode (``sagemaker.sklearn.estimator.SKLearn``): a folder staged with
``sagemaker_session.upload_data(WORK_DIRECTORY, key_prefix=...)`` (default bucket), trained,
deployed, and called with a numpy array through the ``SKLearnPredictor`` defaults.

Changed beyond imports and data: the batch-transform half (cells 25-33: ``sklearn.transformer``,
``%%bash`` sampling, ``!aws s3 cp``) is not transcribed; mlcore has no batch transform.
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
