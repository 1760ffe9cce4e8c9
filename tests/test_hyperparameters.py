"""XGBoost's SageMaker-named hyperparameters: conversion from strings, ranges, names."""

import pytest

from algorithms._xgboost import metric_names, xgboost_params
from mlcore import AlgorithmError


def test_strings_convert_like_sagemaker_passes_them():
    params, rounds, early = xgboost_params({"num_round": "20", "eta": "0.3", "max_depth": "4",
                                            "objective": "binary:logistic", "eval_metric": "auc,logloss",
                                            "early_stopping_rounds": "5", "subsample": 1})
    assert rounds == 20 and early == 5
    assert params == {"eta": 0.3, "max_depth": 4, "objective": "binary:logistic",
                      "eval_metric": ["auc", "logloss"], "subsample": 1.0}


@pytest.mark.parametrize("hp,words", [
    ({}, "num_round is required"),
    ({"num_round": 0}, "num_round must be >= 1"),
    ({"num_round": "ten"}, "num_round must be int; got 'ten'"),
    ({"num_round": 5, "eta": 1.5}, "eta must be <= 1.0"),
    ({"num_round": 5, "subsample": 0}, "subsample must be > 0.0"),
    ({"num_round": 5, "max_dept": 3}, "did you mean 'max_depth'"),
    ({"num_round": 5, "objective": "binary:logit"}, "objective must be one of"),
    ({"num_round": 5, "objective": "multi:softmax"}, "num_class is required"),
    ({"num_round": 5, "objective": "binary:logistic", "eval_metric": "auc,acc"},
     "eval_metric acc unknown"),
])
def test_bad_hyperparameters(hp, words):
    with pytest.raises(AlgorithmError, match=words):
        xgboost_params(hp)


def test_all_problems_listed():
    with pytest.raises(AlgorithmError) as info:
        xgboost_params({"eta": 3, "gama": 1})
    assert len(info.value.fields["problems"]) == 3  # eta, gama, missing num_round


def test_metric_names_follow_sagemaker():
    assert metric_names({"num_round": 1, "objective": "binary:logistic"}, ["train", "validation"]) == [
        "train:logloss", "validation:logloss"]
    assert metric_names({"num_round": 1, "eval_metric": "rmse,mae"}, ["validation"]) == [
        "validation:rmse", "validation:mae"]
