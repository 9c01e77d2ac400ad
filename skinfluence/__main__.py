"""Command line: ``skinfluence demo`` and ``skinfluence audit`` (also ``python -m skinfluence``)."""

import argparse
import os
import sys


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
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
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Fit a linear model on a CSV file (numeric columns standardised, text\n"
            "columns one-hot encoded) and report, with the file's row ids:\n"
            "  - the most suspicious training rows (self-influence = the row's loss when\n"
            "    the model is refitted without it minus its loss in the model; >= 0);\n"
            "  - the training rows whose removal most lowers the held-out loss (change =\n"
            "    loss without the row minus loss with it; negative = the row harms);\n"
            "  - the rows InfluencePruner would drop, and the held-out score without them;\n"
            "  - how well the top rows' numbers agree with real leave-one-out refits.\n"
            "Without a file, audits a bundled demo with deliberately flipped labels."
        ),
        epilog=(
            "examples:\n"
            "  skinfluence audit titanic.csv --target survived --index-col name "
            "--impute median\n"
            "  skinfluence audit wage.csv --target wage --drop logwage --html report.html\n"
            "  skinfluence audit train.csv --target y --test test.csv --out audit/"
        ),
    )
    audit.add_argument("file", nargs="?", help="CSV file with a header row (omit for the demo)")
    what = audit.add_argument_group("what to fit")
    what.add_argument("--target", metavar="COL", help="name of the target column")
    what.add_argument(
        "--task", choices=("classification", "regression"),
        help="default: inferred and printed (text, or integers with at most 10 distinct "
             "values: classification; other numbers: regression)",
    )
    what.add_argument(
        "--model",
        help="classification: logistic (default), linear-svc, ridge; "
             "regression: ridge (default), linear",
    )
    what.add_argument("--C", type=float, metavar="C",
                      help="inverse regularisation of logistic and linear-svc (default: 1)")
    what.add_argument("--alpha", type=float,
                      help="regularisation of ridge (default: 1)")
    what.add_argument("--class-weight", choices=("none", "balanced"), default="none",
                      help="classification: 'balanced' weights each class inversely to its "
                           "frequency, so that a rare class is not scored as suspicious as a "
                           "whole (default: %(default)s)")
    what.add_argument("--damping", type=float, default=0.0,
                      help="added to the Hessian's diagonal; needed for --model linear with "
                           "collinear columns (default: %(default)s)")
    data = audit.add_argument_group("columns and rows")
    data.add_argument("--index-col", metavar="COL",
                      help="column holding the row ids shown in every output (default: the "
                           "file's line numbers, the header being line 1); not a feature")
    data.add_argument("--drop", nargs="+", metavar="COL", help="columns to ignore")
    data.add_argument(
        "--impute", choices=("none", "median", "most_frequent"), default="none",
        help="fill missing values: numeric columns by their median or most frequent value, "
             "text columns by their most frequent value, each with a 0/1 missing-indicator "
             "column; 'none' refuses files with missing values (default: %(default)s)",
    )
    data.add_argument("--test", metavar="FILE",
                      help="a separate held-out CSV file with the same columns (default: "
                           "hold out --test-size of the rows)")
    data.add_argument("--test-size", type=float, default=0.2,
                      help="held-out fraction, stratified by label for classification "
                           "(default: %(default)s)")
    data.add_argument("--seed", type=int, default=0,
                      help="random seed of the split (default: %(default)s)")
    out = audit.add_argument_group("what to report")
    out.add_argument("--top", type=int, default=20, help="rows per table (default: %(default)s)")
    out.add_argument("--scoring", metavar="NAME",
                     help="held-out metric whose change is reported for every training row: "
                          "a scikit-learn scorer name (default: accuracy for classification, "
                          "r2 for regression)")
    out.add_argument("--contamination", type=float, metavar="FRAC",
                     help="drop this fraction of the training rows (highest self-influence "
                          "first) instead of the automatic threshold")
    out.add_argument("--check", type=int, metavar="N",
                     help="check the top N rows by self-influence and by held-out harm "
                          "against real leave-one-out refits; 0 skips (default: 10, or 0 "
                          "when the model has more than 500 encoded columns)")
    out.add_argument("--out", default="skinfluence-audit", metavar="DIR",
                     help="directory for scores.csv (every score of every row) and the PNG "
                          "pictures (default: %(default)s)")
    out.add_argument("--no-out", action="store_true", help="write nothing to --out")
    out.add_argument("--no-plot", action="store_true", help="write no PNG pictures")
    out.add_argument("--html", metavar="FILE",
                     help="also write a self-contained HTML report (tables, pictures, checks)")
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    noise = out.add_mutually_exclusive_group()
    noise.add_argument("--quiet", action="store_true",
                       help="no progress lines (default: shown when stderr is a terminal)")
    noise.add_argument("--progress", action="store_true",
                       help="progress lines on stderr even when it is not a terminal")
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
        except KeyboardInterrupt:
            print("skinfluence audit: interrupted.", file=sys.stderr)
            return 130
        except Exception as exc:  # one line, not a traceback; SKINFLUENCE_DEBUG=1 shows it
            if os.environ.get("SKINFLUENCE_DEBUG"):
                raise
            message = " ".join(str(exc).split()) or "no message"
            print(f"skinfluence audit: error: {type(exc).__name__}: {message} "
                  "(SKINFLUENCE_DEBUG=1 shows the traceback)", file=sys.stderr)
            return 2
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
