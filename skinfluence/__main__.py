"""Command line: ``skinfluence demo`` and ``skinfluence audit`` (also ``python -m skinfluence``)."""

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

    audit = sub.add_parser(
        "audit",
        help="find suspicious, harmful and prunable rows of a CSV file",
        description=(
            "Fit a linear model on a CSV file (numeric columns standardised, other "
            "columns one-hot encoded) and report the most suspicious training rows "
            "(self-influence), the training rows most harmful to a held-out split, "
            "and the rows InfluencePruner(threshold='auto') would drop. Without a "
            "file, audits a bundled demo with deliberately flipped labels."
        ),
    )
    audit.add_argument("file", nargs="?", help="CSV file with a header row (omit for the demo)")
    audit.add_argument("--target", help="name of the target column")
    audit.add_argument(
        "--task", choices=("classification", "regression"),
        help="default: regression for a continuous numeric target, else classification",
    )
    audit.add_argument(
        "--model",
        help="classification: logistic (default), linear-svc, ridge; "
             "regression: ridge (default), linear",
    )
    audit.add_argument("--test-size", type=float, default=0.2,
                       help="held-out fraction (default: %(default)s)")
    audit.add_argument("--top", type=int, default=20, help="rows per table (default: %(default)s)")
    audit.add_argument("--out", default="skinfluence-audit",
                       help="directory for the PNG plots (default: %(default)s)")
    audit.add_argument("--no-plot", action="store_true", help="do not write plots")
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(out=args.out, plot=not args.no_plot)
        return 0
    if args.command == "audit":
        from ._audit import AuditError, audit_main

        try:
            return audit_main(args, sys.stdout)
        except AuditError as exc:
            print(f"skinfluence audit: error: {exc}", file=sys.stderr)
            return 2
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
