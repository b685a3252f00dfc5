"""Worked examples beyond neural networks (the paper's first version, §3.4).

The first arXiv version of *Named Tensor Notation* had examples that the
published version dropped: discrete random variables, a continuous bag of
words, Sudoku, k-means, beam search and the multivariate normal.  They are
here, with the paper's misprints corrected (k-means update, Sudoku box
index, the identity that defines argmaxk), together with belief propagation,
which is this book's own addition (it is in no version of the paper).

Every axis a function consumes or produces is a keyword argument whose
default is the paper's name; any other axis is lifted over.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, Callable, Sequence

import torch

from ._internal import (AxisError, Axes, Axis, checked, count, data_in, device,
                        float_dtype, fmt, make, merged_sizes)
from .core import (Named, argmin, contract, index, log, max, norm, positional, rename, shape,
                   softmax, sum, tensor)


def _wrap(data: torch.Tensor, names: Sequence[str]) -> Named:
    return make(data, tuple(names))

__all__ = [
    "joint", "marginal", "bayes",
    "cbow",
    "sudoku_one_hot", "box_rows", "sudoku_boxes", "sudoku_constraints",
    "sudoku_check", "sudoku_propagate",
    "kmeans_assign", "kmeans_update", "kmeans",
    "maxk", "argmaxk", "beam_search",
    "det", "inv", "mvn_log_density",
    "belief_propagation",
]


def __dir__() -> list[str]:
    """dir() of the namespace: its own functions, not the names it imports."""
    return sorted(__all__)


# --------------------------------------------------------------------------
# discrete random variables

def joint(p_B_given_A: Named, p_A: Named) -> Named:
    """The chain rule p(A, B) = p(B | A) ⊙ p(A) (an elementwise product)."""
    return p_B_given_A * p_A


@checked(p_B_given_A="has A", p_A="has A")
def marginal(p_B_given_A: Named, p_A: Named, *, A: Axis = "A") -> Named:
    """The marginal p(B) = p(B | A) ⊙_A p(A): sum the joint over A.

    Example:

    >>> p_A = nt.tensor([0.5, 0.5], "A")
    >>> p_B_given_A = nt.tensor([[0.9, 0.1], [0.2, 0.8]], ("A", "B"))
    >>> nt.show(nt.examples.marginal(p_B_given_A, p_A))
    B[2]
    [0.55 0.45]
    """
    return contract(p_B_given_A, p_A, over=A)


def bayes(p_B_given_A: Named, p_A: Named, *, A: Axis = "A") -> Named:
    """Bayes' rule p(A | B) = p(B | A) ⊙ p(A) / (p(B | A) ⊙_A p(A)).

    Example:

    >>> p_A = nt.tensor([0.5, 0.5], "A")
    >>> p_B_given_A = nt.tensor([[0.9, 0.1], [0.2, 0.8]], ("A", "B"))
    >>> nt.show(nt.examples.bayes(p_B_given_A, p_A), ("A", "B"))   # p(A | B)
    A[2] × B[2]   (rows: A, columns: B)
    [[0.8182 0.1111]
     [0.1818 0.8889]]
    """
    return joint(p_B_given_A, p_A) / marginal(p_B_given_A, p_A, A=A)


# --------------------------------------------------------------------------
# continuous bag of words

@checked(X="has seq vocab, lacks classes", E="has vocab emb",
         W="has classes emb")
def cbow(X: Named, E: Named, W: Named, *, seq: Axis = "seq", vocab: Axis = "vocab",
         emb: Axis = "emb", classes: Axis = "classes") -> Named:
    """CBOW(X; E, W) = softmax_classes(Σ_seq W ⊙_emb E ⊙_vocab X).

    X ∈ {0,1}^{seq×vocab} holds one one-hot word per position, E ∈
    R^{vocab×emb} embeds words, W ∈ R^{classes×emb} scores classes.  The
    three-way contraction over emb, vocab and seq is one einsum (summing
    over seq is the Σ_seq of the formula).
    """
    return softmax(contract(W, E, X, over=(emb, vocab, seq)), classes)


# --------------------------------------------------------------------------
# Sudoku

@checked()
def sudoku_one_hot(grid: Sequence[Sequence[int]], *, height: Axis = "height",
                   width: Axis = "width", assign: Axis = "assign") -> Named:
    """A grid of digits 1..n (nested lists, n×n) as a one-hot tensor
    X ∈ {0,1}^{height×width×assign}.

    Position d−1 of ``assign`` is digit d (code counts from 0).  A 0 in the
    grid is an empty cell: its assign slice is all zeros.
    """
    g = torch.as_tensor(grid, dtype=torch.int64)
    n = g.shape[-1]
    X = torch.nn.functional.one_hot(g, n + 1)[..., 1:].to(torch.float64)
    return _wrap(X.to(device()), (height, width, assign))


def box_rows(h_box: Any, h: Any, b: int = 3) -> Any:
    """The grid row (0-based) of row h of box row h' (both 0-based): b·h' + h.

    In the paper's 1-based counting this is b(h'−1) + h; the first version
    printed 3h' + h − 1 = 3(h'−1) + h + 2, two rows (and, for columns, two
    columns) past the right one (an erratum).
    """
    return b * h_box + h


def _square_grid(X, height, width, height_box, width_box, rows):
    n = shape(X)[height]
    b = math.isqrt(n)
    if b * b != n or shape(X)[width] != n:
        raise AxisError(f"sudoku_boxes: axes {height!r}[{n}] and {width!r}"
                        f"[{shape(X)[width]}] must have one square size b·b")


@checked(X="has height width, lacks height_box width_box", check=_square_grid)
def sudoku_boxes(X: Named, *, height: Axis = "height", width: Axis = "width",
                 height_box: Axis = "height'", width_box: Axis = "width'",
                 rows: Callable[[Any, Any, int], Any] = box_rows) -> Named:
    """The box tensor Y ∈ {0,1}^{height'×width'×height×width×assign} of X.

    Y_{height'(h'),width'(w'),height(h),width(w)} = X_{height(r(h',h)),
    width(r(w',w))} with r = ``rows`` (default :func:`box_rows`, the corrected
    index; ``rows(h_box, h, b)`` gets 0-based index tensors and the box
    side b), built by named indexing: an integer tensor over (height', height)
    indexes the grid's rows, one over (width', width) its columns.
    """
    b = math.isqrt(shape(X)[height])
    r = torch.arange(b, device=device())
    Irow = tensor(rows(r[:, None], r[None, :], b), (height_box, height))
    Icol = tensor(rows(r[:, None], r[None, :], b), (width_box, width))
    grid_h, grid_w = height + "@grid", width + "@grid"
    G = rename(X, {height: grid_h, width: grid_w})
    return index(index(G, grid_h, Irow), grid_w, Icol)


def _all_equal_one(s, keep):
    """1.0 where all entries of s (over axes not in ``keep``) are 1, else 0."""
    ok = (data_in(s, tuple(shape(s))) == 1).to(torch.float64)
    names = tuple(shape(s))
    kept = [a for a in names if a in keep]
    data = ok.permute([names.index(a) for a in kept]
                      + [i for i, a in enumerate(names) if a not in keep])
    data = data.reshape(data.shape[:len(kept)] + (-1,)).amin(-1)
    return _wrap(data, kept)


@checked(X="has height width assign")
def sudoku_constraints(X: Named, *, height: Axis = "height", width: Axis = "width",
                       assign: Axis = "assign",
                       rows: Callable[[Any, Any, int], Any] = box_rows) -> dict[str, Named]:
    """The four constraints of a solved grid, each 1.0 (holds) or 0.0 (fails).

    ``cell``: Σ_assign X = 1 (one digit per cell); ``box``: Σ_{height,width} Y
    = 1 (each digit once per box); ``column``: Σ_height X = 1; ``row``:
    Σ_width X = 1.  Axes of X other than the three are lifted over.
    """
    keep = [a for a in shape(X) if a not in (height, width, assign)]
    Y = sudoku_boxes(X, height=height, width=width, rows=rows)
    return {"cell": _all_equal_one(sum(X, assign), keep),
            "box": _all_equal_one(sum(Y, (height, width)), keep),
            "column": _all_equal_one(sum(X, height), keep),
            "row": _all_equal_one(sum(X, width), keep)}


def sudoku_check(X: Named, *, height: Axis = "height", width: Axis = "width",
                 assign: Axis = "assign",
                 rows: Callable[[Any, Any, int], Any] = box_rows) -> Named:
    """check(X) = 𝕀[Σ_assign X = 1 ∧ Σ_{height,width} Y = 1 ∧ Σ_height X = 1 ∧
    Σ_width X = 1], lifted over any other axes of X (1.0 valid, 0.0 not).

    Example:

    >>> grid = [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]
    >>> nt.show(nt.examples.sudoku_check(nt.examples.sudoku_one_hot(grid)))
    scalar: 1.
    >>> grid[3] = [4, 3, 1, 2]                  # two 1s in the last box
    >>> nt.show(nt.examples.sudoku_check(nt.examples.sudoku_one_hot(grid)))
    scalar: 0.
    """
    c = sudoku_constraints(X, height=height, width=width, assign=assign,
                           rows=rows)
    return c["cell"] * c["box"] * c["column"] * c["row"]


def _is(x, value):
    """1.0 where x equals value, else 0.0 (elementwise)."""
    return _wrap((x.data == value).to(torch.float64), x.names)


def _box_to_grid(B, height, width, height_box, width_box, b):
    """Spread a tensor over boxes (height', width') back onto the grid."""
    r = torch.arange(b * b, device=device()) // b
    B = index(B, height_box, _wrap(r, (height,)))
    return index(B, width_box, _wrap(r, (width,)))


def _rounds(X, height, width, assign, max_iter):
    count(max_iter, "sudoku_propagate", "max_iter")


@checked(X="has height width assign", values=True, check=_rounds)
def sudoku_propagate(X: Named, *, height: Axis = "height", width: Axis = "width",
                     assign: Axis = "assign", max_iter: int = 100) -> Named:
    """Solve by constraint propagation: X ∈ {0,1}^{height×width×assign}
    holds the clues (an empty cell is all zeros).

    C ∈ {0,1}^{height×width×assign} marks the digits still possible. Each
    round (1) removes a digit from a cell when a decided cell (one
    candidate) in its row, column or box holds it; (2) decides a cell when
    one of its candidates is possible nowhere else in a row, column or box.
    Unit counts are sums over width, over height, and over the box tensor
    (spread back onto the grid by indexing).  Stops when nothing changes;
    returns C, a solution where every cell has one candidate.

    Example:

    >>> clues = [[1, 0, 0, 4], [0, 0, 1, 0], [2, 0, 0, 0], [0, 3, 0, 0]]
    >>> C = nt.examples.sudoku_propagate(nt.examples.sudoku_one_hot(clues))
    >>> digits = nt.tensor([1., 2, 3, 4], "assign")
    >>> nt.show(nt.contract(C, digits, over="assign"), ("height", "width"))
    height[4] × width[4]   (rows: height, columns: width)
    [[1. 2. 3. 4.]
     [3. 4. 1. 2.]
     [2. 1. 4. 3.]
     [4. 3. 2. 1.]]
    """
    b = math.isqrt(shape(X)[height])
    hb, wb = height + "'", width + "'"
    empty = _is(sum(X, assign), 0)
    C = X + empty                        # empty cells: every digit possible

    def units(T):                        # count of T in the cell's row/col/box
        box = sum(sudoku_boxes(T, height=height, width=width), (height, width))
        return (sum(T, width), sum(T, height),
                _box_to_grid(box, height, width, hb, wb, b))

    for _ in range(max_iter):
        F = C * _is(sum(C, assign), 1)   # decided cells
        for seen in units(F):
            C = C * _is(seen - F, 0)
        only = [C * _is(n, 1) for n in units(C)]
        hidden = 1 - _is(only[0] + only[1] + only[2], 0)
        decide = 1 - _is(sum(hidden, assign), 0)
        new = C * (1 - decide) + hidden * decide
        if bool(torch.equal(data_in(new, tuple(shape(C))),
                            data_in(C, tuple(shape(C))))):
            break
        C = new
    return C


# --------------------------------------------------------------------------
# k-means

@checked(X="has d, lacks clusters", C="has clusters d")
def kmeans_assign(X: Named, C: Named, *, d: Axis = "d",
                  clusters: Axis = "clusters") -> Named:
    """Q = argmin_clusters norm_d(C − X): the nearest centroid, one-hot.

    Example:

    >>> X = nt.tensor([[0., 0], [0, 1], [9, 9]], ("batch", "d"))
    >>> C = nt.tensor([[0., 0], [5, 5]], ("clusters", "d"))
    >>> nt.show(nt.examples.kmeans_assign(X, C), ("batch", "clusters"))
    batch[3] × clusters[2]   (rows: batch, columns: clusters)
    [[1. 0.]
     [1. 0.]
     [0. 1.]]
    """
    return argmin(norm(C - X, d), clusters)


@checked(X="has batch", Q="has batch")
def kmeans_update(X: Named, Q: Named, *, batch: Axis = "batch") -> Named:
    """C = (Q ⊙_batch X) / Σ_batch Q: each centroid is the mean of its points.

    (The first version printed Σ_batch (Q ⊙ X) / Q, which divides by zero
    wherever a point is not in a cluster.)  A cluster with no points gets
    0/0 = nan.
    """
    return contract(Q, X, over=batch) / sum(Q, batch)


def _steps(X, C0, steps, batch, d, clusters):
    count(steps, "kmeans", "steps")


@checked(X="has batch d", C0="lacks batch", check=_steps)
def kmeans(X: Named, C0: Named, *, steps: int, batch: Axis = "batch", d: Axis = "d",
           clusters: Axis = "clusters") -> Named:
    """``steps`` rounds of Lloyd's k-means from centroids C0 ∈ R^{clusters×d}.

    X ∈ R^{batch×d}.  Each round assigns (:func:`kmeans_assign`) and updates
    (:func:`kmeans_update`).  Returns the centroids.

    Example:

    >>> X = nt.tensor([[0., 0], [0, 1], [9, 9], [9, 10]], ("batch", "d"))
    >>> C0 = nt.tensor([[0., 0], [5, 5]], ("clusters", "d"))
    >>> nt.show(nt.examples.kmeans(X, C0, steps=2), ("clusters", "d"))
    clusters[2] × d[2]   (rows: clusters, columns: d)
    [[0.  0.5]
     [9.  9.5]]
    """
    C = C0
    for _ in range(steps):
        Q = kmeans_assign(X, C, d=d, clusters=clusters)
        C = kmeans_update(X, Q, batch=batch)
    return C


# --------------------------------------------------------------------------
# beam search

def _topk(x, ax, k, new, what):
    axes = (ax,) if isinstance(ax, str) else tuple(ax)
    have = shape(x)
    n = math.prod([have[a] for a in axes])
    if not 1 <= k <= n:
        raise AxisError(f"{what}: k = {k} must lie in [1, {n}], the size of "
                        f"axes {list(axes)} "
                        f"{fmt({a: have[a] for a in axes})}")
    rest = tuple(a for a in have if a not in axes)
    if new in rest:
        raise AxisError(f"{what}: new axis name {new!r} is already an axis "
                        f"of the tensor {fmt(have)}")
    data = data_in(x, rest + axes)
    data = data.reshape(data.shape[:len(rest)] + (n,))
    vals, idx = torch.topk(data, k, dim=-1)
    return vals, idx, rest, axes, have, n


@checked(x="real has ax")
def maxk(x: Named, ax: Axes, k: int, *, new: Axis = "k") -> Named:
    """maxk_{ax,k} X: the k largest values along ``ax`` (one axis or several,
    taken together), largest first, along a new axis ``new`` of size k.

    Example:

    >>> x = nt.tensor([3., 1, 4, 1, 5], "vocab")
    >>> nt.show(nt.examples.maxk(x, "vocab", 2))
    k[2]
    [5. 4.]
    """
    vals, _, rest, _, _, _ = _topk(x, ax, k, new, "maxk")
    return tensor(vals, rest + (new,))


@checked(x="real has ax")
def argmaxk(x: Named, ax: Axes, k: int, *, new: Axis = "k") -> Named:
    """argmaxk_{ax,k} X ∈ {0,1}^{ax×k}: for each j along ``new``, the one-hot
    position of the j-th largest value, so that X ⊙_ax argmaxk X = maxk X.

    (The first version printed the right side as max_{ax,k} A, not maxk.)  Ties
    are broken as torch.topk breaks them.

    Example:

    >>> x = nt.tensor([3., 1, 4, 1, 5], "vocab")
    >>> nt.show(nt.examples.argmaxk(x, "vocab", 2), ("k", "vocab"))
    k[2] × vocab[5]   (rows: k, columns: vocab)
    [[0. 0. 0. 0. 1.]
     [0. 0. 1. 0. 0.]]
    """
    vals, idx, rest, axes, have, n = _topk(x, ax, k, new, "argmaxk")
    onehot = torch.zeros(vals.shape[:-1] + (n, k), dtype=vals.dtype,
                         device=vals.device)
    onehot.scatter_(-2, idx.unsqueeze(-2), 1.0)
    onehot = onehot.reshape(vals.shape[:-1] + tuple(have[a] for a in axes)
                            + (k,))
    return tensor(onehot, rest + axes + (new,))


def _append(Y, S, time):
    """Y with the slice S added at the end of axis ``time``."""
    order = tuple(a for a in shape(Y) if a != time)
    y = data_in(Y, order + (time,))
    s = data_in(S, order).unsqueeze(-1).to(y.dtype)
    return _wrap(torch.cat([y, s], -1), order + (time,))


def _first_argmax(x, ax, new):
    """One-hot along ``new`` (same size as ``ax``) of the first position of
    the maximum along ``ax``: ties go to one position, not shared."""
    rest = tuple(a for a in shape(x) if a != ax)
    i = torch.argmax(data_in(x, rest + (ax,)), dim=-1)
    onehot = torch.nn.functional.one_hot(i, shape(x)[ax]).to(x.data.dtype)
    return _wrap(onehot, rest + (new,))


def _beam_check(f, H, S, steps, k, merge, beam, state, time):
    count(steps, "beam_search", "steps")
    count(k, "beam_search", "k")
    n = shape(S)[state]
    if merge and not 1 <= k <= n:
        raise AxisError(f"beam_search: with merge=True the beam keeps at most "
                        f"one hypothesis per state, so k = {k} must lie in "
                        f"[1, {n}], the size of axis {state!r}")
    if not merge and k < 1:
        raise AxisError(f"beam_search: k = {k} must be at least 1")


@checked(H="real has beam", S="real has beam state", compatible=False, check=_beam_check)
def beam_search(f: Callable[[Named], Named], H: Named, S: Named, *, steps: int, k: int,
                merge: bool = True, beam: Axis = "beam", state: Axis = "state",
                time: Axis = "time") -> tuple[Named, Named]:
    """Beam search of width k for ``steps`` steps.

    H ∈ R^{beam} are the hypotheses' log-scores, S ∈ {0,1}^{beam×state} their
    current states (one-hot), and f(S) ∈ R^{state} (lifted over beam) the
    log-scores of the next state.  Each step scores every extension,
    E = H + f(S) ∈ R^{beam×state} (the first version's H ⊙ f(S), with
    products of probabilities as sums of log-scores), then keeps k of them:

    - ``merge=True`` (the update the first version prints): for each next
      state only its best extension, H' = max_beam E ∈ R^{state}; then
      H ← maxk_{state,beam} H', S ← argmaxk_{state,beam} H'.  Hypotheses
      that reach the same state are merged (recombination), so k ≤ |state|;
      with k = |state| this is the Viterbi recursion and the search is exact.
    - ``merge=False``: rank all |beam|·|state| extensions together,
      H ← maxk_{(state,beam),k} E, S ← Σ_beam argmaxk_{(state,beam),k} E
      (renamed k → beam); several hypotheses may share a state.  The beam
      grows to width k if it starts smaller.

    Returns (H, Y): the final log-scores, best first, and the sequences
    Y ∈ {0,1}^{beam×time×state} (time[steps+1], position 0 the start).
    Other axes of H, S and f(S) (a batch) are lifted over.  Log-scores must
    be finite if f contracts the one-hot S with them (0·(−∞) is nan).
    """
    prev = beam + "@prev"                      # the beam before the step
    order = tuple(shape(S))
    Y = tensor(positional(S, order).unsqueeze(-1), order + (time,))
    for _ in range(steps):
        E = H + f(S)                                    # R^{beam×state}
        if merge:
            Hp = max(E, beam)                           # H' ∈ R^{state}
            H = maxk(Hp, state, k, new=beam)            # H ← maxk_{state,beam} H'
            S = argmaxk(Hp, state, k, new=beam)         # S ← argmaxk_{state,beam} H'
            back = contract(_first_argmax(E, beam, prev), S, over=state)
        else:
            Ep = rename(E, {beam: prev})
            kt = min(k, shape(Ep)[prev] * shape(Ep)[state])
            A = argmaxk(Ep, (state, prev), kt, new=beam)  # {0,1}^{state×prev×beam}
            H = maxk(Ep, (state, prev), kt, new=beam)
            S = sum(A, prev)                            # which next state
            back = sum(A, state)                        # which old hypothesis
        Y = contract(back, rename(Y, {beam: prev}), over=prev)
        Y = _append(Y, S, time)
    return H, Y


# --------------------------------------------------------------------------
# multivariate normal

def _square_check(x, ax1, ax2, what):
    s = shape(x)
    if s[ax1] != s[ax2]:
        raise AxisError(f"{what}: axes {ax1!r}[{s[ax1]}] and "
                        f"{ax2!r}[{s[ax2]}] must have the same size "
                        f"(a square matrix)")


def _square(x, ax1, ax2, what):
    rest = tuple(a for a in x.names if a not in (ax1, ax2))
    data = data_in(x, rest + (ax1, ax2))
    if not (data.is_floating_point() or data.is_complex()):
        data = data.to(float_dtype(x))  # integers: the default float dtype
    return data, rest


def _det_check(x, ax1, ax2):
    _square_check(x, ax1, ax2, "det")


def _inv_check(x, ax1, ax2):
    _square_check(x, ax1, ax2, "inv")


@checked(x="has ax1 ax2", check=_det_check)
def det(x: Named, ax1: Axis, ax2: Axis) -> Named:
    """det_{ax1,ax2} X: the determinant of the matrix with axes ax1, ax2
    (lifted over the other axes).

    Example:

    >>> A = nt.tensor([[2., 1], [1, 3]], ("row", "col"))
    >>> nt.show(nt.examples.det(A, "row", "col"))
    scalar: 5.
    """
    data, rest = _square(x, ax1, ax2, "det")
    return tensor(torch.linalg.det(data), rest)


@checked(x="has ax1 ax2", check=_inv_check)
def inv(x: Named, ax1: Axis, ax2: Axis) -> Named:
    """inv_{ax1,ax2} X: the matrix inverse, with the same axes.

    If X's rows are ax1 and its columns ax2, so are the inverse's:
    positional(inv(X), (ax1, ax2))
    = torch.linalg.inv(positional(X, (ax1, ax2))).

    Example:

    >>> A = nt.tensor([[2., 1], [1, 3]], ("row", "col"))
    >>> nt.show(nt.examples.inv(A, "row", "col"), ("col", "row"))
    col[2] × row[2]   (rows: col, columns: row)
    [[ 0.6 -0.2]
     [-0.2  0.4]]
    """
    data, rest = _square(x, ax1, ax2, "inv")
    return tensor(torch.linalg.inv(data), rest + (ax1, ax2))


def _mvn_check(X, mu, Sigma, d, d1, d2):
    _square_check(Sigma, d1, d2, "mvn_log_density (Sigma)")
    n = shape(X)[d]
    if shape(Sigma)[d1] != n:
        raise AxisError(f"mvn_log_density: Sigma's axes "
                        f"{d1!r}[{shape(Sigma)[d1]}], "
                        f"{d2!r}[{shape(Sigma)[d2]}] must match X's "
                        f"{d!r}[{n}]")


@checked(X="real has d", mu="real has d", Sigma="real has d1 d2", check=_mvn_check)
def mvn_log_density(X: Named, mu: Named, Sigma: Named, *, d: Axis = "d", d1: Axis = "d1",
                    d2: Axis = "d2") -> Named:
    """log N(X; μ, Σ) = −½ (inv_{d1,d2} Σ) ⊙_{d1,d2} ([X−μ]_{d→d1} ⊙
    [X−μ]_{d→d2}) − ½ log((2π)^{|d|} det_{d1,d2} Σ).

    X, μ ∈ R^{d}, Σ ∈ R^{d1×d2} (|d| = |d1| = |d2|); other axes are lifted.

    Example:

    >>> X = nt.tensor([[0., 0], [1, 1]], ("batch", "d"))
    >>> mu = nt.tensor([0., 0], "d")
    >>> Sigma = nt.tensor([[1., 0], [0, 1]], ("d1", "d2"))
    >>> nt.show(nt.examples.mvn_log_density(X, mu, Sigma))  # -log 2π - |x|²/2
    batch[2]
    [-1.8379 -2.8379]
    """
    n = shape(X)[d]
    D = X - mu
    quad = contract(inv(Sigma, d1, d2), rename(D, {d: d1}), rename(D, {d: d2}),
                    over=(d1, d2))
    log_norm = n * math.log(2 * math.pi) + log(det(Sigma, d1, d2))
    return -0.5 * quad - 0.5 * log_norm


# --------------------------------------------------------------------------
# belief propagation (beyond the paper)

def _ones(ax, n, like):
    return _wrap(torch.ones(n, dtype=like.dtype, device=like.device), (ax,))


def _product(ms, ax, n, like):
    """The elementwise product of the messages ms (each over axis ax)."""
    if not ms:
        return _ones(ax, n, like)
    if len(ms) == 1:
        return ms[0]
    return contract(*ms)


def _normalise(m, ax):
    return m / sum(m, ax)


def _factors_check(factors, max_iter, tol, return_messages, init):
    count(max_iter, "belief_propagation", "max_iter")
    if not factors:
        raise ValueError("belief_propagation: factors is empty; give at least one "
                         "factor (a factor graph without factors has no variables)")
    for i, f in enumerate(factors):
        if not shape(f):
            raise AxisError(f"belief_propagation: factor {i} has no axes "
                            f"(variables)")
        if bool((f.data < 0).any()):
            raise ValueError(f"belief_propagation: factor {i} has negative "
                             f"entries")


@checked(factors="each real", check=_factors_check, values=True)
def belief_propagation(factors: Sequence[Named], *, max_iter: int = 100,
                       tol: float = 1e-12, return_messages: bool = False,
                       init: dict[tuple[int, str], Named] | None = None) -> Any:
    """Sum-product belief propagation on the factor graph of ``factors``.

    Each factor is a nonnegative named tensor whose axes are the variables it
    touches; a variable is an axis name, shared by the factors that touch
    it.  Messages are vectors over one variable, updated in parallel:

    - variable → factor: m_{v→f} = ⊙ of the messages m_{g→v} from the
      other factors g of v;
    - factor → variable: m_{f→v} = f ⊙_{vars(f) − v} (⊙ of m_{u→f}, u ≠ v),
      one contraction;

    each normalised to sum to 1.  The belief of v is the normalised product
    of the messages into it.  A round is one variable → factor and one
    factor → variable update.  On a tree (no cycles) every message is final
    after at most ⌈D/2⌉ rounds, D the length in edges of the longest path of
    the factor graph, and the beliefs are then the exact marginals; the loop
    stops at the first round that changes no message by more than ``tol``.
    On a graph with cycles ("loopy" belief propagation) the beliefs are
    approximations, if the iteration converges at all.

    Returns ``{variable: marginal}``, or with ``return_messages`` also
    ``{"factor_to_variable": {(i, v): m}, "iterations": n, "change": c}``.
    ``init`` (such a ``factor_to_variable`` dict) continues from earlier
    messages instead of uniform ones.
    """
    fs = factors
    sizes = merged_sizes(fs, "belief_propagation")
    like = fs[0].data
    edges = [(i, v) for i, f in enumerate(fs) for v in f.inputs]
    of_var = {v: [i for i, f in enumerate(fs) if v in f.inputs] for v in sizes}
    f2v = {(i, v): _normalise(_ones(v, sizes[v], like), v) for i, v in edges}
    if init is not None:
        f2v.update({e: init[e] for e in edges if e in init})
    change, it = math.inf, 0
    while it < max_iter and change > tol:
        it += 1
        v2f = {(i, v): _normalise(_product(
                   [f2v[j, v] for j in of_var[v] if j != i],
                   v, sizes[v], like), v)
               for i, v in edges}
        new = {}
        for i, v in edges:
            others = [u for u in fs[i].inputs if u != v]
            m = contract(fs[i], *[v2f[i, u] for u in others], over=others) \
                if others else fs[i]
            new[i, v] = _normalise(m, v)
        change = builtins.max(float((data_in(new[e], (e[1],))
                                     - data_in(f2v[e], (e[1],))).abs().max())
                              for e in edges)
        f2v = new
    beliefs = {v: _normalise(_product([f2v[j, v] for j in of_var[v]],
                                      v, sizes[v], like), v)
               for v in sizes}
    if return_messages:
        return beliefs, {"factor_to_variable": f2v, "iterations": it,
                         "change": change}
    return beliefs
