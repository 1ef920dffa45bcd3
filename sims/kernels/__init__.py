"""Numba kernels: the loops behind the ``sims`` modules, each with a plain NumPy reference in
``sims/_reference.py``. They trust their arguments; the ``sims`` modules validate them first."""
