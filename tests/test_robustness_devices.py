"""Operands on different devices (issue 16): every binary and n-ary operation
of ntlib raises nt.DeviceError naming both devices, ``contract`` included.

The other device is ``meta`` (tensors without data, which ntlib supports), so
the test runs on any machine (under NTLIB_DEVICE=meta the others are made on
the CPU); each named-tensor argument of each function in
tests/public_api.py's table with two or more named tensors is moved there in
turn.
"""

from __future__ import annotations

import pytest

import ntlib as nt
from ntlib.testing import to_device
from public_api import BY_NAME, TABLE, n_tensors, replace_tensors, tensors_in
from robust import expect_own_error, params

DEVICE_ENTRIES = [e.name for e in TABLE
                  if e.device is True and e.build is not None and n_tensors(e) >= 2]


def test_device_class_covers_the_multi_tensor_functions():
    assert len(DEVICE_ENTRIES) > 60, len(DEVICE_ENTRIES)
    for e in TABLE:
        if e.device is not True:
            assert isinstance(e.device, str) and e.device, \
                f"{e.name}: say why the device class does not apply"


def test_device_error_is_a_value_error():
    assert issubclass(nt.DeviceError, ValueError)


def _moved(args, kwargs, k, device):
    """args, kwargs with the k-th named tensor (in walking order) on ``device``."""
    count = [0]

    def move(t):
        out = to_device(t, device) if count[0] == k else t
        count[0] += 1
        return out
    return replace_tensors(args, move), replace_tensors(kwargs, move)


@pytest.mark.parametrize("name", params(DEVICE_ENTRIES))
def test_operands_on_different_devices_raise_device_error(name):
    entry = BY_NAME[name]
    if nt.device().type == "meta":      # NTLIB_DEVICE=meta: operands on the CPU
        with nt.on_device("cpu"):
            args, kwargs = entry.build()
    else:
        args, kwargs = entry.build()
    here = tensors_in([args, kwargs])[0].data.device.type
    for k in range(len(tensors_in([args, kwargs]))):
        if k in entry.unused:
            continue
        a, kw = _moved(args, kwargs, k, "meta")
        expect_own_error(lambda: entry.fn(*a, **kw), nt.DeviceError, "meta", here,
                         what=f"{name} with tensor argument {k} on meta")
