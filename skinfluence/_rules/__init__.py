"""Closed-form calculus of each supported estimator family (no solving here)."""

from ._base import LinearRule
from ._dispatch import SUPPORTED, rule_for, unwrap

__all__ = ["LinearRule", "SUPPORTED", "rule_for", "unwrap"]
