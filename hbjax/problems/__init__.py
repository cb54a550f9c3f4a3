"""Benchmark problems for comparing methods: multi-fidelity test functions (``testfunctions.py``)
and mf-prior-bench's MFHartmann and Counting Ones (``mfbench.py``)."""
