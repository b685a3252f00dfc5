"""Exercises of Appendix A.2b: named axes across devices."""

from __future__ import annotations

from . import exercise


@exercise("A2b.1", title="one device's block", kind="value")
def ex_a2b_1():
    # batch[8] split over dp[4]: 2 x 5 x 16 float32 numbers of 4 bytes
    return 8 // 4 * 5 * 16 * 4


@exercise("A2b.2", title="a layout that is not valid", kind="choice",
          choices={"a": "{hidden -> tp}",
                   "b": "{hidden -> tp, layer -> dp}",
                   "c": "{hidden -> tp, layer -> tp}",
                   "d": "{layer -> dp}"})
def ex_a2b_2():
    # two axes of one tensor may not share a mesh axis
    return "c"


@exercise("A2b.3", title="all-reduces of tensor parallelism", kind="value")
def ex_a2b_3():
    # per layer: W^O contracts over heads, W^2 over hidden; 12 layers
    return 2 * 12
