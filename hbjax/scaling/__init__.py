"""Beyond one process: Hyperband's brackets as Ray tasks (``distributed.py``) and asynchronous
successive halving (``asha.py``)."""
