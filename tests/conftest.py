"""Shared test configuration: the hypothesis profile of the whole suite.

Every property test draws its examples deterministically (``derandomize``),
so a failure repeats on a rerun and on every machine; ``deadline=None``
because the first call of a torch kernel can be slow on a busy machine.
Tests that want fewer examples say so with their own ``settings(...)``.
"""

from hypothesis import settings

settings.register_profile("ntlib", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("ntlib")
