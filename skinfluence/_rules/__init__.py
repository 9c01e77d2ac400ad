"""Closed-form calculus of each supported estimator family (no solving here)."""

from ._base import LinearRule
from ._dispatch import SUPPORTED, refit_equivalent, rule_for, unwrap

__all__ = ["LinearRule", "SUPPORTED", "refit_equivalent", "rule_for", "unwrap"]
