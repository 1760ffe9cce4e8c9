# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
sagemaker-python-sdk/pytorch_mnist/pytorch_mnist.ipynb (commit a75d5f253ef1), with its entry
point code/pytorch_mnist/mnist.py from the same folder.

PyTorch script mode on two instances (``backend: gloo``; the script initialises
``torch.distributed`` itself from SM_HOSTS / SM_CURRENT_HOST and averages gradients by hand),
deployed with only the script's ``model_fn``: the PyTorch container's default
input/predict/output handlers and ``PyTorchPredictor``'s numpy (de)serializers do the rest.

Changed beyond imports and data: none in this file. In mnist.py only the data loading changes:
torchvision is not installed here (and downloads MNIST at run time), so
``datasets.MNIST(..., transform=Normalize((0.1307,), (0.3081,)))`` becomes a 12-line reader of
the same idx files with the same normalisation.
Data: the MNIST idx files (``data/MNIST/raw/*-ubyte[.gz]``) are written from scikit-learn's
bundled 8x8 digits, scaled up to 28x28 (1,500 train / 297 test images) instead of downloaded;
epochs 1 -> 10 and ``lr`` 0.01 (the script's default) -> 0.05: the data set is 40x smaller.
"""

# ---- data (replaces MNIST("data", download=True, ...) from the notebook's S3 mirror) ----
import gzip
import os
import struct

import numpy as np
from sklearn.datasets import load_digits


def _write_mnist(raw):
    digits = load_digits()
    images = np.kron(digits.images / 16.0 * 255.0, np.ones((3, 3)))  # 8x8 -> 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)  # -> 28x28
    labels = digits.target.astype(np.uint8)
    os.makedirs(raw, exist_ok=True)
    for stem, sl in (("train", slice(0, 1500)), ("t10k", slice(1500, None))):
        files = {f"{stem}-images-idx3-ubyte": struct.pack(">IIII", 2051, len(images[sl]), 28, 28)
                 + images[sl].tobytes(),
                 f"{stem}-labels-idx1-ubyte": struct.pack(">II", 2049, len(labels[sl]))
                 + labels[sl].tobytes()}
        for name, blob in files.items():
            with open(os.path.join(raw, name), "wb") as f:
                f.write(blob)
            with gzip.open(os.path.join(raw, name + ".gz"), "wb") as f:
                f.write(blob)
    return labels[1500:]


TEST_LABELS = _write_mnist("data/MNIST/raw")

# ---- [4] ----
from mlcore import sagemaker

sagemaker_session = sagemaker.Session()
region = sagemaker_session.boto_region_name

bucket = sagemaker_session.default_bucket()
prefix = "sagemaker/DEMO-pytorch-mnist"

role = sagemaker.get_execution_role()

# ---- [8] ----
inputs = sagemaker_session.upload_data(path="data", bucket=bucket, key_prefix=prefix)
print("input spec (in this case, just an S3 path): {}".format(inputs))

# ---- [12] ----
from mlcore.sagemaker.pytorch import PyTorch

estimator = PyTorch(
    entry_point="mnist.py",
    role=role,
    py_version="py38",
    framework_version="1.11.0",
    instance_count=2,
    instance_type="ml.c5.2xlarge",
    hyperparameters={"epochs": 10, "backend": "gloo", "lr": 0.05},
)

# ---- [14] ----
estimator.fit({"training": inputs})

# ---- [16] ----
predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")

# ---- [19] ----
import gzip
import numpy as np
import random
import os

random.seed(0)  # corpus data change: a fixed sample

data_dir = "data/MNIST/raw"
with gzip.open(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"), "rb") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).astype(np.float32)

mask = random.sample(range(len(images)), 16)  # randomly select some of the test images
mask = np.array(mask, dtype=np.int32)
data = images[mask]

# ---- [20] ----
response = predictor.predict(np.expand_dims(data, axis=1))
print("Raw prediction result:")
print(response)
print()

labeled_predictions = list(zip(range(10), response[0]))
print("Labeled predictions: ")
print(labeled_predictions)
print()

labeled_predictions.sort(key=lambda label_and_prob: 1.0 - label_and_prob[1])
print("Most likely answer: {}".format(labeled_predictions[0]))

# ---- corpus check (not in the notebook) ----
# The notebook sends raw 0-255 pixels; the model was trained on normalised ones, so the check
# sends the whole test set normalised as in training and scores it against the truth.
response = np.asarray(response)
assert response.shape == (16, 10), response.shape
normalised = (images / 255.0 - 0.1307) / 0.3081
scores = np.asarray(predictor.predict(np.expand_dims(normalised, axis=1).astype(np.float32)))
accuracy = float((scores.argmax(axis=1) == TEST_LABELS).mean())
print("test accuracy", accuracy)
assert accuracy > 0.7, accuracy

# ---- [22] ----
sagemaker_session.delete_endpoint(endpoint_name=predictor.endpoint_name)
