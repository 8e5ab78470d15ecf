"""core.lab.neighbours: the k-NN label in code space, against a brute-force reference."""

import numpy as np
import pytest

from core.errors import LatentLabError
from core.lab.neighbours import knn_label, nearest


def _reference(codes, labels, q, k):
    """Sort all distances, count the k nearest labels; a tie goes to the label of the nearest tied one."""
    order = np.argsort(((codes - q) ** 2).sum(1), kind="stable")[:k]
    votes = {}
    for i in order:
        votes[labels[i]] = votes.get(labels[i], 0) + 1
    best = max(votes.values())
    return next(labels[i] for i in order if votes[labels[i]] == best)


def test_knn_label_matches_a_brute_force_reference():
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(400, 6)), rng.integers(0, 10, 400)
    queries = rng.normal(size=(1200, 6))  # more than one chunk of queries
    got = knn_label(codes, labels, queries, k=5)
    assert got.shape == (1200,)
    assert list(got) == [_reference(codes, labels, q, 5) for q in queries]


def test_a_single_query_gives_one_label_and_clusters_are_found():
    centres = np.eye(3) * 10
    codes = np.repeat(centres, 20, axis=0) + np.random.default_rng(1).normal(size=(60, 3))
    labels = np.repeat([4, 7, 9], 20)
    assert knn_label(codes, labels, np.array([0.0, 9.0, 0.5]), k=5) == 7
    assert list(knn_label(codes, labels, centres, k=5)) == [4, 7, 9]
    np.testing.assert_array_equal(nearest(codes, codes[:3], k=1)[:, 0], [0, 1, 2])


def test_bad_inputs_are_named():
    with pytest.raises(LatentLabError, match="numbers"):
        knn_label(np.zeros((5, 2)), np.zeros(5, int), np.zeros((1, 3)))
    with pytest.raises(LatentLabError, match="k must"):
        knn_label(np.zeros((5, 2)), np.zeros(5, int), np.zeros((1, 2)), k=6)
