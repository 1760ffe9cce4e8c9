"""Argument parsing and dispatch; every user mistake ends as one line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from mlcore.errors import MLCoreError, SpecError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlcore", description="SageMaker's ML workflow on Ray.")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a spec file (dispatch on its kind)")
    r.add_argument("file")
    r.add_argument("--job-name", help="override the spec's name")
    r.add_argument("--quiet", action="store_true", help="no per-round progress")

    t = sub.add_parser("tune", help="run a TuningJob spec, or resume one")
    t.add_argument("file", nargs="?", help="TuningJob spec file")
    t.add_argument("--resume", metavar="NAME", help="resume the unfinished tuning job NAME")
    t.add_argument("--job-name", help="override the spec's name")
    t.add_argument("--quiet", action="store_true", help="no per-trial lines")

    tj = sub.add_parser("tuning-jobs", help="tuning job records")
    tjsub = tj.add_subparsers(dest="action", required=True)
    tjsub.add_parser("list")
    for action in ("describe", "results", "stop"):
        a = tjsub.add_parser(action)
        a.add_argument("name")

    dp = sub.add_parser("deploy", help="deploy an Endpoint spec (on an embedded Ray: serve "
                        "until Ctrl-C)")
    dp.add_argument("file")

    e = sub.add_parser("endpoints", help="realtime endpoints")
    esub = e.add_subparsers(dest="action", required=True)
    esub.add_parser("list")
    for action in ("describe", "delete"):
        a = esub.add_parser(action)
        a.add_argument("name")
    uw = esub.add_parser("update-weights", help="set variant traffic weights in place")
    uw.add_argument("name")
    uw.add_argument("weights", nargs="+", metavar="VARIANT=WEIGHT")

    v = sub.add_parser("validate", help="check spec files without running them")
    v.add_argument("files", nargs="+")

    s = sub.add_parser("schema", help="print the JSON schema of a spec kind (for editors)")
    s.add_argument("kind", nargs="?", default="TrainingJob")

    j = sub.add_parser("jobs", help="training job records")
    jsub = j.add_subparsers(dest="action", required=True)
    jsub.add_parser("list")
    d = jsub.add_parser("describe")
    d.add_argument("name")

    m = sub.add_parser("models", help="the model registry")
    msub = m.add_subparsers(dest="action", required=True)
    ml = msub.add_parser("list", help="groups, or the versions of one group")
    ml.add_argument("group", nargs="?")
    for action in ("describe", "approve", "reject"):
        a = msub.add_parser(action)
        a.add_argument("group")
        a.add_argument("version", type=int)

    sub.add_parser("instances", help="the instance-type catalog")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # Ray Serve's driver-side INFO lines would drown the job's own output
        from mlcore import constants

        logging.getLogger("ray.serve").setLevel(constants.ray_log_level())
    if args.address:
        os.environ["RAY_ADDRESS"] = args.address
    try:
        return _dispatch(args)
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except MLCoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    from mlcore.cli import _commands as c

    if args.command == "run":
        return c.run(args.file, args.job_name, quiet=args.quiet)
    if args.command == "tune":
        if bool(args.file) == bool(args.resume):
            raise SpecError("mlcore tune takes a spec file or --resume NAME (one of them)")
        return c.tune(args.file, args.job_name, args.resume, quiet=args.quiet)
    if args.command == "tuning-jobs":
        return c.tuning_jobs(args.action, getattr(args, "name", None))
    if args.command == "deploy":
        return c.deploy(args.file)
    if args.command == "endpoints":
        return c.endpoints(args.action, getattr(args, "name", None), getattr(args, "weights", None))
    if args.command == "validate":
        return c.validate(args.files)
    if args.command == "schema":
        print(json.dumps(c.schema(args.kind), indent=2))
        return 0
    if args.command == "jobs":
        return c.jobs_list() if args.action == "list" else c.jobs_describe(args.name)
    if args.command == "models":
        if args.action == "list":
            return c.models_list(args.group)
        return c.models_action(args.action, args.group, args.version)
    if args.command == "instances":
        return c.instances()
    raise AssertionError(args.command)
