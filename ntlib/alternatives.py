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
  that :meth:`Network.draw` draws with matplotlib.

xarray is imported only when :func:`to_xarray` or :func:`from_xarray` runs.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from .core import AxisError, _as_funsor, _axes, _fmt, _merged_sizes, positional, shape, tensor

__all__ = [
    "to_xarray", "from_xarray", "sql_load", "sql_contract_query", "sql_read",
    "sql_contract", "Network", "network",
]


# --------------------------------------------------------------------------
# xarray

def to_xarray(x, coords: Mapping | None = None):
    """The named tensor ``x`` as an ``xarray.DataArray``: one dim per axis, same names.

    The values are copied to a numpy array on the CPU (dims in ``x``'s storage
    order, which carries no meaning).  ``coords`` (optional) is passed on to
    the DataArray, e.g. ``{"seq": ["a", "b", "c"]}``.
    """
    import xarray as xr

    x = _as_funsor(x)
    order = tuple(shape(x))
    data = positional(x, order).detach().cpu().numpy().copy()
    return xr.DataArray(data, dims=order, coords=coords)


def from_xarray(da):
    """An ``xarray.DataArray`` as a named tensor: one axis per dim, same names.

    Rule for coordinates: a named tensor indexes every axis by position
    0, 1, ..., n-1 and has no coordinates, so all coordinates of ``da``
    (labels along a dim, and non-dimension coordinates) are dropped; the
    values are taken in ``da``'s order along each dim.  Keep ``da.coords``
    yourself if you need them.  Dim names must be strings (AxisError
    otherwise).
    """
    bad = [d for d in da.dims if not isinstance(d, str)]
    if bad:
        raise AxisError(f"from_xarray: dim names must be strings to become axis names; "
                        f"got {bad} among dims {tuple(da.dims)}")
    data = torch.from_numpy(np.array(da.values, copy=True))
    return tensor(data, tuple(da.dims))


# --------------------------------------------------------------------------
# SQL (sqlite3, float64 values)

def _q(name: str) -> str:
    """A quoted SQL identifier (axis names such as seq' are not plain identifiers)."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_load(conn: sqlite3.Connection, table: str, x, *, value: str = "v") -> dict:
    """Store the named tensor ``x`` as table ``table``: one row per index record.

    Columns: one INTEGER column per axis (named like the axis, 0-based) and a
    REAL column ``value``.  Returns the table's shape ``{axis: size}``.
    """
    x = _as_funsor(x)
    sizes = shape(x)
    if value in sizes:
        raise AxisError(f"sql_load: the value column {value!r} clashes with an axis; "
                        f"the tensor has {_fmt(sizes)}")
    order = tuple(sizes)
    data = positional(x, order).detach().cpu().double().numpy()
    cols = [_q(a) + " INTEGER" for a in order] + [_q(value) + " REAL"]
    conn.execute(f"DROP TABLE IF EXISTS {_q(table)}")
    conn.execute(f"CREATE TABLE {_q(table)} ({', '.join(cols)})")
    rows = ((*map(int, idx), float(data[idx])) for idx in np.ndindex(*data.shape))
    marks = ", ".join("?" * (len(order) + 1))
    conn.executemany(f"INSERT INTO {_q(table)} VALUES ({marks})", rows)
    return dict(sizes)


def sql_contract_query(tables: Mapping[str, Sequence[str]], over=(), *,
                       rename: Mapping[str, str] | None = None, value: str = "v",
                       scale: float | None = None) -> str:
    """The SQL text of the contraction ``T1 ⊙_over T2 ⊙_over ...``.

    ``tables`` maps each table (or WITH-clause) name to its axis names.  An
    axis held by several tables becomes a JOIN condition (equal index
    columns); the axes not in ``over`` are selected and grouped by; the value
    is ``SUM`` of the product of the tables' values (times ``scale``, if
    given).  ``rename`` maps kept axes to new names (column aliases, the
    relational rho).  The result has one column per kept axis and ``value``.
    """
    names = list(tables)
    over = _axes(over)
    rename = dict(rename or {})
    alias = {t: f"t{k}" for k, t in enumerate(names)}
    first: dict = {}                           # axis -> the column that provides it
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
            on = " AND ".join(conds) if conds else "1"
            joins.append(f"JOIN {_q(t)} AS {alias[t]} ON {on}")
    for a in over:
        if a not in first:
            raise AxisError(f"sql_contract_query: no table has axis {a!r} to contract "
                            f"over; the tables' axes are {sorted(first)}")
    for a in rename:
        if a not in first or a in over:
            raise AxisError(f"sql_contract_query: cannot rename {a!r}: it is not a kept "
                            f"axis; the kept axes are {[b for b in first if b not in over]}")
    keep = [a for a in first if a not in over]
    out = [rename.get(a, a) for a in keep]
    dup = sorted({a for a in out if out.count(a) > 1})
    if dup:
        raise AxisError(f"sql_contract_query: renaming {rename} gives repeated result "
                        f"columns {dup}; the kept axes are {keep}")
    product = " * ".join(f"{alias[t]}.{_q(value)}" for t in names)
    if scale is not None:
        product = f"{product} * {float(scale)!r}"
    select = [f"{first[a]} AS {_q(rename.get(a, a))}" for a in keep]
    select.append(f"SUM({product}) AS {_q(value)}")
    text = "SELECT " + ",\n       ".join(select) + "\n" + "\n".join(joins)
    if keep:
        text += "\nGROUP BY " + ", ".join(first[a] for a in keep)
    return text


def sql_read(conn: sqlite3.Connection, query: str, sizes: Mapping[str, int], *,
             value: str = "v", dtype=torch.float64):
    """Run ``query`` and read its rows (index columns, then ``value``) as a named tensor.

    The axes are the result's index columns, by name; their sizes come from
    ``sizes``.  An index record with no row is 0 (a sum over nothing).
    """
    cur = conn.execute(query)
    cols = [d[0] for d in cur.description]
    if cols[-1] != value:
        raise AxisError(f"sql_read: the last column must be {value!r}; got columns {cols}")
    axes = cols[:-1]
    missing = [a for a in axes if a not in sizes]
    if missing:
        raise AxisError(f"sql_read: no size given for axes {missing}; sizes are {_fmt(sizes)}")
    out = np.zeros([sizes[a] for a in axes])
    for row in cur:
        out[tuple(row[:-1])] = row[-1]
    return tensor(torch.from_numpy(out).to(dtype), axes)


def sql_contract(*tensors, over=(), rename: Mapping[str, str] | None = None,
                 conn: sqlite3.Connection | None = None):
    """``nt.contract(*tensors, over=over)`` computed by sqlite3 (then renamed by ``rename``).

    Each operand is loaded as a table ``T0, T1, ...`` (see :func:`sql_load`),
    the query of :func:`sql_contract_query` is run, and its rows are read back.
    """
    if len(tensors) < 2:
        raise TypeError("sql_contract needs at least two operands")
    ts = [_as_funsor(t) for t in tensors]
    sizes = dict(_merged_sizes(ts, "sql_contract"))
    own = conn is None
    conn = sqlite3.connect(":memory:") if own else conn
    try:
        tables = {}
        for k, t in enumerate(ts):
            sql_load(conn, f"T{k}", t)
            tables[f"T{k}"] = tuple(shape(t))
        query = sql_contract_query(tables, over, rename=rename)
        for old, new in (rename or {}).items():
            sizes[new] = sizes[old]
        return sql_read(conn, query, sizes)
    finally:
        if own:
            conn.close()


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
        n = len(self.nodes)
        pos = {}
        for k, v in enumerate(self.nodes):
            if n == 1:
                pos[v] = np.zeros(2)
            else:                                   # a circle, first node on the left
                t = math.pi + 2 * math.pi * k / n
                pos[v] = np.array([math.cos(t), math.sin(t)])
        centre = np.zeros(2)
        for k, (a, holders) in enumerate(self.hubs.items()):
            p = np.mean([pos[h] for h in holders], axis=0)
            # pull the hub off the centre (and off other hubs), towards a side
            off = 0.35 * np.array([math.cos(2.4 * k + 0.6), math.sin(2.4 * k + 0.6)])
            pos[("hub", a)] = 0.5 * p + off if np.allclose(p, centre) else p + 0.3 * off
        return pos

    def draw(self, ax=None, *, fontsize: int = 12, title: str | None = None):
        """Draw the diagram with matplotlib; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3.2))
        pos = self._layout()
        centre = np.mean([pos[v] for v in self.nodes], axis=0)

        def label(a):
            return f"{a}[{self.sizes[a]}]"

        def line(p, q, text, **kw):
            ax.plot(*zip(p, q), color="0.35", lw=1.6, zorder=1, **kw)
            m = (p + q) / 2
            ax.annotate(text, m, fontsize=fontsize - 1, ha="center", va="center",
                        color="tab:blue",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"))

        used = {v: 0 for v in list(self.nodes) + [("hub", a) for a in self.hubs]}
        for u, v, a in self.edges:
            line(pos[u], pos[v], label(a))
        for a, holders in self.hubs.items():
            h = pos[("hub", a)]
            for v in holders:
                ax.plot(*zip(pos[v], h), color="0.35", lw=1.6, zorder=1)
            ax.scatter(*h, s=40, color="0.2", zorder=3)
            if not any(a == leg for _, leg in self.legs):
                ax.annotate(label(a), h + np.array([0, 0.12]), fontsize=fontsize - 1,
                            ha="center", color="tab:blue")
        for v, a in self.legs:
            p = pos[v]
            d = p - centre
            if np.linalg.norm(d) < 1e-9:
                d = np.array([0.0, -1.0])
            ang = math.atan2(d[1], d[0]) + 0.5 * used[v] * (-1) ** used[v]
            used[v] += 1
            q = p + 0.7 * np.array([math.cos(ang), math.sin(ang)])
            line(p, q, label(a))
        for v in self.nodes:
            ax.scatter(*pos[v], s=900, color="tab:orange", zorder=2)
            ax.annotate(v, pos[v], fontsize=fontsize, ha="center", va="center", zorder=4)
        ax.set_aspect("equal")
        ax.margins(0.25)
        ax.axis("off")
        if title:
            ax.set_title(title, fontsize=fontsize)
        return ax


def network(*tensors, names: Sequence[str] | None = None, over=()) -> Network:
    """The tensor-network diagram of ``nt.contract(*tensors, over=over)``, as a graph.

    ``names`` labels the tensors (default ``T0, T1, ...``).  Built from the
    tensors' axis names only: a contracted axis shared by exactly two tensors
    is an edge; a kept axis held by one tensor is a dangling leg; any other
    axis (held by three or more, or shared and kept — a batch axis) is a hub.
    """
    ts = [_as_funsor(t) for t in tensors]
    labels = list(names) if names is not None else [f"T{k}" for k in range(len(ts))]
    if len(labels) != len(ts) or len(set(labels)) != len(labels):
        raise ValueError(f"network: need {len(ts)} distinct names, got {labels}")
    sizes = dict(_merged_sizes(ts, "network"))
    over = _axes(over)
    for a in over:
        if a not in sizes:
            raise AxisError(f"network: no tensor has axis {a!r} to contract over; "
                            f"the tensors' axes are {_fmt(sizes)}")
    holders = {a: [v for v, t in zip(labels, ts) if a in t.inputs] for a in sizes}
    edges, hubs, legs = [], {}, []
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
    axes = {v: tuple(t.inputs) for v, t in zip(labels, ts)}
    return Network(labels, edges, hubs, legs, sizes, axes)
