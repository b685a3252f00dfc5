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
from ntlib.testing import assert_close

f64 = torch.float64
SETTINGS = settings(max_examples=25, deadline=None)


def P(x, order):
    return nt.positional(x, order).detach().cpu()


ALLCLOSE = dict(rtol=1e-5, atol=1e-8, check_dtype=False)   # torch.allclose's tolerances


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
        torch.testing.assert_close(J, torch.tensor(pj, dtype=f64), **ALLCLOSE)
        torch.testing.assert_close(M, torch.tensor(pb, dtype=f64), **ALLCLOSE)
        torch.testing.assert_close(Bay, torch.tensor(post, dtype=f64), **ALLCLOSE)
    # the posterior is a distribution over A
    assert_close(nt.sum(nt.examples.bayes(pBA, pA), "A"),
                 torch.ones(*([3] if lifted else []), nB, dtype=f64),
                 order=order[:-2] + ("B",), **ALLCLOSE)


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
    torch.testing.assert_close(got, ref.detach(), **ALLCLOSE)


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
    def printed(hb, h, b):
        return (3 * (hb + 1) + (h + 1) - 1) - 1   # 1-based 3h'+h-1, as 0-based
    with pytest.raises(nt.AxisError, match="height@grid"):
        nt.examples.sudoku_check(X, rows=printed)
    def wrapped(hb, h, b):
        return printed(hb, h, b) % 9
    G = np.roll(SOLVED, (2, 2), (0, 1))
    assert not valid_by_loops(G)
    assert ok(nt.examples.sudoku_one_hot(G.tolist()), rows=wrapped)      # misses the box violation
    assert not ok(nt.examples.sudoku_one_hot(G.tolist()))                # the corrected index catches it
    # the printed index is two rows past the corrected 3(h'-1) + h, for every h', h
    for hb in range(3):
        for h in range(3):
            corrected = 3 * ((hb + 1) - 1) + (h + 1) - 1          # 1-based formula, 0-based row
            assert nt.examples.box_rows(hb, h) == corrected
            assert printed(hb, h, 3) - corrected == 2
    # the misread boxes of G (moved 2 down, 2 right) are the true boxes of SOLVED
    misread = nt.examples.sudoku_boxes(nt.examples.sudoku_one_hot(G.tolist()), rows=wrapped)
    true = nt.examples.sudoku_boxes(nt.examples.sudoku_one_hot(SOLVED.tolist()))
    assert nt.equal(misread, true)


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
                torch.testing.assert_close(c1[r, j], torch.stack(members).mean(0), **ALLCLOSE)
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
    assert_close(nt.examples.maxk(x, axes, k), vals, order=rest + ["k"], **ALLCLOSE)
    A = nt.examples.argmaxk(x, axes, k)
    a = P(A, rest + axes + ["k"]).reshape(*flat.shape, k)
    torch.testing.assert_close(a, torch.nn.functional.one_hot(idx, n).transpose(-1, -2),
                               **ALLCLOSE)
    # the corrected identity: A ⊙_ax argmaxk A = maxk A
    assert_close(nt.contract(x, A, over=axes), vals, order=rest + ["k"], **ALLCLOSE)


def test_argmaxk_with_ties_is_still_one_hot_and_satisfies_the_identity():
    x = nt.tensor(torch.tensor([[1.0, 1.0, 1.0, 0.0], [2.0, 2.0, 3.0, 3.0]], dtype=f64),
                  ("b", "a"))
    A = nt.examples.argmaxk(x, "a", 3)
    a = P(A, ("b", "a", "k"))
    assert torch.equal(a.sum(1), torch.ones(2, 3, dtype=f64))      # one position per k
    assert torch.equal(a.sum(2).max(), torch.tensor(1.0, dtype=f64))  # no position twice
    assert_close(nt.contract(x, A, over="a"), nt.examples.maxk(x, "a", 3), **ALLCLOSE)
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


def bigram_L(seed, ns, **extra):
    return nt.log(nt.softmax(nt.randn(seed=seed, **extra, state=ns, **{"state'": ns},
                                      dtype=f64), "state'"))


def seq_score(Lp, seq):
    return float(sum(Lp[a, b] for a, b in zip(seq, seq[1:])))


def found(H, Y):
    """(log-score, sequence) of each hypothesis of a beam_search result."""
    seqs = P(nt.argmax_index(Y, "state"), ("beam", "time")).tolist()
    return list(zip(P(H, "beam").tolist(), [tuple(q) for q in seqs]))


def viterbi_by_loops(Lp, start, T, k):
    """Beam search with recombination, as plain Python over lists: keep, for
    each next state, the best extension; then the k best states."""
    beam = [(0.0, (start,))]
    ns = Lp.shape[0]
    for _ in range(T):
        best = {}
        for h, seq in beam:                       # first best wins ties
            for s in range(ns):
                cand = h + float(Lp[seq[-1], s])
                if s not in best or cand > best[s][0]:
                    best[s] = (cand, seq + (s,))
        beam = sorted(best.values(), key=lambda t: -t[0])[:k]
    return beam


@SETTINGS
@given(st.integers(2, 5), st.integers(1, 5), st.integers(0, 10**6))
def test_beam_search_merge_at_full_width_is_viterbi(ns, T, seed):
    """merge=True with k = |state|: for every final state, the best sequence
    ending there (brute force over all |state|^T sequences)."""
    L = bigram_L(seed % 997, ns)
    Lp = P(L, ("state", "state'"))
    start = seed % ns
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(ns, dtype=f64)[[start]], ("beam", "state"))
    ref = all_scores(Lp, start, T)
    best_ending = {}
    for sc, seq in ref:                           # sorted: first is best
        best_ending.setdefault(seq[-1], sc)
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=ns)
    got = found(H, Y)
    assert len(got) == ns
    assert sorted(q[-1] for _, q in got) == list(range(ns))   # one per state
    for h, seq in got:
        assert seq[0] == start and len(seq) == T + 1
        assert abs(seq_score(Lp, seq) - h) < 1e-9               # a real sequence
        assert abs(h - best_ending[seq[-1]]) < 1e-9             # the best into its state
    assert abs(got[0][0] - ref[0][0]) < 1e-9                    # exact


@SETTINGS
@given(st.integers(2, 4), st.integers(1, 4), st.integers(0, 10**6), st.booleans())
def test_beam_search_never_beats_exhaustive(ns, T, seed, merge):
    L = bigram_L(seed % 997, ns)
    Lp = P(L, ("state", "state'"))
    start = seed % ns
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(ns, dtype=f64)[[start]], ("beam", "state"))
    exact = all_scores(Lp, start, T)[0][0]
    for k in range(1, (ns if merge else ns * ns) + 1):
        H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=k, merge=merge)
        got = found(H, Y)
        hs = [h for h, _ in got]
        assert hs == sorted(hs, reverse=True)
        assert len({q for _, q in got}) == len(got)               # distinct sequences
        for h, seq in got:
            assert abs(seq_score(Lp, seq) - h) < 1e-9
            assert h <= exact + 1e-12
        if merge:                                                  # one per state
            assert len({q[-1] for _, q in got}) == len(got)
            ref = viterbi_by_loops(Lp, start, T, k)
            assert np.allclose(hs, [h for h, _ in ref], rtol=0, atol=1e-12)


def test_beam_search_variants_differ_at_width_state():
    """At k = |state| the merging search is exact on every model; ranking all
    extensions without merging misses the best sequence on some."""
    ns, T = 3, 4
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(ns, dtype=f64)[[0]], ("beam", "state"))
    missed = 0
    for seed in range(100):
        L = nt.log(nt.softmax(2 * nt.randn(seed=seed, state=ns, **{"state'": ns},
                                           dtype=f64), "state'"))
        exact = all_scores(P(L, ("state", "state'")), 0, T)[0][0]
        Hm, _ = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=ns)
        Hr, _ = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=ns, merge=False)
        assert abs(float(P(Hm, "beam")[0]) - exact) < 1e-9
        missed += float(P(Hr, "beam")[0]) < exact - 1e-9
    assert missed > 0


def test_beam_search_merge_differs_from_ranking_all():
    """Two hypotheses in one state: ranking all keeps both, merging one."""
    # from the start (state 2): to 0 with 0.5, to 1 with 0.5; from 0 and 1
    # state 0 is much likelier than 1
    Pm = torch.tensor([[0.9, 0.1, 1e-9], [0.8, 0.2, 1e-9], [0.5, 0.5, 1e-9]], dtype=f64)
    L = nt.tensor(torch.log(Pm), ("state", "state'"))
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.tensor([[0.0, 0.0, 1.0]], dtype=f64), ("beam", "state"))
    Hr, Yr = nt.examples.beam_search(bigram_f(L), H0, S0, steps=2, k=2, merge=False)
    Hm, Ym = nt.examples.beam_search(bigram_f(L), H0, S0, steps=2, k=2)
    assert [q for _, q in found(Hr, Yr)] == [(2, 0, 0), (2, 1, 0)]
    assert [q for _, q in found(Hm, Ym)] == [(2, 0, 0), (2, 1, 1)]


def test_beam_search_errors():
    L = bigram_L(1, 3)
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(3, dtype=f64)[[0]], ("beam", "state"))
    with pytest.raises(nt.AxisError, match=r"k = 4 .*\[1, 3\].*'state'"):
        nt.examples.beam_search(bigram_f(L), H0, S0, steps=2, k=4)
    with pytest.raises(nt.AxisError, match="k = 0"):
        nt.examples.beam_search(bigram_f(L), H0, S0, steps=2, k=0, merge=False)
    with pytest.raises(nt.AxisError, match="'beam'"):
        nt.examples.beam_search(bigram_f(L), nt.tensor(torch.zeros(1, dtype=f64), "b"), S0,
                       steps=1, k=1)


@SETTINGS
@given(st.integers(2, 4), st.integers(1, 4), st.integers(0, 10**6))
def test_beam_search_exhaustive(ns, T, seed):
    """merge=False (rank all extensions) with a beam as wide as the set of
    sequences keeps every sequence."""
    L = nt.log(nt.softmax(nt.randn(seed=seed % 997, state=ns, **{"state'": ns}, dtype=f64),
                          "state'"))
    Lp = P(L, ("state", "state'"))
    start = seed % ns
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(ns, dtype=f64)[[start]], ("beam", "state"))
    ref = all_scores(Lp, start, T)
    # beam as wide as the set of sequences: every sequence, sorted
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=ns ** T, merge=False)
    assert np.allclose(P(H, "beam").numpy(), [s for s, _ in ref])
    seqs = P(nt.argmax_index(Y, "state"), ("beam", "time")).tolist()
    for (s, seq), got in zip(ref, seqs):
        got_score = float(sum(Lp[a, b] for a, b in zip(got, got[1:])))
        assert abs(got_score - s) < 1e-9 and got[0] == start
    # width |state|^(T-1) never prunes before the last step: the best is exact
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=ns ** (T - 1), merge=False)
    assert abs(float(P(H, "beam")[0]) - ref[0][0]) < 1e-9
    best = P(nt.argmax_index(Y, "state"), ("beam", "time"))[0].tolist()
    # (sequences using the same transitions in another order tie: compare scores)
    assert abs(float(sum(Lp[a, b] for a, b in zip(best, best[1:]))) - ref[0][0]) < 1e-9
    # any width: the best found is a real sequence with its true score, no better than exact
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=1, merge=False)
    got = P(nt.argmax_index(Y, "state"), ("beam", "time"))[0].tolist()
    assert abs(float(sum(Lp[a, b] for a, b in zip(got, got[1:]))) - float(P(H, "beam")[0])) < 1e-9
    assert float(P(H, "beam")[0]) <= ref[0][0] + 1e-12


@pytest.mark.parametrize("merge", [True, False])
def test_beam_search_lifts_over_batch(merge):
    ns, T, k = 4, 5, 3
    L = nt.log(nt.softmax(nt.randn(seed=5, batch=3, state=ns, **{"state'": ns}, dtype=f64),
                          "state'"))
    H0 = nt.tensor(torch.zeros(1, dtype=f64), "beam")
    S0 = nt.tensor(torch.eye(ns, dtype=f64)[[1]], ("beam", "state"))
    H, Y = nt.examples.beam_search(bigram_f(L), H0, S0, steps=T, k=k, merge=merge)
    for b in range(3):
        Lb = nt.index(L, "batch", b)
        Hb, Yb = nt.examples.beam_search(bigram_f(Lb), H0, S0, steps=T, k=k, merge=merge)
        torch.testing.assert_close(P(H, ("batch", "beam"))[b], P(Hb, "beam"), **ALLCLOSE)
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
    assert_close(nt.examples.det(X, "d1", "d2"), torch.linalg.det(M), order="batch", **ALLCLOSE)
    assert_close(nt.examples.inv(X, "d1", "d2"), torch.linalg.inv(M), order=("batch", "d1", "d2"),
                 **ALLCLOSE)
    # rows d1: inverse with d2 renamed meets X with d1 renamed -> identity
    Y = nt.contract(nt.rename(nt.examples.inv(X, "d1", "d2"), {"d2": "c"}), nt.rename(X, {"d1": "c"}),
                    over="c")
    assert_close(Y, torch.eye(n, dtype=f64).expand(3, n, n), order=("batch", "d1", "d2"),
                 **ALLCLOSE)


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
    torch.testing.assert_close(got, ref, **ALLCLOSE)


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
        assert_close(bp[v], bf[v], order=v, rtol=1e-5, atol=1e-12, check_dtype=False)
        torch.testing.assert_close(fu[v], bf[v], rtol=1e-5, atol=1e-12, check_dtype=False)


def longest_path_in_edges(factors):
    """The longest path of a tree-shaped factor graph, by breadth-first search."""
    nbrs = {}
    for i, f in enumerate(factors):
        for v in nt.names(f):
            nbrs.setdefault(("f", i), set()).add(("v", v))
            nbrs.setdefault(("v", v), set()).add(("f", i))
    best = 0
    for node in nbrs:
        dist, queue = {node: 0}, [node]
        for n in queue:
            for m in nbrs[n] - dist.keys():
                dist[m] = dist[n] + 1
                queue.append(m)
        best = max(best, max(dist.values()))
    return best


@SETTINGS
@given(random_tree())
def test_belief_propagation_on_a_tree_is_exact_after_half_the_longest_path(factors):
    """ceil(D/2) rounds (D: longest path in edges) give the exact marginals;
    the loop stops at most one round later."""
    D = longest_path_in_edges(factors)
    rounds = -(-D // 2)
    bp, info = nt.examples.belief_propagation(factors, max_iter=rounds,
                                              return_messages=True)
    bf = brute_marginals(factors)
    for v in bf:
        assert_close(bp[v], bf[v], order=v, rtol=1e-5, atol=1e-12, check_dtype=False)
    _, info = nt.examples.belief_propagation(factors, return_messages=True)
    assert info["iterations"] <= rounds + 1


def test_belief_propagation_needs_the_rounds_on_a_chain():
    """On a chain with evidence at one end, ceil(D/2) - 1 rounds are not enough."""
    n = 6
    factors = [nt.tensor(torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=f64), (f"x{i}", f"x{i+1}"))
               for i in range(n - 1)]
    factors.append(nt.tensor(torch.tensor([0.05, 0.95], dtype=f64), f"x{n - 1}"))
    D = longest_path_in_edges(factors)
    assert D == 2 * (n - 1) + 1                 # x0 ... x5, then the evidence factor
    rounds = -(-D // 2)
    bf = brute_marginals(factors)
    early = nt.examples.belief_propagation(factors, max_iter=rounds - 1)
    on_time, info = nt.examples.belief_propagation(factors, max_iter=rounds,
                                                   return_messages=True)
    assert not torch.allclose(P(early["x0"], "x0").double(), bf["x0"].double(), atol=1e-6)
    for v in bf:
        assert_close(on_time[v], bf[v], order=v, rtol=1e-5, atol=1e-12, check_dtype=False)
    _, info = nt.examples.belief_propagation(factors, return_messages=True)
    assert info["iterations"] == rounds + 1


def test_belief_propagation_star_with_a_three_way_factor():
    fs = [nt.rand(seed=1, a=2, b=3, c=2, dtype=f64), nt.rand(seed=2, c=2, d=4, dtype=f64),
          nt.rand(seed=3, a=2, dtype=f64), nt.rand(seed=4, d=4, e=3, dtype=f64)]
    bp, info = nt.examples.belief_propagation(fs, return_messages=True)
    bf = brute_marginals(fs)
    for v in bf:
        assert_close(bp[v], bf[v], order=v, rtol=1e-5, atol=1e-12, check_dtype=False)
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


def test_belief_propagation_init_continues():
    fs = [nt.rand(seed=1, a=2, b=3, dtype=f64), nt.rand(seed=2, b=3, c=2, dtype=f64),
          nt.rand(seed=3, c=2, a=2, dtype=f64)]                     # a cycle
    _, three = nt.examples.belief_propagation(fs, max_iter=3, return_messages=True)
    _, two = nt.examples.belief_propagation(fs, max_iter=2, return_messages=True)
    _, more = nt.examples.belief_propagation(fs, max_iter=1, init=two["factor_to_variable"],
                                    return_messages=True)
    for e, m in three["factor_to_variable"].items():
        assert_close(m, more["factor_to_variable"][e], rtol=1e-5, atol=1e-14, check_dtype=False)
