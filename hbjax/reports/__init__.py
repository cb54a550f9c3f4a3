"""Pictures and summaries of runs and comparisons: loss and bracket plots (``plots.py``), the
README's figures (``figures.py``), a run's Markdown report (``report.py``), critical-difference
diagrams (``cdplot.py``)."""
