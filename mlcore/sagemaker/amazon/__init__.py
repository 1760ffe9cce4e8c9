"""``sagemaker.amazon``: SageMaker's own algorithms' module paths."""
