"""Re-render a committed comparison's markdown tables from its raw rows, without rerunning it:
``python benchmarks/summarize_compare.py benchmarks/results/compare_delhi_lstm "lstm (delhi): 10 seeds"``."""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hbjax.commands.compare import summary_markdown

if __name__ == "__main__":
    out, title = Path(sys.argv[1]), sys.argv[2]
    raw = pd.read_csv(out / "compare_raw.csv")
    (out / "compare_summary.md").write_text(summary_markdown(raw, title))
    print(f"wrote {out / 'compare_summary.md'}")
