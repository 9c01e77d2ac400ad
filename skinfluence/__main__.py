"""Command line: ``skinfluence demo`` (also ``python -m skinfluence demo``)."""

import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skinfluence",
        description="Influence functions for fitted scikit-learn linear models.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"skinfluence {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="explain the worst prediction of a 1-vs-7 digits classifier",
        description=(
            "Fit LogisticRegression on scikit-learn's bundled digits (1 vs 7), find "
            "the worst-predicted test digit, list the training digits that most "
            "helped and harmed it, and check them against real leave-one-out refits."
        ),
    )
    demo.add_argument("--out", default="skinfluence-demo.png", help="PNG to write (default: %(default)s)")
    demo.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(out=args.out, plot=not args.no_plot)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
