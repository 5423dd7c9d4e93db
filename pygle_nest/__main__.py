"""Command line: python -m pygle_nest {build,info}."""

import argparse
import sys

from . import build as build_module
from .module import MODULE_ROOT


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pygle_nest",
                                     description="GLE networks in NEST: build and inspect the extension module.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the NEST extension module from nestml_models/ (cached)")
    b.add_argument("--force", action="store_true", help="rebuild even if the cache is up to date")
    sub.add_parser("info", help="versions, the NEST in use, and the module path")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build_module.build(MODULE_ROOT, force=args.force))
    elif args.command == "info":
        import nest

        from . import __version__
        from .module import install, models, module_path
        install()
        info = nest.build_info
        print(f"pygle-nest {__version__}\nNEST {nest.__version__} (MPI: {info.get('have_mpi')}, "
              f"threads: {info.get('threads_model')}, GSL: {info.get('have_gsl')})\n"
              f"module: {module_path()}\nmodels: {', '.join(models())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
