"""ntlib.examples against independent computations.

References: explicit loops over values (random variables, Sudoku boxes),
positional torch (EmbeddingBag + linear + softmax; torch.topk;
torch.linalg; torch.distributions.MultivariateNormal), scikit-learn's KMeans,
exhaustive enumeration (beam search), and for belief propagation a
positional brute-force einsum of all factors and funsor's own sum-product
variable elimination.
"""

import itertools
import math
import string

import funsor.ops as ops
import numpy as np
import pytest
import torch
from funsor.sum_product import sum_product
from hypothesis import given, settings
from hypothesis import strategies as st

import ntlib as nt

f64 = torch.float64
SETTINGS = settings(max_examples=25, deadline=None)


def P(x, order):
    return nt.positional(x, order).detach().cpu()


def close(a, b, **kw):
    return torch.allclose(a.double(), b.double().to(a.device), **kw)


def rand_cond(seed, A, B, extra=None):
    """A random conditional table p(B|A) (sums to 1 over B), as named tensor."""
    sizes = {"A": A, "B": B} if extra is None else {"batch": extra, "A": A, "B": B}
    g = torch.Generator().manual_seed(seed)
    data = torch.rand(*sizes.values(), generator=g, dtype=f64) + 0.1
    data = data / data.sum(-1, keepdim=True)
    return nt.tensor(data, tuple(sizes))


# --------------------------------------------------------------------------
# discrete random variables

@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.booleans(), st.integers(0, 10**6))
def test_random_variables_against_loops(nA, nB, lifted, seed):
    pBA = rand_cond(seed, nA, nB, extra=3 if lifted else None)
    pA = nt.tensor(torch.softmax(torch.randn(nA, generator=torch.Generator().manual_seed(seed + 1),
                                             dtype=f64), 0), "A")
    order = ("batch", "A", "B") if lifted else ("A", "B")
    cond, prior = P(pBA, order), P(pA, "A")
    for b in range(3 if lifted else 1):
        c = cond[b] if lifted else cond
        pj = [[c[a, k] * prior[a] for k in range(nB)] for a in range(nA)]
        pb = [sum(pj[a][k] for a in range(nA)) for k in range(nB)]
        post = [[pj[a][k] / pb[k] for k in range(nB)] for a in range(nA)]
        J, M, Bay = P(nt.examples.joint(pBA, pA), order), P(nt.examples.marginal(pBA, pA), order[:-2] + ("B",)), \
            P(nt.examples.bayes(pBA, pA), order)
        if lifted:
            J, M, Bay = J[b], M[b], Bay[b]
        assert close(J, torch.tensor(pj, dtype=f64))
        assert close(M, torch.tensor(pb, dtype=f64))
        assert close(Bay, torch.tensor(post, dtype=f64))
    # the posterior is a distribution over A
    assert close(P(nt.sum(nt.examples.bayes(pBA, pA), "A"), order[:-2] + ("B",)),
                 torch.ones(*([3] if lifted else []), nB, dtype=f64))


def test_random_variables_errors():
    with pytest.raises(nt.AxisError, match="'A'"):
        nt.examples.marginal(nt.rand(seed=1, C=2, B=3), nt.rand(seed=2, A=2))
    with pytest.raises(nt.AxisError, match="'A'"):
        nt.examples.bayes(nt.rand(seed=1, A=2, B=3), nt.rand(seed=2, A=3))


# --------------------------------------------------------------------------
# CBOW

@SETTINGS
@given(st.integers(1, 5), st.integers(2, 7), st.integers(1, 4), st.integers(2, 4),
       st.permutations(["seq", "vocab", "batch"]), st.integers(0, 10**6))
def test_cbow_against_embedding_bag(n, V, m, K, order, seed):
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(0, V, (3, n), generator=g)               # batch × seq
    X = nt.tensor(torch.nn.functional.one_hot(words, V).to(f64), ("batch", "seq", "vocab"))
    X = nt.tensor(P(X, order).contiguous(), order)                   # another storage order
    E = nt.randn(seed=seed % 1000, emb=m, vocab=V, dtype=f64)
    W = nt.randn(seed=seed % 1000 + 1, classes=K, emb=m, dtype=f64)
    got = P(nt.examples.cbow(X, E, W), ("batch", "classes"))
    bag = torch.nn.EmbeddingBag(V, m, mode="sum").double()
    bag.weight.data = P(E, ("vocab", "emb")).clone()
    ref = torch.softmax(torch.nn.functional.linear(bag(words), P(W, ("classes", "emb"))), -1)
    assert close(got, ref.detach())


def test_cbow_errors():
    X = nt.rand(seed=1, seq=3, vocab=5)
    with pytest.raises(nt.AxisError, match="'vocab'"):
        nt.examples.cbow(X, nt.rand(seed=2, vocab=4, emb=2), nt.rand(seed=3, classes=2, emb=2))
    with pytest.raises(nt.AxisError, match="'classes'"):
        nt.examples.cbow(X, nt.rand(seed=2, vocab=5, emb=2), nt.rand(seed=3, cls=2, emb=2))


# --------------------------------------------------------------------------
# Sudoku

SOLVED = np.array([[(3 * (r % 3) + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)])


def relabel(grid, seed):
    """Another valid grid: permute digits, bands, stacks, rows in bands, columns in stacks."""
    rng = np.random.default_rng(seed)
    g = rng.permutation(9)[grid - 1] + 1
    rows = np.concatenate([3 * b + rng.permutation(3) for b in rng.permutation(3)])
    cols = np.concatenate([3 * b + rng.permutation(3) for b in rng.permutation(3)])
    g = g[rows][:, cols]
    return g.T if rng.random() < 0.5 else g


def valid_by_loops(grid):
    g = np.asarray(grid)
    units = [set(g[r]) for r in range(9)] + [set(g[:, c]) for c in range(9)]
    units += [set(g[3 * i:3 * i + 3, 3 * j:3 * j + 3].ravel()) for i in range(3) for j in range(3)]
    return all(u == set(range(1, 10)) for u in units)


def ok(X, **kw):
    return bool(P(nt.examples.sudoku_check(X, **kw), ()) == 1)


@pytest.mark.parametrize("seed", range(5))
def test_sudoku_valid_and_violations(seed):
    g = relabel(SOLVED, seed)
    assert valid_by_loops(g) and ok(nt.examples.sudoku_one_hot(g.tolist()))
    rng = np.random.default_rng(seed)
    r, c = rng.integers(9), rng.integers(9)
    # row only: swap two cells of one column inside one box (column, box still fine)
    bad = g.copy()
    r2 = 3 * (r // 3) + (r + 1) % 3
    bad[r, c], bad[r2, c] = bad[r2, c], bad[r, c]
    cons = nt.examples.sudoku_constraints(nt.examples.sudoku_one_hot(bad.tolist()))
    assert {k: float(P(v, ())) for k, v in cons.items()} == \
        {"cell": 1.0, "box": 1.0, "column": 1.0, "row": 0.0}
    # column only: swap two cells of one row inside one box
    bad = g.copy()
    c2 = 3 * (c // 3) + (c + 1) % 3
    bad[r, c], bad[r, c2] = bad[r, c2], bad[r, c]
    cons = nt.examples.sudoku_constraints(nt.examples.sudoku_one_hot(bad.tolist()))
    assert {k: float(P(v, ())) for k, v in cons.items()} == \
        {"cell": 1.0, "box": 1.0, "column": 0.0, "row": 1.0}
    # box only: shift the grid cyclically by one row (rows and columns stay permutations)
    bad = np.roll(g, 1, axis=0)
    assert not valid_by_loops(bad)
    cons = nt.examples.sudoku_constraints(nt.examples.sudoku_one_hot(bad.tolist()))
    assert {k: float(P(v, ())) for k, v in cons.items()} == \
        {"cell": 1.0, "box": 0.0, "column": 1.0, "row": 1.0}
    # cell: an empty cell, and a cell holding two digits
    X = nt.examples.sudoku_one_hot(g.tolist())
    empty = P(X, ("height", "width", "assign")).clone()
    empty[r, c] = 0
    assert float(P(nt.examples.sudoku_constraints(nt.tensor(empty, ("height", "width", "assign")))["cell"],
                   ())) == 0.0
    two = P(X, ("height", "width", "assign")).clone()
    two[r, c, (g[r, c]) % 9] = 1
    assert not ok(nt.tensor(two, ("height", "width", "assign")))
    assert not ok(nt.examples.sudoku_one_hot(bad.tolist()))


def test_sudoku_boxes_by_loops_and_lifting():
    grids = [relabel(SOLVED, s) for s in range(3)] + [np.roll(relabel(SOLVED, 0), 1, axis=0)]
    data = torch.stack([P(nt.examples.sudoku_one_hot(g.tolist()), ("height", "width", "assign"))
                        for g in grids])
    X = nt.tensor(data.permute(3, 2, 0, 1).contiguous(), ("assign", "width", "grids", "height"))
    Y = nt.examples.sudoku_boxes(X)
    y = P(Y, ("grids", "height'", "width'", "height", "width", "assign"))
    for n in range(4):
        for hb, wb, h, w in itertools.product(range(3), repeat=4):
            assert torch.equal(y[n, hb, wb, h, w], data[n, 3 * hb + h, 3 * wb + w])
    assert P(nt.examples.sudoku_check(X), ("grids",)).tolist() == [1.0, 1.0, 1.0, 0.0]
    assert [valid_by_loops(g) for g in grids] == [True, True, True, False]


def test_sudoku_printed_box_index():
    X = nt.examples.sudoku_one_hot(SOLVED.tolist())
    printed = lambda hb, h, b: (3 * (hb + 1) + (h + 1) - 1) - 1   # 1-based 3h'+h-1, as 0-based
    with pytest.raises(nt.AxisError, match="height@grid"):
        nt.examples.sudoku_check(X, rows=printed)
    wrapped = lambda hb, h, b: printed(hb, h, b) % 9
    G = np.roll(SOLVED, (2, 2), (0, 1))
    assert not valid_by_loops(G)
    assert ok(nt.examples.sudoku_one_hot(G.tolist()), rows=wrapped)      # misses the box violation
    assert not ok(nt.examples.sudoku_one_hot(G.tolist()))                # the corrected index catches it


WIKI_CLUES = "53..7.... 6..195... .98....6. 8...6...3 4..8.3..1 7...2...6 .6....28. ...419..5 ....8..79"
WIKI_SOLUTION = "534678912 672195348 198342567 859761423 426853791 713924856 961537284 287419635 345286179"


def digits(rows):
    return np.array([[int(ch) for ch in r.replace(".", "0")] for r in rows.split()])


def test_sudoku_propagate_solves_and_lifts():
    clues, solution = digits(WIKI_CLUES), digits(WIKI_SOLUTION)
    assert valid_by_loops(solution)
    C = nt.examples.sudoku_propagate(nt.examples.sudoku_one_hot(clues.tolist()))
    c = P(C, ("height", "width", "assign"))
    assert torch.equal(c, P(nt.examples.sudoku_one_hot(solution.tolist()), ("height", "width", "assign")))
    # a batch of puzzles: the clues, transposed, relabelled
    perm = np.array([0, 3, 1, 4, 9, 2, 6, 5, 8, 7])          # digit relabelling, 0 stays 0
    puzzles = [clues, clues.T, perm[clues]]
    answers = [solution, solution.T, perm[solution]]
    X = nt.tensor(torch.stack([P(nt.examples.sudoku_one_hot(p.tolist()), ("height", "width", "assign"))
                               for p in puzzles]), ("n", "height", "width", "assign"))
    got = P(nt.argmax_index(nt.examples.sudoku_propagate(X), "assign"), ("n", "height", "width")) + 1
    assert [np.array_equal(got[i].numpy(), answers[i]) for i in range(3)] == [True] * 3


@pytest.mark.parametrize("seed", range(4))
def test_sudoku_propagate_never_removes_the_solution(seed):
    rng = np.random.default_rng(seed)
    solution = relabel(SOLVED, seed + 10)
    clues = np.where(rng.random((9, 9)) < 0.35, solution, 0)
    C = P(nt.examples.sudoku_propagate(nt.examples.sudoku_one_hot(clues.tolist())), ("height", "width", "assign"))
    truth = P(nt.examples.sudoku_one_hot(solution.tolist()), ("height", "width", "assign"))
    assert torch.equal(C * truth, truth)        # the true digit is always still possible


def test_sudoku_errors():
    with pytest.raises(nt.AxisError, match="'height'"):
        nt.examples.sudoku_boxes(nt.rand(seed=1, height=8, width=8, assign=8))


# --------------------------------------------------------------------------
# k-means

@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris
    return torch.tensor(load_iris().data, dtype=f64)


@pytest.mark.parametrize("rows", [(0, 50, 100), (0, 1, 2), (10, 20, 30, 120)])
@pytest.mark.parametrize("steps", [1, 2, 3, 300])
def test_kmeans_against_sklearn(iris, rows, steps):
    from sklearn.cluster import KMeans
    C0 = iris[list(rows)]
    km = KMeans(n_clusters=len(rows), init=C0.numpy(), n_init=1, max_iter=steps, tol=0,
                algorithm="lloyd").fit(iris.numpy())
    # same number of rounds, or both converged (then further rounds change nothing)
    assert km.n_iter_ == steps or km.n_iter_ < steps
    X = nt.tensor(iris.T.contiguous(), ("d", "batch"))
    C = nt.examples.kmeans(X, nt.tensor(C0, ("clusters", "d")), steps=steps)
    assert np.allclose(P(C, ("clusters", "d")).numpy(), km.cluster_centers_, atol=1e-10)


@SETTINGS
@given(st.integers(2, 20), st.integers(1, 4), st.integers(2, 4), st.integers(0, 10**6))
def test_kmeans_step_by_loops_and_lifting(n, dim, k, seed):
    X = nt.randn(seed=seed % 997, batch=n, d=dim, dtype=f64)
    C0 = nt.randn(seed=seed % 991 + 1, runs=2, d=dim, clusters=k, dtype=f64)
    Q = nt.examples.kmeans_assign(X, C0)
    C1 = nt.examples.kmeans(X, C0, steps=1)
    x, c0 = P(X, ("batch", "d")), P(C0, ("runs", "clusters", "d"))
    q, c1 = P(Q, ("runs", "batch", "clusters")), P(C1, ("runs", "clusters", "d"))
    for r in range(2):
        nearest = [min(range(k), key=lambda j: float(((c0[r, j] - x[i]) ** 2).sum()))
                   for i in range(n)]
        assert q[r].argmax(-1).tolist() == nearest
        for j in range(k):
            members = [x[i] for i in range(n) if nearest[i] == j]
            if members:
                assert close(c1[r, j], torch.stack(members).mean(0))
            else:
                assert torch.isnan(c1[r, j]).all()


def test_kmeans_errors():
    with pytest.raises(nt.AxisError, match="'d'"):
        nt.examples.kmeans(nt.rand(seed=1, batch=5, d=3), nt.rand(seed=2, clusters=2, d=4), steps=1)
    with pytest.raises(nt.AxisError, match="'clusters'"):
        nt.examples.kmeans(nt.rand(seed=1, batch=5, d=3), nt.rand(seed=2, k=2, d=3), steps=1)


# --------------------------------------------------------------------------
# maxk, argmaxk, beam search

@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_maxk_argmaxk_against_topk(sizes, data):
    names = ["a", "b", "c"][:len(sizes)]
    x = nt.randn(seed=data.draw(st.integers(0, 999)), dtype=f64, **dict(zip(names, sizes)))
    axes = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    rest = [a for a in names if a not in axes]
    n = math.prod(dict(zip(names, sizes))[a] for a in axes)
    k = data.draw(st.integers(1, n))
    flat = P(x, rest + axes).reshape(*[dict(zip(names, sizes))[a] for a in rest], n)
    vals, idx = torch.topk(flat, k, dim=-1)
    assert close(P(nt.examples.maxk(x, axes, k), rest + ["k"]), vals)
    A = nt.examples.argmaxk(x, axes, k)
    a = P(A, rest + axes + ["k"]).reshape(*flat.shape, k)
    assert close(a, torch.nn.functional.one_hot(idx, n).transpose(-1, -2).double())
    # the corrected identity: A ⊙_ax argmaxk A = maxk A
    assert close(P(nt.contract(x, A, over=axes), rest + ["k"]), vals)


def test_argmaxk_with_ties_is_still_one_hot_and_satisfies_the_identity():
    x = nt.tensor(torch.tensor([[1.0, 1.0, 1.0, 0.0], [2.0, 2.0, 3.0, 3.0]], dtype=f64),
                  ("b", "a"))
    A = nt.examples.argmaxk(x, "a", 3)
    a = P(A, ("b", "a", "k"))
    assert torch.equal(a.sum(1), torch.ones(2, 3, dtype=f64))      # one position per k
    assert torch.equal(a.sum(2).max(), torch.tensor(1.0, dtype=f64))  # no position twice
    assert close(P(nt.contract(x, A, over="a"), ("b", "k")), P(nt.examples.maxk(x, "a", 3), ("b", "k")))
    assert P(nt.examples.maxk(x, "a", 3), ("b", "k")).tolist() == [[1, 1, 1], [3, 3, 2]]


def test_maxk_errors():
    x = nt.rand(seed=1, a=3, b=2)
    with pytest.raises(nt.AxisError, match="'a'"):
        nt.examples.maxk(x, "a", 4)
    with pytest.raises(nt.AxisError, match="'b'"):
        nt.examples.argmaxk(x, "a", 2, new="b")
    with pytest.raises(nt.AxisError, match="'c'"):
        nt.examples.maxk(x, "c", 1)


def bigram_f(L):
    return lambda S: nt.rename(nt.contract(S, L, over="state"), {"state'": "state"})


def all_scores(Lp, start, T):
    ns = Lp.shape[0]
    out = []
    for s in itertools.product(range(ns), repeat=T):
        seq = (start,) + s
        out.append((float(sum(Lp[a, b] for a, b in zip(seq, seq[1:]))), seq))
    return sorted(out, reverse=True)


@SETTINGS
@given(st.integers(2, 4), st.integers(1, 4), st.integers(0, 10**6))
def test_beam_search_exhaustive(ns, T, seed):
    L = nt.log(nt.softmax(nt.randn(seed=seed % 997, state=ns, **{"state'": ns}, dtype=f64),
                          "state'"))
    Lp = P(L, ("state", "state'"))
    start = seed % ns
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(ns, dtype=f64)[[start]], ("beam", "state"))
    ref = all_scores(Lp, start, T)
    # beam as wide as the set of sequences: every sequence, sorted
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=ns ** T)
    assert np.allclose(P(H, "beam").numpy(), [s for s, _ in ref])
    seqs = P(nt.argmax_index(Y, "state"), ("beam", "time")).tolist()
    for (s, seq), got in zip(ref, seqs):
        got_score = float(sum(Lp[a, b] for a, b in zip(got, got[1:])))
        assert abs(got_score - s) < 1e-9 and got[0] == start
    # width |state|^(T-1) never prunes before the last step: the best is exact
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=ns ** (T - 1))
    assert abs(float(P(H, "beam")[0]) - ref[0][0]) < 1e-9
    best = P(nt.argmax_index(Y, "state"), ("beam", "time"))[0].tolist()
    # (sequences using the same transitions in another order tie: compare scores)
    assert abs(float(sum(Lp[a, b] for a, b in zip(best, best[1:]))) - ref[0][0]) < 1e-9
    # any width: the best found is a real sequence with its true score, no better than exact
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=1)
    got = P(nt.argmax_index(Y, "state"), ("beam", "time"))[0].tolist()
    assert abs(float(sum(Lp[a, b] for a, b in zip(got, got[1:]))) - float(P(H, "beam")[0])) < 1e-9
    assert float(P(H, "beam")[0]) <= ref[0][0] + 1e-12


def test_beam_search_lifts_over_batch():
    ns, T, k = 4, 5, 3
    L = nt.log(nt.softmax(nt.randn(seed=5, batch=3, state=ns, **{"state'": ns}, dtype=f64),
                          "state'"))
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(ns, dtype=f64)[[1]], ("beam", "state"))
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=k)
    for b in range(3):
        Lb = nt.index(L, "batch", b)
        Hb, Yb = nt.examples.beam_search(bigram_f(Lb), H0, S0, steps=T, k=k)
        assert close(P(H, ("batch", "beam"))[b], P(Hb, "beam"))
        assert torch.equal(P(Y, ("batch", "beam", "time", "state"))[b],
                           P(Yb, ("beam", "time", "state")))


# --------------------------------------------------------------------------
# multivariate normal

def spd(n, seed, extra=()):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(*extra, n, n, generator=g, dtype=f64)
    return A @ A.transpose(-1, -2) + n * torch.eye(n, dtype=f64)


@SETTINGS
@given(st.integers(1, 5), st.booleans(), st.integers(0, 10**6))
def test_det_inv_against_linalg(n, swap, seed):
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(3, n, n, generator=g, dtype=f64) + 2 * torch.eye(n, dtype=f64)
    order = ("d2", "batch", "d1") if swap else ("batch", "d1", "d2")
    X = nt.tensor(nt.positional(nt.tensor(M, ("batch", "d1", "d2")), order).contiguous(), order)
    assert close(P(nt.examples.det(X, "d1", "d2"), "batch"), torch.linalg.det(M))
    assert close(P(nt.examples.inv(X, "d1", "d2"), ("batch", "d1", "d2")), torch.linalg.inv(M))
    # rows d1: inverse with d2 renamed meets X with d1 renamed -> identity
    Y = nt.contract(nt.rename(nt.examples.inv(X, "d1", "d2"), {"d2": "c"}), nt.rename(X, {"d1": "c"}),
                    over="c")
    assert close(P(Y, ("batch", "d1", "d2")), torch.eye(n, dtype=f64).expand(3, n, n))


@SETTINGS
@given(st.integers(1, 5), st.booleans(), st.integers(0, 10**6))
def test_mvn_against_torch_distributions(n, batch_sigma, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, n, generator=g, dtype=f64)
    mu = torch.randn(n, generator=g, dtype=f64)
    S = spd(n, seed, (4,) if batch_sigma else ())
    X = nt.tensor(x.T.contiguous(), ("d", "batch"))
    Sig = nt.tensor(S, ("batch", "d1", "d2") if batch_sigma else ("d1", "d2"))
    got = P(nt.examples.mvn_log_density(X, nt.tensor(mu, "d"), Sig), "batch")
    ref = torch.distributions.MultivariateNormal(mu, S).log_prob(x)
    assert close(got, ref)


def test_mvn_errors():
    X, mu = nt.rand(seed=1, d=3), nt.rand(seed=2, d=3)
    with pytest.raises(nt.AxisError, match="'d1'"):
        nt.examples.mvn_log_density(X, mu, nt.rand(seed=3, d1=3, d2=2))
    with pytest.raises(nt.AxisError, match="'d1'"):
        nt.examples.mvn_log_density(X, mu, nt.rand(seed=3, d1=2, d2=2))
    with pytest.raises(nt.AxisError, match="'d2'"):
        nt.examples.det(nt.rand(seed=3, d1=3, d2=2), "d1", "d2")


# --------------------------------------------------------------------------
# belief propagation

def brute_marginals(factors):
    """Positional brute force: the full product by one einsum, summed per variable."""
    variables = []
    for f in factors:
        variables += [v for v in nt.names(f) if v not in variables]
    letter = dict(zip(variables, string.ascii_letters))
    ops_ = [P(f, nt.names(f)) for f in factors]
    spec = ",".join("".join(letter[v] for v in nt.names(f)) for f in factors)
    joint = torch.einsum(spec + "->" + "".join(letter[v] for v in variables), *ops_)
    out = {}
    for i, v in enumerate(variables):
        others = [j for j in range(len(variables)) if j != i]
        m = joint.sum(dim=others) if others else joint
        out[v] = m / m.sum()
    return out


def funsor_marginals(factors):
    variables = set().union(*(nt.names(f) for f in factors))
    out = {}
    for v in variables:
        m = sum_product(ops.add, ops.mul, list(factors), eliminate=frozenset(variables - {v}))
        out[v] = P(m, v) / P(m, v).sum()
    return out


@st.composite
def random_tree(draw):
    n = draw(st.integers(1, 6))
    sizes = [draw(st.integers(1, 3)) for _ in range(n)]
    seed = draw(st.integers(0, 10**5))
    names = [f"v{i}" for i in range(n)]
    factors = []
    for i in range(1, n):
        p = draw(st.integers(0, i - 1))
        ax = {names[i]: sizes[i], names[p]: sizes[p]} if draw(st.booleans()) \
            else {names[p]: sizes[p], names[i]: sizes[i]}
        factors.append(nt.rand(seed=seed + i, dtype=f64, **ax) + 0.05)
    for i in range(n):
        if draw(st.booleans()) or n == 1:
            factors.append(nt.rand(seed=seed + 100 + i, dtype=f64, **{names[i]: sizes[i]}) + 0.05)
    return factors


@SETTINGS
@given(random_tree())
def test_belief_propagation_exact_on_random_trees(factors):
    bp = nt.examples.belief_propagation(factors)
    bf = brute_marginals(factors)
    fu = funsor_marginals(factors)
    assert set(bp) == set(bf)
    for v in bf:
        assert close(P(bp[v], v), bf[v], atol=1e-12)
        assert close(fu[v], bf[v], atol=1e-12)


def test_belief_propagation_star_with_a_three_way_factor():
    fs = [nt.rand(seed=1, a=2, b=3, c=2, dtype=f64), nt.rand(seed=2, c=2, d=4, dtype=f64),
          nt.rand(seed=3, a=2, dtype=f64), nt.rand(seed=4, d=4, e=3, dtype=f64)]
    bp, info = nt.examples.belief_propagation(fs, return_messages=True)
    bf = brute_marginals(fs)
    for v in bf:
        assert close(P(bp[v], v), bf[v], atol=1e-12)
    assert info["iterations"] <= 6 and info["change"] == 0.0


def test_loopy_belief_propagation_is_approximate():
    J = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=f64)
    fs = [nt.tensor(J, ("x", "y")), nt.tensor(J, ("y", "z")), nt.tensor(J, ("z", "x")),
          nt.tensor(torch.tensor([0.7, 0.3], dtype=f64), "x")]
    bp, info = nt.examples.belief_propagation(fs, max_iter=500, return_messages=True)
    assert info["change"] < 1e-12                  # it converged ...
    bf = brute_marginals(fs)
    err = max(float((P(bp[v], v) - bf[v]).abs().max()) for v in bf)
    assert err > 1e-3                              # ... to something that is not the marginal


def test_belief_propagation_errors():
    with pytest.raises(nt.AxisError, match="'b'"):
        nt.examples.belief_propagation([nt.rand(seed=1, a=2, b=3), nt.rand(seed=2, b=4)])
    with pytest.raises(ValueError, match="negative"):
        nt.examples.belief_propagation([nt.randn(seed=1, a=2, b=3)])


# --------------------------------------------------------------------------
# exercises of chapter 7

CH07 = ["7.1", "7.2", "7.3", "7.4"]


@pytest.mark.parametrize("id", CH07)
def test_exercise_solutions_pass_and_wrong_answers_fail(id):
    from ntlib.exercises import ExerciseError, check, solution
    ref = solution(id)
    assert check(id, ref)

    def scaled(**kw):
        return ref(**kw) * 2

    def renamed(**kw):
        y = ref(**kw)
        first = [a for a in nt.names(y) if a not in ("batch", "runs")][0]
        return nt.rename(y, {first: "z"})

    def raising(**kw):
        raise nt.AxisError("no")

    def ignores_input(**kw):
        return ref(**_first_case(id))

    for wrong in (scaled, renamed, raising, ignores_input):
        with pytest.raises(ExerciseError):
            check(id, wrong)


def _first_case(id):
    from ntlib.exercises import get
    return get(id).cases()[0][1]


def test_belief_propagation_init_continues():
    fs = [nt.rand(seed=1, a=2, b=3, dtype=f64), nt.rand(seed=2, b=3, c=2, dtype=f64),
          nt.rand(seed=3, c=2, a=2, dtype=f64)]                     # a cycle
    _, three = nt.examples.belief_propagation(fs, max_iter=3, return_messages=True)
    _, two = nt.examples.belief_propagation(fs, max_iter=2, return_messages=True)
    _, more = nt.examples.belief_propagation(fs, max_iter=1, init=two["factor_to_variable"],
                                    return_messages=True)
    for e, m in three["factor_to_variable"].items():
        assert close(P(m, e[1]), P(more["factor_to_variable"][e], e[1]), atol=1e-14)
