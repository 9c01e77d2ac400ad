"""Labels and class weights, shared by the classifier rules."""

import numpy as np
from sklearn.utils.class_weight import compute_class_weight


class ClassLabelsMixin:
    """Label encoding and class weights as the estimator computes them.

    ``class_weight="balanced"`` is computed from the training labels, weighted
    by ``sample_weight`` for LogisticRegression, LinearSVC and SGDClassifier,
    unweighted for RidgeClassifier (``balanced_uses_sample_weight``).
    """

    balanced_uses_sample_weight = True

    def _init_classes(self, estimator):
        self.classes = np.asarray(estimator.classes_)
        self.class_weight = getattr(estimator, "class_weight", None)

    def encode_labels(self, y):
        """Index of each label in ``classes_`` (sorted, as scikit-learn stores it); unknown labels are an error.

        One binary search per label and a comparison, no sort of ``y``.
        """
        y = np.asarray(y)
        try:
            index = np.searchsorted(self.classes, y)
            found = self.classes[np.minimum(index, self.classes.size - 1)] == y
        except TypeError:  # labels not comparable with the classes (e.g. str vs int)
            index, found = None, np.zeros(y.shape, dtype=bool)
        if not np.all(found):
            unknown = np.setdiff1d(np.unique(y[~found]), self.classes)
            raise ValueError(
                f"y contains labels {unknown.tolist()} unknown to the estimator, "
                f"whose classes_ are {self.classes.tolist()}."
            )
        return index

    def class_weights(self, y, sample_weight):
        """The weight of each class (in ``classes_`` order), or None."""
        if self.class_weight is None:
            return None
        sw = sample_weight if self.balanced_uses_sample_weight else None
        return compute_class_weight(self.class_weight, classes=self.classes, y=y, sample_weight=sw)

    def frozen_class_weight(self, y, sample_weight):
        """``class_weight`` as a dict fixed at the full training set (for refits)."""
        weights = self.class_weights(y, sample_weight)
        if weights is None:
            return None
        return dict(zip(self.classes.tolist(), weights.tolist(), strict=True))

    def sample_scale(self, y, sample_weight):
        """Sample weight times the class weight of each row's label."""
        weights = self.class_weights(y, sample_weight)
        if weights is None:
            return sample_weight[:, None]
        return (sample_weight * weights[self.encode_labels(y)])[:, None]
