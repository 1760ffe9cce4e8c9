"""``sagemaker.async_inference``: the configuration of an async endpoint
(``AsyncInferenceConfig``, given to ``deploy``), how long to wait for a result
(``WaiterConfig``) and the handle on one request's result (``AsyncInferenceResponse``)."""

from mlcore.sagemaker.async_inference.async_inference_config import AsyncInferenceConfig
from mlcore.sagemaker.async_inference.async_inference_response import AsyncInferenceResponse
from mlcore.sagemaker.async_inference.waiter_config import WaiterConfig

__all__ = ["AsyncInferenceConfig", "AsyncInferenceResponse", "WaiterConfig"]
