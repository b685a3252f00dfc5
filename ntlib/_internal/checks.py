"""The checking decorator: what a function requires of its arguments, declared once,
so that the body the book shows is the formula.

    @checked(x="has layer, lacks out", W="has out layer", b="has out")
    def full_conn(x, W, b, *, layer="layer", out="out"):
        return rename(sigmoid(contract(W, x, over=layer) + b), {out: layer})

reads: x, W and b are named tensors; the axis named by the argument ``layer``
must be an axis of x and of W, ``out`` one of W and b and not of x.  From the
declaration and the signature the decorator writes, once per function, a
wrapper (Python source compiled with exec, as attrs and dataclasses do; no
signature binding per call) that

1. converts each tensor argument to a named tensor (a funsor Tensor of scalars
   or a Python number is accepted; a positional torch tensor or numpy array is
   a TypeError saying how to name it);
2. checks each axis argument: a str, or for a parameter annotated Axes one
   name or several, passed on as a tuple (None: all axes of the tensor that
   must have them); anything else is an AxisError naming the argument;
3. checks "has" and "lacks" (AxisError naming the axis and the tensor's axes);
4. checks that the tensors agree on the sizes of shared axes (AxisError) and
   live on one device (DeviceError), unless compatible=False;
5. with values=True (a function that reads values: compares or prints them,
   loops until they converge, hands them to another library), refuses
   tensors on the meta device, which have none (DeviceError);
6. runs ``check(**arguments)`` if given (the block's own conditions; with
   ``replaces=`` it also converts those arguments, e.g. token ids to int64);
7. with accumulate=True, gives float16 and bfloat16 data to the body in
   float32 and returns the result in the input's dtype (as torch accumulates
   its reductions);
8. calls the function, or, for a block paired with a fused kernel by
   ntlib.fused_by, the kernel unless ``with nt.plain(...):`` asks for the
   formula (ntlib._internal.modes describes the modes).

Spec words: parameter names of axis arguments; ``has`` and ``lacks`` switch
between the two lists (``has`` is the default); ``each`` says the argument is a
sequence of named tensors (implied for ``*args``); ``numbers`` lets elements be
Python numbers, which are passed on unchanged; ``real`` refuses complex data
(a TypeError naming the argument, its dtype and axes).  Commas are ignored.

The checks of functions whose arguments are not named tensors alone (a dict
of parameters, a size) are written with the helpers of ntlib._internal.base
(``axis_size``, ``axis_names``, ``real``) in the ``check=`` function.
"""

from __future__ import annotations

import inspect
import itertools
import linecache
import re
from typing import Annotated, Any, Callable, Sequence, TypeVar, Union, cast

import torch

from . import base, modes, tensor
from .cache import bounded_cache

__all__ = ["checked", "Axis", "Axes", "Order", "generate", "compatible"]

#: an axis name (a str); as an annotation it marks an axis argument
Axis = Annotated[str, "ntlib axis"]
#: one axis name or several; the decorator passes them on as a tuple
Axes = Annotated[Union[str, Sequence[str]], "ntlib axes"]
#: several axis names whose order matters (a set is refused)
Order = Annotated[Union[str, Sequence[str]], "ntlib axes, in order"]

#: a function; the decorators below return it with its own signature (for mypy)
F = TypeVar("F", bound=Callable[..., Any])

_WORDS = {"has", "lacks", "each", "numbers", "real"}


def _parse(param, text, names):
    has, lacks, each, numbers, real = [], [], False, False, False
    mode = has
    for word in re.split(r"[\s,;]+", text.strip()):
        if not word:
            continue
        if word == "has":
            mode = has
        elif word == "lacks":
            mode = lacks
        elif word == "each":
            each = True
        elif word == "numbers":
            numbers = True
        elif word == "real":
            real = True
        elif word in names:
            mode.append(word)
        else:
            raise TypeError(f"checked: {param}={text!r}: {word!r} is not a parameter "
                            f"(nor one of {sorted(_WORDS)})")
    return has, lacks, each, numbers, real


def _annotation(fn, p):
    return getattr(inspect.unwrap(fn), "__annotations__", {}).get(p.name)


def _plural(fn, p):
    ann = _annotation(fn, p)
    if isinstance(ann, str):
        return re.search(r"\b(Axes|Order)\b", ann) is not None
    return ann is not None and "ntlib axes" in repr(ann)


def _ordered(fn, p):
    """An axis argument whose order matters (annotated Order)."""
    ann = _annotation(fn, p)
    if isinstance(ann, str):
        return re.search(r"\bOrder\b", ann) is not None
    return ann is not None and "in order" in repr(ann)


def _optional(fn, p):
    """An axis argument that may be None: default None, or annotated '... | None'."""
    if p.default is None:
        return True
    ann = _annotation(fn, p)
    return ann is not None and re.search(r"\bNone\b|Optional", str(ann)) is not None


def _annotated_axis(fn, p):
    ann = _annotation(fn, p)
    if isinstance(ann, str):
        return re.search(r"\bAxis\b", ann) is not None
    return ann is not None and "ntlib axis" in repr(ann)


_SEQ = itertools.count()


@bounded_cache
def _agree(signature: tuple) -> bool:
    """Whether shared axes have one size across signature ((names, shape), ...)."""
    sizes: dict = {}
    for names, shape in signature:
        for a, n in zip(names, shape):
            if sizes.setdefault(a, n) != n:
                return False
    return True


def compatible(what, ts):
    """Sizes of shared axes agree (AxisError) and every tensor is on one device
    (DeviceError); remembered per signature of names and shapes."""
    if len(ts) < 2:
        return
    dev = ts[0].data.device
    key = []
    for t in ts:
        d = t.data
        if d.device != dev:
            base.same_device(ts, what)
        key.append((t.names, d.shape))
    if not _agree(tuple(key)):
        base.merged_sizes(ts, what)


def _convert_each(values, what, param, numbers):
    cls = tensor.NamedTensor
    if values.__class__ is not tuple and values.__class__ is not list:
        if isinstance(values, (cls, str, bytes, base.Mapping, torch.Tensor)) \
                or not isinstance(values, base.Iterable):
            raise TypeError(f"{what}: argument {param!r} must be a list or tuple of "
                            f"named tensors, got {base._kind(values)}")
        values = list(values)       # a generator, a dict's values: read once
    for v in values:
        if not isinstance(v, cls):
            break
    else:
        return values
    out = []
    for v in values:
        if isinstance(v, cls):
            out.append(v)
        elif numbers and isinstance(v, (bool, int, float)):
            out.append(v)
        elif numbers and isinstance(v, base.fc.Number):
            out.append(v.data)
        else:
            out.append(tensor.as_named(v, what, param))
    return out


def _literal(v):
    """A default that reads the same in source as in the signature."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return not isinstance(v, float) or repr(v) == repr(float(repr(v)))
    if isinstance(v, tuple):
        return all(_literal(e) for e in v)
    return False


def _declined(name):
    return RuntimeError(f"{name}: the fused kernel declined these inputs "
                        f"(strict_fused is on)")


def _up(x):
    return tensor.make(x.data.float(), x.names)


def _down(r, dt):
    return tensor.make(r.data.to(dt), r.names)


def _agrees(fn: Callable[..., Any], names: list[str], role: str,
            other: Callable[..., Any]) -> None:
    """TypeError, at decoration time, unless ``other`` (a block's check= function
    or fused kernel, which the wrapper calls with every parameter of the block
    by keyword) accepts exactly those keywords: none missing, none unknown
    without a default.  The message names both functions and their parameters."""
    try:
        sig = inspect.signature(other)
    except (TypeError, ValueError):
        return
    ps = sig.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in ps.values())
    unknown = [] if takes_any else [n for n in names if n not in ps
                                    or ps[n].kind is inspect.Parameter.POSITIONAL_ONLY]
    missing = [n for n, p in ps.items() if n not in names and p.default is p.empty
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if unknown or missing:
        problems = []
        if unknown:
            problems.append(f"it has no parameter {', '.join(map(repr, unknown))}")
        if missing:
            problems.append(f"it requires {', '.join(map(repr, missing))}, which "
                            f"{fn.__name__} does not have")
        raise TypeError(
            f"{fn.__module__}.{fn.__qualname__}{inspect.signature(fn)}: its {role} "
            f"{getattr(other, '__module__', '?')}.{getattr(other, '__qualname__', other)}"
            f"{sig} is called with every parameter of the block by keyword, but "
            f"{' and '.join(problems)}")


def generate(fn: Callable[..., Any], tensors: Sequence[str] = (),
             requirements: dict[str, str] | None = None,
             check: Callable[..., Any] | None = None, compat: bool | None = None,
             fast: Callable[..., Any] | None = None, accumulate: bool = False,
             replaces: str | Sequence[str] = (), real: bool = False,
             values: bool = False) -> Callable[..., Any]:
    """The wrapper of ``fn`` described in this module's docstring (its source is
    registered with linecache, so tracebacks show it).  The wrapper carries
    fn's name, docstring and annotations, and ``__wrapped__`` = fn, so that
    help(), inspect.signature and the book's reference show fn's signature."""
    requirements = dict(requirements or {})
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    names = [p.name for p in params]
    byname = {p.name: p for p in params}
    name = fn.__name__
    for t in list(tensors) + list(requirements):
        if t not in byname:
            raise TypeError(f"checked: {name} has no parameter {t!r}")
    specs: dict[str, tuple[list[str], list[str], bool, bool, bool]] = {
        t: ([], [], False, False, False) for t in tensors}
    for t, text in requirements.items():
        specs[t] = _parse(t, text, names)
    if real:       # every tensor argument must hold real numbers
        specs = {t: s[:4] + (True,) for t, s in specs.items()}
    for t, p in byname.items():
        if t in specs and p.kind is p.VAR_POSITIONAL:
            has, lacks, _, numbers, real_t = specs[t]
            specs[t] = (has, lacks, True, numbers, real_t)
    axis_params = []
    for t, (has, lacks, _, _, _) in specs.items():
        for a in has + lacks:
            if a not in axis_params:
                axis_params.append(a)
    for p in params:
        if p.name not in axis_params and p.name not in specs and \
                (_annotated_axis(fn, p) or _plural(fn, p)):
            axis_params.append(p.name)
    multi = len(specs) > 1 or any(s[2] for s in specs.values())
    if compat is None:
        compat = multi

    ns: dict[str, Any] = {
          "NamedTensor": tensor.NamedTensor, "as_named": tensor.as_named,
          "as_named_each": _convert_each, "axis_name": base.axis_name,
          "axis_names": base.axis_names, "missing_axis": base.missing_axis,
          "forbid": base.forbid, "compatible": compatible, "formula": fn, "fused": fast,
          "check": check, "plain_mode": modes.plain_mode,
          "strict_mode": modes.strict_mode,
          "OUTER": modes.OUTER, "outer_formula": modes.outer_formula,
          "declined": _declined, "in_float32": _up, "back_to": _down,
          "refuse_complex": base.refuse_complex, "needs_values": base.needs_values,
          "HALF": (torch.float16, torch.bfloat16)}
    clash = set(names) & (set(ns) | {"result", "dtype_", "each", "axis", "ts", "each_i",
                                     "new_", "mode_"})
    replaces = tuple(re.split(r"[\s,;]+", replaces.strip())) if isinstance(replaces, str) \
        else tuple(replaces)
    for a in replaces:
        if a not in byname or check is None:
            raise TypeError(f"checked: {name}: replaces={a!r} needs a check= and a "
                            f"parameter of that name")
    if clash:
        raise TypeError(f"checked: {name}: parameter names {sorted(clash)} clash with "
                        f"the wrapper's own names")
    for role, other in (("check", check), ("fused kernel", fast)):
        if other is not None:
            _agrees(fn, names, role, other)

    # the signature, as text, with the defaults bound in the namespace
    head, call, kwcall, checkcall = [], [], [], []
    star = False
    for k, p in enumerate(params):
        d = ""
        if p.default is not p.empty:
            if _literal(p.default):
                d = "=" + repr(p.default)
            else:
                ns[f"_d{k}"] = p.default
                d = f"=_d{k}"
        if p.kind is p.VAR_POSITIONAL:
            head.append("*" + p.name)
            call.append("*" + p.name)
            checkcall.append(f"{p.name}={p.name}")
            star = True
        elif p.kind is p.VAR_KEYWORD:
            head.append("**" + p.name)
            call.append("**" + p.name)
            checkcall.append(f"{p.name}={p.name}")
        elif p.kind is p.KEYWORD_ONLY:
            if not star:
                head.append("*")
                star = True
            head.append(p.name + d)
            call.append(f"{p.name}={p.name}")
            kwcall.append(f"{p.name}={p.name}")
            checkcall.append(f"{p.name}={p.name}")
        else:
            head.append(p.name + d)
            call.append(p.name)
            kwcall.append(f"{p.name}={p.name}")
            checkcall.append(f"{p.name}={p.name}")
        if p.kind is p.POSITIONAL_ONLY and (
                k + 1 == len(params) or params[k + 1].kind is not p.POSITIONAL_ONLY):
            head.append("/")

    def what(t):
        return f"{name} ({t})" if multi else name

    defname = name if name.isidentifier() else "_checked"
    lines = [f"def {defname}({', '.join(head)}):"]
    NT = "NamedTensor"
    # 1. tensors
    for t, (has, lacks, each, numbers, _) in specs.items():
        w = repr(what(t))
        if each:
            lines.append(f"    {t} = as_named_each({t}, {w}, {t!r}, {numbers})")
            continue
        cond = f"not isinstance({t}, {NT})"
        if byname[t].default is None:
            cond = f"{t} is not None and {cond}"
        lines.append(f"    if {cond}: {t} = as_named({t}, {w}, {t!r})")
    # 1b. real data
    for t, (_, _, each, numbers, real) in specs.items():
        if not real:
            continue
        w = repr(what(t))
        if each:
            lines.append(f"    for each_i, each in enumerate({t}):")
            lines.append(f"        if isinstance(each, {NT}) and each.data.dtype.is_complex: "
                         f"refuse_complex({w}, f\"{t}[{{each_i}}]\", each)")
            continue
        pre = f"{t} is not None and " if byname[t].default is None else ""
        lines.append(f"    if {pre}{t}.data.dtype.is_complex: refuse_complex({w}, {t!r}, {t})")
    # 2. axis arguments
    for a in axis_params:
        p = byname[a]
        w = repr(name)
        opt = _optional(fn, p)
        if _plural(fn, p) or p.kind is p.VAR_POSITIONAL:
            owner = next((t for t, s in specs.items() if a in s[0] and not s[2]), None)
            single = [t for t, s in specs.items() if not s[2]]
            of = owner or (single[0] if len(single) == 1 else None)
            if of is not None and byname[of].default is None:
                of = None
            if opt and owner is not None:
                lines.append(f"    if {a} is None: {a} = {owner}.names")
                lines.append(f"    elif {a}.__class__ is str: {a} = ({a},)")
            elif opt:
                lines.append(f"    if {a} is None: pass")
                lines.append(f"    elif {a}.__class__ is str: {a} = ({a},)")
            else:
                lines.append(f"    if {a}.__class__ is str: {a} = ({a},)")
            order = ", True" if _ordered(fn, p) else ""
            lines.append(f"    else: {a} = axis_names({a}, {w}, {a!r}, {of or 'None'}{order})")
        else:
            guard = f"{a} is not None and " if opt else ""
            lines.append(f"    if {guard}{a}.__class__ is not str: "
                         f"{a} = axis_name({a}, {w}, {a!r})")
    # 3. has / lacks
    for t, (has, lacks, each, numbers, _) in specs.items():
        w = repr(what(t))
        opt_t = byname[t].default is None and not each
        for a in has:
            plural = _plural(fn, byname[a])
            opt_a = _optional(fn, byname[a])
            ind = "    "
            conds = []
            if opt_t:
                conds.append(f"{t} is not None")
            if opt_a and not plural:
                conds.append(f"{a} is not None")
            if each:
                lines.append(f"{ind}for each in {t}:")
                ind += "    "
                if numbers:
                    lines.append(f"{ind}if not isinstance(each, {NT}): continue")
                tv = "each"
            else:
                tv = t
            if conds:
                lines.append(f"{ind}if {' and '.join(conds)}:")
                ind += "    "
            if plural:
                normalised = not each and opt_a and a in specs[t][0]
                lines.append(f"{ind}for axis in {a}{' or ()' if opt_a and not normalised else ''}:")
                lines.append(f"{ind}    if axis not in {tv}.names: "
                             f"raise missing_axis({w}, axis, {tv})")
            else:
                lines.append(f"{ind}if {a} not in {tv}.names: "
                             f"raise missing_axis({w}, {a}, {tv})")
        for a in lacks:
            plural = _plural(fn, byname[a])
            role = repr(t)
            if each:
                lines.append(f"    for each in {t}:")
                lines.append(f"        if isinstance(each, {NT}) and {a} is not None: "
                             f"forbid(each, {a}, {name!r}, {role})")
            elif plural:
                lines.append(f"    for axis in {a} or (): forbid({t}, axis, {name!r}, {role})")
            else:
                pre = f"{t} is not None and " if opt_t else ""
                lines.append(f"    if {pre}{a} is not None and {a} in {t}.names: "
                             f"forbid({t}, {a}, {name!r}, {role})")
    # 4. sizes and devices
    fixed, extra = [], []
    for t, (_, _, each, numbers, _) in specs.items():
        if each:
            extra.append(f"tuple(t for t in {t} if isinstance(t, {NT}))" if numbers
                         else f"tuple({t})")
        elif byname[t].default is None:
            extra.append(f"(() if {t} is None else ({t},))")
        else:
            fixed.append(t)
    tup = f"({fixed[0]},)" if len(fixed) == 1 else f"({', '.join(fixed)})"
    every = " + ".join(([tup] if fixed else []) + extra)
    if compat and specs:
        lines.append(f"    compatible({name!r}, {every})")
    # 5. values needed: none on the meta device
    if values and specs:
        lines.append(f"    needs_values({name!r}, {every})")
    # 6. the block's own check
    if check is not None and replaces:
        lines.append(f"    new_ = check({', '.join(checkcall)})")
        for a in replaces:
            lines.append(f"    {a} = new_[{a!r}]")
    elif check is not None:
        lines.append(f"    check({', '.join(checkcall)})")
    # 7. the call (half-precision data accumulated in float32, as torch does)
    if accumulate:
        t = next(iter(specs))
        lines.append(f"    if {t}.data.dtype in HALF:")
        lines.append(f"        dtype_, {t} = {t}.data.dtype, in_float32({t})")
        lines.append(f"        return back_to(formula({', '.join(call)}), dtype_)")
    if fast is not None:   # the modes of nt.plain: see ntlib._internal.modes
        lines.append("    mode_ = plain_mode()")
        lines.append("    if mode_ is False or mode_.__class__ is frozenset "
                     "and formula not in mode_:")
        lines.append(f"        result = fused({', '.join(kwcall)})")
        lines.append("        if result is not NotImplemented: return result")
        lines.append(f"        if strict_mode(): raise declined({name!r})")
        lines.append("    elif mode_ is OUTER:   # nested=False: the blocks it calls as by default")
        lines.append(f"        return outer_formula(formula, {', '.join(call)})")
    lines.append(f"    return formula({', '.join(call)})")
    src = "\n".join(lines) + "\n"
    filename = f"<ntlib checked {fn.__module__}.{fn.__qualname__} #{next(_SEQ)}>"
    exec(compile(src, filename, "exec"), ns)
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    wrapper = ns[defname]
    wrapper.__name__ = name
    wrapper.__doc__ = fn.__doc__
    wrapper.__annotations__ = dict(getattr(fn, "__annotations__", {}))
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__module__ = fn.__module__
    wrapper.__wrapped__ = fn
    wrapper.__ntlib__ = dict(tensors=tuple(tensors), requirements=requirements, check=check,
                             compat=compat, fast=fast, accumulate=accumulate,
                             replaces=replaces, real=real, values=values, source=src)
    wrapper.plain = fn
    if fast is not None:
        wrapper.fused = fast
    return wrapper


def checked(*tensors: str, check: Callable[..., Any] | None = None,
            compatible: bool | None = None, accumulate: bool = False,
            replaces: str | Sequence[str] = (), real: bool = False,
            values: bool = False, **requirements: str) -> Callable[[F], F]:
    """Declare the named tensors and axis arguments of a function (see the module
    docstring); the checks run in a wrapper generated once, before the body.

    ``replaces``: parameters (a list, or names in one str) whose values the
    check converts; the check then returns a dict holding their new values
    (token ids of any integer dtype as int64, say), which the body receives.
    ``real=True``: every tensor argument must hold real numbers (the word
    ``real`` in one declaration says it for that argument alone).
    ``values=True``: the function reads its tensors' values (compares or prints
    them, stops when they converge, hands them to another library), so tensors
    on the meta device, which have none, are refused with DeviceError.
    """
    def deco(fn: F) -> F:
        info = getattr(fn, "__ntlib__", None)
        if info is not None:   # over fused_by: one wrapper for both
            return cast(F, generate(getattr(fn, "__wrapped__"), tensors, requirements,
                                    check or info["check"], compatible, info["fast"],
                                    accumulate, replaces, real, values))
        return cast(F, generate(fn, tensors, requirements, check, compatible,
                                accumulate=accumulate, replaces=replaces, real=real,
                                values=values))
    return deco

