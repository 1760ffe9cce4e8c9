# ruff: noqa  (a notebook transcription: its cells' code is kept as published)
"""Transcription of aws/amazon-sagemaker-examples
introduction_to_amazon_algorithms/xgboost_abalone/xgboost_inferenece_script_mode.ipynb
(commit a75d5f253ef1; the file name's typo is the notebook's), with abalone.py and
inference.py copied unchanged from the same folder under code/xgboost_inference_script_mode/.

XGBoost framework script mode trained on a libsvm channel staged with ``upload_data``, tuned
(script mode: ``validation:rmse`` parsed from the script's log; static and tuned names overlap),
then ``XGBoostModel(model_data=estimator.model_data, entry_point="inference.py")``: custom
``input_fn`` (libsvm), ``predict_fn`` (prediction plus SHAP contributions) and ``output_fn``
(CSV), called through ``XGBoostPredictor``'s defaults with a libsvm string.

Changed beyond imports and data: the SHAP waterfall plots (seaborn/matplotlib) of cells 18-22
are left out; the two predictions they plot are made and checked.
Data: the abalone libsvm file is generated (fixed seed) instead of downloaded; max_jobs 6 -> 2,
the num_round range 1..4000 -> 1..50.
"""

# ---- data (replaces s3.download_file(... "datasets/tabular/uci_abalone/abalone.libsvm" ...)) ----
import numpy as np


def _write_abalone(path, n=800, seed=11):
    rng = np.random.default_rng(seed)
    sex = rng.integers(1, 4, n)
    length = rng.uniform(0.1, 0.8, n)
    whole = 3.0 * length**3 * rng.uniform(0.8, 1.2, n)
    X = np.column_stack([sex, length, length * 0.78, length * 0.27, whole, whole * 0.43,
                         whole * 0.22, whole * 0.29])
    rings = np.clip(np.round(3 + 14 * length + 8 * whole * 0.29 - 1.5 * (sex == 3)
                             + rng.normal(0, 1.0, n)), 1, 29)
    with open(path, "w") as f:
        for label, row in zip(rings, X):
            f.write(f"{int(label)} " + " ".join(f"{i + 1}:{v:.4g}" for i, v in enumerate(row)) + "\n")


_write_abalone("abalone")

# ---- [5] ----
import io
import os
import boto3
from mlcore import sagemaker
import time

role = sagemaker.get_execution_role()
region = boto3.Session().region_name

# S3 bucket for saving code and model artifacts.
# Feel free to specify a different bucket here if you wish.
bucket = sagemaker.Session().default_bucket()
prefix = "sagemaker/DEMO-xgboost-inference-script-mode"

# ---- [7] ----
FILE_DATA = "abalone"
sagemaker.Session().upload_data(FILE_DATA, bucket=bucket, key_prefix=prefix + "/train")

# ---- [9] ----
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.xgboost.estimator import XGBoost


job_name = "DEMO-xgboost-inference-script-mode-" + time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
print("Training job", job_name)

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

instance_type = "ml.c5.xlarge"

xgb_script_mode_estimator = XGBoost(
    entry_point="abalone.py",
    hyperparameters=hyperparameters,
    role=role,
    instance_count=1,
    instance_type=instance_type,
    framework_version="1.7-1",
    output_path="s3://{}/{}/{}/output".format(bucket, prefix, job_name),
)

content_type = "text/libsvm"
train_input = TrainingInput(
    "s3://{}/{}/{}/".format(bucket, prefix, "train"), content_type=content_type
)

# ---- [11] ----
xgb_script_mode_estimator.fit({"train": train_input, "validation": train_input}, job_name=job_name)

# ---- [13] ----
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
    xgb_script_mode_estimator,
    "validation:rmse",
    hyperparameter_ranges,
    max_jobs=max_jobs,
    max_parallel_jobs=max_parallel_jobs,
    objective_type="Minimize",
    base_tuning_job_name=job_name,
)

# Launch a SageMaker Tuning job to search for the best hyperparameters
hp_tuner.fit({"train": train_input, "validation": train_input})

# ---- [15] ----
from mlcore.sagemaker.xgboost.model import XGBoostModel

model_data = xgb_script_mode_estimator.model_data
print(model_data)

xgb_inference_model = XGBoostModel(
    model_data=model_data,
    role=role,
    entry_point="inference.py",
    framework_version="1.7-1",
)

# ---- [16] ----
predictor = xgb_inference_model.deploy(
    initial_instance_count=1,
    instance_type="ml.c5.xlarge",
)


# ---- [18] (predict_and_plot without its plot) ----
def predict_and_plot(predictor, libsvm_str):
    label, *features = libsvm_str.strip().split()
    predictions = predictor.predict(" ".join(["-99"] + features))  # use dummy label -99
    np_array = np.array([float(x) for x in predictions[0]])
    return np_array  # corpus: returned for the check instead of plot_feature_contributions


# ---- [20] ----
a_young_abalone = "6 1:3 2:0.37 3:0.29 4:0.095 5:0.249 6:0.1045 7:0.058 8:0.067"
young = predict_and_plot(predictor, a_young_abalone)

# ---- [22] ----
an_old_abalone = "15 1:1 2:0.655 3:0.53 4:0.175 5:1.2635 6:0.486 7:0.2635 8:0.415"
old = predict_and_plot(predictor, an_old_abalone)

# ---- corpus check (not in the notebook) ----
# prediction, then one SHAP value per feature column (libsvm's unused column 0 included) and
# the bias, which the notebook unpacks as ``prediction, _, *shap_values, bias``: the
# contributions add up to the prediction.
for row in (young, old):
    assert row.shape == (11,), row.shape
    np.testing.assert_allclose(row[1:].sum(), row[0], rtol=1e-3)
print("young", young[0], "old", old[0])
assert old[0] > young[0] + 2, (young[0], old[0])
df = hp_tuner.analytics().dataframe()
assert len(df) == max_jobs and (df["TrainingJobStatus"] == "Completed").all(), df

# ---- [24] ----
predictor.delete_endpoint()
