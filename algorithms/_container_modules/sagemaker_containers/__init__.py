"""``sagemaker_containers`` (aws/sagemaker-containers, the training toolkit inside the XGBoost
framework container), the parts framework-mode scripts use: ``entry_point``,
``training_env()``, content types and errors."""



def training_env():
    """The job's TrainingEnv, read from the SM_* variables that mlcore's script mode sets."""
    from . import _env

    return _env.TrainingEnv()
