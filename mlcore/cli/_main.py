"""Argument parsing and dispatch; every user mistake ends as one line on stderr.

The resource commands come from :data:`mlcore.specs.KINDS`: each kind with a CLI noun gets
``mlcore <noun> <verb> [NAME]`` for the verbs of its row (each a function of its service);
``run`` and ``validate`` dispatch on a spec's ``kind``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from mlcore.errors import MLCoreError, SpecError
from mlcore.specs import KINDS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlcore", description="SageMaker's ML workflow on Ray.")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="debug logging, and Ray's own output (else in $MLCORE_HOME/logs/)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help=f"run a spec file ({' | '.join(KINDS)}), dispatched on its kind")
    r.add_argument("file")
    r.add_argument("--job-name", help="override the spec's name")
    r.add_argument("--quiet", action="store_true", help="no per-round / per-trial progress")

    t = sub.add_parser("tune", help="run a TuningJob spec, or resume one")
    t.add_argument("file", nargs="?", help="TuningJob spec file")
    t.add_argument("--resume", metavar="NAME", help="resume the unfinished tuning job NAME")
    t.add_argument("--job-name", help="override the spec's name")
    t.add_argument("--quiet", action="store_true", help="no per-trial lines")

    dp = sub.add_parser("deploy", help="deploy an Endpoint spec (on an embedded Ray: serve "
                        "until Ctrl-C)")
    dp.add_argument("file")

    x = sub.add_parser("transform", help="run a batch transform: a TransformJob spec file, or "
                       "--model and --data")
    x.add_argument("file", nargs="?", help="TransformJob spec file")
    x.add_argument("--model", help="a training job, a registered version (GROUP/VERSION or "
                   "GROUP@alias), or a model.tar.gz / folder with --algorithm")
    x.add_argument("--algorithm", help="with a model artifact: the built-in it belongs to")
    x.add_argument("--data", help="input file, folder or prefix (any URI)")
    x.add_argument("--output-path", help="where the .out files go")
    x.add_argument("--content-type", help="the records' MIME type (default: from the suffix)")
    x.add_argument("--split-type", choices=["None", "Line", "RecordIO"], help="default: None "
                   "(a whole file is one request)")
    x.add_argument("--accept", help="the answers' MIME type")
    x.add_argument("--assemble-with", choices=["None", "Line"])
    x.add_argument("--strategy", choices=["SingleRecord", "MultiRecord"])
    x.add_argument("--instance-type", default="local")
    x.add_argument("--instance-count", type=int, default=1)
    x.add_argument("--job-name", help="the job's name (an unfinished job of this name resumes)")
    x.add_argument("--quiet", action="store_true", help="no progress lines")

    for kind in KINDS.values():
        if kind.noun:
            _noun_parser(sub, kind)

    v = sub.add_parser("validate", help="check spec files without running them")
    v.add_argument("files", nargs="+")

    s = sub.add_parser("schema", help="print the JSON schema of a spec kind (for editors)")
    s.add_argument("kind", nargs="?", default="TrainingJob", choices=list(KINDS))

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


def _noun_parser(sub, kind) -> None:
    n = sub.add_parser(kind.noun, help=f"{kind.record.NOUN} records")
    nsub = n.add_subparsers(dest="action", required=True)
    for verb in kind.verbs:
        a = nsub.add_parser(verb)
        if verb != "list":
            a.add_argument("name")
        if verb == "update-weights":
            a.add_argument("weights", nargs="+", metavar="VARIANT=WEIGHT")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.verbose:  # Ray's, Serve's and Train's own output on the terminal too
        os.environ["MLCORE_VERBOSE"] = "1"
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
    if args.command == "transform":
        return c.transform(args)
    if args.command == "deploy":
        return c.run(args.file, None, expect="Endpoint")
    if args.command == "validate":
        return c.validate(args.files)
    if args.command == "schema":
        return c.schema(args.kind)
    if args.command == "models":
        return c.models(args.action, getattr(args, "group", None), getattr(args, "version", None))
    if args.command == "instances":
        return c.instances()
    return c.noun(args.command, args.action, getattr(args, "name", None),
                  getattr(args, "weights", None))
