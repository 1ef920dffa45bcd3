"""The model families, one folder each (``sims/families/<name>/``):

* ``__init__.py``: the model itself (its parameters, validated once where they enter, and its
  training runs);
* ``kernel.py``: the Numba kernel behind it; ``reference.py``: the plain NumPy reference the tests
  hold the kernel to;
* ``bench.py``: ``bench(repeats, smoke)``, the kernel timed against what a user would otherwise
  write (its peers);
* where the family has them, ``cell.py`` (its ``stagewise sweep`` cell) and ``growth.py`` (its
  adapter for ``sims.growth``'s operators).

``sims.families.table`` lists them; sweep and bench read that table, so adding a family is its
folder plus one entry there. Shared pieces live in ``sims`` itself: the layer-norm/GELU loops
(``sims.blocks``, NumPy reference ``sims.blocks_reference``), Adam (``sims.optim``), the result
contract (``sims.results``) and the problems (``sims.problems``).
"""
