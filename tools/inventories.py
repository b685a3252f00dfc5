"""The intersphinx inventories of the reference part, stored in the repository.

The reference part (``_ext/ntlib_reference.py``) renders ntlib's signatures,
and ``make book`` builds with ``-n`` (nitpicky): every type in a signature must
resolve.  Types from other projects (``torch.dtype``, ``sqlite3.Connection``,
``numpy.ndarray``, hypothesis' ``SearchStrategy``) resolve through
``sphinx.ext.intersphinx`` to those projects' documentation.  The build has no
network, so it does not download their ``objects.inv``: it reads the small
inventories in ``_ext/inventories/``, written by this script from the table
below, which names each object and the page of its project's documentation
that describes it.  A new external type in a signature fails ``make book``
(``-n``) until it has a line here; then run::

    python tools/inventories.py          # rewrites _ext/inventories/*.inv

``tests/test_book.py`` checks that the stored files are what the table makes.
The files are Sphinx's inventory format, version 2 (a four-line header, then
``name domain:role priority uri dispname`` lines, zlib-compressed).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_ext" / "inventories"

# project -> (documentation root, version, {object: (role, page#anchor)});
# the documentation root and the file name go into _config.yml's
# intersphinx_mapping
INVENTORIES = {
    "python": ("https://docs.python.org/3", "3", {
        "sqlite3.Connection": ("py:class", "library/sqlite3.html#sqlite3.Connection"),
        "int": ("py:class", "library/functions.html#int"),
        "float": ("py:class", "library/functions.html#float"),
        "bool": ("py:class", "library/functions.html#bool"),
        "str": ("py:class", "library/stdtypes.html#str"),
        "tuple": ("py:class", "library/stdtypes.html#tuple"),
        "list": ("py:class", "library/stdtypes.html#list"),
        "dict": ("py:class", "library/stdtypes.html#dict"),
        "object": ("py:class", "library/functions.html#object"),
        "None": ("py:data", "library/constants.html#None"),
        "typing.Any": ("py:data", "library/typing.html#typing.Any"),
        "collections.abc.Callable": ("py:class", "library/collections.abc.html#collections.abc.Callable"),
        "collections.abc.Sequence": ("py:class", "library/collections.abc.html#collections.abc.Sequence"),
        "collections.abc.Mapping": ("py:class", "library/collections.abc.html#collections.abc.Mapping"),
        "collections.abc.Iterable": ("py:class", "library/collections.abc.html#collections.abc.Iterable"),
        "collections.abc.Iterator": ("py:class", "library/collections.abc.html#collections.abc.Iterator"),
    }),
    "torch": ("https://docs.pytorch.org/docs/stable", "stable", {
        "torch.Tensor": ("py:class", "tensors.html#torch.Tensor"),
        "torch.dtype": ("py:class", "tensor_attributes.html#torch.dtype"),
        "torch.device": ("py:class", "tensor_attributes.html#torch.device"),
        "torch.Size": ("py:class", "size.html#torch.Size"),
        "torch.Generator": ("py:class", "generated/torch.Generator.html#torch.Generator"),
        "torch.nn.Module": ("py:class", "generated/torch.nn.Module.html#torch.nn.Module"),
        "torch.distributed.device_mesh.DeviceMesh":
            ("py:class", "distributed.html#torch.distributed.device_mesh.DeviceMesh"),
    }),
    "numpy": ("https://numpy.org/doc/stable", "stable", {
        "numpy.ndarray": ("py:class", "reference/generated/numpy.ndarray.html#numpy.ndarray"),
        "numpy.dtype": ("py:class", "reference/generated/numpy.dtype.html#numpy.dtype"),
    }),
    "hypothesis": ("https://hypothesis.readthedocs.io/en/latest", "latest", {
        "hypothesis.strategies.SearchStrategy":
            ("py:class", "reference/strategies.html#hypothesis.strategies.SearchStrategy"),
    }),
}


def inventory(project: str, version: str, objects: dict) -> bytes:
    """The bytes of a version-2 objects.inv holding ``objects``."""
    head = ("# Sphinx inventory version 2\n"
            f"# Project: {project}\n"
            f"# Version: {version}\n"
            "# The remainder of this file is compressed using zlib.\n").encode()
    lines = "".join(f"{name} {role} 1 {uri} -\n"
                    for name, (role, uri) in sorted(objects.items()))
    return head + zlib.compress(lines.encode(), 9)


def files() -> dict:
    """{path: bytes} of every stored inventory."""
    return {OUT / f"{name}.inv": inventory(name, version, objects)
            for name, (_, version, objects) in INVENTORIES.items()}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for path, data in files().items():
        path.write_bytes(data)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
