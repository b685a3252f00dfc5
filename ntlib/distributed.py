"""Named axes across devices: a named tensor laid out on a device mesh by axis name.

Mesh-TensorFlow (Shazeer et al., 2018) lays a model out on a mesh of devices
with a *layout rule* that maps tensor dimension names to mesh dimension
names, e.g. ``batch -> dp`` and ``heads -> tp``.  Named tensors make that
rule the natural one; here it is built on PyTorch's own engine
(``torch.distributed``, ``DeviceMesh``, ``DTensor``):

- :func:`shard` lays a named tensor out on a ``DeviceMesh``: each axis the
  rule names is split over that mesh dimension (``Shard``), every other axis
  is replicated.  The result is an ordinary named tensor whose data is a
  ``DTensor``; every ntlib operation works on it.
- A contraction or sum over a split axis is a partial sum on each device
  (DTensor's ``Partial`` placement), reduced (all-reduce) when a later
  operation needs the total: Mesh-TensorFlow's rule.
- Tensors never laid out (parameters, constants that a block makes, such as
  the causal mask or the positional encoding) count as replicated: inside
  :func:`on_mesh` every plain torch tensor that meets a DTensor is taken as
  replicated over the mesh (torch's ``implicit_replication``).
- :func:`full` gathers the global value back as an ordinary named tensor.
- :func:`layout` reads the layout of a named tensor by axis name,
  :func:`communication` the bytes a layout moves, per axis name.

Processes: :func:`launch` starts ``world_size`` processes on this machine
(gloo on the CPU, NCCL on GPUs), each with its process group and a timeout
on every collective; ``python -m ntlib.distributed`` is the same check
started by ``torchrun`` on one or several hosts (README).
"""

from __future__ import annotations

import datetime
import math
import os
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any, Union

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor
from torch.distributed.tensor.experimental import implicit_replication
from torch.utils._python_dispatch import TorchDispatchMode

from . import core as _core
from . import models as _models
from ._internal import LAID_OUT, AxisError, fmt, make, sizes_of
from .core import Named

__all__ = [
    "LayoutError", "check_rule", "placements", "shard", "full", "local", "layout",
    "is_distributed", "on_mesh", "shard_parameters", "reduce_gradients", "communication", "memory_per_device",
    "launch", "mesh", "training_run", "training_runs", "compare",
]


class LayoutError(AxisError):
    """A layout rule that does not fit the tensor or the mesh.

    The message names the axis and the mesh dimension: an axis the tensor
    lacks, a mesh dimension the mesh lacks, one mesh dimension used by two
    axes, an axis whose size the mesh dimension does not divide.
    """


LayoutError.__module__ = "ntlib.distributed"

#: a layout rule: {axis name: mesh dimension name} (or a sequence of such pairs)
Rule = Union[Mapping[str, str], Sequence[tuple[str, str]]]


def _mesh_dims(mesh: Any) -> dict[str, int]:
    """{mesh dim name: size} of a DeviceMesh, or of a plain mapping (for
    layouts computed without processes)."""
    if isinstance(mesh, Mapping):
        return dict(mesh)
    names = mesh.mesh_dim_names
    if names is None:
        raise LayoutError("the DeviceMesh has no dimension names; make it with "
                          "init_device_mesh(..., mesh_dim_names=('dp', 'tp'))")
    return dict(zip(names, mesh.mesh.shape))


def _pairs(rule: Any, what: str) -> list[tuple[str, str]]:
    """The rule as (axis, mesh dim) pairs: a mapping, or a sequence of pairs
    (where an axis given twice is refused)."""
    if isinstance(rule, Mapping):
        return list(rule.items())
    try:
        pairs = [tuple(p) for p in rule]
    except TypeError:
        pairs = []
    if isinstance(rule, (str, bytes)) or not pairs and rule or \
            any(len(p) != 2 for p in pairs):
        raise TypeError(f"{what}: the layout rule must map axis names to mesh "
                        f"dimension names, e.g. {{'batch': 'dp'}}; got {rule!r}")
    seen: dict[Any, Any] = {}
    for ax, md in pairs:
        if ax in seen:
            raise LayoutError(f"{what}: axis {ax!r} is mapped twice, to mesh "
                              f"dimensions {seen[ax]!r} and {md!r}; a rule maps each "
                              f"axis to one mesh dimension")
        seen[ax] = md
    return pairs


def check_rule(sizes: Mapping[str, int], mesh: Any, rule: Rule, *,
               what: str = "shard", strict: bool = True) -> dict[str, str]:
    """The rule restricted to the axes in ``sizes``, after checking it.

    ``mesh`` is a DeviceMesh with named dimensions or a mapping
    ``{mesh dim: size}``.  With ``strict`` every axis the rule names must be
    an axis of the tensor; without, axes the tensor lacks are passed over (a
    rule for a whole model, applied to each of its tensors).

    Example:

    >>> from ntlib.distributed import check_rule
    >>> check_rule({"batch": 8, "seq": 5}, {"dp": 4}, {"batch": "dp"})
    {'batch': 'dp'}
    >>> check_rule({"batch": 6, "seq": 5}, {"dp": 4}, {"batch": "dp"})
    Traceback (most recent call last):
        ...
    ntlib.distributed.LayoutError: shard: axis 'batch' of size 6 cannot ...
    """
    dims = _mesh_dims(mesh)
    pairs = _pairs(rule, what)
    used: dict[str, str] = {}
    out: dict[str, str] = {}
    for ax, md in pairs:
        if not isinstance(ax, str) or not isinstance(md, str):
            raise LayoutError(f"{what}: the rule must map axis names (str) to mesh "
                              f"dimension names (str); got {ax!r}: {md!r}")
        if md not in dims:
            raise LayoutError(f"{what}: the rule maps axis {ax!r} to mesh dimension "
                              f"{md!r}, which the mesh lacks; its dimensions are "
                              f"{fmt(dims)}")
        if ax not in sizes:
            if strict:
                raise LayoutError(f"{what}: the rule names axis {ax!r} (-> {md!r}), "
                                  f"which is not an axis of the tensor, whose axes "
                                  f"are {fmt(dict(sizes))}")
            continue
        if md in used:   # Mesh-TensorFlow's condition, per tensor
            raise LayoutError(f"{what}: mesh dimension {md!r} would split two axes of "
                              f"one tensor, {used[md]!r} and {ax!r} (tensor axes "
                              f"{fmt(dict(sizes))}); a mesh dimension splits at most "
                              f"one axis of each tensor")
        used[md] = ax
        if sizes[ax] % dims[md]:
            raise LayoutError(f"{what}: axis {ax!r} of size {sizes[ax]} cannot be "
                              f"split evenly over mesh dimension {md!r} of size "
                              f"{dims[md]}")
        out[ax] = md
    return out


def placements(names: Sequence[str], mesh: Any, rule: Rule) -> tuple[Any, ...]:
    """DTensor's placements for a tensor stored with axes ``names``: for each
    mesh dimension, Shard(position of the axis mapped to it) or Replicate()
    (the rule's axes that ``names`` lacks are passed over).

    Example:

    >>> from ntlib.distributed import placements
    >>> placements(("seq", "batch"), {"dp": 2, "tp": 2}, {"batch": "dp"})
    (Shard(dim=1), Replicate())
    """
    dims = list(_mesh_dims(mesh))
    names = list(names)
    by_dim: dict[str, str] = {}
    for ax, md in _pairs(rule, "placements"):
        if ax in names:
            if md in by_dim:
                raise LayoutError(f"placements: mesh dimension {md!r} would split two "
                                  f"axes of one tensor, {by_dim[md]!r} and {ax!r}")
            by_dim[md] = ax
    return tuple(Shard(names.index(by_dim[md])) if md in by_dim else Replicate()
                 for md in dims)


def is_distributed(x: Named) -> bool:
    """True when the data of the named tensor x is a DTensor (laid out on a mesh)."""
    return isinstance(x.data, DTensor)


def shard(x: Named, mesh: DeviceMesh, rule: Rule, *, strict: bool = True) -> Named:
    """x laid out on ``mesh`` by axis name: each axis that ``rule`` maps to a
    mesh dimension is split over it, every other axis replicated.

    ``rule`` maps axis names to mesh dimension names, e.g.
    ``{"batch": "dp", "heads": "tp"}``; a mesh dimension no axis is mapped to
    holds copies.  Every process passes the same global x (as with
    ``distribute_tensor``).  A leaf x that requires gradients gives a leaf
    result that requires them (a parameter laid out); otherwise the result
    is differentiable with respect to x.  With ``strict=False`` axes of the
    rule that x lacks are passed over.
    """
    sizes = sizes_of(x)
    used = check_rule(sizes, mesh, rule, strict=strict)
    data = x.data
    if isinstance(data, DTensor):
        data = data.full_tensor()
    pl = placements(x.names, mesh, used)
    if data.is_leaf and data.requires_grad:
        d = distribute_tensor(data.detach(), mesh, pl).requires_grad_(True)
    else:
        d = distribute_tensor(data, mesh, pl)
    return make(d, x.names)


def full(x: Named) -> Named:
    """The global value of x as an ordinary named tensor (every process gets
    all of it: an all-gather for split axes, an all-reduce for partial sums).

    An x that is not laid out is returned as it is.
    """
    if not isinstance(x.data, DTensor):
        return x
    return make(x.data.full_tensor(), x.names)


def local(x: Named) -> Named:
    """This process's block of x, as an ordinary named tensor (no communication)."""
    if not isinstance(x.data, DTensor):
        return x
    return make(x.data.to_local(), x.names)


def layout(x: Named) -> dict[str, str]:
    """How x is laid out, by name: {axis: mesh dim} for each split axis, and
    an entry {"+" + mesh dim: "partial sum (sum)"} for each mesh dimension
    over which x holds per-device partial sums not yet reduced.  {} for an
    x not laid out."""
    if not isinstance(x.data, DTensor):
        return {}
    spec = x.data.placements
    dims = x.data.device_mesh.mesh_dim_names or tuple(f"dim{k}" for k in range(len(spec)))
    out: dict[str, str] = {}
    for md, p in zip(dims, spec):
        if isinstance(p, Shard):
            out[x.names[p.dim]] = md
        elif isinstance(p, Partial):
            out["+" + md] = f"partial sum ({p.reduce_op})"
    return out


class on_mesh:
    """Context manager for computing with laid-out named tensors: plain torch
    tensors that meet a DTensor (parameters never laid out, a causal mask or
    positional encoding made inside a block) count as replicated over the
    mesh (torch's implicit replication).  Blocks whose fused kernel has no
    sharding strategy (attention's scaled_dot_product_attention on the CPU)
    run their formula whenever their operands are laid out, inside or
    outside this context.
    """

    def __enter__(self) -> on_mesh:
        self._stack = ExitStack()
        self._stack.enter_context(implicit_replication())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def shard_parameters(params: Mapping[str, Named], mesh: DeviceMesh,
                     rule: Rule) -> dict[str, Named]:
    """Parameters laid out by ``rule`` (axes a parameter lacks are passed
    over): new leaf DTensors that require gradients, for a torch optimizer."""
    return {k: shard(p, mesh, rule, strict=False) for k, p in params.items()}


def _repr(x: Named) -> str:
    """The repr of a laid-out named tensor: its global axes, its layout and
    this process's block (no communication: one process may print it)."""
    d = x.data
    assert isinstance(d, DTensor)
    dims = dict(zip(d.device_mesh.mesh_dim_names or (), d.device_mesh.mesh.shape))
    lay = ", ".join(f"partial sums over {a[1:]}" if a.startswith("+") else f"{a} -> {md}"
                    for a, md in layout(x).items()) or "replicated"
    head = ("named tensor " + (" × ".join(f"{a}[{s}]" for a, s in x.shape.items())
                               or "(no axes)")
            + f", laid out on mesh {fmt(dims)}: {lay}")
    return head + "\nthis process's block: " + repr(local(x))


# ntlib's fused kernels without a sharding strategy decline DTensor data;
# repr and nt.show know laid-out tensors
LAID_OUT.update(type=DTensor, full=full, repr=_repr)


def reduce_gradients(params: Mapping[str, Named]) -> None:
    """Reduce, once, each parameter gradient that backpropagation left as
    per-device partial sums (a parameter replicated over a mesh dimension
    that split the batch, say): the all-reduce of data parallelism.
    Without it, DTensor reduces them where they are read, once per read
    (three times in an Adam step)."""
    for p in params.values():
        d = p.data
        g = d.grad
        if isinstance(d, DTensor) and isinstance(g, DTensor) \
                and tuple(g.placements) != tuple(d.placements):
            d.grad = g.redistribute(d.device_mesh, d.placements)


# --------------------------------------------------------------------------
# what a layout costs: communication (measured) and memory (computed)

_COLLECTIVES = ("all_reduce", "all_gather_into_tensor", "reduce_scatter_tensor",
                "all_to_all_single")


class communication(TorchDispatchMode):
    """Context manager recording the collectives that DTensor issues inside it:
    ``.log`` holds (collective, mesh dim, bytes of the tensor it sends in,
    phase) for each, the phase being what the caller last set ``.phase`` to; ``.by_mesh_dim()`` sums them.

    A collective runs on the process group of one mesh dimension; under a
    rule that maps one axis to that dimension, it is that axis's cost.
    """

    def __init__(self, mesh: DeviceMesh) -> None:
        super().__init__()
        names = mesh.mesh_dim_names or ()
        self.groups = {mesh.get_group(d).group_name: d for d in names}
        self.log: list[tuple[str, str, int, str]] = []
        self.phase = "forward"     # set by the caller: forward, backward, optimizer

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        if any(t is DTensor for t in types):
            return NotImplemented       # let DTensor turn it into collectives first
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "_overloadpacket", func).__name__
        if getattr(func, "namespace", "") == "_c10d_functional" and name in _COLLECTIVES:
            x, group = args[0], args[-1]
            self.log.append((name, self.groups.get(group, str(group)),
                             x.numel() * x.element_size(), self.phase))
        return out

    def by_mesh_dim(self) -> dict[tuple[str, str, str], tuple[int, int]]:
        """{(mesh dim, phase, collective): (count, bytes)}."""
        out: dict[tuple[str, str, str], tuple[int, int]] = {}
        for name, md, nbytes, phase in self.log:
            n, b = out.get((md, phase, name), (0, 0))
            out[(md, phase, name)] = (n + 1, b + nbytes)
        return out


def memory_per_device(tensors: Mapping[str, Named], mesh: Mapping[str, int],
                      rule: Rule) -> dict[str, int]:
    """Bytes of each tensor that one device holds when ``tensors`` are laid out
    on a mesh of ``mesh`` ({mesh dim: size}) by ``rule``: the tensor's bytes
    divided by the sizes of the mesh dimensions its split axes are mapped to.
    Only shapes are read: tensors on the meta device will do.  The rule is
    checked against each tensor (axes it lacks passed over).

    Example:

    >>> from ntlib.distributed import memory_per_device
    >>> W = nt.randn(seed=0, heads=8, layer=16)        # float64: 1024 bytes
    >>> memory_per_device({"W": W}, {"dp": 2, "tp": 4}, {"heads": "tp"})
    {'W': 256}
    """
    out = {}
    for k, t in tensors.items():
        used = check_rule(sizes_of(t), mesh, rule, strict=False, what=f"memory_per_device ({k})")
        split = math.prod([mesh[md] for md in used.values()])
        out[k] = t.data.numel() * t.data.element_size() // split
    return out


# --------------------------------------------------------------------------
# processes

def mesh(**dims: int) -> DeviceMesh:
    """The DeviceMesh over every process of the default group, with named
    dimensions in the order given: ``mesh(dp=2, tp=2)`` (on CUDA when the
    process group uses NCCL, else on the CPU)."""
    kind = "cuda" if dist.get_backend() == "nccl" else "cpu"
    return init_device_mesh(kind, tuple(dims.values()), mesh_dim_names=tuple(dims))


def _quiet() -> None:
    """Keep DTensor's advice (sequential all-reduces on a 2-D mesh, gloo's
    all-to-all fallback) off the processes' stderr."""
    import logging
    for name in ("torch.distributed.tensor._redistribute", "torch._logging._internal",
                 "torch.distributed"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _worker(rank: int, world_size: int, init_file: str, backend: str, timeout: float,
            fn: Callable[..., Any], args: tuple, kwargs: dict, queue: Any) -> None:
    import io
    torch.set_num_threads(1)
    _quiet()
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
        dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank,
                                world_size=world_size,
                                timeout=datetime.timedelta(seconds=timeout))
        result = fn(*args, **kwargs)
        buf = io.BytesIO()
        torch.save(result, buf)
        queue.put((rank, "ok", buf.getvalue()))
    except BaseException:
        queue.put((rank, "error", traceback.format_exc()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch(fn: Callable[..., Any], world_size: int, *args: Any, timeout: float = 60.0,
           backend: str = "gloo", **kwargs: Any) -> list[Any]:
    """``fn(*args, **kwargs)`` in ``world_size`` new processes on this machine,
    each in one process group (``backend`` gloo on the CPU, nccl with one GPU
    per process); the list of their results, by rank.

    ``fn`` must be importable (a module's function: the processes are
    spawned, not forked).  Every collective runs under the process group's
    ``timeout`` (seconds), and the whole run under 2 × timeout: a rank that
    fails or hangs makes launch raise RuntimeError with its traceback, and
    the other processes are ended, instead of waiting for ever.
    """
    import io
    import multiprocessing as mp
    import queue as _queue
    import time
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "rendezvous")
        procs = [ctx.Process(target=_worker, daemon=True,
                             args=(r, world_size, init_file, backend, timeout, fn, args,
                                   kwargs, q))
                 for r in range(world_size)]
        for p in procs:
            p.start()
        results: dict[int, Any] = {}
        deadline = time.monotonic() + 2 * timeout
        try:
            while len(results) < world_size:
                left = deadline - time.monotonic()
                try:
                    rank, status, value = q.get(timeout=max(left, 0.1))
                except _queue.Empty:
                    dead = [r for r, p in enumerate(procs)
                            if r not in results and not p.is_alive()]
                    if left <= 0 or dead:
                        raise RuntimeError(
                            f"launch: ranks {sorted(set(range(world_size)) - set(results))}"
                            f" gave no result within {2 * timeout:g} s"
                            + (f" (ranks {dead} exited)" if dead else "")) from None
                    continue
                if status != "ok":
                    raise RuntimeError(f"launch: rank {rank} of {world_size} failed:\n"
                                       f"{value}")
                results[rank] = torch.load(io.BytesIO(value), weights_only=False)
        finally:
            for p in procs:
                p.join(timeout=5 if len(results) == world_size else 0.5)
            for p in procs:
                if p.is_alive():
                    p.kill()
                    p.join()
    return [results[r] for r in range(world_size)]


# --------------------------------------------------------------------------
# the check of the chapter and the tests: a few training steps on a layout

def training_run(*, mesh_dims: Mapping[str, int] | None = None, rule: Rule | None = None,
                 steps: int = 2, batch: int = 4, seq: int = 6, vocab: int = 13,
                 layers: int = 1, heads: int = 4, layer: int = 16, hidden: int = 24,
                 lr: float = 0.05, seed: int = 0, dtype: torch.dtype = torch.float64,
                 count: bool = False) -> dict[str, Any]:
    """A.1's Transformer trained for ``steps`` Adam steps on seeded tokens.

    With ``mesh_dims`` (e.g. ``{"dp": 2, "tp": 2}``; run in every process of
    a process group) the parameters and the batch are laid out by ``rule``;
    without, one process runs it all (the reference).  Returns, as ordinary
    tensors on the CPU: the loss before each step, the gradients of the
    first step and the parameters after the last, each by name.
    """
    with ExitStack() as stack:
        m = None
        if mesh_dims is not None:   # on the mesh's device (gloo: the CPU)
            m = mesh(**mesh_dims)
            stack.enter_context(_core.on_device(m.device_type))
        return _training_run(m, rule, steps=steps, batch=batch, seq=seq, vocab=vocab,
                             layers=layers, heads=heads, layer=layer, hidden=hidden, lr=lr,
                             seed=seed, dtype=dtype, count=count)


def _training_run(m: DeviceMesh | None, rule: Rule | None, *, steps: int, batch: int,
                  seq: int, vocab: int, layers: int, heads: int, layer: int, hidden: int,
                  lr: float, seed: int, dtype: torch.dtype, count: bool) -> dict[str, Any]:
    params = _models.init_transformer(vocab=vocab, layers=layers, heads=heads, layer=layer,
                                      hidden=hidden, seed=seed, dtype=dtype)
    # non-trivial scales and shifts, so that their gradients mean something
    with torch.no_grad():
        for k, p in params.items():
            if k.split(".")[-1] in ("gamma", "beta", "b1", "b2", "gamma'", "beta'"):
                p.data.add_(0.1 * _core.randn(seed=seed + len(k), dtype=dtype,
                                              **p.shape).data)
    tokens = _core.randint(0, vocab, seed=seed + 1, batch=batch, seq=seq + 1)
    positions = torch.arange(seq + 1, device=tokens.data.device)
    I = _core.index(tokens, "seq", _core.tensor(positions[:-1], ("seq",)))
    target = _core.index(tokens, "seq", _core.tensor(positions[1:], ("seq",)))
    with ExitStack() as stack:
        if m is not None:
            params = shard_parameters(params, m, rule or {})
            I = shard(I, m, rule or {}, strict=False)
            target = shard(target, m, rule or {}, strict=False)
            stack.enter_context(on_mesh())
        counter = communication(m) if count and m is not None else None
        opt = torch.optim.Adam(_models.parameters(params), lr=lr)
        losses, grads = [], {}
        for step in range(steps):
            opt.zero_grad()
            with ExitStack() as counting:
                if step == 0 and counter is not None:
                    counting.enter_context(counter)
                _phase(counter, "forward")
                logits = _models.transformer_logits(I, params)
                loss = _models.cross_entropy(logits, target)
                _phase(counter, "backward")
                loss.data.backward()
                reduce_gradients(params)
                if step == 0:
                    with _no_counting(counter):
                        grads = {k: _plain(full(make(_grad(p), p.names)))
                                 for k, p in params.items()}
                _phase(counter, "optimizer")
                opt.step()
            with _no_counting(counter):
                losses.append(full(loss).data.detach().cpu())
        final = {k: _plain(full(p)) for k, p in params.items()}
    comm = counter.by_mesh_dim() if counter is not None else {}
    return {"losses": torch.stack(losses), "grads": grads, "params": final,
            "communication": comm}


def training_runs(layouts: Mapping[str, tuple[Mapping[str, int], Rule]],
                  **kw: Any) -> dict[str, dict[str, Any]]:
    """:func:`training_run` once per layout, {name: (mesh dims, rule)}, in the
    processes of one process group (each mesh over all of them)."""
    return {name: training_run(mesh_dims=dims, rule=rule, **kw)
            for name, (dims, rule) in layouts.items()}


def _grad(p: Named) -> torch.Tensor:
    g = p.data.grad
    if g is None:
        raise RuntimeError("training_run: a parameter received no gradient")
    return g


def _phase(counter: communication | None, phase: str) -> None:
    if counter is not None:
        counter.phase = phase


class _no_counting:
    """Leave the collectives of a block out of a communication count (the
    gathers that read results back for the check)."""

    def __init__(self, counter: communication | None) -> None:
        self.counter = counter

    def __enter__(self) -> None:
        if self.counter is not None:
            self.saved, self.counter.log = self.counter.log, []

    def __exit__(self, *exc: object) -> None:
        if self.counter is not None:
            self.counter.log = self.saved


def _plain(x: Named) -> tuple[torch.Tensor, tuple[str, ...]]:
    return x.data.detach().cpu(), tuple(x.names)


def compare(ref: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, float]:
    """The largest differences between two training_run results: of the
    losses, of the first step's gradients and of the parameters after the
    last step (over every parameter, matched by name and axis names)."""
    out = {"losses": float((ref["losses"] - run["losses"]).abs().max())}
    for part in ("grads", "params"):
        worst = 0.0
        for k, (a, names_a) in ref[part].items():
            b, names_b = run[part][k]
            b = b.permute([names_b.index(n) for n in names_a])
            worst = max(worst, float((a - b).abs().max()))
        out[part] = worst
    return out


def _main(argv: Sequence[str] | None = None) -> int:
    """``torchrun ... -m ntlib.distributed --mesh dp=2,tp=4 --rule
    batch=dp,heads=tp,hidden=tp``: every process trains A.1's Transformer on
    the layout; rank 0 also runs it alone and prints the differences."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m ntlib.distributed")
    ap.add_argument("--mesh", default="dp=2", help="mesh dims and sizes, e.g. dp=2,tp=4")
    ap.add_argument("--rule", default="batch=dp", help="axis=mesh dim, e.g. batch=dp,heads=tp")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args(argv)

    def pairs(text: str) -> dict[str, str]:
        return dict(item.split("=", 1) for item in text.split(",") if item)

    dims = {k: int(v) for k, v in pairs(a.mesh).items()}
    _quiet()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=a.timeout))
    try:
        n = math.prod(dims.values())     # every split axis divisible by any mesh size
        kw: dict[str, Any] = dict(steps=a.steps, batch=2 * n, heads=2 * n, layer=8 * n,
                                  hidden=12 * n)
        run = training_run(mesh_dims=dims, rule=pairs(a.rule), **kw)
        if dist.get_rank() == 0:
            ref = training_run(**kw)
            diff = compare(ref, run)
            print(f"{dist.get_world_size()} processes, mesh {dims}, rule {pairs(a.rule)}: "
                  f"max |difference| from one process: " +
                  ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))
            ok = max(diff.values()) < 1e-10
            print("same as one process" if ok else "DIFFERENT from one process")
            return 0 if ok else 1
        return 0
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(_main())
