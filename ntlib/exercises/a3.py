"""Exercises of Appendix A.3: what a named contraction costs."""

import torch
from torch.overrides import TorchFunctionMode

import ntlib as nt

from . import exercise
from ._positional import named, p


def _cases_a3_1():
    return [
        ("X[batch=2, seq=3, layer=4], W[layer=4, hidden=5]",
         dict(X=nt.randn(seed=1, batch=2, seq=3, layer=4),
              W=nt.randn(seed=2, layer=4, hidden=5))),
        ("other sizes and axis orders",
         dict(X=nt.randn(seed=3, layer=3, seq=2, batch=4),
              W=nt.randn(seed=4, hidden=2, layer=3))),
        ("an axis 'heads' on both, to lift over (not to contract)",
         dict(X=nt.randn(seed=5, heads=2, seq=3, layer=2),
              W=nt.randn(seed=6, layer=2, hidden=3, heads=2))),
    ]


@exercise("A3.1", title="a named contraction as one einsum",
          cases=_cases_a3_1)
def ex_a3_1(X, W, *, layer="layer"):
    # not einsum: a batched matrix product, the shared axes in front
    shared = [a for a in nt.names(X) if a in nt.names(W) and a != layer]
    xo = [a for a in nt.names(X) if a not in shared and a != layer]
    wo = [a for a in nt.names(W) if a not in shared and a != layer]
    sx, sw = nt.shape(X), nt.shape(W)
    x = p(X, [], *shared, *xo, layer).reshape(*[sx[a] for a in shared], -1, sx[layer])
    w = p(W, [], *shared, layer, *wo).reshape(*[sw[a] for a in shared], sw[layer], -1)
    y = (x @ w).reshape(*[sx[a] for a in shared + xo], *[sw[a] for a in wo])
    return named(y, shared + xo + wo)


#: torch functions that read a tensor's layout and compute nothing
_QUERIES = {"__get__", "stride", "size", "dim", "numel", "storage_offset"}


class _Record(TorchFunctionMode):
    """Records the torch functions called (attribute reads and layout queries
    such as ``stride`` or ``is_contiguous`` aside), with the shapes of their
    tensor arguments."""

    def __init__(self, dry=False):
        super().__init__()
        self.calls = []
        self.shapes = []
        self.dry = dry      # answer a matrix product with zeros, not computing it

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name not in _QUERIES and not name.startswith("is_"):
            self.calls.append(name)
            self.shapes.append([tuple(a.shape) for a in args
                                if isinstance(a, torch.Tensor)])
            if self.dry and name == "matmul":
                a, b = args
                return torch.zeros((), dtype=a.dtype).expand(*a.shape[:-1], b.shape[-1])
        return func(*args, **(kwargs or {}))


@exercise("A3.2", title="how nt.contract computes", kind="choice",
          choices={"a": "it forms the broadcast product X * Y, then sums",
                   "b": "it makes one torch call: torch.einsum, or the matrix "
                        "product einsum would make",
                   "c": "it loops over the records of the kept axes"})
def ex_a3_2():
    # record the torch functions nt.contract calls
    X, Y = nt.randn(seed=0, a=3, b=4), nt.randn(seed=1, b=4, c=2)
    Z = nt.randn(seed=2, c=2, d=3)
    seen = []
    for args, over in (((X, Y), "b"), ((X, Y, Z), ("b", "c"))):
        with _Record() as rec:
            nt.contract(*args, over=over)
        seen.append(rec.calls)
    if all(len(c) == 1 and c[0] in ("einsum", "matmul") for c in seen):
        return "b"
    if all("mul" in c or "__mul__" in c for c in seen):
        return "a"
    return "c"


@exercise("A3.3", title="the cost of a contraction", kind="value")
def ex_a3_3():
    # record the matrix product nt.contract makes (on stand-in data: zeros
    # that take no memory, and the product itself is not computed), and count
    # its multiply-adds: (m x k) @ (k x n) takes m k n
    zeros = torch.zeros((), dtype=torch.float32)
    X = nt.tensor(zeros.expand(32, 128, 512), ("batch", "seq", "layer"))
    W = nt.tensor(zeros.expand(512, 2048), ("layer", "hidden"))
    with _Record(dry=True) as rec:
        nt.contract(X, W, over="layer")
    (name,), ((a, b),) = rec.calls, rec.shapes
    assert name == "matmul" and len(b) == 2 and a[-1] == b[0], (name, a, b)
    m = 1
    for size in a[:-1]:
        m *= size
    return m * a[-1] * b[1]
