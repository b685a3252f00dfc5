"""Named tensors in other notations (paper section 6): xarray, SQL, diagrams.

- :func:`to_xarray` / :func:`from_xarray` — a named tensor as an
  ``xarray.DataArray`` (one ``dim`` per axis) and back;
- :func:`sql_load`, :func:`sql_contract_query`, :func:`sql_read`,
  :func:`sql_contract` — a tensor as a relation (one row per index record:
  index columns and a value column); contraction as JOIN on the shared index
  columns, GROUP BY the kept ones and SUM of the product; renaming as column
  aliases (the relational algebra's rho);
- :func:`network` — the tensor-network diagram of a contraction, as a graph
  (tensors as nodes, contracted axes as edges, kept axes as dangling legs)
  that :meth:`Network.draw` draws with matplotlib;
- :func:`relation` / :func:`tuples` — a relation (a set of tuples with named
  members) as a Boolean named tensor and back, for the paper's observation
  that relations are Boolean tensors, the natural join an elementwise
  product and renaming the relational rho;
- :func:`dropout` / :func:`varying_axes` — dropout specified by the axes its
  mask has (the paper's Dropout2d example), and the axes along which a
  tensor is not constant (to read off which mask an implementation used).

xarray is imported only when :func:`to_xarray` or :func:`from_xarray` runs.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from ._internal import AxisError, Axes, Order, axis_size, checked, fmt, merged_sizes
from .core import Named, positional, shape, tensor

__all__ = [
    "to_xarray", "from_xarray", "sql_load", "sql_contract_query", "sql_read",
    "sql_contract", "Network", "network", "relation", "tuples", "dropout",
    "varying_axes",
]


def __dir__() -> list[str]:
    """dir() of the namespace: its own functions, not the names it imports."""
    return sorted(__all__)


# --------------------------------------------------------------------------
# xarray

@checked("x", values=True)
def to_xarray(x: Named, coords: Mapping[str, Any] | None = None) -> Any:
    """The named tensor ``x`` as an ``xarray.DataArray``, one dim per axis.

    The dims have the axes' names.

    The values are copied to a numpy array on the CPU (dims in ``x``'s storage
    order, which carries no meaning).  ``coords`` (optional) is passed on to
    the DataArray, e.g. ``{"seq": ["a", "b", "c"]}``.

    Example:

    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> da = nt.alternatives.to_xarray(A)
    >>> da.dims
    ('i', 'j')
    >>> nt.equal(nt.alternatives.from_xarray(da.transpose("j", "i")), A)
    True
    """
    import xarray as xr

    order = tuple(shape(x))
    data = positional(x, order).detach().cpu().numpy().copy()
    return xr.DataArray(data, dims=order, coords=coords)


def _string_dims(da):
    bad = [d for d in da.dims if not isinstance(d, str)]
    if bad:
        raise AxisError(f"from_xarray: dim names must be strings to become "
                        f"axis names; got {bad} among dims {tuple(da.dims)}")


@checked(check=_string_dims)
def from_xarray(da: Any) -> Named:
    """An ``xarray.DataArray`` as a named tensor: one axis per dim, same names.

    Rule for coordinates: a named tensor indexes every axis by position
    0, 1, ..., n-1 and has no coordinates, so all coordinates of ``da``
    (labels along a dim, and non-dimension coordinates) are dropped; the
    values are taken in ``da``'s order along each dim.  Keep ``da.coords``
    yourself if you need them.  Dim names must be strings (AxisError
    otherwise).
    """
    data = torch.from_numpy(np.array(da.values, copy=True))
    return tensor(data, tuple(da.dims))


# --------------------------------------------------------------------------
# SQL (sqlite3, float64 values)

def _q(name: str) -> str:
    """A quoted SQL identifier (an axis name such as seq' is not plain)."""
    return '"' + str(name).replace('"', '""') + '"'


@checked(x="real", values=True)
def sql_load(conn: sqlite3.Connection, table: str, x: Named, *,
             value: str = "v") -> dict[str, int]:
    """Store the named tensor ``x`` as table ``table``, a row per record.

    Columns: one INTEGER column per axis (named like the axis, 0-based) and a
    REAL column ``value``.  Returns the table's shape ``{axis: size}``.
    """
    sizes = shape(x)
    if value in sizes:
        raise AxisError(f"sql_load: the value column {value!r} clashes with "
                        f"an axis; the tensor has {fmt(sizes)}")
    order = tuple(sizes)
    data = positional(x, order).detach().cpu().double().numpy()
    cols = [_q(a) + " INTEGER" for a in order] + [_q(value) + " REAL"]
    conn.execute(f"DROP TABLE IF EXISTS {_q(table)}")
    conn.execute(f"CREATE TABLE {_q(table)} ({', '.join(cols)})")
    rows = ((*map(int, idx), float(data[idx]))
            for idx in np.ndindex(*data.shape))
    marks = ", ".join("?" * (len(order) + 1))
    conn.executemany(f"INSERT INTO {_q(table)} VALUES ({marks})", rows)
    return dict(sizes)


def _query_check(tables, over, rename, value, scale):
    have = list(dict.fromkeys(a for t in tables for a in tables[t]))
    for a in over:
        if a not in have:
            raise AxisError(f"sql_contract_query: no table has axis {a!r} "
                            f"to contract over; the tables' axes are "
                            f"{sorted(have)}")
    keep = [a for a in have if a not in over]
    rename = dict(rename or {})
    for a in rename:
        if a not in keep:
            raise AxisError(f"sql_contract_query: cannot rename {a!r}: it is "
                            f"not a kept axis; the kept axes are {keep}")
    out = [rename.get(a, a) for a in keep]
    dup = sorted({a for a in out if out.count(a) > 1})
    if dup:
        raise AxisError(f"sql_contract_query: renaming {rename} gives "
                        f"repeated columns {dup}; the kept axes are {keep}")


@checked(check=_query_check)
def sql_contract_query(tables: Mapping[str, Sequence[str]], over: Axes = (), *,
                       rename: Mapping[str, str] | None = None,
                       value: str = "v", scale: float | None = None) -> str:
    """The SQL text of the contraction ``T1 ⊙_over T2 ⊙_over ...``.

    ``tables`` maps each table (or WITH-clause) name to its axis names.  An
    axis held by several tables becomes a JOIN condition (equal index
    columns); the axes not in ``over`` are selected and grouped by; the value
    is ``SUM`` of the product of the tables' values (times ``scale``, if
    given).  ``rename`` maps kept axes to new names (column aliases, the
    relational rho).  The result has one column per kept axis and ``value``.

    Example:

    >>> print(nt.alternatives.sql_contract_query(
    ...     {"T0": ("i", "j"), "T1": ("j", "k")}, over="j"))
    SELECT t0."i" AS "i",
           t1."k" AS "k",
           SUM(t0."v" * t1."v") AS "v"
    FROM "T0" AS t0
    JOIN "T1" AS t1 ON t1."j" = t0."j"
    GROUP BY t0."i", t1."k"
    """
    names = list(tables)
    rename = dict(rename or {})
    alias = {t: f"t{k}" for k, t in enumerate(names)}
    first: dict = {}                # axis -> the column that provides it
    joins = []
    for k, t in enumerate(names):
        conds = []
        for a in tables[t]:
            col = f"{alias[t]}.{_q(a)}"
            if a in first:
                conds.append(f"{col} = {first[a]}")
            else:
                first[a] = col
        if k == 0:
            joins.append(f"FROM {_q(t)} AS {alias[t]}")
        else:
            on = "\n    AND ".join(conds) if conds else "1"
            joins.append(f"JOIN {_q(t)} AS {alias[t]} ON {on}")
    keep = [a for a in first if a not in over]
    product = " * ".join(f"{alias[t]}.{_q(value)}" for t in names)
    if scale is not None:
        product = f"{product} * {float(scale)!r}"
    select = [f"{first[a]} AS {_q(rename.get(a, a))}" for a in keep]
    select.append(f"SUM({product}) AS {_q(value)}")
    text = "SELECT " + ",\n       ".join(select) + "\n" + "\n".join(joins)
    if keep:
        text += "\nGROUP BY " + ", ".join(first[a] for a in keep)
    return text


def _sizes_check(conn, query, sizes, value, dtype):
    for a, n in sizes.items():
        axis_size(n, "sql_read", a)


@checked(check=_sizes_check)
def sql_read(conn: sqlite3.Connection, query: str, sizes: Mapping[str, int], *,
             value: str = "v", dtype: torch.dtype = torch.float64) -> Named:
    """Run ``query``; its rows (index columns, ``value``) as a named tensor.

    The axes are the result's index columns, by name; their sizes come from
    ``sizes``.  An index record with no row is 0 (a sum over nothing).

    Example:

    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:")
    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> nt.alternatives.sql_load(conn, "A", A)          # the sizes it stored
    {'i': 2, 'j': 2}
    >>> query = "SELECT j AS i, i AS j, v FROM A"      # renaming: a transpose
    >>> T = nt.alternatives.sql_read(conn, query, {"i": 2, "j": 2})
    >>> nt.show(T, ("i", "j"))
    i[2] × j[2]   (rows: i, columns: j)
    [[1. 3.]
     [2. 4.]]
    """
    cur = conn.execute(query)
    cols = [d[0] for d in cur.description]
    if cols[-1] != value:
        raise AxisError(f"sql_read: the last column must be {value!r}; "
                        f"got columns {cols}")
    axes = cols[:-1]
    missing = [a for a in axes if a not in sizes]
    if missing:
        raise AxisError(f"sql_read: no size given for axes {missing}; "
                        f"sizes are {fmt(sizes)}")
    out = np.zeros([sizes[a] for a in axes])
    for row in cur:
        out[tuple(row[:-1])] = row[-1]
    return tensor(torch.from_numpy(out).to(dtype), axes)


def _two_operands(tensors, over, rename, conn):
    if len(tensors) < 2:
        raise TypeError("sql_contract needs at least two operands")


@checked(tensors="each", check=_two_operands, values=True)
def sql_contract(*tensors: Named, over: Axes = (), rename: Mapping[str, str] | None = None,
                 conn: sqlite3.Connection | None = None) -> Named:
    """``nt.contract(*tensors, over=over)`` computed by sqlite3.

    The result's axes are then renamed by ``rename`` (column aliases).

    Each operand is loaded as a table ``T0, T1, ...`` (see :func:`sql_load`),
    the query of :func:`sql_contract_query` is run, and its rows are read back.

    Example:

    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> B = nt.tensor([[5., 6], [7, 8]], ("j", "k"))
    >>> nt.show(nt.alternatives.sql_contract(A, B, over="j"), ("i", "k"))
    i[2] × k[2]   (rows: i, columns: k)
    [[19. 22.]
     [43. 50.]]
    """
    ts = tensors
    sizes = merged_sizes(ts, "sql_contract")
    db = sqlite3.connect(":memory:") if conn is None else conn
    try:
        tables = {}
        for k, t in enumerate(ts):
            sql_load(db, f"T{k}", t)
            tables[f"T{k}"] = tuple(shape(t))
        query = sql_contract_query(tables, over, rename=rename)
        for old, new in (rename or {}).items():
            sizes[new] = sizes[old]
        return sql_read(db, query, sizes)
    finally:
        if conn is None:
            db.close()


# --------------------------------------------------------------------------
# tensor-network diagrams

@dataclass
class Network:
    """The diagram of the contraction of named tensors.

    ``nodes``: the tensors' labels.  ``edges``: ``(u, v, axis)`` for an axis
    that exactly two tensors share and that is contracted.  ``hubs``: an axis
    held by three or more tensors, or shared and kept, becomes a small dot
    (a hyperedge) joined to each tensor that holds it: ``{axis: [labels]}``.
    ``legs``: ``(node, axis)`` for each kept axis — a line with a free end,
    from the one tensor that holds it or from its hub.  ``sizes``: axis sizes.
    """
    nodes: list
    edges: list
    hubs: dict
    legs: list
    sizes: dict
    axes: dict = field(default_factory=dict)     # label -> its axes

    @property
    def free(self) -> tuple:
        """The axes of the contraction's result (the dangling legs)."""
        return tuple(a for _, a in self.legs)

    def _layout(self):
        """Positions: tensors on a circle (two side by side), hubs beside
        the tensors they join, each leg pointing away from the centre."""
        n = len(self.nodes)
        pos = {}
        for k, v in enumerate(self.nodes):
            if n == 1:
                pos[v] = np.zeros(2)
            elif n == 2:
                pos[v] = np.array([-1.0 if k == 0 else 1.0, 0.0])
            else:                     # a circle, the first node on the left
                t = math.pi - 2 * math.pi * k / n
                pos[v] = 1.2 * np.array([math.cos(t), math.sin(t)])
        centre = np.mean([pos[v] for v in self.nodes], axis=0)
        for k, (a, holders) in enumerate(self.hubs.items()):
            p = np.mean([pos[h] for h in holders], axis=0)
            if len(holders) == 2:
                d = pos[holders[1]] - pos[holders[0]]
                away = np.array([-d[1], d[0]]) / np.linalg.norm(d)
            else:                     # three or more: at their centre
                pos[("hub", a)] = p + 0.25 * k * np.array([0.0, 1.0])
                continue
            if np.linalg.norm(away) < 1e-9:
                away = np.array([0.0, 1.0])
            away = away / np.linalg.norm(away) * (-1) ** k
            pos[("hub", a)] = p + (0.8 + 0.35 * (k // 2)) * away
        return pos, centre

    def draw(self, ax: Any = None, *, fontsize: int = 10, title: str | None = None) -> Any:
        """Draw the diagram with matplotlib; returns the axes."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Circle

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3))
        pos, centre = self._layout()
        seen = [centre]
        style = dict(fontsize=fontsize, ha="center", va="center",
                     color="tab:blue", zorder=5,
                     bbox=dict(boxstyle="round,pad=0.1", fc="white",
                               ec="none"))

        def label(a):
            return f"{a}[{self.sizes[a]}]"

        def curve(p, q, bend):
            perp = np.array([-(q - p)[1], (q - p)[0]])
            c = (p + q) / 2 + bend * perp
            t = np.linspace(0, 1, 30)[:, None]
            pts = (1 - t) ** 2 * p + 2 * (1 - t) * t * c + t ** 2 * q
            ax.plot(pts[:, 0], pts[:, 1], color="0.3", lw=1.5, zorder=1)
            return pts[15]

        pairs: dict = {}
        for u, v, a in self.edges:
            pairs.setdefault((u, v), []).append(a)
        for (u, v), axes in pairs.items():
            for j, a in enumerate(axes):
                bend = 0.45 * (j - (len(axes) - 1) / 2)
                m = curve(pos[u], pos[v], bend)
                ax.text(*m, label(a), **style)
        for a, holders in self.hubs.items():
            h = pos[("hub", a)]
            for v in holders:
                curve(pos[v], h, 0.0)
            ax.add_patch(Circle(h, 0.07, color="0.2", zorder=3))
            if ("hub", a) not in [w for w, _ in self.legs]:
                ax.text(*(h + np.array([0, 0.25])), label(a), **style)
                seen.append(h + np.array([0, 0.25]))
        legs: dict = {}
        for v, a in self.legs:
            legs.setdefault(v, []).append(a)
        for v, axes in legs.items():
            p = pos[v]
            if isinstance(v, tuple):                 # from a hub
                holders = self.hubs[v[1]]
                d = p - np.mean([pos[h] for h in holders], axis=0)
            else:
                d = p - centre
            if np.linalg.norm(d) < 1e-9:
                d = np.array([0.0, -1.0])
            base = math.atan2(d[1], d[0])
            span = min(math.radians(110), math.radians(40) * (len(axes) - 1))
            for j, a in enumerate(axes):
                t = base + (span * (j / (len(axes) - 1) - 0.5)
                            if len(axes) > 1 else 0.0)
                u = np.array([math.cos(t), math.sin(t)])
                ax.plot(*zip(p, p + 0.7 * u), color="0.3", lw=1.5, zorder=1)
                ax.text(*(p + 1.0 * u), label(a), **style)
                seen.append(p + 1.25 * u)
        for v in self.nodes:
            ax.add_patch(Circle(pos[v], 0.28, color="tab:orange", zorder=3))
            ax.text(*pos[v], v, fontsize=fontsize, ha="center", va="center",
                    zorder=4)
        pts = np.array(seen + list(pos.values()))
        lo, hi = pts.min(axis=0) - 0.45, pts.max(axis=0) + 0.45
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            ax.set_title(title, fontsize=fontsize + 1)
        return ax


def _network_check(tensors, names, over):
    if names is not None and (len(names) != len(tensors) or len(set(names)) != len(names)):
        raise ValueError(f"network: need {len(tensors)} distinct names, "
                         f"got {list(names)}")
    sizes = merged_sizes(tensors, "network")
    for a in over:
        if a not in sizes:
            raise AxisError(f"network: no tensor has axis {a!r} to contract "
                            f"over; the tensors' axes are {fmt(sizes)}")


@checked(tensors="each", check=_network_check)
def network(*tensors: Named, names: Sequence[str] | None = None,
            over: Axes = ()) -> Network:
    """The diagram of ``nt.contract(*tensors, over=over)``, as a graph.

    ``names`` labels the tensors (default ``T0, T1, ...``).  Built from the
    tensors' axis names only: a contracted axis shared by exactly two tensors
    is an edge; a kept axis held by one tensor is a dangling leg; any other
    axis (held by three or more, or shared and kept — a batch axis) is a hub.

    Example:

    >>> A = nt.tensor([[1., 2], [3, 4]], ("i", "j"))
    >>> B = nt.tensor([[5., 6], [7, 8]], ("j", "k"))
    >>> c = nt.tensor([1., 1], "k")
    >>> net = nt.alternatives.network(A, B, c, names=("A", "B", "c"),
    ...                               over=("j", "k"))
    >>> net.edges                       # (tensor, tensor, contracted axis)
    [('A', 'B', 'j'), ('B', 'c', 'k')]
    >>> net.legs                        # (tensor, kept axis)
    [('A', 'i')]
    """
    ts = tensors
    labels = list(names or (f"T{k}" for k in range(len(ts))))
    sizes = merged_sizes(ts, "network")
    holders = {a: [v for v, t in zip(labels, ts) if a in shape(t)]
               for a in sizes}
    edges: list[tuple[str, str, str]] = []
    hubs: dict[str, list[str]] = {}
    legs: list[tuple[Any, str]] = []
    for a, hs in holders.items():
        kept = a not in over
        if len(hs) == 2 and not kept:
            edges.append((hs[0], hs[1], a))
        elif len(hs) == 1:
            if kept:
                legs.append((hs[0], a))
            else:       # summed over one tensor only: a leg that ends in a dot
                hubs[a] = hs
        else:
            hubs[a] = hs
            if kept:
                legs.append((("hub", a), a))
    axes = {v: tuple(shape(t)) for v, t in zip(labels, ts)}
    return Network(labels, edges, hubs, legs, sizes, axes)


# --------------------------------------------------------------------------
# relations as Boolean tensors

def _rows_check(rows, names, sizes):
    for a in names:
        if a not in sizes:
            raise AxisError(f"relation: no size given for axis {a!r}; "
                            f"sizes are {fmt(sizes)}")
        axis_size(sizes[a], "relation", a)


def _row(row, names, sizes):
    """One row as a tuple of ints, checked against the axes (AxisError)."""
    row = tuple(row)
    if len(row) != len(names):
        raise AxisError(f"relation: the row {row} has {len(row)} members "
                        f"but the axes are {names}")
    for a, i in zip(names, row):
        if not 0 <= int(i) < int(sizes[a]):
            raise AxisError(f"relation: index {i} is out of range for "
                            f"axis {a!r}[{sizes[a]}] in the row {row}")
    return row


@checked(check=_rows_check)
def relation(rows: Iterable[Sequence[int]], names: Order, sizes: Mapping[str, int]) -> Named:
    """The relation ``rows`` as a Boolean named tensor.

    ``rows`` is an iterable of tuples of 0-based indices, member k on axis
    ``names[k]`` (of size ``sizes[names[k]]``).  Entry s is True exactly when
    the record s is one of the rows: the paper's reading of an r-ary
    relation as an order-r tensor with Boolean entries.

    Example:

    >>> R = nt.alternatives.relation([(0, 1), (1, 2)], ("person", "city"),
    ...                              {"person": 2, "city": 3})
    >>> nt.show(R, ("person", "city"))
    person[2] × city[3]   (rows: person, columns: city)
    [[False  True False]
     [False False  True]]
    """
    data = torch.zeros([sizes[a] for a in names], dtype=torch.bool)
    for row in rows:
        data[_row(row, names, sizes)] = True
    return tensor(data, names)


def _all_axes(x, names):
    if sorted(names) != sorted(x.names):
        raise AxisError(f"tuples: names {names} must be the axes of the "
                        f"tensor, each once; it has {fmt(shape(x))}")


@checked("x", check=_all_axes, values=True)
def tuples(x: Named, names: Order) -> set[tuple[int, ...]]:
    """The records where ``x`` is nonzero (True), as a set of index tuples.

    Member k of each tuple is the index on axis ``names[k]``; ``names`` must
    be exactly the axes of ``x``, in the order the tuples should have.

    Example:

    >>> R = nt.alternatives.relation([(0, 1), (1, 2)], ("person", "city"),
    ...                              {"person": 2, "city": 3})
    >>> S = nt.alternatives.relation([(1, 0), (2, 1)], ("city", "country"),
    ...                              {"city": 3, "country": 2})
    >>> sorted(nt.alternatives.tuples(R * S, ("person", "city", "country")))
    [(0, 1, 0), (1, 2, 1)]
    """
    data = positional(x, names)
    return {tuple(int(i) for i in idx) for idx in torch.nonzero(data)}


# --------------------------------------------------------------------------
# dropout, specified by the axes of its mask

def _probability(X, p, over, seed):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1); got {p!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"dropout: seed must be an int (the mask is drawn from it, "
                        f"so the same seed drops the same entries); got {seed!r}")


@checked(X="has over", check=_probability)
def dropout(X: Named, p: float, over: Order, *, seed: int) -> Named:
    """X ⊙ M / (1 − p) with M ∈ {0, 1}^{over}, M = 1 with probability 1 − p.

    One Bernoulli draw per record of the axes ``over``, broadcast over the
    other axes of X: ``over = (batch, chans)`` drops whole channels of each
    example (PyTorch's Dropout2d on (batch, chans, height, width)), ``over``
    = all axes is ordinary dropout.  The mask is drawn on the CPU from
    ``seed`` in a fixed order of ``over`` (then moved), so a seed gives the
    same mask everywhere.

    Example:

    >>> X = nt.randn(seed=0, batch=2, chans=3, height=4, width=4) + 10
    >>> Y = nt.alternatives.dropout(X, 0.5, ("batch", "chans"), seed=0)
    >>> nt.alternatives.varying_axes(Y == 0)        # whole channels dropped
    ('batch', 'chans')
    """
    sizes = shape(X)
    gen = torch.Generator().manual_seed(int(seed))
    keep = torch.rand([sizes[a] for a in over], generator=gen) >= p
    M = tensor(keep.to(positional(X, tuple(sizes)).device), over)
    return X * M / (1 - p)


@checked("x", values=True)
def varying_axes(x: Named) -> tuple[str, ...]:
    """The axes of ``x`` along which it is not constant, in storage order.

    An axis is constant when every slice along it equals the first slice.
    Applied to the zero pattern of a dropout output, it names the axes of
    the mask the implementation drew.

    Example:

    >>> x = nt.tensor([[1, 2, 3], [1, 2, 3]], ("a", "b"))
    >>> nt.alternatives.varying_axes(x)
    ('b',)
    """
    order = x.names
    data = positional(x, order)
    out = []
    for k, a in enumerate(order):
        first = data.narrow(k, 0, 1)
        if not bool((data == first).all()):
            out.append(a)
    return tuple(out)
