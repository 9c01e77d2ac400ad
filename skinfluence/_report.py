"""Pictures and the self-contained HTML page of ``skinfluence audit``.

Everything drawn here comes from the report built by
:func:`skinfluence._audit.run_audit`; matplotlib is imported lazily.
"""

import base64
import datetime
import html
import io
import math
import re

import numpy as np

#: How many flagged rows get their id written next to them in a picture.
N_LABELLED = 8
#: Rows of the pruned table shown in the HTML page.
MAX_HTML_ROWS = 200


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _flagged(report):
    """Training-row positions to mark: dropped rows, else the top rows by self-influence."""
    a = report["_arrays"]
    s = a["self_influence"]
    if a["dropped"].any():
        rows = np.flatnonzero(a["dropped"])
        return rows[np.argsort(-a["pruning_score"][rows], kind="stable")], "dropped by the pruner"
    finite = np.flatnonzero(np.isfinite(s))
    k = min(N_LABELLED, finite.size)
    return finite[np.argsort(-s[finite], kind="stable")[:k]], f"top {k} by self-influence"


def _colour_of(ids, flipped):
    if flipped is None:
        return "tab:red"
    return ["tab:red" if i in flipped else "tab:orange" for i in ids]


def _decade_ticks(axis, width, top):
    """Ticks at 0 and at the powers of ten from ``width`` up to ``top`` (asinh axes)."""
    if not (np.isfinite(top) and top > 0):
        return
    lo = math.ceil(math.log10(width))
    hi = math.floor(math.log10(top)) if top > 0 else lo
    ticks = [0.0] + [10.0 ** k for k in range(lo, hi + 1)]
    if len(ticks) < 3:
        ticks = [0.0] + [float(f"{v:.1g}") for v in np.linspace(width * 2, top, 3)]
    axis.set_ticks(ticks)
    axis.set_major_formatter(_tick_formatter())


def _tick_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: "0" if v == 0 else f"{v:g}")


def make_figures(report, flipped=None):
    """PNG bytes of each picture, by name; empty when matplotlib is missing.

    Parameters
    ----------
    report : dict
        From :func:`skinfluence._audit.run_audit` (its ``"_arrays"``).
    flipped : set, default=None
        The demo's flipped ids, marked in the pictures.

    Returns
    -------
    figures : dict of str -> bytes

    - ``self_influence``: histogram of the training rows' self-influence on a
      log axis starting at the 1st percentile (smaller values pooled in the
      first bar), the pruning threshold and the flagged rows with their ids;
    - ``loss_vs_self_influence``: each row's loss against its self-influence;
    - ``heldout_change``: the rows whose removal most lowers the held-out loss;
    - ``refit_agreement``: estimates against real leave-one-out refits.
    """
    plt = _pyplot()
    if plt is None:
        return {}
    figures = {}
    a = report["_arrays"]
    name = report["dataset"]
    ids = a["ids"]
    s, loss = a["self_influence"], a["loss"]
    flagged, flag_what = _flagged(report)
    threshold = a["threshold"]

    finite = s[np.isfinite(s)]
    # The scale the automatic threshold works on: linear up to the median score,
    # logarithmic above it (asinh), so that the bulk and the tail are both visible.
    width = float(np.median(np.abs(finite))) if finite.size else 1.0
    width = width if width > 0 else 1.0
    labelled = flagged[np.isfinite(s[flagged])][:N_LABELLED]

    # ---- histogram of self-influence
    fig, ax = plt.subplots(figsize=(8, 4.4))
    if finite.size:
        t = np.arcsinh(finite / width)
        edges = width * np.sinh(np.linspace(min(t.min(), 0.0), t.max() * 1.001 + 1e-12, 50))
        ax.hist(finite, bins=edges, color="tab:blue", alpha=0.8, label="training rows")
        ax.set_xscale("asinh", linear_width=width)
        ax.set_xlim(min(0.0, finite.min()), finite.max() * 1.15 + width * 0.1)
        _decade_ticks(ax.xaxis, width, finite.max())
    if np.isfinite(threshold):
        ax.axvline(threshold, color="red", ls="--", lw=1.5,
                   label=f"pruning threshold {threshold:.3g}")
    ymax = ax.get_ylim()[1] * 1.6
    ax.set_ylim(0, ymax)
    if flipped is not None:
        flip = np.isfinite(s) & np.array([v in flipped for v in ids])
        ax.plot(s[flip], np.full(flip.sum(), ymax * 0.03), "|", color="black", ms=14,
                mew=1.5, label=f"flipped label (demo, {int(flip.sum())})")
    ax.plot(s[labelled], np.zeros(labelled.size), "v", color="red", ms=7, clip_on=False,
            label=f"{flag_what} ({len(flagged)})")
    by_x = labelled[np.argsort(s[labelled])]
    for k, i in enumerate(by_x):
        ax.annotate(str(ids[i]), (s[i], 0), xytext=(s[i], ymax * (0.45 + 0.065 * k)),
                    textcoords="data", ha="center", fontsize=8, color="darkred",
                    arrowprops=dict(arrowstyle="-", color="darkred", lw=0.5))
    ax.set(xlabel=f"self-influence (loss if left out − loss in the model); linear up to "
                  f"{width:.2g}, logarithmic above",
           ylabel="training rows",
           title=f"{name}: self-influence of {len(s)} training rows")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    figures["self_influence"] = _png(fig)
    plt.close(fig)

    # ---- loss vs self-influence
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ok = np.isfinite(s)
    ax.plot(loss[ok], s[ok], ".", color="tab:blue", alpha=0.5, label="training rows")
    if flipped is not None:
        flip = ok & np.array([v in flipped for v in ids])
        ax.plot(loss[flip], s[flip], "x", color="black", ms=6, label="flipped label (demo)")
    ax.plot(loss[labelled], s[labelled], "o", mfc="none", mec="red", ms=9, label=flag_what)
    for k, i in enumerate(labelled):
        ax.annotate(str(ids[i]), (loss[i], s[i]), xytext=(6, 6 if k % 2 else -10),
                    textcoords="offset points", fontsize=8, color="darkred")
    if np.isfinite(threshold):
        ax.axhline(threshold, color="red", ls="--", lw=1, label="pruning threshold")
    lw = float(np.median(loss[ok])) if ok.any() else 1.0
    lw = lw if lw > 0 else 1.0
    ax.set_xscale("asinh", linear_width=lw)
    ax.set_yscale("asinh", linear_width=width)
    if ok.any():
        _decade_ticks(ax.xaxis, lw, loss[ok].max())
        _decade_ticks(ax.yaxis, width, s[ok].max())
        ax.set_xlim(min(0.0, loss[ok].min()) - 0.3 * lw, loss[ok].max() * 1.4 + lw)
        ax.set_ylim(min(0.0, s[ok].min()) - 0.3 * width, s[ok].max() * 1.4 + width)
    ax.set(xlabel="training loss of the row (asinh scale)",
           ylabel="self-influence (asinh scale)",
           title=f"{name}: loss vs self-influence ({report['model']})")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    figures["loss_vs_self_influence"] = _png(fig)
    plt.close(fig)

    # ---- held-out harm
    harmful = report["harmful"][:15]
    if harmful:
        fig, ax = plt.subplots(figsize=(8, 0.9 + 0.3 * len(harmful)))
        labels = [str(h["id"]) for h in harmful][::-1]
        values = [h["heldout_loss_change_if_removed"] for h in harmful][::-1]
        colours = _colour_of([h["id"] for h in harmful][::-1], flipped)
        ax.barh(labels, values, color=colours)
        ax.axvline(0, color="black", lw=0.8)
        ax.set(xlabel=f"change of the summed held-out loss ({report['n_test_scored']} rows) "
                      "when the row is removed (< 0: the row harms)",
               ylabel="training row id",
               title=f"{name}: rows most harmful to the held-out rows")
        if flipped is not None:
            from matplotlib.patches import Patch

            ax.legend(handles=[Patch(color="tab:red", label="flipped label"),
                               Patch(color="tab:orange", label="not flipped")], fontsize=8)
        fig.tight_layout()
        figures["heldout_change"] = _png(fig)
        plt.close(fig)

    # ---- the classical influence plot (skinfluence.InfluencePlotDisplay)
    if a.get("residual_name") and np.isfinite(a["cooks"]).any():
        from .plotting import InfluencePlotDisplay

        fig, ax = plt.subplots(figsize=(9, 5))
        labels = np.array([str(v) for v in ids], dtype=object)  # ids as they are, no '#'
        InfluencePlotDisplay(a["leverage"], a["student"], a["cooks"], train_ids=labels,
                             residual_name=a["residual_name"]).plot(ax=ax, n_annotate=6)
        ax.set_title(f"{name}: influence plot ({len(ids)} training rows)", fontsize="medium")
        fig.tight_layout()
        figures["influence_plot"] = _png(fig)
        plt.close(fig)

    # ---- agreement with refits
    agreement = report.get("agreement")
    if agreement:
        pts = agreement["_points"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        for ax, key, what in ((axes[0], "self", "self-influence"),
                              (axes[1], "heldout", "held-out loss change")):
            est, truth = pts[key]
            stats = agreement["self_influence" if key == "self" else "heldout_loss_change"]
            ax.plot(truth, est, "o", color="tab:blue", ms=5)
            both = np.concatenate([truth, est])
            lo, hi = float(np.min(both)), float(np.max(both))
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8, label="y = x")
            ax.set(xlabel=f"{what} by real refit", ylabel=f"{what} estimated",
                   title=f"R = {stats['pearson_r']:.4f}, slope = {stats['slope']:.3f}")
            ax.legend(fontsize=8, loc="upper left")
        fig.suptitle(f"{name}: estimates vs {agreement['n_rows']} leave-one-out refits")
        fig.tight_layout()
        figures["refit_agreement"] = _png(fig)
        plt.close(fig)
    return figures


# ====================================================================== HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.6em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3;text-align:center}td.t{text-align:left}tr.flip td{background:#fde8e8}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}
dd{margin:0}.note{color:#555;font-size:.92em}.warn{color:#8a4b00}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
code{white-space:nowrap;background:#f5f5f5;padding:0 .2em;border-radius:3px}
"""


_OPTION = re.compile(r"(--[a-z][a-z-]*(?: [0-9][\w.]*| (?:none|median|most_frequent)\b)?)")


def _text(text):
    """Escaped text with command-line options as unbreakable code."""
    return _OPTION.sub(r"<code>\1</code>", html.escape(text))


def _cell(v):
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def _html_table(headers, rows, cls):
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for r in rows:
        flip = "flipped" in headers and r[headers.index("flipped")] == "yes"
        out.append('<tr class="flip">' if flip else "<tr>")
        for v in r:
            numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
            cls_td = "" if numeric else ' class="t"'
            out.append(f"<td{cls_td}>{html.escape(_cell(v))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html(report, figures, flipped=None):
    """The report as one self-contained HTML page.

    No script, stylesheet or picture is fetched: styles are inline and the
    pictures are embedded as base64 PNG, so the file reads without a server.

    Parameters
    ----------
    report : dict
        From :func:`skinfluence._audit.run_audit`, completed by ``audit_main``.
    figures : dict of str -> bytes
        From :func:`make_figures`.
    flipped : set, default=None
        The demo's flipped ids (highlighted rows).

    Returns
    -------
    page : str
    """
    from ._audit import (
        HARMFUL_TITLE,
        SUSPICIOUS_TITLE,
        agreement_lines,
        prune_lines,
        table_rows,
    )

    e = html.escape
    tables = table_rows(report, flipped)
    title = f"skinfluence audit: {report['dataset']}"
    inferred = [
        ("Source", report["source"]),
        ("Rows", f"{report['n_rows']} ({report['n_train']} training, {report['n_test']} "
                 f"held out by {report['split']}; {report['n_test_scored']} held-out rows "
                 "scored)"),
        ("Task", f"{report['task']} ({report['task_reason']})"),
        ("Model", f"{report['estimator']}, {len(report['features'])} column(s), "
                  f"{report['n_features_encoded']} after encoding"),
        ("Influence", f"method={report['method']}, damping={report['damping']:g}"),
        ("Missing values", f"--impute {report['impute']}"),
        ("Row ids", report["id_note"]),
        (f"Held-out {report['score_name']}", f"{report['test_score']:.3f}"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="note">Generated {datetime.datetime.now():%Y-%m-%d %H:%M} by skinfluence '
        "audit. Sign conventions: self-influence = (a row's loss when the model is refitted "
        "without it) − (its loss in the model), ≥ 0; held-out loss change = (summed held-out "
        "loss without the row) − (with it), negative when the row harms the held-out rows.</p>",
        '<h2 id="inferred">What was read and inferred</h2><dl>',
    ]
    parts += [f"<dt>{e(k)}</dt><dd>{_text(str(v))}</dd>" for k, v in inferred]
    parts.append("</dl>")
    for note in report["notes"]:
        parts.append(f'<p class="note">Note: {_text(note)}</p>')
    for w in report["warnings"]:
        parts.append(f'<p class="warn">Warning: {_text(w)}</p>')

    parts.append('<h2 id="agreement">Agreement with real leave-one-out refits</h2>')
    parts += [f"<p>{_text(line)}</p>" for line in agreement_lines(report)]
    a = report["agreement"]
    if a:
        parts.append(_html_table(
            ["quantity", "Pearson R", "slope", "max |estimate − refit|"],
            [[what, a[key]["pearson_r"], a[key]["slope"], a[key]["max_abs_error"]]
             for what, key in (("self-influence", "self_influence"),
                               ("held-out loss change", "heldout_loss_change"))],
            "agreement"))

    parts.append('<h2 id="suspicious">Most suspicious training rows</h2>')
    parts.append(f"<p>{e(SUSPICIOUS_TITLE)}.</p>")
    parts.append(_html_table(*tables["suspicious"], "suspicious"))
    if flipped is not None:
        found = sum(s["id"] in flipped for s in report["suspicious"])
        parts.append(f"<p>{found} of the {len(report['flipped_in_train'])} training rows whose "
                     "label the demo flipped are in this table (highlighted).</p>")

    parts.append('<h2 id="harmful">Training rows most harmful to the held-out rows</h2>')
    parts.append(f"<p>{e(HARMFUL_TITLE)}.</p>")
    if report["harmful"]:
        parts.append(_html_table(*tables["harmful"], "harmful"))
    else:
        parts.append("<p>None: removing any single row would raise the held-out loss.</p>")

    parts.append('<h2 id="pruned">Rows the pruner would drop</h2>')
    parts += [f"<p>{_text(line)}</p>" for line in prune_lines(report, flipped)]
    if report["pruned"]:
        headers, rows = tables["pruned"]
        parts.append(_html_table(headers, rows[:MAX_HTML_ROWS], "pruned"))
        if len(rows) > MAX_HTML_ROWS:
            parts.append(f"<p>… and {len(rows) - MAX_HTML_ROWS} more: every row is in "
                         "scores.csv with its status.</p>")

    captions = {
        "self_influence": "Self-influence of every training row (axis linear near 0, logarithmic "
                          "above); the dashed line, when drawn, is the pruning threshold; "
                          "triangles mark the flagged rows (black ticks: the demo's flipped "
                          "labels).",
        "loss_vs_self_influence": "Each training row's loss against its self-influence.",
        "heldout_change": "Change of the summed held-out loss when each of the most harmful "
                          "rows is removed (negative: the row harms).",
        "influence_plot": "Leverage against studentized residual; marker area proportional to "
                          "Cook's distance (the classical influence plot of R and statsmodels).",
        "refit_agreement": "Estimated against real leave-one-out refits for the checked rows.",
    }
    if figures:
        parts.append('<h2 id="pictures">Pictures</h2>')
        for name, png in figures.items():
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{e(name)}" src="data:image/png;base64,{data}">'
                         f"<figcaption class=\"note\">{e(captions.get(name, name))}"
                         "</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report, path, figures, flipped=None):
    """Write :func:`render_html` to ``path``; returns ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(report, figures, flipped))
    return path
