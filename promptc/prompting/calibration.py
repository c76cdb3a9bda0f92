"""Label decisions from log-probabilities, and contextual calibration.

Contextual calibration follows Zhao et al. 2021, "Calibrate Before Use".

A calibration is a per-label bias added to the model's label log-probabilities before
the most likely label is chosen. Two ways to estimate one:

- content-free: the model's average label distribution on inputs that carry no
  content (``N/A``, an empty string, ``[MASK]``) shows its bias; the calibration is
  minus its log, so a content-free input comes out uniform.
- fitted: the biases that maximise the likelihood of gold labels (a multinomial logistic
  regression whose only free parameters are the per-label intercepts, the model's
  log-probabilities entering as fixed offsets), with a small ridge penalty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

CONTENT_FREE = ("N/A", "", "[MASK]")


def label_probs(
    logprobs: Mapping[str, float], calibration: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The label distribution after adding the calibration's biases (a softmax over the labels)."""
    bias = calibration or {}
    shifted = {label: lp + bias.get(label, 0.0) for label, lp in logprobs.items()}
    top = max(shifted.values())
    if top == -math.inf:
        return {label: 1 / len(shifted) for label in shifted}
    weights = {label: math.exp(v - top) for label, v in shifted.items()}
    total = sum(weights.values())
    return {label: w / total for label, w in weights.items()}


def choose(labels: Sequence[str], probs: Mapping[str, float]) -> str:
    """The most likely label; ties go to the label listed first."""
    return max(labels, key=lambda label: (probs.get(label, 0.0), -labels.index(label)))


def _centred(bias: Mapping[str, float]) -> dict[str, float]:
    # A softmax ignores a shift shared by every label, so biases are stored with mean 0, rounded
    # to 3 decimals so that the artifact (and its id) does not depend on the last bits of the
    # model's log-probabilities, which differ between CPUs; a thousandth of a nat decides nothing.
    mean = sum(bias.values()) / len(bias)
    return {label: round(v - mean, 3) for label, v in bias.items()}


def content_free_bias(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The calibration that makes the average content-free label distribution uniform."""
    labels = list(rows[0])
    average = {label: sum(label_probs(r)[label] for r in rows) / len(rows) for label in labels}
    return _centred({label: -math.log(max(p, 1e-12)) for label, p in average.items()})


def fit_bias(
    rows: Sequence[Mapping[str, float]], gold: Sequence[str], *, ridge: float = 0.01, steps: int = 300
) -> dict[str, float]:
    """Per-label intercepts maximising the gold labels' likelihood (ridge-penalised), by gradient descent."""
    import numpy as np

    labels = list(rows[0])
    index = {label: i for i, label in enumerate(labels)}
    logits = np.array([[r[label] for label in labels] for r in rows], dtype=float)
    logits = np.where(np.isfinite(logits), logits, -1e4)
    target = np.zeros_like(logits)
    for i, label in enumerate(gold):
        if label in index:
            target[i, index[label]] = 1.0
    bias = np.zeros(len(labels))
    # The mean objective is convex and its gradient's Lipschitz constant is at most 1/2 + 2*ridge,
    # so this step size makes plain gradient descent converge monotonically.
    step = 1.0 / (0.5 + 2 * ridge)
    for _ in range(steps):
        z = logits + bias
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - target).mean(axis=0) + 2 * ridge * bias
        bias -= step * grad
    return _centred({label: float(b) for label, b in zip(labels, bias, strict=True)})
