"""``sagemaker.amazon.factorization_machines``: ``FactorizationMachines``,
``FactorizationMachinesModel``, ``FactorizationMachinesPredictor`` (answers: ``score``,
``predicted_label`` for binary classifiers)."""

from __future__ import annotations

from mlcore.sagemaker.amazon._model import AlgorithmModel, RecordPredictor
from mlcore.sagemaker.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase
from mlcore.sagemaker.amazon.hyperparameter import Hyperparameter as hp
from mlcore.sagemaker.amazon.validation import ge, gt, isin


class FactorizationMachines(AmazonAlgorithmEstimatorBase):
    """Factorization machines: a binary classifier or a regressor with pairwise feature
    interactions of rank ``num_factors``."""

    repo_name: str = "factorization-machines"
    repo_version: str = "1"

    num_factors: hp = hp("num_factors", gt(0), "An integer greater than zero", int)
    predictor_type: hp = hp(
        "predictor_type",
        isin("binary_classifier", "regressor"),
        'Value "binary_classifier" or "regressor"',
        str,
    )
    epochs: hp = hp("epochs", gt(0), "An integer greater than 0", int)
    clip_gradient: hp = hp("clip_gradient", (), "A float value", float)
    eps: hp = hp("eps", (), "A float value", float)
    rescale_grad: hp = hp("rescale_grad", (), "A float value", float)
    bias_lr: hp = hp("bias_lr", ge(0), "A non-negative float", float)
    linear_lr: hp = hp("linear_lr", ge(0), "A non-negative float", float)
    factors_lr: hp = hp("factors_lr", ge(0), "A non-negative float", float)
    bias_wd: hp = hp("bias_wd", ge(0), "A non-negative float", float)
    linear_wd: hp = hp("linear_wd", ge(0), "A non-negative float", float)
    factors_wd: hp = hp("factors_wd", ge(0), "A non-negative float", float)
    bias_init_method: hp = hp(
        "bias_init_method",
        isin("normal", "uniform", "constant"),
        'Value "normal", "uniform" or "constant"',
        str,
    )
    bias_init_scale: hp = hp("bias_init_scale", ge(0), "A non-negative float", float)
    bias_init_sigma: hp = hp("bias_init_sigma", ge(0), "A non-negative float", float)
    bias_init_value: hp = hp("bias_init_value", (), "A float value", float)
    linear_init_method: hp = hp(
        "linear_init_method",
        isin("normal", "uniform", "constant"),
        'Value "normal", "uniform" or "constant"',
        str,
    )
    linear_init_scale: hp = hp("linear_init_scale", ge(0), "A non-negative float", float)
    linear_init_sigma: hp = hp("linear_init_sigma", ge(0), "A non-negative float", float)
    linear_init_value: hp = hp("linear_init_value", (), "A float value", float)
    factors_init_method: hp = hp(
        "factors_init_method",
        isin("normal", "uniform", "constant"),
        'Value "normal", "uniform" or "constant"',
        str,
    )
    factors_init_scale: hp = hp("factors_init_scale", ge(0), "A non-negative float", float)
    factors_init_sigma: hp = hp("factors_init_sigma", ge(0), "A non-negative float", float)
    factors_init_value: hp = hp("factors_init_value", (), "A float value", float)

    def __init__(self, role=None, instance_count=None, instance_type=None, num_factors=None,
                 predictor_type=None, epochs=None, clip_gradient=None, eps=None, rescale_grad=None,
                 bias_lr=None, linear_lr=None, factors_lr=None, bias_wd=None, linear_wd=None,
                 factors_wd=None, bias_init_method=None, bias_init_scale=None,
                 bias_init_sigma=None, bias_init_value=None, linear_init_method=None,
                 linear_init_scale=None, linear_init_sigma=None, linear_init_value=None,
                 factors_init_method=None, factors_init_scale=None, factors_init_sigma=None,
                 factors_init_value=None, **kwargs):
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_factors = num_factors
        self.predictor_type = predictor_type
        self.epochs = epochs
        self.clip_gradient = clip_gradient
        self.eps = eps
        self.rescale_grad = rescale_grad
        self.bias_lr = bias_lr
        self.linear_lr = linear_lr
        self.factors_lr = factors_lr
        self.bias_wd = bias_wd
        self.linear_wd = linear_wd
        self.factors_wd = factors_wd
        self.bias_init_method = bias_init_method
        self.bias_init_scale = bias_init_scale
        self.bias_init_sigma = bias_init_sigma
        self.bias_init_value = bias_init_value
        self.linear_init_method = linear_init_method
        self.linear_init_scale = linear_init_scale
        self.linear_init_sigma = linear_init_sigma
        self.linear_init_value = linear_init_value
        self.factors_init_method = factors_init_method
        self.factors_init_scale = factors_init_scale
        self.factors_init_sigma = factors_init_sigma
        self.factors_init_value = factors_init_value

    def _model_class(self):
        return FactorizationMachinesModel


class FactorizationMachinesPredictor(RecordPredictor):
    """Each answer: ``label["score"]`` and, for binary classifiers, ``label["predicted_label"]``."""


class FactorizationMachinesModel(AlgorithmModel):
    _repo_name, _predictor_cls = "factorization-machines", FactorizationMachinesPredictor


__all__ = ["FactorizationMachines", "FactorizationMachinesModel", "FactorizationMachinesPredictor"]
