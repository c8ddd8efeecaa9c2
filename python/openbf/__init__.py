"""openbf: run unmodified CUDA programs on GPUs elsewhere on the network, or on a CPU emulator."""

__version__ = "0.1.0"
