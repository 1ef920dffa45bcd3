"""Infrastructure below the mathematics: argument validation and the ``InputError`` contract
(``checks``), the task engine, atomic writes and version stamps (``engine``). Imports nothing else
of the project."""
