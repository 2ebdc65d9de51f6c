"""Compiled kernels, built from ``src_ext/*.pyx`` by ``setup.py``."""
