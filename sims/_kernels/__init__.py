"""Numba kernels (private): each has a plain NumPy reference in ``sims/_reference.py``."""
