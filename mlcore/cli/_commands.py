"""What each ``mlcore`` subcommand does, driven by the table of kinds.

A kind's service is imported when a command needs it (``Kind.service``): services import
Ray, which takes seconds, and ``mlcore models list`` or a spec error should not wait for it.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

from mlcore import _registry, constants
from mlcore._instances import CATALOG
from mlcore._names import MODEL_PACKAGE_GROUP_MAX, TRAINING_JOB_MAX, VARIANT_MAX, shown
from mlcore.errors import MLCoreError, SpecError
from mlcore.specs import KINDS, check_name, kind_of_noun, load_file


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def validate(files: list[str]) -> int:
    bad = 0
    for f in files:
        try:
            spec = load_file(f)
            KINDS[spec.kind].service.check(spec)  # models resolve, files exist, names are valid
            _say(f"{f}: valid {spec.kind}")
        except MLCoreError as e:
            bad += 1
            print(f"{f}: {e}", file=sys.stderr)
    return 2 if bad else 0


def schema(kind: str) -> int:
    _say(json.dumps(KINDS[kind].spec.model_json_schema(), indent=2))
    return 0


def run(path: str, job_name: str | None, quiet: bool = False, expect: str | None = None) -> int:
    spec = load_file(path)
    if expect and spec.kind != expect:
        raise SpecError(f"{path} is a {spec.kind} spec; this command takes kind: {expect} "
                        "(mlcore run takes any kind)", [("kind", f"not {expect}")])
    kind = KINDS[spec.kind]
    if job_name is not None:  # before the service runs: nothing is claimed, Ray not started
        check_name(job_name, "--job-name", _name_max(kind))
    result = kind.service.run(spec, job_name, logs=not quiet, say=_say)
    if not kind.service.succeeded(result):
        if kind.record is not None:
            print(f"error: {kind.record.NOUN} {result.name} {result.status}: "
                  f"{result.FailureReason}", file=sys.stderr)
        return 1
    if getattr(kind.service, "lives_with_driver", lambda: False)():
        _serve_until_interrupted(kind.service, result.name)
    return 0


def _serve_until_interrupted(service, name: str) -> None:
    """An endpoint on the embedded Ray lives as long as this process: serve until Ctrl-C (or
    MLCORE_DEPLOY_SERVE_S seconds), then delete it."""
    _say("serving from this process (embedded Ray); Ctrl-C stops the endpoint")
    end = time.monotonic() + constants.get("MLCORE_DEPLOY_SERVE_S")
    try:
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 3600))  # time.sleep(inf) overflows
    except KeyboardInterrupt:
        pass
    service.delete(name)
    _say(f"endpoint {name} deleted")


def transform(args) -> int:
    """``mlcore transform FILE`` or ``mlcore transform --model M --data URI [...]``."""
    flags = {k: getattr(args, k) for k in ("content_type", "split_type", "output_path",
                                           "accept", "assemble_with", "strategy")}
    if bool(args.file) == bool(args.model or args.data):
        raise SpecError("mlcore transform takes a TransformJob spec file, or --model and --data "
                        "(one of them)", [("transform", "spec file or --model/--data")])
    if args.file:
        spec = load_file(args.file)
        if spec.kind != "TransformJob":
            raise SpecError(f"{args.file} is a {spec.kind} spec; mlcore transform runs kind: "
                            "TransformJob", [("kind", "not TransformJob")])
    else:
        if not (args.model and args.data):
            raise SpecError("give both --model and --data", [("--model/--data", "missing")])
        from mlcore.specs import TransformJob

        spec = TransformJob(model=_model_flag(args.model, args.algorithm), data=args.data,
                            instance_type=args.instance_type, instance_count=args.instance_count,
                            **{k: v for k, v in flags.items() if v is not None})
    if args.job_name is not None:
        check_name(args.job_name, "--job-name", _name_max(KINDS["TransformJob"]))
    from mlcore.services import transform as service

    rec = service.run(spec, args.job_name, logs=not args.quiet, say=_say)
    if not service.succeeded(rec):
        print(f"error: transform job {rec.name} {rec.status}: {rec.FailureReason}",
              file=sys.stderr)
        return 1
    return 0


def _model_flag(model: str, algorithm: str | None) -> dict:
    if algorithm:
        return {"model_data": model, "algorithm": algorithm}
    group, sep, rest = model.partition("@") if "@" in model else model.partition("/")
    if not sep:
        return {"training_job": model}
    if "@" in model:
        return {"name": group, "alias": rest}
    try:
        return {"name": group, "version": int(rest)}
    except ValueError:
        raise SpecError(f"--model {shown(model)}: a registered version is GROUP/VERSION (a "
                        "number) or GROUP@alias; a model artifact needs --algorithm",
                        [("--model", "not GROUP/VERSION")]) from None


def _name_max(kind) -> int:
    """The longest name of ``kind``'s resources (its record's; 63 for a kind without one)."""
    return kind.record.NAME_MAX if kind.record is not None else TRAINING_JOB_MAX


def tune(path: str | None, job_name: str | None, resume: str | None, quiet: bool = False) -> int:
    tuning_max = _name_max(KINDS["TuningJob"])
    for flag, value in (("--job-name", job_name), ("--resume", resume)):
        if value is not None:
            check_name(value, flag, tuning_max)
    # Services import Ray (seconds): only the commands that run something load them.
    from mlcore.services import tuning

    if resume:
        spec = tuning.resume_spec(resume)
    else:
        spec = load_file(path)
        if spec.kind != "TuningJob":
            raise SpecError(f"{path} is a {spec.kind} spec; mlcore tune runs kind: TuningJob "
                            "(use mlcore run for other kinds)", [("kind", "not TuningJob")])
    rec = tuning.run(spec, job_name, logs=not quiet, say=_say, resume=resume)
    if not tuning.succeeded(rec):
        print(f"error: tuning job {rec.name} {rec.status}: {rec.FailureReason}", file=sys.stderr)
        return 1
    return 0


def noun(noun: str, action: str, name: str | None, weights: list[str] | None = None) -> int:
    """``mlcore <noun> <action> [NAME]`` for the kind whose CLI noun is ``noun``."""
    kind = kind_of_noun(noun)
    if name is not None:
        check_name(name, "NAME", _name_max(kind))
    service = kind.service
    if action == "list":
        _say("\n".join(service.rows()))
    elif action == "describe":
        describe = getattr(service, "describe_for_people", service.describe)
        _say(json.dumps(describe(name), indent=2, default=str))
    elif action == "stop":
        _say(service.stop(name))
    elif action == "delete":
        service.delete(name)
        _say(f"{kind.record.NOUN} {name} deleted")
    elif action == "results":
        _say(service.results(name).drop(columns=["FailureReason"]).to_string(index=False))
    elif action == "update-weights":
        d = service.update_weights(name, _weights(weights))
        _say(json.dumps({v["VariantName"]: v["CurrentWeight"] for v in d["ProductionVariants"]}))
    return 0


def _weights(pairs: list[str] | None) -> dict[str, float]:
    parsed = {}
    for w in pairs or []:
        variant, _, value = w.partition("=")
        check_name(variant, "VARIANT", VARIANT_MAX)
        try:
            parsed[variant] = float(value)
        except ValueError:
            raise SpecError(f"weights are VARIANT=NUMBER; got {shown(w)}", [("weights", shown(w))]) from None
    if not parsed:
        raise SpecError("give at least one VARIANT=WEIGHT", [("weights", "none")])
    return parsed


def models(action: str, group: str | None, version: int | None) -> int:
    if group is not None:
        check_name(group, "GROUP", MODEL_PACKAGE_GROUP_MAX)
    if action == "list" and group is None:
        groups = _registry.list_groups()
        _say("\n".join(groups) if groups else "no model package groups yet")
    elif action == "list":
        _say(f"{'VERSION':>7} {'STATUS':22} {'JOB':40} SOURCE")
        for p in _registry.list_versions(group):
            _say(f"{p.version:>7} {p.approval_status:22} {p.job_name or '-':40} {p.source}")
    else:
        if action == "describe":
            pkg = _registry.describe(group, version)
        else:
            pkg = _registry.set_approval(group, version, "Approved" if action == "approve" else "Rejected")
        _say(json.dumps({**asdict(pkg), "model_uri": pkg.model_uri}, indent=2))
    return 0


def instances() -> int:
    _say(f"{'TYPE':20} {'CPU':>4} {'MEM GiB':>8} {'GPU':>4} {'NEURON':>6}")
    _say(f"{'local':20} {1:>4} {'-':>8} {0:>4} {0:>6}   (one CPU per worker)")
    for t in CATALOG.values():
        _say(f"{t.name:20} {t.cpus:>4} {t.memory_gib:>8g} {t.gpus:>4} {t.neuron_cores:>6}")
    return 0
