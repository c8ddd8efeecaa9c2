"""openbf: run unmodified CUDA programs on GPUs elsewhere on the network, or on a CPU emulator.

The compiled parts are found through :mod:`openbf.paths`. In development, ``BF_BUILD_DIR`` names a
meson build directory; the package then also looks for its Cython extensions (``openbf._proto``)
in ``$BF_BUILD_DIR/pybindings``, so ``PYTHONPATH=python BF_BUILD_DIR=build`` runs the tools from
the source tree without installing anything.
"""

import os as _os

__version__ = "0.1.0"

_build_dir = _os.environ.get("BF_BUILD_DIR")
if _build_dir:
    # Searched after the package's own directory, so an installed extension is not shadowed by
    # accident; in a source checkout the package directory holds no extension and this one is used.
    __path__.append(_os.path.join(_build_dir, "pybindings"))
