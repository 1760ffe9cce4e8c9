# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
sagemaker-python-sdk/1P_kmeans_highlevel/kmeans_mnist.ipynb (commit a75d5f253ef1, the last
before the 2024 re-layout moved it to archived/kmeans_mnist.ipynb). The notebook has no
execution counts, so ``# ---- [n] ----`` numbers its cells by their index in the file.

SageMaker's first-party K-Means through the SDK's high-level class: ``sagemaker.KMeans(role,
instance_count=2, instance_type, output_path, k=10, data_location=...)``,
``kmeans.fit(kmeans.record_set(numpy_array))`` (RecordIO-protobuf shards and a manifest
uploaded to ``data_location``, trained on 2 instances), ``deploy`` returning a
``KMeansPredictor``, and ``predict(numpy)`` answering a list of ``Record`` read as
``r.label["closest_cluster"].float32_tensor.values[0]``.

Changed beyond imports and data: ``%matplotlib inline`` and ``!pip install`` (cells 5, 7)
left out; the plots are drawn by matplotlib's non-interactive backend.
Data: ``mnist.pkl.gz`` is written here from scikit-learn's bundled 8x8 digits, each image
scaled up 3x and padded to MNIST's 28x28 (784 features in [0, 1], float32), split 1,000 /
400 / 397 like MNIST's train / valid / test tuples, instead of downloaded; the
``S3DataConfig`` import and the cell's ``data_bucket`` lookup and ``s3.download_file`` go
with the download.
"""

# ---- data (replaces s3.download_file(data_bucket, "datasets/image/MNIST/mnist.pkl.gz", ...)) ----
import gzip as _gzip
import pickle as _pickle

import numpy as _np
from sklearn.datasets import load_digits as _load_digits

_digits = _load_digits()
_images = _np.kron(_digits.images / 16.0, _np.ones((3, 3)))  # 8x8 -> 24x24
_images = _np.pad(_images, ((0, 0), (2, 2), (2, 2))).reshape(-1, 784).astype("float32")
_order = _np.random.default_rng(0).permutation(len(_images))
_sets = [(_images[i], _digits.target[i]) for i in _np.split(_order, [1000, 1400])]
with _gzip.open("mnist.pkl.gz", "wb") as _f:
    _pickle.dump(tuple(_sets), _f)

# ---- [8] ----
from mlcore.sagemaker import get_execution_role
from mlcore.sagemaker.session import Session

role = get_execution_role()
sm_session = Session()
bucket = sm_session.default_bucket()

# ---- [10] ----
import pickle, gzip, numpy, json
from mlcore.sagemaker import boto3

# Load the dataset
s3 = boto3.client("s3")

with gzip.open("mnist.pkl.gz", "rb") as f:
    train_set, valid_set, test_set = pickle.load(f, encoding="latin1")

# ---- [12] ----
import matplotlib.pyplot as plt

plt.rcParams["figure.figsize"] = (2, 10)


def show_digit(img, caption="", subplot=None):
    if subplot is None:
        _, (subplot) = plt.subplots(1, 1)
    imgr = img.reshape((28, 28))
    subplot.axis("off")
    subplot.imshow(imgr, cmap="gray")
    plt.title(caption)


show_digit(train_set[0][30], f"This is a {train_set[1][30]}")

# ---- [14] ----
from mlcore.sagemaker import KMeans

data_location = f"s3://{bucket}/kmeans_highlevel_example/data"
output_location = f"s3://{bucket}/kmeans_example/output"

print(f"training data will be uploaded to: {data_location}")
print(f"training artifacts will be uploaded to: {output_location}")

kmeans = KMeans(
    role=role,
    instance_count=2,
    instance_type="ml.c4.xlarge",
    output_path=output_location,
    k=10,
    data_location=data_location,
)

# ---- [15] ----
kmeans.fit(kmeans.record_set(train_set[0]))

# ---- [17] ----
kmeans_predictor = kmeans.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")

# ---- [19] ----
result = kmeans_predictor.predict(train_set[0][30:31])
print(result)

# ---- [21] ----
result = kmeans_predictor.predict(valid_set[0][0:100])
clusters = [r.label["closest_cluster"].float32_tensor.values[0] for r in result]

# ---- [22] ----
for cluster in range(10):
    print(f"\n\n\nCluster {int(cluster)}:")
    digits = [img for l, img in zip(clusters, valid_set[0]) if int(l) == cluster]
    """
        The KMeans algorithm as an optimization problem is an NP Complete problem, and internal implementations
        can produce different results for each run, depending upon the locations of the initial cluster centroid.
        In some cases, there might be no data points in a cluster. We plot below the data points for clusters which
        have datapoints.
    """
    if digits:
        height = ((len(digits) - 1) // 5) + 1
        width = 5
        plt.rcParams["figure.figsize"] = (width, height)
        _, subplots = plt.subplots(height, width)
        subplots = numpy.ndarray.flatten(subplots)
        for subplot, image in zip(subplots, digits):
            show_digit(image, subplot=subplot)
        for subplot in subplots[len(digits) :]:
            subplot.axis("off")
        plt.show()

# ---- [25] ----
print(kmeans_predictor.endpoint)

# ---- corpus check (not in the notebook): the clusters group the digits ----
plt.close("all")
assert len(result) == 100 and all(0 <= c < 10 for c in clusters), clusters
assert all(r.label["distance_to_cluster"].float32_tensor.values[0] >= 0 for r in result)
truth = valid_set[1][0:100]
# purity: each cluster's most common digit, over the rows (chance is about 0.1-0.2)
purity = sum(numpy.bincount(truth[numpy.array(clusters) == c]).max()
             for c in set(clusters)) / len(truth)
print("purity", purity)
assert purity > 0.6, purity
shards = sm_session.list_s3_files(bucket, "kmeans_highlevel_example/data")
assert sum(key.endswith(".pbr") for key in shards) == 2, shards  # one shard per instance

# ---- [26] ----
kmeans_predictor.delete_endpoint()
