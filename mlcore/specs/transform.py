"""The transform job spec (SageMaker's CreateTransformJob), shared by YAML and the Python API:
which model scores which files, how the files are split into records and records into
requests, and how the answers are assembled next to the inputs. The fields are v2's
``Transformer(...)`` and ``Transformer.transform(...)`` keywords."""

from __future__ import annotations

import os
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mlcore.errors import SpecError
from mlcore.specs._base import (
    Spec,
    TransformJobName,
    check_instance_type,
    format_problems,
    shown,
    tag_dict,
)
from mlcore.specs.endpoint import ModelRef

# Input content types a transform reads, and the splits each allows ("None": a whole file is
# one request, as SageMaker sends it).
SPLITS: dict[str, tuple[str, ...]] = {
    "text/csv": ("None", "Line"),
    "application/jsonlines": ("None", "Line"),
    "application/json": ("None", "Line"),  # Line: one JSON document per line
    "text/libsvm": ("None", "Line"),
    "text/x-libsvm": ("None", "Line"),
    "application/x-recordio-protobuf": ("None", "RecordIO"),
    "application/x-parquet": ("None",),  # always read by rows (see split_type)
    "application/x-npy": ("None",),
}
# A file's type when content_type is not given, by its suffix (after .gz).
SUFFIX_TYPES = {".csv": "text/csv", ".jsonl": "application/jsonlines",
                ".json": "application/json", ".parquet": "application/x-parquet",
                ".libsvm": "text/libsvm", ".svm": "text/libsvm", ".npy": "application/x-npy",
                ".rec": "application/x-recordio-protobuf", ".pbr": "application/x-recordio-protobuf"}


def media_type(value: str | None) -> str | None:
    """``text/csv`` of ``Text/CSV; label_size=1``."""
    return value.split(";")[0].strip().lower() if value else None


class TransformJob(Spec):
    """A batch transform job: score every file under ``data`` with ``model`` and write
    ``<output_path>/<file's path under data>.out`` per input file."""

    KIND: ClassVar[str] = "TransformJob"
    kind: Literal["TransformJob"] = Field("TransformJob", description="Spec kind.")
    name: TransformJobName | None = Field(
        None, description="Transform job name (alphanumerics and hyphens, <= 63); null: "
        "generated from the model's.")
    model: ModelRef = Field(description="The model that scores the records: a registered "
                            "version, a training job's model, or an artifact (model_data).")
    data: str = Field(description="S3Prefix: a file, folder or prefix (local, s3:// or any "
                      "fsspec URI), every file under it scored; ManifestFile: a SageMaker "
                      "manifest listing the files.")
    data_type: Literal["S3Prefix", "ManifestFile"] = Field(
        "S3Prefix", description="What data names: a prefix of files or a manifest file.")
    content_type: str | None = Field(
        None, description="The records' MIME type (text/csv, application/jsonlines, "
        "application/json, text/libsvm, application/x-recordio-protobuf, "
        "application/x-parquet, application/x-npy); null: from the files' suffix, else text/csv.")
    compression_type: Literal["None", "Gzip"] | None = Field(
        None, description="Gzip: every input file is gzip-compressed; null or None: plain.")
    split_type: Literal["None", "Line", "RecordIO", "TFRecord"] | None = Field(
        None, description="How a file splits into records: Line, RecordIO, or None (null): the "
        "whole file is one record, one request. Parquet files are always read by rows.")
    output_path: str | None = Field(
        None, description="Where the .out files go (any URI); null: "
        "$MLCORE_HOME/transform/<job>.")
    accept: str | None = Field(
        None, description="The answers' MIME type; null: the model's default (text/csv for "
        "the built-in XGBoost).")
    assemble_with: Literal["None", "Line"] | None = Field(
        None, description="Line: each request's answer ends with a newline; None (null): "
        "answers are concatenated as they are.")
    strategy: Literal["SingleRecord", "MultiRecord"] | None = Field(
        None, description="Records per request: one (SingleRecord), or as many as fit "
        "max_payload (MultiRecord, the default).")
    max_payload: int = Field(6, ge=0, le=100, description="Largest request in MB; 0: no "
                             "limit of its own (SageMaker's chunked requests), i.e. 100 MB.")
    max_concurrent_transforms: int | None = Field(
        None, ge=1, description="Requests scored at once per instance, each by its own copy "
        "of the model; null: one per vCPU of the instance type (up to the cluster's CPUs).")
    instance_type: str = Field("local", description="Instance type of each instance.")
    instance_count: int = Field(1, ge=1, description="Instances (scoring actors x concurrency).")
    input_filter: str | None = Field(
        None, description="JSONPath picking what of each record the model sees (a CSV row is "
        "an array of its fields), e.g. '$[1:]'.")
    output_filter: str | None = Field(
        None, description="JSONPath picking what of each (joined) output record is written, "
        "e.g. '$[0,-1]'.")
    join_source: Literal["None", "Input"] | None = Field(
        None, description="Input: each output record joined to its input record (CSV: the "
        "input's fields then the output's; JSON: the output under 'SageMakerOutput').")
    max_error_rate: float = Field(
        0.0, ge=0, le=1, description="Share of a file's records that may fail (each written to "
        "<file>.errors.jsonl, an empty line in its place) before the file fails; 0: one bad "
        "record fails its file (the other files still finish).")
    invocation_timeout_s: float = Field(
        600.0, gt=0, le=3600, description="Longest one request may take; a job that completes "
        "no request for this long fails, naming what stalled (model_client_config's "
        "InvocationsTimeoutInSeconds).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables set "
                                "in each scoring process before the model loads.")
    allow_unapproved: bool = Field(
        False, description="Score with a registered version that is not Approved.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags ({k: v} or [{Key, Value}]).")

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_list(cls, v):
        return tag_dict(v)

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, v: str) -> str:
        return check_instance_type(v)

    def resolve_paths(self, resolve) -> None:
        if "://" not in self.data:
            self.data = resolve(self.data)
        if self.output_path and "://" not in self.output_path:
            self.output_path = resolve(self.output_path)
        ref = self.model
        if ref.model_data and "://" not in ref.model_data:
            ref.model_data = resolve(ref.model_data)
        if ref.source_dir:
            ref.source_dir = resolve(ref.source_dir)
        elif ref.entry_point and os.path.exists(resolve(ref.entry_point)):
            ref.entry_point = resolve(ref.entry_point)
        ref.dependencies = [resolve(d) for d in ref.dependencies]

    @model_validator(mode="after")
    def _cross_field(self, info) -> TransformJob:
        if (info.context or {}).get("skip_cross"):  # parse_spec reports them with the rest
            return self
        problems = self.cross_field_problems(self.model_dump())
        if problems:
            raise SpecError(format_problems(problems), problems)
        return self

    @classmethod
    def cross_field_problems(cls, data: dict) -> list[tuple[str, str]]:
        problems = []
        kind = media_type(data.get("content_type"))
        split = data.get("split_type") or "None"
        if split == "TFRecord":
            problems.append(("split_type", "TFRecord is not supported; convert the records to "
                             "RecordIO-protobuf or JSON Lines (split_type RecordIO or Line)"))
        elif kind is not None and kind not in SPLITS:
            problems.append(("content_type", f"unsupported content type {shown(kind)}; use one "
                             f"of {', '.join(SPLITS)}"))
        elif kind is not None and split not in SPLITS[kind]:
            problems.append(("split_type", f"split_type {split} does not fit content_type {kind}; "
                             f"use {' or '.join(SPLITS[kind])}"))
        if data.get("model") and isinstance(data["model"], dict) and data["model"].get(
                "model_data_prefix"):
            problems.append(("model", "a transform scores with one model; give name, "
                             "training_job or model_data, not model_data_prefix"))
        if any(data.get(f) for f in ("input_filter", "output_filter")) or \
                data.get("join_source") == "Input":
            if split == "None":
                problems.append(("split_type", "input_filter, output_filter and join_source work "
                                 "per record; set split_type Line (or RecordIO; Parquet files take none of them)"))
        return problems
