"""Display objects: the pictures of influence, in scikit-learn's Display pattern.

Each Display holds the numbers it draws; ``from_explainer`` computes them with
the explainer's public methods and draws; ``plot(ax=None)`` draws them again,
on new axes or on the ones passed, and sets ``ax_`` and ``figure_``.
matplotlib is imported only when something is drawn
(``pip install 'skinfluence[plot]'``).
"""

import numbers

import numpy as np

from ._thresholds import valley_threshold
from .diagnostics import _check_explainer, _family, _row_ids, _summary_columns, verify

__all__ = [
    "InfluenceDisplay",
    "InfluencePlotDisplay",
    "LOOAgreementDisplay",
    "LabelIssueCurveDisplay",
    "SelfInfluenceDisplay",
]

HELPFUL_COLOR = "tab:blue"
HARMFUL_COLOR = "tab:red"
FLAG_COLOR = "tab:red"
BULK_COLOR = "tab:gray"


def _pyplot(what):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching
        raise ImportError(
            f"{what} needs matplotlib, an optional dependency of skinfluence: "
            "pip install 'skinfluence[plot]'."
        ) from exc
    return plt


def _axes(ax, what, figsize):
    plt = _pyplot(what)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax, ax.figure


def _row(X, j):
    """Row ``j`` of ``X`` (array, sparse matrix or DataFrame), kept 2-D."""
    if hasattr(X, "iloc"):
        return X.iloc[j : j + 1]
    return X[j : j + 1]


def _loss_name(explainer):
    return {"least_squares": "squared error", "logistic": "log-loss",
            "multinomial": "log-loss"}.get(_family(explainer), "loss")


def _label(ids, i):
    v = ids[i]
    return str(v.item() if hasattr(v, "item") else v)


def _row_name(ids, i):
    """``#12`` for positions and integer labels, the label itself otherwise."""
    v = ids[i]
    v = v.item() if hasattr(v, "item") else v
    return f"#{v}" if isinstance(v, numbers.Integral) else str(v)


# --------------------------------------------------------------------------
class InfluenceDisplay:
    """The training rows that most helped and most harmed one test prediction.

    Horizontal bars of ``influence`` (the change of the test point's loss
    when the training row is removed): the ``k`` most helpful rows
    (positive, removing them raises the loss) above the ``k`` most harmful
    (negative). With images (``image_shape``), each bar gets a thumbnail of
    its training row.

    Parameters
    ----------
    influence : ndarray of shape (n_train,)
        One row of :meth:`InfluenceExplainer.influence`.
    train_ids : array-like of shape (n_train,), default=None
        Row labels (``0 … n−1`` when None).
    k : int, default=5
        Rows shown per direction.
    test_id : object, default=None
        The test point's label, for the title.
    train_labels : array-like of shape (n_train,), default=None
        Training labels, shown next to the row ids.
    test_label : object, default=None
        The test point's label, for the title.
    images : ndarray of shape (n_train, n_pixels), default=None
        Training rows drawn as thumbnails (with ``image_shape``).
    image_shape : tuple of int, default=None
        Shape of one image, e.g. ``(8, 8)``.
    test_image : ndarray of shape (n_pixels,), default=None
        The test point drawn as an image (top left), with ``image_shape``.
    loss_name : str, default="loss"
        The loss, for the axis label (``from_explainer``: ``"log-loss"``,
        ``"squared error"``, …).

    Attributes
    ----------
    bars_ : matplotlib BarContainer
    thumbnails_ : list of matplotlib AnnotationBbox
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> from skinfluence import InfluenceExplainer, InfluenceDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)[:, :5]
    >>> clf = LogisticRegression(tol=1e-10).fit(X[:200], y[:200])
    >>> expl = InfluenceExplainer().fit(clf, X[:200], y[:200])
    >>> disp = InfluenceDisplay.from_explainer(expl, X[200:], y[200:], test_point=3,
    ...                                        y_train=y[:200], k=4)
    >>> len(disp.bars_)
    8
    >>> import matplotlib.pyplot as plt; plt.close(disp.figure_)
    """

    def __init__(
        self, influence, train_ids=None, *, k=5, test_id=None, train_labels=None,
        test_label=None, images=None, image_shape=None, test_image=None, loss_name="loss",
    ):
        self.influence = np.asarray(influence, dtype=float)
        self.train_ids = np.arange(self.influence.size) if train_ids is None else np.asarray(train_ids)
        self.k = k
        self.test_id = test_id
        self.train_labels = train_labels
        self.test_label = test_label
        self.images = images
        self.image_shape = image_shape
        self.test_image = test_image
        self.loss_name = loss_name

    @classmethod
    def from_explainer(
        cls, explainer, X_test, y_test, *, test_point=0, k=5, y_train=None,
        X_train=None, image_shape=None, ax=None,
    ):
        """Compute the influence of every training row on one test point and plot.

        Parameters
        ----------
        explainer : InfluenceExplainer
            A fitted explainer.
        X_test : {array-like, sparse matrix, DataFrame} of shape (n_test, n_features)
        y_test : array-like of shape (n_test,)
        test_point : int, default=0
            Position of the test point in ``X_test``.
        k : int, default=5
            Rows shown per direction.
        y_train : array-like of shape (n_train,), default=None
            Training labels, shown next to the row ids.
        X_train : array-like of shape (n_train, n_pixels), default=None
            The training rows as images, for thumbnails (with ``image_shape``).
        image_shape : tuple of int, default=None
            Shape of one image (e.g. ``(8, 8)``): draws each training row, and
            the test point, as a thumbnail.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : InfluenceDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        _check_explainer(explainer)
        j = int(test_point)
        n_test = X_test.shape[0]
        if not 0 <= j < n_test:
            raise ValueError(f"test_point must be in [0, {n_test}), got {test_point!r}.")
        y_test = y_test if hasattr(y_test, "iloc") else np.asarray(y_test)
        infl = explainer.influence(_row(X_test, j), _row(y_test, j))[0]
        test_id = X_test.index[j] if hasattr(X_test, "iloc") else j
        y_j = y_test.iloc[j] if hasattr(y_test, "iloc") else y_test[j]
        images = test_image = None
        if image_shape is not None:
            if X_train is None:
                raise ValueError("image_shape needs X_train, the training rows to draw.")
            images = np.asarray(X_train)
            test_image = np.asarray(_row(X_test, j)).ravel()
        disp = cls(
            infl, _row_ids(explainer), k=k, test_id=test_id, train_labels=y_train,
            test_label=y_j, images=images, image_shape=image_shape, test_image=test_image,
            loss_name=_loss_name(explainer),
        )
        return disp.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the bars (and thumbnails).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : InfluenceDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        k = self.k
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}.")
        order = np.argsort(-self.influence, kind="stable")
        k = min(int(k), max(1, self.influence.size // 2))
        helpful, harmful = order[:k], order[::-1][:k][::-1]
        rows = np.concatenate([helpful, harmful])
        values = self.influence[rows]
        height = 0.45 * rows.size + 1.8
        ax, fig = _axes(ax, "InfluenceDisplay.plot", (7.0, height))
        ypos = np.arange(rows.size)[::-1]
        colors = [HELPFUL_COLOR] * k + [HARMFUL_COLOR] * k
        self.bars_ = ax.barh(ypos, values, color=colors, height=0.7)
        labels = []
        for i in rows:
            text = _row_name(self.train_ids, i)
            if self.train_labels is not None:
                text += f" (y={_label(np.asarray(self.train_labels), i)})"
            labels.append(text)
        ax.set_yticks(ypos, labels)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.axhline(ypos[k - 1] - 0.5, color="0.7", linewidth=0.8, linestyle=":")
        ax.set_xlabel(f"influence: change in the test {self.loss_name} when the row is removed")
        ax.set_ylabel("training row")
        title = "Training rows that most helped / harmed test point"
        if self.test_id is not None:
            title += f" {_row_name([self.test_id], 0)}"
        if self.test_label is not None:
            title += f" (y={self.test_label})"
        ax.set_title(title, fontsize="medium")
        from matplotlib.patches import Patch

        ax.legend(
            handles=[
                Patch(color=HELPFUL_COLOR, label="helpful: removing it raises the loss"),
                Patch(color=HARMFUL_COLOR, label="harmful: removing it lowers the loss"),
            ],
            loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize="small",
            frameon=False,
        )
        self.thumbnails_ = []
        if self.images is not None and self.image_shape is not None:
            self._draw_thumbnails(ax, rows, ypos)
        self.ax_, self.figure_ = ax, fig
        return self

    def _draw_thumbnails(self, ax, rows, ypos):
        from matplotlib.offsetbox import AnnotationBbox, OffsetImage

        # each thumbnail sits just past the end of its bar, about 36 px high
        values = self.influence[rows]
        lim = np.max(np.abs(values))
        ax.set_xlim(min(-0.3 * lim, 1.35 * values.min()), max(0.3 * lim, 1.35 * values.max()))
        zoom = 32.0 / self.image_shape[0]
        for i, v, y in zip(rows, values, ypos, strict=True):
            img = np.asarray(self.images[i], dtype=float).reshape(self.image_shape)
            right = v >= 0
            ab = AnnotationBbox(
                OffsetImage(img, cmap="gray_r", zoom=zoom), (v, y),
                xybox=(4 if right else -4, 0), boxcoords="offset points",
                box_alignment=(0.0 if right else 1.0, 0.5), frameon=True,
                pad=0.1, bboxprops={"edgecolor": "0.8", "linewidth": 0.5},
            )
            ax.add_artist(ab)
            self.thumbnails_.append(ab)
        if self.test_image is not None:
            from matplotlib.offsetbox import HPacker, TextArea

            img = np.asarray(self.test_image, dtype=float).reshape(self.image_shape)
            box = HPacker(children=[
                TextArea("test point:", textprops={"fontsize": "small"}),
                OffsetImage(img, cmap="gray_r", zoom=48.0 / self.image_shape[0]),
            ], align="center", pad=0, sep=4)
            ab = AnnotationBbox(box, (0.02, 0.98), xycoords="axes fraction",
                                box_alignment=(0.0, 1.0), frameon=False)
            ax.add_artist(ab)
            self.thumbnails_.append(ab)


# --------------------------------------------------------------------------
class SelfInfluenceDisplay:
    """Self-influence of every training row: index plot and histogram, with the pruning threshold.

    The left panel plots each row's self-influence against its position (rows
    above the threshold in red, their ids written); the right panel is the
    histogram of the same values (sharing the vertical axis). The threshold
    is ``InfluencePruner``'s ``"auto"`` valley between the bulk of the rows
    and a separate high mode, drawn as a dashed line (First et al. 2022,
    robust regression figure); ``inf`` (no valley) is reported in the legend.

    Parameters
    ----------
    self_influence : ndarray of shape (n_train,)
        :meth:`InfluenceExplainer.self_influence`.
    threshold : float, default=inf
        The pruning threshold drawn (rows above it are flagged).
    train_ids : array-like of shape (n_train,), default=None
        Row labels (``0 … n−1`` when None).
    log : bool, default=False
        Logarithmic self-influence axis, for heavy tails (rows of zero
        self-influence are then not shown).
    loss_name : str, default="loss"
        The loss, for the axis label.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The index plot.
    ax_hist_ : matplotlib Axes
        The histogram.
    figure_ : matplotlib Figure
    flagged_ : ndarray of int
        Positions of the rows above the threshold.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skinfluence import InfluenceExplainer, SelfInfluenceDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = X @ [1.0, 2.0] + 0.3 * rng.normal(size=200)
    >>> y[[10, 20]] += 15                         # two gross outliers
    >>> expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    >>> disp = SelfInfluenceDisplay.from_explainer(expl)
    >>> disp.flagged_.tolist()
    [10, 20]
    >>> import matplotlib.pyplot as plt; plt.close(disp.figure_)
    """

    def __init__(self, self_influence, threshold=np.inf, train_ids=None, *, log=False,
                 loss_name="loss"):
        self.self_influence = np.asarray(self_influence, dtype=float)
        self.threshold = float(threshold)
        self.train_ids = (
            np.arange(self.self_influence.size) if train_ids is None else np.asarray(train_ids)
        )
        self.log = log
        self.loss_name = loss_name

    @classmethod
    def from_explainer(cls, explainer, *, threshold="auto", log=False, ax=None):
        """Compute the self-influence of every training row and plot it.

        Parameters
        ----------
        explainer : InfluenceExplainer
            A fitted explainer.
        threshold : "auto", float or None, default="auto"
            ``"auto"``: the valley threshold of ``InfluencePruner``; a number;
            None draws no threshold.
        log : bool, default=False
        ax : pair of matplotlib Axes, default=None
            The index-plot and histogram axes; a new figure when None.

        Returns
        -------
        display : SelfInfluenceDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        _check_explainer(explainer)
        si = explainer.self_influence()
        if isinstance(threshold, str):
            if threshold != "auto":
                raise ValueError(f"threshold must be 'auto', a number or None, got {threshold!r}.")
            threshold = valley_threshold(si)
        elif threshold is None:
            threshold = np.inf
        disp = cls(si, threshold, _row_ids(explainer), log=log, loss_name=_loss_name(explainer))
        return disp.plot(ax=ax)

    def plot(self, ax=None, *, n_labels=10):
        """Draw the index plot and the histogram.

        Parameters
        ----------
        ax : pair of matplotlib Axes, default=None
            Axes for the index plot and the histogram; a new figure when None.
        n_labels : int, default=10
            Ids written next to at most this many flagged rows (highest first).

        Returns
        -------
        display : SelfInfluenceDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        plt = _pyplot("SelfInfluenceDisplay.plot")
        if ax is None:
            fig, (ax, ax_hist) = plt.subplots(
                1, 2, figsize=(8.0, 3.8), sharey=True, layout="constrained",
                gridspec_kw={"width_ratios": [3, 1]},
            )
        else:
            ax, ax_hist = ax
            fig = ax.figure
        si = self.self_influence
        x = np.arange(si.size)
        flagged = np.flatnonzero(si > self.threshold)
        bulk = np.setdiff1d(x, flagged)
        self.flagged_ = flagged
        ax.scatter(x[bulk], si[bulk], s=10, color=BULK_COLOR, alpha=0.7,
                   label=f"rows ({bulk.size})")
        if flagged.size:
            ax.scatter(x[flagged], si[flagged], s=22, color=FLAG_COLOR,
                       label=f"above threshold ({flagged.size})")
            for i in flagged[np.argsort(-si[flagged])][:n_labels]:
                ax.annotate(_row_name(self.train_ids, i), (x[i], si[i]),
                            xytext=(4, 2), textcoords="offset points", fontsize="small")
        finite = si[np.isfinite(si)]
        if self.log:
            lo = max(float(np.min(finite[finite > 0], initial=np.inf)), 1e-300)
            bins = np.geomspace(lo, max(float(finite.max()), lo * 10), 41)
        else:
            bins = np.linspace(finite.min(), finite.max(), 41)
        # counts on a log axis: the few outlying rows stay visible beside the bulk
        self.hist_ = ax_hist.hist(finite, bins=bins, orientation="horizontal",
                                  color=BULK_COLOR, alpha=0.8, log=True)
        if np.isfinite(self.threshold):
            label = f"pruning threshold ({self.threshold:.3g})"
            self.threshold_lines_ = [
                ax.axhline(self.threshold, color="black", linestyle="--", linewidth=1,
                           label=label),
                ax_hist.axhline(self.threshold, color="black", linestyle="--", linewidth=1),
            ]
        else:
            self.threshold_lines_ = []
            ax.plot([], [], " ", label="no valley: nothing to prune")
        if self.log:
            ax.set_yscale("log")
        ax.set_xlabel("training row (position)")
        ax.set_ylabel(f"self-influence\n(increase of own {self.loss_name})")
        ax.set_title("Self-influence of the training rows", fontsize="medium")
        ax.legend(loc="best", fontsize="small")
        ax_hist.set_xlabel("number of rows (log)")
        ax_hist.set_title("histogram", fontsize="medium")
        ax_hist.tick_params(labelleft=False)
        self.ax_, self.ax_hist_, self.figure_ = ax, ax_hist, fig
        return self


# --------------------------------------------------------------------------
class InfluencePlotDisplay:
    """Leverage against studentized residual, marker area proportional to Cook's distance.

    The classical influence plot (statsmodels' ``influence_plot``, R's
    ``plot.lm(which=5)``): rows far right have unusual features, rows far
    from 0 vertically are badly fitted, big markers are both. The rows of
    largest Cook's distance are annotated with their ids. Dotted lines:
    studentized residual ±2 and R's leverage cut-off ``3k/n``.

    Parameters
    ----------
    leverage, student_resid, cooks_distance : ndarray of shape (n_train,)
        Columns of :func:`summary_frame`.
    train_ids : array-like of shape (n_train,), default=None
        Row labels (``0 … n−1`` when None).
    n_params : float, default=None
        ``k``, the effective number of parameters (``Σ leverage`` when None).
    residual_name : str, default="studentized residual (external)"
        The vertical axis label.

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
    annotations_ : list of matplotlib Annotation
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from skinfluence import InfluenceExplainer, InfluencePlotDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = X @ [1.0, 2.0] + rng.normal(size=60)
    >>> X[5] = [6.0, 0.0]; y[5] = -10.0            # high leverage and badly fitted
    >>> expl = InfluenceExplainer().fit(LinearRegression().fit(X, y), X, y)
    >>> disp = InfluencePlotDisplay.from_explainer(expl, n_annotate=3)
    >>> disp.annotations_[0].get_text()
    '#5'
    >>> import matplotlib.pyplot as plt; plt.close(disp.figure_)
    """

    def __init__(
        self, leverage, student_resid, cooks_distance, train_ids=None, *,
        n_params=None, residual_name="studentized residual (external)",
    ):
        self.leverage = np.asarray(leverage, dtype=float)
        self.student_resid = np.asarray(student_resid, dtype=float)
        self.cooks_distance = np.asarray(cooks_distance, dtype=float)
        self.train_ids = (
            np.arange(self.leverage.size) if train_ids is None else np.asarray(train_ids)
        )
        self.n_params = float(np.nansum(self.leverage)) if n_params is None else n_params
        self.residual_name = residual_name

    @classmethod
    def from_explainer(cls, explainer, *, n_annotate=5, ax=None):
        """Compute leverage, studentized residuals and Cook's distance, and plot.

        The residual is the externally studentized one for least squares
        (as statsmodels' ``influence_plot``), the studentized Pearson
        residual for logistic models (unsigned for multinomial).

        Parameters
        ----------
        explainer : InfluenceExplainer
            A fitted explainer of a least-squares or logistic model.
        n_annotate : int, default=5
            Rows of largest Cook's distance annotated with their ids.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : InfluencePlotDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        _check_explainer(explainer)
        cols, meta = _summary_columns(explainer, dfbetas=False)
        if meta.family == "other":
            raise ValueError(
                "The influence plot needs Cook's distance and studentized residuals, "
                "defined for least-squares and logistic models only."
            )
        if meta.family == "least_squares":
            resid, name = cols["student_resid_external"], "studentized residual (external)"
        elif meta.family == "logistic":
            resid, name = cols["student_resid"], "studentized Pearson residual"
        else:
            resid, name = cols["student_resid"], "studentized Pearson residual (unsigned)"
        disp = cls(
            cols["leverage"], resid, cols["cooks_distance"], _row_ids(explainer),
            n_params=meta.k, residual_name=name,
        )
        return disp.plot(ax=ax, n_annotate=n_annotate)

    def plot(self, ax=None, *, n_annotate=5, max_size=600.0):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        n_annotate : int, default=5
            Rows of largest Cook's distance annotated with their ids.
        max_size : float, default=600
            Marker area (points²) of the row of largest Cook's distance.

        Returns
        -------
        display : InfluencePlotDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        ax, fig = _axes(ax, "InfluencePlotDisplay.plot", (7.6, 4.8))
        h, r, d = self.leverage, self.student_resid, self.cooks_distance
        dmax = np.nanmax(d) if np.any(np.isfinite(d)) else 1.0
        sizes = max_size * np.nan_to_num(d) / (dmax if dmax > 0 else 1.0) + 4.0
        self.scatter_ = ax.scatter(h, r, s=sizes, alpha=0.5, color="tab:blue",
                                   edgecolors="tab:blue", linewidths=0.5)
        n, k = h.size, self.n_params
        for level in (-2, 2):
            ax.axhline(level, color="0.5", linestyle=":", linewidth=1)
        ax.axhline(0.0, color="0.8", linewidth=0.8)
        ax.axvline(3 * k / n, color="0.5", linestyle="--", linewidth=1)
        self.annotations_ = []
        order = np.argsort(-np.nan_to_num(d, nan=-np.inf), kind="stable")[:n_annotate]
        for i in order:
            self.annotations_.append(
                ax.annotate(_row_name(self.train_ids, i), (h[i], r[i]), xytext=(5, 3),
                            textcoords="offset points", fontsize="small")
            )
        # legend: marker size key and the reference lines
        from matplotlib.lines import Line2D

        handles = []
        for frac in (1.0, 0.25):
            handles.append(
                ax.scatter([], [], s=max_size * frac + 4.0, alpha=0.5, color="tab:blue",
                           label=f"Cook's distance {frac * dmax:.2g}")
            )
        handles.append(Line2D([], [], color="0.5", linestyle="--",
                              label=f"leverage 3k/n = {3 * k / n:.3g}"))
        handles.append(Line2D([], [], color="0.5", linestyle=":", label="residual ±2"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  fontsize="small", labelspacing=1.2, borderpad=0.9,
                  title="marker area ∝\nCook's distance", title_fontsize="small")
        ax.margins(x=0.08, y=0.08)  # room for the ids of the extreme rows
        ax.set_xlabel("leverage hᵢ (hat value)")
        ax.set_ylabel(self.residual_name)
        ax.set_title(f"Influence plot ({n} training rows)", fontsize="medium")
        self.ax_, self.figure_ = ax, fig
        return self


# --------------------------------------------------------------------------
class LOOAgreementDisplay:
    """Estimated against actual leave-one-out changes (Koh & Liang 2017, Fig. 2).

    One point per refitted training row: the explainer's estimate on the
    horizontal axis, the change measured by actually retraining without the
    row on the vertical one. Points on the dashed ``y = x`` line are exact;
    the legend gives Pearson's R and the slope (least squares through the
    origin of actual on estimated).

    Parameters
    ----------
    estimated : ndarray of shape (n_rows,)
        The explainer's estimates.
    actual : ndarray of shape (n_rows,)
        The changes measured by refitting.
    indices : ndarray of shape (n_rows,), default=None
        The rows refitted.
    pearson_r, slope : float, default=None
        Computed from ``estimated`` and ``actual`` when None.
    quantity : str, default="loss change"
        What was compared, for the axis labels.

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
    line_ : matplotlib Line2D
        The ``y = x`` line.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skinfluence import InfluenceExplainer, LOOAgreementDisplay, verify
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    >>> expl = InfluenceExplainer(method="newton").fit(Ridge().fit(X, y), X, y)
    >>> report = verify(expl, X, y, X[:5], y[:5], n_rows=8)
    >>> disp = LOOAgreementDisplay.from_verification(report)
    >>> disp.ax_.get_legend().get_texts()[0].get_text()
    '8 refitted rows\\nPearson R = 1.000, slope = 1.000'
    >>> import matplotlib.pyplot as plt; plt.close(disp.figure_)
    """

    def __init__(self, estimated, actual, indices=None, *, pearson_r=None, slope=None,
                 quantity="loss change"):
        self.estimated = np.asarray(estimated, dtype=float)
        self.actual = np.asarray(actual, dtype=float)
        self.indices = indices
        with np.errstate(invalid="ignore", divide="ignore"):
            if pearson_r is None:
                pearson_r = float(np.corrcoef(self.estimated, self.actual)[0, 1])
            if slope is None:
                slope = float(np.dot(self.estimated, self.actual)
                              / np.dot(self.estimated, self.estimated))
        self.pearson_r, self.slope, self.quantity = pearson_r, slope, quantity

    @classmethod
    def from_verification(cls, report, *, ax=None):
        """Plot the report of :func:`verify`.

        Parameters
        ----------
        report : Bunch
            The output of :func:`skinfluence.verify`.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : LOOAgreementDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        disp = cls(
            report.estimated, report.actual, report.indices, pearson_r=report.pearson_r,
            slope=report.slope, quantity=report.get("quantity", "loss change"),
        )
        return disp.plot(ax=ax)

    @classmethod
    def from_explainer(cls, explainer, X, y, X_test=None, y_test=None, *, n_rows=20,
                       n_random=0, sample_weight=None, random_state=0, n_jobs=None,
                       ax=None):
        """Refit without the rows that matter most (:func:`verify`) and plot.

        Parameters are those of :func:`skinfluence.verify`, plus ``ax``.

        Returns
        -------
        display : LOOAgreementDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        report = verify(explainer, X, y, X_test, y_test, n_rows=n_rows, n_random=n_random,
                        sample_weight=sample_weight, random_state=random_state,
                        n_jobs=n_jobs)
        return cls.from_verification(report, ax=ax)

    def plot(self, ax=None):
        """Draw the scatter and the ``y = x`` line.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : LOOAgreementDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        ax, fig = _axes(ax, "LOOAgreementDisplay.plot", (5.0, 5.0))
        e, a = self.estimated, self.actual
        label = (f"{e.size} refitted rows\nPearson R = {self.pearson_r:.3f}, "
                 f"slope = {self.slope:.3f}")
        self.scatter_ = ax.scatter(e, a, s=25, color="tab:blue", alpha=0.8, label=label)
        both = np.concatenate([e, a])
        lo, hi = np.nanmin(both), np.nanmax(both)
        pad = 0.06 * (hi - lo if hi > lo else max(abs(hi), 1e-12))
        lo, hi = lo - pad, hi + pad
        (self.line_,) = ax.plot([lo, hi], [lo, hi], color="0.4", linestyle="--",
                                linewidth=1, label="y = x (exact)")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", adjustable="box")
        ax.ticklabel_format(style="sci", scilimits=(-3, 3), axis="both")
        ax.set_xlabel(f"estimated {self.quantity} (explainer)")
        ax.set_ylabel(f"actual {self.quantity} (leave-one-out refit)")
        ax.set_title("Influence estimates against real refits", fontsize="medium")
        ax.legend(loc="upper left", fontsize="small")
        self.ax_, self.figure_ = ax, fig
        return self


# --------------------------------------------------------------------------
class LabelIssueCurveDisplay:
    """Fraction of flipped labels found against fraction of rows checked (Koh & Liang, Fig. 6).

    Each ranking orders the training rows, most suspicious first; checking
    rows in that order, the curve is the fraction of the flipped labels
    found so far. Random checking finds them in proportion (the dotted
    diagonal); a perfect ranking finds them all after checking as many rows
    as there are flips.

    Parameters
    ----------
    checked : ndarray of shape (n_points,)
        Fractions of the training rows checked, from 0 to 1.
    found : dict of str to ndarray of shape (n_points,)
        For each ranking's name, the fraction of the flipped labels found.
    n_flipped : int, default=None
        Number of flipped labels, for the title.
    n_rows : int, default=None
        Number of training rows, for the title.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skinfluence import LabelIssueCurveDisplay
    >>> flipped = np.zeros(100, dtype=bool); flipped[:10] = True
    >>> disp = LabelIssueCurveDisplay.from_rankings(
    ...     {"perfect": np.arange(100), "worst": np.arange(100)[::-1]}, flipped)
    >>> float(disp.found["perfect"][10]), float(disp.found["worst"][10])
    (1.0, 0.0)
    >>> import matplotlib.pyplot as plt; plt.close(disp.figure_)
    """

    def __init__(self, checked, found, *, n_flipped=None, n_rows=None):
        self.checked = np.asarray(checked, dtype=float)
        self.found = {name: np.asarray(v, dtype=float) for name, v in found.items()}
        self.n_flipped = n_flipped
        self.n_rows = n_rows

    @staticmethod
    def _curves(rankings, flipped):
        flipped = np.asarray(flipped)
        n = None
        if flipped.dtype == bool:
            n = flipped.size
            mask = flipped
        found = {}
        for name, order in rankings.items():
            order = np.asarray(order)
            if n is None:
                n = order.size
                mask = np.zeros(n, dtype=bool)
                mask[flipped] = True
            if order.size != n or np.unique(order).size != n:
                raise ValueError(
                    f"ranking {name!r} must be a permutation of the {n} training rows."
                )
            total = max(int(mask.sum()), 1)
            found[name] = np.concatenate([[0.0], np.cumsum(mask[order]) / total])
        if n is None:
            raise ValueError("Pass at least one ranking.")
        checked = np.arange(n + 1) / n
        return checked, found, int(mask.sum())

    @classmethod
    def from_rankings(cls, rankings, flipped, *, ax=None):
        """Curves of given rankings.

        Parameters
        ----------
        rankings : dict of str to ndarray of shape (n_train,)
            Row orders, most suspicious first (e.g. :func:`rank_suspicious`).
        flipped : ndarray of bool of shape (n_train,) or of int
            The rows whose label is wrong: a mask or their positions.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : LabelIssueCurveDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        checked, found, n_flipped = cls._curves(rankings, flipped)
        return cls(checked, found, n_flipped=n_flipped, n_rows=checked.size - 1).plot(ax=ax)

    @classmethod
    def from_explainer(cls, explainer, flipped, *,
                       by=("self_influence", "loss", "random"), random_state=0, ax=None):
        """Curves of :func:`rank_suspicious` rankings of a fitted explainer.

        Parameters
        ----------
        explainer : InfluenceExplainer
            Fitted on the data with flipped labels.
        flipped : ndarray of bool of shape (n_train,) or of int
        by : sequence of {"self_influence", "loss", "random"}
        random_state : int, default=0
            For the random ranking.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : LabelIssueCurveDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        from .ranking import rank_suspicious

        _check_explainer(explainer)
        names = {"self_influence": "self-influence", "loss": "training loss",
                 "random": "random"}
        rankings = {
            names.get(b, b): rank_suspicious(explainer, by=b, random_state=random_state)
            for b in by
        }
        return cls.from_rankings(rankings, flipped, ax=ax)

    def plot(self, ax=None):
        """Draw one curve per ranking and the random-checking diagonal.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : LabelIssueCurveDisplay
            The display, drawn: ``ax_`` and ``figure_`` are set.
        """
        ax, fig = _axes(ax, "LabelIssueCurveDisplay.plot", (5.6, 4.4))
        x = 100 * self.checked
        self.lines_ = {}
        for name, y in self.found.items():
            (self.lines_[name],) = ax.plot(x, 100 * y, linewidth=2 if "influence" in name else 1.5,
                                           label=name)
        ax.plot([0, 100], [0, 100], color="0.6", linestyle=":", linewidth=1,
                label="expected at random")
        ax.set_xlim(0, 100 * float(self.checked.max()) if self.checked.size else 100)
        ax.set_ylim(0, 101)
        ax.set_xlabel("training rows checked (%)")
        ax.set_ylabel("flipped labels found (%)")
        title = "Finding flipped labels"
        if self.n_flipped is not None and self.n_rows is not None:
            title += f" ({self.n_flipped} flipped of {self.n_rows} rows)"
        elif self.n_flipped is not None:
            title += f" ({self.n_flipped} flipped)"
        ax.set_title(title, fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small", title="rows checked by",
                  title_fontsize="small")
        self.ax_, self.figure_ = ax, fig
        return self
