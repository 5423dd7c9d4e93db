"""Command line: python -m pygle_nest {build,info,demo,train,evaluate} (see --help)."""

import argparse
import functools
import json
import os
import sys
from pathlib import Path

from . import build as build_module
from .module import MODULE_ROOT

EPILOG = """examples:
  python -m pygle_nest info                      which NEST, which module, which models
  python -m pygle_nest demo                      LagLine: results/lagline.png and .json
  python -m pygle_nest train --epochs 3          MNIST-1D, the paper's network: results/train.png,
                                                 .json, and the checkpoint results/train.ckpt
  python -m pygle_nest train --resume            continue that run where it stopped (to its 3 epochs)
  python -m pygle_nest train --epochs 6 --resume continue it to 6 epochs
  python -m pygle_nest evaluate results/train.ckpt
Under mpirun the same commands run on all ranks (files and output from rank 0)."""

#: The default of train --epochs (a resumed run keeps its own).
EPOCHS = 150


def main(argv=None):
    from .parallel import stop_all_ranks_on_error

    stop_all_ranks_on_error()
    parser = argparse.ArgumentParser(prog="python -m pygle_nest", epilog=EPILOG, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="GLE networks in NEST: build the extension module, run the demo, "
                                                 "train and evaluate sequence classifiers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser = functools.partial(sub.add_parser, allow_abbrev=False)  # --epoch is not --epochs
    b = sub.add_parser("build", help="build the NEST extension module from nestml_models/ (cached)")
    b.add_argument("--force", action="store_true", help="rebuild even if the cache is up to date")
    sub.add_parser("info", help="versions, the NEST in use, and the module path")
    d = sub.add_parser("demo", help="LagLine: a GLE student learns a teacher's weights and time constants")
    d.add_argument("--time", type=float, default=6000.0, help="duration in ms (default 6000)")
    d.add_argument("--seed", type=int, default=1, help="seed of the student's initial values and the input")
    d.add_argument("--out", default="results/lagline", help="prefix of the .png and .json written")
    t = sub.add_parser("train", help="train a GLE classifier (default: MNIST-1D by the paper's protocol)",
                       description="Training in NEST by the paper's protocol (--lanes samples at a time, "
                                   "Adam every step, reduce-on-plateau), tested after every epoch with "
                                   "plasticity off. Writes OUT.png (learning curve), OUT.json and the "
                                   "checkpoint OUT.ckpt (a folder).")
    _add_config_arguments(t)
    t.add_argument("--epochs", type=int, help=f"epochs in all, counting resumed ones (default {EPOCHS}; "
                                              f"with --resume: the interrupted run's)")
    t.add_argument("--hours", type=float,
                   help="stop before an epoch that would end past this much time (judged by the last epoch; "
                        "with --resume: the interrupted run's)")
    t.add_argument("--out", default="results/train", help="prefix of the files written (default results/train)")
    t.add_argument("--checkpoint-every", type=int, default=2000,
                   help="samples between checkpoints within an epoch (default 2000; one is written after every epoch)")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT.ckpt with its own settings (settings given must equal them)")
    e = sub.add_parser("evaluate", help="test accuracy of a training checkpoint, in a fresh kernel")
    e.add_argument("checkpoint", help="a checkpoint written by train (OUT.ckpt)")
    e.add_argument("--data", help="the data set to test on (default: the one the checkpoint was trained on)")
    for p in (t, e):
        p.add_argument("--threads", type=int, default=1, help="NEST threads per process (default 1)")
    args = parser.parse_args(argv)
    checkpoint = Path(f"{args.out}.ckpt") if args.command == "train" else None
    found = _identity(checkpoint)  # to tell a checkpoint of this run from an earlier run's
    try:
        _run(args)
    except (ValueError, FileNotFoundError, build_module.BuildError) as err:  # the message, not a traceback
        parser.exit(2, f"{parser.prog} {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        hint = ""
        if checkpoint is not None:
            now = _identity(checkpoint)
            if now is not None and (args.resume or now != found):
                hint = (f"; the checkpoint {checkpoint} holds the last saved state: continue with --resume "
                        f"--out {args.out}")
            elif now is not None:
                hint = (f"; nothing of this run was saved ({checkpoint} is an earlier run's): start it again, "
                        f"without --resume")
            else:
                hint = f"; nothing was saved (no {checkpoint}): start the run again, without --resume"
        parser.exit(130, f"\n{parser.prog} {args.command}: interrupted{hint}\n")
    return 0


def _identity(path):
    """Inode and modification time of a checkpoint's manifest (None if absent): a save renames a
    new manifest over the old, so a written checkpoint has another identity."""
    if path is None or not (path / "manifest.json").exists():
        return None
    stat = os.stat(path / "manifest.json")
    return stat.st_ino, stat.st_mtime_ns


def _run(args):
    if args.command == "build":
        print(build_module.build(MODULE_ROOT, force=args.force))
    elif args.command == "info":
        _info()
    elif args.command == "demo":
        from .demo import lagline_demo
        lagline_demo(args.time, args.seed, args.out)
    elif args.command == "train":
        _train(args)
    elif args.command == "evaluate":
        from .classify import evaluate
        from .parallel import is_root
        accuracy, cost = evaluate(args.checkpoint, _threads(args.threads), data=args.data)
        if is_root():
            print(json.dumps({"test_accuracy": accuracy, "test_loss": cost}))


def _add_config_arguments(parser):
    from .classify import CONFIG, NETWORKS

    # no defaults here (None: not given): train fills them from CONFIG, or --resume from the checkpoint
    parser.add_argument("--data",
                        help="'mnist1d' (generated locally) or a .npz with x_train, y_train, x_test, y_test "
                             f"(x: samples x steps [x inputs], y: integer labels; default {CONFIG['data']})")
    for key, kind, text in (("train", int, "training samples used"), ("test", int, "test samples used"),
                            ("resolution", float, "ms per sequence point"), ("layers", int, "hidden layers"),
                            ("output_tau", float, "tau_m = tau_r of the output units (ms)"),
                            ("lanes", int, "samples at a time, through the shared weights (the paper's batch)"),
                            ("optimizer", str, "plain, momentum or adam"),
                            ("lr", float, "initial learning rate of weights and biases (per step)"),
                            ("rate_lag", int, "1: the error of step n learns with the rate of step n - 1 (the "
                                              "paper's scheme); 0: with the rate of step n"),
                            ("accumulate", int, "0: an optimizer step every time step (the paper); K >= 1: one "
                                                "per K batches, with the summed increments of their steps"),
                            ("patience", int, "epochs without improvement before the plateau schedule lowers the rate"),
                            ("factor", float, "the plateau schedule's factor"),
                            ("plateau_on", str, "the loss the schedule watches: test (as the paper) or validation"),
                            ("validation", int, "training samples held out for --plateau-on validation"),
                            ("lr_floor", float, "stop once the schedule has brought the rate below this"),
                            ("seed", int, "initial weights and the order of the samples")):
        parser.add_argument("--" + key.replace("_", "-"), type=kind, help=f"{text} (default {CONFIG[key]})")
    parser.add_argument("--microcircuit", action="store_const", const=True,
                        help="the explicit microcircuit: representation and error neurons apart (its connections "
                             "learn one step later: rate_lag 1 pairs the error of step n - 1 with the rate of n - 2)")
    layer = parser.add_mutually_exclusive_group()
    layer.add_argument("--groups", help=f"time-constant groups of a hidden layer, n:tau_m:tau_r,... "
                                        f"(default: the paper's, {_groups_text(CONFIG['groups'])})")
    layer.add_argument("--network", choices=NETWORKS,
                       help="the paper's MNIST-1D networks by their parameter count: "
                            + "; ".join(f"{k}: groups {_groups_text(v)}" for k, v in NETWORKS.items())
                            + " (default 15k)")


def _train(args):
    from . import checkpoint as checkpoints
    from .classify import CONFIG, NETWORKS, train

    out = args.out
    checkpoint = out + ".ckpt"
    given = {key: getattr(args, key) for key in CONFIG if getattr(args, key) is not None}
    if args.network is not None:
        given["groups"] = NETWORKS[args.network]
    elif "groups" in given:
        try:
            given["groups"] = [[int(n), float(tm), float(tr)]
                               for n, tm, tr in (g.split(":") for g in given["groups"].split(","))]
        except ValueError:
            raise ValueError(f"--groups must be n:tau_m:tau_r,...; got {args.groups!r}") from None
    if given.get("data", "mnist1d") != "mnist1d":  # a checkpoint is evaluated from any folder
        given["data"] = str(Path(given["data"]).resolve())
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1; got {args.epochs}")
    limits = {"epochs": EPOCHS, "hours": None}
    if args.resume:
        if not Path(checkpoint).exists():
            raise ValueError(f"--resume: no checkpoint {checkpoint} (start the run without --resume)")
        saved = checkpoints.position(checkpoint)["extra"]
        config = {**CONFIG, **saved["config"]}  # settings added since the checkpoint: their defaults
        # the run goes on with its own settings: say so rather than ignore other ones
        differ = [f"--{key.replace('_', '-')} (saved {_setting_text(key, config[key])}, given "
                  f"{_setting_text(key, value)})" for key, value in given.items() if value != config[key]]
        if differ:
            raise ValueError(f"--resume continues with the checkpoint's own settings; these differ from them: "
                             f"{', '.join(differ)}")
        limits.update(saved.get("limits", {}))  # the interrupted run's --epochs and --hours
    else:
        config = {**CONFIG, **given}
    train(config, limits["epochs"] if args.epochs is None else args.epochs,
          hours=limits["hours"] if args.hours is None else args.hours, out=out, checkpoint=checkpoint,
          checkpoint_every=args.checkpoint_every, resume=args.resume, threads=_threads(args.threads))


def _setting_text(key, value):
    return _groups_text(value) if key == "groups" else str(value)


def _threads(n):
    if n < 1:
        raise ValueError(f"--threads must be >= 1; got {n}")
    return n


def _groups_text(groups):
    return ",".join(":".join(map(str, g)) for g in groups)


def _info():
    import nest

    from . import __version__
    from .module import install, models, module_path
    install()
    info = nest.build_info
    if nest.Rank() != 0:  # under mpirun: once
        return
    print(f"pygle-nest {__version__}\nNEST {nest.__version__} (MPI: {info.get('have_mpi')}, "
          f"threads: {info.get('threads_model')}, GSL: {info.get('have_gsl')})\n"
          f"module: {module_path()}\nmodels: {', '.join(models())}")


if __name__ == "__main__":
    sys.exit(main())
