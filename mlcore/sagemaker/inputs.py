"""``sagemaker.inputs``: describing a training channel."""

from __future__ import annotations

from mlcore.sagemaker import _args


class TrainingInput:
    """One channel: ``TrainingInput(s3_data, content_type=None, ...)`` as in SageMaker v2.

    ``s3_data`` may be any URI mlcore reads (local path, file://, s3://). Distribution,
    compression and input-mode arguments are accepted for portability; workers always read
    their own share of the files.
    """

    def __init__(self, s3_data: str, distribution: str | None = None, compression: str | None = None,
                 content_type: str | None = None, record_wrapping: str | None = None,
                 s3_data_type: str = "S3Prefix", input_mode: str | None = None, **kwargs):
        _args.accept("TrainingInput", kwargs, TrainingInput.__init__)
        self.s3_data = s3_data
        self.content_type = content_type
        self.input_mode = input_mode or "File"
        self.distribution = distribution
        self.config = {"DataSource": {"S3DataSource": {"S3Uri": s3_data, "S3DataType": s3_data_type}},
                       "ContentType": content_type}


__all__ = ["TrainingInput"]
