"""``sagemaker.amazon.linear_learner``: ``LinearLearner``, ``LinearLearnerModel``,
``LinearLearnerPredictor`` (answers: ``score``, ``predicted_label``)."""

from __future__ import annotations

from mlcore.sagemaker.amazon._model import AlgorithmModel, RecordPredictor
from mlcore.sagemaker.amazon.amazon_estimator import AmazonAlgorithmEstimatorBase, _train
from mlcore.sagemaker.amazon.hyperparameter import Hyperparameter as hp
from mlcore.sagemaker.amazon.validation import ge, gt, isin, le, lt


class LinearLearner(AmazonAlgorithmEstimatorBase):
    """Linear models: binary or multiclass classifiers and regressors (``predictor_type``)."""

    repo_name: str = "linear-learner"
    repo_version: str = "1"

    DEFAULT_MINI_BATCH_SIZE: int = 1000

    binary_classifier_model_selection_criteria: hp = hp(
        "binary_classifier_model_selection_criteria",
        isin(
            "accuracy",
            "f1",
            "f_beta",
            "precision_at_target_recall",
            "recall_at_target_precision",
            "cross_entropy_loss",
            "loss_function",
        ),
        data_type=str,
    )
    target_recall: hp = hp("target_recall", (gt(0), lt(1)), "A float in (0,1)", float)
    target_precision: hp = hp("target_precision", (gt(0), lt(1)), "A float in (0,1)", float)
    positive_example_weight_mult: hp = hp(
        "positive_example_weight_mult", (), "A float greater than 0 or 'auto' or 'balanced'", str
    )
    epochs: hp = hp("epochs", gt(0), "An integer greater-than 0", int)
    predictor_type: hp = hp(
        "predictor_type",
        isin("binary_classifier", "regressor", "multiclass_classifier"),
        'One of "binary_classifier" or "multiclass_classifier" or "regressor"',
        str,
    )
    use_bias: hp = hp("use_bias", (), "Either True or False", bool)
    num_models: hp = hp("num_models", gt(0), "An integer greater-than 0", int)
    num_calibration_samples: hp = hp(
        "num_calibration_samples", gt(0), "An integer greater-than 0", int
    )
    init_method: hp = hp(
        "init_method", isin("uniform", "normal"), 'One of "uniform" or "normal"', str
    )
    init_scale: hp = hp("init_scale", gt(0), "A float greater-than 0", float)
    init_sigma: hp = hp("init_sigma", gt(0), "A float greater-than 0", float)
    init_bias: hp = hp("init_bias", (), "A number", float)
    optimizer: hp = hp(
        "optimizer",
        isin("sgd", "adam", "rmsprop", "auto"),
        'One of "sgd", "adam", "rmsprop" or "auto',
        str,
    )
    loss: hp = hp(
        "loss",
        isin(
            "logistic",
            "squared_loss",
            "absolute_loss",
            "hinge_loss",
            "eps_insensitive_squared_loss",
            "eps_insensitive_absolute_loss",
            "quantile_loss",
            "huber_loss",
            "softmax_loss",
            "auto",
        ),
        '"logistic", "squared_loss", "absolute_loss", "hinge_loss", "eps_insensitive_squared_loss",'
        ' "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss", "softmax_loss" or "auto"',
        str,
    )
    wd: hp = hp("wd", ge(0), "A float greater-than or equal to 0", float)
    l1: hp = hp("l1", ge(0), "A float greater-than or equal to 0", float)
    momentum: hp = hp("momentum", (ge(0), lt(1)), "A float in [0,1)", float)
    learning_rate: hp = hp("learning_rate", gt(0), "A float greater-than 0", float)
    beta_1: hp = hp("beta_1", (ge(0), lt(1)), "A float in [0,1)", float)
    beta_2: hp = hp("beta_2", (ge(0), lt(1)), "A float in [0,1)", float)
    bias_lr_mult: hp = hp("bias_lr_mult", gt(0), "A float greater-than 0", float)
    bias_wd_mult: hp = hp("bias_wd_mult", ge(0), "A float greater-than or equal to 0", float)
    use_lr_scheduler: hp = hp("use_lr_scheduler", (), "A boolean", bool)
    lr_scheduler_step: hp = hp("lr_scheduler_step", gt(0), "An integer greater-than 0", int)
    lr_scheduler_factor: hp = hp("lr_scheduler_factor", (gt(0), lt(1)), "A float in (0,1)", float)
    lr_scheduler_minimum_lr: hp = hp(
        "lr_scheduler_minimum_lr", gt(0), "A float greater-than 0", float
    )
    normalize_data: hp = hp("normalize_data", (), "A boolean", bool)
    normalize_label: hp = hp("normalize_label", (), "A boolean", bool)
    unbias_data: hp = hp("unbias_data", (), "A boolean", bool)
    unbias_label: hp = hp("unbias_label", (), "A boolean", bool)
    num_point_for_scaler: hp = hp("num_point_for_scaler", gt(0), "An integer greater-than 0", int)
    margin: hp = hp("margin", ge(0), "A float greater-than or equal to 0", float)
    quantile: hp = hp("quantile", (gt(0), lt(1)), "A float in (0,1)", float)
    loss_insensitivity: hp = hp("loss_insensitivity", gt(0), "A float greater-than 0", float)
    huber_delta: hp = hp("huber_delta", ge(0), "A float greater-than or equal to 0", float)
    early_stopping_patience: hp = hp(
        "early_stopping_patience", gt(0), "An integer greater-than 0", int
    )
    early_stopping_tolerance: hp = hp(
        "early_stopping_tolerance", gt(0), "A float greater-than 0", float
    )
    num_classes: hp = hp("num_classes", (gt(0), le(1000000)), "An integer in [1,1000000]", int)
    accuracy_top_k: hp = hp(
        "accuracy_top_k", (gt(0), le(1000000)), "An integer in [1,1000000]", int
    )
    f_beta: hp = hp("f_beta", gt(0), "A float greater-than 0", float)
    balance_multiclass_weights: hp = hp("balance_multiclass_weights", (), "A boolean", bool)

    def __init__(self, role=None, instance_count=None, instance_type=None, predictor_type=None,
                 binary_classifier_model_selection_criteria=None, target_recall=None,
                 target_precision=None, positive_example_weight_mult=None, epochs=None,
                 use_bias=None, num_models=None, num_calibration_samples=None, init_method=None,
                 init_scale=None, init_sigma=None, init_bias=None, optimizer=None, loss=None,
                 wd=None, l1=None, momentum=None, learning_rate=None, beta_1=None, beta_2=None,
                 bias_lr_mult=None, bias_wd_mult=None, use_lr_scheduler=None,
                 lr_scheduler_step=None, lr_scheduler_factor=None, lr_scheduler_minimum_lr=None,
                 normalize_data=None, normalize_label=None, unbias_data=None, unbias_label=None,
                 num_point_for_scaler=None, margin=None, quantile=None, loss_insensitivity=None,
                 huber_delta=None, early_stopping_patience=None, early_stopping_tolerance=None,
                 num_classes=None, accuracy_top_k=None, f_beta=None,
                 balance_multiclass_weights=None, **kwargs):
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.predictor_type = predictor_type
        self.binary_classifier_model_selection_criteria = binary_classifier_model_selection_criteria
        self.target_recall = target_recall
        self.target_precision = target_precision
        self.positive_example_weight_mult = positive_example_weight_mult
        self.epochs = epochs
        self.use_bias = use_bias
        self.num_models = num_models
        self.num_calibration_samples = num_calibration_samples
        self.init_method = init_method
        self.init_scale = init_scale
        self.init_sigma = init_sigma
        self.init_bias = init_bias
        self.optimizer = optimizer
        self.loss = loss
        self.wd = wd
        self.l1 = l1
        self.momentum = momentum
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.bias_lr_mult = bias_lr_mult
        self.bias_wd_mult = bias_wd_mult
        self.use_lr_scheduler = use_lr_scheduler
        self.lr_scheduler_step = lr_scheduler_step
        self.lr_scheduler_factor = lr_scheduler_factor
        self.lr_scheduler_minimum_lr = lr_scheduler_minimum_lr
        self.normalize_data = normalize_data
        self.normalize_label = normalize_label
        self.unbias_data = unbias_data
        self.unbias_label = unbias_label
        self.num_point_for_scaler = num_point_for_scaler
        self.margin = margin
        self.quantile = quantile
        self.loss_insensitivity = loss_insensitivity
        self.huber_delta = huber_delta
        self.early_stopping_patience = early_stopping_patience
        self.early_stopping_tolerance = early_stopping_tolerance
        self.num_classes = num_classes
        self.accuracy_top_k = accuracy_top_k
        self.f_beta = f_beta
        self.balance_multiclass_weights = balance_multiclass_weights
        if self.predictor_type == "multiclass_classifier" and (
                num_classes is None or int(num_classes) < 3):
            raise ValueError("For predictor_type 'multiclass_classifier', 'num_classes' should be "
                             "set to a value greater than 2.")

    def _model_class(self):
        return LinearLearnerModel

    def _prepare_for_training(self, records, mini_batch_size=None, job_name=None):
        num_records = _train(records).num_records
        super()._prepare_for_training(
            records, mini_batch_size=mini_batch_size or self._get_default_mini_batch_size(
                num_records), job_name=job_name)


class LinearLearnerPredictor(RecordPredictor):
    """Each answer: ``label["score"]`` and, for classifiers, ``label["predicted_label"]``."""


class LinearLearnerModel(AlgorithmModel):
    _repo_name, _predictor_cls = "linear-learner", LinearLearnerPredictor


__all__ = ["LinearLearner", "LinearLearnerModel", "LinearLearnerPredictor"]
