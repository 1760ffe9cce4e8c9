# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
frameworks/pytorch/get_started_mnist_train.ipynb followed by
frameworks/pytorch/get_started_mnist_deploy.ipynb (commit a75d5f253ef1; the second notebook
picks up the first one's ``pt_mnist_model_data`` through ``%store``). code/train.py,
code/inference.py and utils/mnist.py (frameworks/utils/mnist.py, which the folder's ``utils``
symlink points at) are copied unchanged under code/pytorch_get_started_mnist/.

PyTorch script mode (``PyTorch(entry_point="train.py", source_dir="code")``) with channels
``training`` / ``testing`` staged by ``sess.upload_data``; then ``PyTorchModel(model_data=...,
entry_point="inference.py", source_dir="code")`` whose custom ``model_fn`` / ``input_fn`` /
``predict_fn`` / ``output_fn`` take ``{"inputs": [...]}`` JSON, deployed with
``JSONSerializer`` / ``JSONDeserializer``.

Changed beyond imports and data: ``%store`` / ``%store -r`` (the hand-over between the two
notebooks) become the same variable in one file; the image plot of cell 20 is left out.
Data: the MNIST idx .gz files are written from scikit-learn's bundled 8x8 digits scaled up to
28x28 (1,500 train / 297 test) instead of downloaded, into ./data, which the deploy notebook's
``mnist_to_numpy(data_dir)`` reads instead of /tmp/data; epochs 1 -> 8.
"""

# ---- data (replaces download_from_s3("./data", True/False) of the train notebook) ----
import gzip
import os
import struct

import numpy as np
from sklearn.datasets import load_digits


def _write_mnist(data_dir):
    digits = load_digits()
    images = np.kron(digits.images / 16.0 * 255.0, np.ones((3, 3)))  # 8x8 -> 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)  # -> 28x28
    labels = digits.target.astype(np.uint8)
    os.makedirs(data_dir, exist_ok=True)
    for stem, sl in (("train", slice(0, 1500)), ("t10k", slice(1500, None))):
        with gzip.open(os.path.join(data_dir, f"{stem}-images-idx3-ubyte.gz"), "wb") as f:
            f.write(struct.pack(">IIII", 2051, len(images[sl]), 28, 28) + images[sl].tobytes())
        with gzip.open(os.path.join(data_dir, f"{stem}-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(struct.pack(">II", 2049, len(labels[sl])) + labels[sl].tobytes())


_write_mnist("./data")

# ======== get_started_mnist_train.ipynb ========
# ---- [3] ----
import os
import json

from mlcore import sagemaker
from mlcore.sagemaker.pytorch import PyTorch
from mlcore.sagemaker import get_execution_role


sess = sagemaker.Session()
region = sess.boto_region_name

role = get_execution_role()

output_path = "s3://" + sess.default_bucket() + "/DEMO-mnist"

# ---- [8] ----
# Set local_mode to True to run the training script on the machine that runs this notebook

local_mode = False

if local_mode:
    instance_type = "local"
else:
    instance_type = "ml.c4.xlarge"

est = PyTorch(
    entry_point="train.py",
    source_dir="code",  # directory of your training script
    role=role,
    framework_version="1.5.0",
    py_version="py3",
    instance_type=instance_type,
    instance_count=1,
    volume_size=250,
    output_path=output_path,
    hyperparameters={"batch-size": 128, "epochs": 8, "learning-rate": 1e-3, "log-interval": 100},
)

# ---- [12] ----
# Upload to the default bucket

prefix = "DEMO-mnist"
bucket = sess.default_bucket()
loc = sess.upload_data(path="./data", bucket=bucket, key_prefix=prefix)

channels = {"training": loc, "testing": loc}

# ---- [15] ----
est.fit(inputs=channels)

# ---- [17] ----
pt_mnist_model_data = est.model_data
print("Model artifact saved at:\n", pt_mnist_model_data)

# ======== get_started_mnist_deploy.ipynb ========
# ---- [3] ----
# setups

import os
import json

import boto3
from mlcore import sagemaker
from mlcore.sagemaker.pytorch import PyTorchModel
from mlcore.sagemaker import get_execution_role, Session

sess = Session()

role = get_execution_role()

# ---- [4] ----
print(pt_mnist_model_data)

# ---- [6] ----
model = PyTorchModel(
    entry_point="inference.py",
    source_dir="code",
    role=role,
    model_data=pt_mnist_model_data,
    framework_version="1.5.0",
    py_version="py3",
)

# ---- [9] ----
from mlcore.sagemaker.serializers import JSONSerializer
from mlcore.sagemaker.deserializers import JSONDeserializer

# set local_mode to False if you want to deploy on a remote
# SageMaker instance

local_mode = False

if local_mode:
    instance_type = "local"
else:
    instance_type = "ml.c4.xlarge"

predictor = model.deploy(
    initial_instance_count=1,
    instance_type=instance_type,
    serializer=JSONSerializer(),
    deserializer=JSONDeserializer(),
)

# ---- [11] ----
import random
import numpy as np

dummy_data = {"inputs": np.random.rand(16, 1, 28, 28).tolist()}

# ---- [13] ----
res = predictor.predict(dummy_data)

# ---- [14] ----
print("Predictions:", res)

# ---- [16] ----
dummy_data = [random.random() for _ in range(784)]

# ---- [20] (without the plot) ----
from utils.mnist import mnist_to_numpy, normalize
import random

random.seed(0)  # corpus data change: a fixed sample

data_dir = "data"
X, Y = mnist_to_numpy(data_dir, train=False)

# randomly sample 16 images to inspect
mask = random.sample(range(X.shape[0]), 16)
samples = X[mask]
labels = Y[mask]

# ---- [21] ----
print(samples.shape, samples.dtype)

# ---- [23] ----
samples = normalize(samples.astype(np.float32), axis=(1, 2))

res = predictor.predict({"inputs": np.expand_dims(samples, axis=1).tolist()})

# ---- [25] ----
predictions = np.argmax(np.array(res, dtype=np.float32), axis=1).tolist()
print("Predicted digits: ", predictions)

# ---- corpus check (not in the notebook): the whole test set through the custom handlers ----
assert np.array(res).shape == (16, 10), np.array(res).shape
everything = normalize(X.astype(np.float32), axis=(1, 2))
scores = np.array(predictor.predict({"inputs": np.expand_dims(everything, axis=1).tolist()}))
accuracy = float((scores.argmax(axis=1) == Y).mean())
print("test accuracy", accuracy)
assert accuracy > 0.7, accuracy

# ---- [30] ----
import os

if not local_mode:
    predictor.delete_endpoint()
else:
    os.system("docker container ls | grep 8080 | awk '{print $1}' | xargs docker container rm -f")
