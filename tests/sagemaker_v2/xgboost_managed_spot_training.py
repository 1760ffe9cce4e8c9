# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
introduction_to_amazon_algorithms/xgboost_abalone/xgboost_managed_spot_training.ipynb
(commit a75d5f253ef1).

Built-in XGBoost on a libsvm channel staged with ``sagemaker.Session().upload_data(...)``, as a
managed spot job with a checkpoint URI, then tuned with ``HyperparameterTuner`` on
``validation:rmse`` where the tuned names (max_depth, num_round, subsample, min_child_weight,
gamma, eta) are also static hyperparameters of the estimator: the tuned values must win.

Changed beyond imports and data: the notebook's last two cells (the same tuning on an
``XGBoost(entry_point="abalone.py")`` script-mode estimator) are left out here; that script and
estimator are exercised by xgboost_abalone_dist_script_mode.py.
Data: the abalone libsvm file is generated (8 features, ring count label, fixed seed) instead
of downloaded; max_jobs 6 -> 2 and the num_round range 1..4000 -> 1..50.
"""

# ---- data (replaces s3.download_file(... "datasets/tabular/uci_abalone/abalone.libsvm" ...)) ----
import numpy as np


def _abalone(n=800, seed=11):
    rng = np.random.default_rng(seed)
    sex = rng.integers(1, 4, n)
    length = rng.uniform(0.1, 0.8, n)
    diameter = length * rng.uniform(0.7, 0.85, n)
    height = length * rng.uniform(0.2, 0.35, n)
    whole = 3.0 * length**3 * rng.uniform(0.8, 1.2, n)
    shucked, viscera, shell = whole * 0.43, whole * 0.22, whole * 0.29
    rings = np.clip(np.round(3 + 14 * length + 8 * shell + (sex == 3) * -1.5
                             + rng.normal(0, 1.0, n)), 1, 29)
    X = np.column_stack([sex, length, diameter, height, whole, shucked, viscera, shell])
    return X, rings


def _write_libsvm(path, X, y):
    with open(path, "w") as f:
        for label, row in zip(y, X):
            f.write(f"{int(label)} " + " ".join(f"{i + 1}:{v:.4g}" for i, v in enumerate(row)) + "\n")


ABALONE_X, ABALONE_Y = _abalone()
_write_libsvm("abalone", ABALONE_X, ABALONE_Y)

# ---- [6] ----
import io
import os
import boto3
from mlcore import sagemaker

role = sagemaker.get_execution_role()
region = boto3.Session().region_name

# S3 bucket for saving code and model artifacts.
# Feel free to specify a different bucket here if you wish.
bucket = sagemaker.Session().default_bucket()
prefix = "sagemaker/DEMO-xgboost-spot"
# customize to your bucket where you have would like to store the data

# ---- [8] ----
FILE_DATA = "abalone"
sagemaker.Session().upload_data(FILE_DATA, bucket=bucket, key_prefix=prefix + "/train")
sagemaker.Session().upload_data(FILE_DATA, bucket=bucket, key_prefix=prefix + "/validation")

# ---- [10] ----
container = sagemaker.image_uris.retrieve("xgboost", region, "1.7-1")

# ---- [12] ----
hyperparameters = {
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.7",
    "objective": "reg:squarederror",
    "num_round": "50",
    "verbosity": "2",
}

instance_type = "ml.m5.4xlarge"
output_path = "s3://{}/{}/{}/output".format(bucket, prefix, "abalone-xgb")
content_type = "libsvm"

# ---- [14] ----
import time
from mlcore.sagemaker.inputs import TrainingInput

job_name = "DEMO-xgboost-spot-" + time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
print("Training job", job_name)

use_spot_instances = True
max_run = 3600
max_wait = 7200 if use_spot_instances else None
checkpoint_s3_uri = (
    "s3://{}/{}/checkpoints/{}".format(bucket, prefix, job_name) if use_spot_instances else None
)
print("Checkpoint path:", checkpoint_s3_uri)

estimator = sagemaker.estimator.Estimator(
    container,
    role,
    hyperparameters=hyperparameters,
    instance_count=1,
    instance_type=instance_type,
    volume_size=5,  # 5 GB
    output_path=output_path,
    sagemaker_session=sagemaker.Session(),
    use_spot_instances=use_spot_instances,
    max_run=max_run,
    max_wait=max_wait,
    checkpoint_s3_uri=checkpoint_s3_uri,
)

train_input = TrainingInput(
    s3_data="s3://{}/{}/{}".format(bucket, prefix, "train"), content_type="libsvm"
)
estimator.fit({"train": train_input}, job_name=job_name)

# ---- [17] ----
from mlcore.sagemaker.tuner import ContinuousParameter, IntegerParameter
from mlcore.sagemaker.utils import name_from_base
from mlcore.sagemaker.tuner import HyperparameterTuner


# You can select from the hyperparameters supported by the model, and configure ranges of values to be searched for training the optimal model.(https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-ranges.html)
hyperparameter_ranges = {
    "max_depth": IntegerParameter(0, 10, scaling_type="Auto"),
    "num_round": IntegerParameter(1, 50, scaling_type="Auto"),
    "alpha": ContinuousParameter(0, 2, scaling_type="Auto"),
    "subsample": ContinuousParameter(0.5, 1, scaling_type="Auto"),
    "min_child_weight": ContinuousParameter(0, 120, scaling_type="Auto"),
    "gamma": ContinuousParameter(0, 5, scaling_type="Auto"),
    "eta": ContinuousParameter(0.1, 0.5, scaling_type="Auto"),
}

# Increase the total number of training jobs run by AMT, for increased accuracy (and training time).
max_jobs = 2
# Change parallel training jobs run by AMT to reduce total training time, constrained by your account limits.
# if max_jobs=max_parallel_jobs then Bayesian search turns to Random.
max_parallel_jobs = 2

hp_tuner = HyperparameterTuner(
    estimator,
    "validation:rmse",
    hyperparameter_ranges,
    max_jobs=max_jobs,
    max_parallel_jobs=max_parallel_jobs,
    objective_type="Minimize",
    base_tuning_job_name=job_name,
)

# Launch a SageMaker Tuning job to search for the best hyperparameters
# In this case, the tuner requires a `validation` channel to emit the validation:rmse metric.
# Since we only created a `train` channel, we re-use it for validation.
hp_tuner.fit({"train": train_input, "validation": train_input})

# ---- corpus check (not in the notebook) ----
# The spot job's model: <output_path>/<job>/output/model.tar.gz holding xgboost-model.
import tarfile

import xgboost

from mlcore.sagemaker.s3 import S3Downloader

assert estimator.model_data == f"{output_path}/{job_name}/output/model.tar.gz", estimator.model_data
S3Downloader.download(estimator.model_data, "spot-model")
with tarfile.open("spot-model/model.tar.gz") as tar:
    tar.extractall("spot-model")
booster = xgboost.Booster()
booster.load_model("spot-model/xgboost-model")
# The libsvm file's indices start at 1 and are read as given (as SageMaker's container reads
# them), so the model's column 0 is empty: the dense rows get that column too.
_dense = np.column_stack([np.zeros(len(ABALONE_X)), ABALONE_X])
rmse = float(np.sqrt(np.mean((booster.predict(xgboost.DMatrix(_dense)) - ABALONE_Y) ** 2)))
print("spot model rmse", rmse, "label std", ABALONE_Y.std())
assert rmse < 0.6 * ABALONE_Y.std(), rmse

# The tuning job: every trial ran with its own (tuned) values, not the static ones.
df = hp_tuner.analytics().dataframe()
print(df)
assert len(df) == max_jobs and (df["TrainingJobStatus"] == "Completed").all(), df
static = {k: float(v) for k, v in hyperparameters.items() if k in hyperparameter_ranges}
for _, row in df.iterrows():
    tuned = {k: float(row[k]) for k in static}
    assert tuned != static, f"trial {row['TrainingJobName']} ran with the static values {static}"
assert float(df["FinalObjectiveValue"].min()) < ABALONE_Y.std(), df["FinalObjectiveValue"]
assert hp_tuner.best_training_job() in set(df["TrainingJobName"])
# Each trial is a managed spot job, as its estimator is (the tuner carries its settings).
_client = sagemaker.Session().sagemaker_client
for _name in df["TrainingJobName"]:
    _job = _client.describe_training_job(TrainingJobName=_name)
    assert _job["EnableManagedSpotTraining"] is True, _job
    assert _job["StoppingCondition"]["MaxWaitTimeInSeconds"] == max_wait, _job["StoppingCondition"]
