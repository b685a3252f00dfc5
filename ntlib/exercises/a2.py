"""Exercises of Appendix A.2: LeNet's shapes, a stage, the flattening."""

import torch
import torch.nn.functional as F

import ntlib as nt

from . import exercise
from ._positional import extras, named, p


@exercise("A2.1", title="the size of layer for 32 x 32 images", kind="value")
def ex_a2_1():
    # run LeNet's two stages positionally on a 32 x 32 image and count
    x = torch.zeros(1, 1, 32, 32)
    for c_in, c_out in ((1, 6), (6, 16)):
        x = F.max_pool2d(F.conv2d(x, torch.zeros(c_out, c_in, 5, 5)), 2)
    return x.numel()


def _stage(seed, c_in, c_out, k, **X):
    return dict(X=nt.randn(seed=seed, **X),
                W=nt.randn(seed=seed + 1, **{"chans'": c_out}, chans=c_in,
                           kh=k, kw=k),
                b=nt.randn(seed=seed + 2, **{"chans'": c_out}))


def _cases_a2_2():
    return [
        ("X[chans=1, height=8, width=8], 2 output channels, 3 x 3 kernel",
         _stage(1, 1, 2, 3, chans=1, height=8, width=8)),
        ("other sizes and axis order, a 2 x 2 kernel",
         _stage(4, 2, 3, 2, width=7, chans=2, height=5)),
        ("an extra axis 'batch' to lift over",
         _stage(7, 2, 2, 3, batch=3, chans=2, height=6, width=6)),
    ]


@exercise("A2.2", title="one convolution stage", cases=_cases_a2_2)
def ex_a2_2(X, W, b, *, chans="chans"):
    # positionally: torch's conv2d, relu and max_pool2d
    E = extras(dict(X=X), (chans, "height", "width"))
    x = p(X, E, chans, "height", "width")
    x = x.reshape(-1, *x.shape[-3:])
    y = F.max_pool2d(torch.relu(F.conv2d(x, p(W, [], chans + "'", chans, "kh", "kw"),
                                         p(b, [], chans + "'"))), 2)
    lead = [nt.shape(X)[a] for a in E]
    return named(y.reshape(*lead, *y.shape[-3:]), E + [chans, "height", "width"])


def _cases_a2_3():
    def case(seed, h, w, c, hidden, **extra):
        X2 = nt.randn(seed=seed, **extra, chans=c, height=h, width=w)
        return dict(X2=X2,
                    W3=nt.randn(seed=seed + 1, hidden=hidden, layer=h * w * c),
                    b3=nt.randn(seed=seed + 2, hidden=hidden))
    return [
        ("X2[chans=2, height=2, width=2], hidden[3]", case(1, 2, 2, 2, 3)),
        ("other sizes: height[3], width[2], chans[4]", case(4, 3, 2, 4, 2)),
        ("an extra axis 'batch' to lift over", case(7, 2, 3, 2, 3, batch=2)),
    ]


@exercise("A2.3", title="flatten, then the hidden layer", cases=_cases_a2_3)
def ex_a2_3(X2, W3, b3, *, layer="layer"):
    # positionally: flatten (height, width, chans) in that order, then linear
    E = extras(dict(X2=X2), ("height", "width", "chans"))
    x = p(X2, E, "height", "width", "chans").flatten(-3)
    y = torch.relu(F.linear(x, p(W3, [], "hidden", layer), p(b3, [], "hidden")))
    return named(y, E + ["hidden"])
