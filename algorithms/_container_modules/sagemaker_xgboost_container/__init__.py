"""``sagemaker_xgboost_container`` (aws/sagemaker-xgboost-container), the modules that
XGBoost framework-mode scripts import: ``distributed`` (``rabit_run``), ``data_utils``
(``get_dmatrix``) and ``encoder`` (request bodies as DMatrix)."""
