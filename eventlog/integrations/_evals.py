"""Evaluation results of boosting libraries (XGBoost, LightGBM) as one mapping of metric values.

Both report, after each iteration, a value per (data set, metric): `train-rmse`, `valid-auc`.
Cross-validation reports a mean and a standard deviation: the mean under the metric's name and
the deviation under `<name>-std`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["metric_values"]


def metric_values(name: str, value: Any) -> dict[str, float]:
    """`{name: value}`, or `{name: mean, name-std: std}` for a cross-validation `(mean, std)` pair.

    Example:
        >>> metric_values("valid-rmse", (0.5, 0.1))
        {'valid-rmse': 0.5, 'valid-rmse-std': 0.1}
    """
    if isinstance(value, (tuple, list)):
        if len(value) == 2:
            return {name: float(value[0]), f"{name}-std": float(value[1])}
        return {name: float(value[0])}
    return {name: float(value)}
