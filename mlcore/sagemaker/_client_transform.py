"""The sagemaker_client's transform job operations (CreateTransformJob, DescribeTransformJob,
StopTransformJob, ListTransformJobs), on :mod:`mlcore.services.transform`. A created job runs
in a background thread of this process, as SageMaker runs it while the caller polls."""

from __future__ import annotations

from mlcore.records import TransformJobRecord
from mlcore.sagemaker._client_calls import arn, client_error, operation
from mlcore.services._shapes import when


class TransformOperations:
    """Batch transform jobs."""

    @operation("CreateTransformJob")
    def create_transform_job(self, TransformJobName: str, ModelName: str, TransformInput: dict,
                             TransformOutput: dict, TransformResources: dict,
                             MaxConcurrentTransforms: int | None = None,
                             ModelClientConfig: dict | None = None,
                             MaxPayloadInMB: int | None = None, BatchStrategy: str | None = None,
                             Environment: dict | None = None, DataProcessing: dict | None = None,
                             Tags: list | None = None) -> dict:
        from mlcore.sagemaker.transformer import _handle, _model_ref
        from mlcore.services import transform
        from mlcore.specs import TransformJob

        if TransformJobRecord.exists(TransformJobName):
            raise client_error("CreateTransformJob", "Job name must be unique within an AWS "
                               f'account and region, and a job with this name already exists '
                               f'({arn("transform-job", TransformJobName)})')
        try:
            ref = _model_ref(ModelName)
        except ValueError:
            raise client_error("CreateTransformJob", f'Could not find model "{arn("model", ModelName)}".') from None
        source = TransformInput["DataSource"]["S3DataSource"]
        dp, timeout = DataProcessing or {}, (ModelClientConfig or {}).get("InvocationsTimeoutInSeconds")
        spec = TransformJob(
            name=TransformJobName, model=ref, data=source["S3Uri"],
            data_type=source.get("S3DataType", "S3Prefix"),
            content_type=TransformInput.get("ContentType"),
            compression_type=TransformInput.get("CompressionType"),
            split_type=TransformInput.get("SplitType"),
            output_path=TransformOutput["S3OutputPath"], accept=TransformOutput.get("Accept"),
            assemble_with=TransformOutput.get("AssembleWith"), strategy=BatchStrategy,
            max_payload=6 if MaxPayloadInMB is None else MaxPayloadInMB,
            max_concurrent_transforms=MaxConcurrentTransforms,
            instance_type=TransformResources["InstanceType"],
            instance_count=TransformResources["InstanceCount"],
            input_filter=dp.get("InputFilter"), output_filter=dp.get("OutputFilter"),
            join_source=dp.get("JoinSource"), env=Environment or {}, tags=Tags or {},
            **({"invocation_timeout_s": timeout} if timeout else {}))
        plan = transform.prepare(spec)
        _handle(plan.name).start(lambda: transform.execute(plan, logs=False))
        return {"TransformJobArn": arn("transform-job", plan.name)}

    @operation("DescribeTransformJob")
    def describe_transform_job(self, TransformJobName: str) -> dict:
        from mlcore.services import transform

        if not TransformJobRecord.exists(TransformJobName):
            raise client_error("DescribeTransformJob", "Could not find requested job with name "
                               f"{TransformJobName}")
        return transform.describe(TransformJobName)

    @operation("StopTransformJob")
    def stop_transform_job(self, TransformJobName: str) -> dict:
        from mlcore.services import transform

        transform.stop(TransformJobName)
        return {}

    @operation("ListTransformJobs")
    def list_transform_jobs(self, MaxResults: int = 10, NameContains: str | None = None,
                            StatusEquals: str | None = None) -> dict:
        recs = sorted(TransformJobRecord.list(), key=lambda r: r.CreationTime, reverse=True)
        return {"TransformJobSummaries": [{
            "TransformJobName": r.TransformJobName,
            "TransformJobArn": arn("transform-job", r.TransformJobName),
            "CreationTime": when(r.CreationTime), "TransformEndTime": when(r.TransformEndTime),
            "TransformJobStatus": str(r.TransformJobStatus), "FailureReason": r.FailureReason}
            for r in recs
            if (not NameContains or NameContains.lower() in r.TransformJobName.lower())
            and (not StatusEquals or str(r.TransformJobStatus) == StatusEquals)][:MaxResults]}
