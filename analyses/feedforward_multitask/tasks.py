"""The seven tasks derived from scikit-learn's digits (8×8 images, 1797 samples, offline).

Every task shares the inputs' shape (64 pixels in [0, 1]) and ONE output head of 10 logits:
a 10-way task uses all of them, a 2-way task only the first two. The loss is a softmax over all
10 logits (a 2-way target puts zero probability on logits 2–9, which the network learns to
suppress), and accuracy is the argmax over a task's first ``n_classes`` logits.
"""

from __future__ import annotations

import numpy as np

#: name → (number of classes, description)
TASKS = {
    "original": (10, "the digit (10-way)"),
    "permuted": (10, "the digit, pixels shuffled by one fixed permutation"),
    "inverted": (10, "the digit, intensities x → 1 − x"),
    "rotated": (10, "the digit, image rotated by 90°"),
    "flipped": (10, "the digit, image mirrored left–right"),
    "odd_even": (2, "digit odd (1) or even (0)"),
    "greater_than_five": (2, "digit > 5 (1) or ≤ 5 (0)"),
}
N_LOGITS = 10


def load_digits_split(*, split_seed: int, test_fraction: float):
    """Digits scaled to [0, 1], split once into train and test by ``split_seed``.

    Returns
    -------
    dict
        ``x_train`` (sample, 64), ``y_train`` (sample,), ``x_test``, ``y_test``.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.int64)
    order = np.random.default_rng(split_seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def transform(name: str, x, y, *, permutation):
    """Inputs and labels of task ``name`` from digit images ``x`` (sample, 64), labels ``y``."""
    if name not in TASKS:
        raise ValueError(f"task: expected one of {tuple(TASKS)}, got {name!r}.")
    images = x.reshape(-1, 8, 8)
    if name == "permuted":
        return x[:, permutation], y
    if name == "inverted":
        return 1.0 - x, y
    if name == "rotated":
        return np.rot90(images, k=1, axes=(1, 2)).reshape(-1, 64), y
    if name == "flipped":
        return images[:, :, ::-1].reshape(-1, 64), y
    if name == "odd_even":
        return x, y % 2
    if name == "greater_than_five":
        return x, (y > 5).astype(np.int64)
    return x, y


def make_tasks(names, *, split_seed: int, test_fraction: float, permutation_seed: int):
    """Stacked task arrays, the ``context`` axis first.

    Returns
    -------
    dict
        ``x_train`` (context, sample, 64), ``y_train`` (context, sample), ``x_test``,
        ``y_test``, ``n_classes`` (context,), ``chance`` (context,): the test accuracy of
        always answering the most frequent training class.
    """
    data = load_digits_split(split_seed=split_seed, test_fraction=test_fraction)
    perm = np.random.default_rng(permutation_seed).permutation(64)
    out = {k: [] for k in ("x_train", "y_train", "x_test", "y_test")}
    chance = []
    for name in names:
        for part in ("train", "test"):
            xs, ys = transform(name, data[f"x_{part}"], data[f"y_{part}"], permutation=perm)
            out[f"x_{part}"].append(xs)
            out[f"y_{part}"].append(ys)
        majority = np.bincount(out["y_train"][-1]).argmax()
        chance.append(float(np.mean(out["y_test"][-1] == majority)))
    stacked = {k: np.stack(v) for k, v in out.items()}
    stacked["n_classes"] = np.array([TASKS[n][0] for n in names])
    stacked["chance"] = np.array(chance)
    return stacked


def one_hot(y, n=N_LOGITS):
    """Targets (…, sample) → probability vectors (…, sample, n)."""
    return (y[..., None] == np.arange(n)).astype(np.float64)


def accuracy(logits, y, n_classes):
    """Fraction correct of one task: argmax over the first ``n_classes`` logits."""
    return float(np.mean(np.argmax(np.asarray(logits)[..., :n_classes], axis=-1) == y))
