"""The progress display every run command shares (the LSTM's and a user model's)."""

from __future__ import annotations

import logging
import math

log = logging.getLogger("hbjax")

__all__ = ["RungProgress"]


class RungProgress:
    """A rich progress bar over the run's config-epochs (elapsed time and an ETA from the rate so
    far), and one summary line per rung: configs, epochs, best so far, config-epochs/s, and the
    engine's programs and compile time. Only the lines when quiet or not on a terminal."""

    def __init__(self, plan, iterations: int, console, *, quiet: bool, detail=None):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from ..brackets import continued_budget

        self.total = iterations * continued_budget(plan)
        self.best = math.inf
        self.console = console
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} config-epochs"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.live,
        )
        self.task = self.progress.add_task("starting", total=self.total)
        self.detail = detail  # () -> extra text for a rung's line (the engine's programs and compiles)
        self.waves_done = 0

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def _line(self, job, losses, seconds, *, share: bool = False) -> str:
        from ..strategies.base import budget_of

        finite = [x for x in losses if math.isfinite(x)]
        if finite:
            self.best = min(self.best, min(finite))
        done = budget_of(job, continues=True)  # survivors continue: only the increment counts
        return (
            f"iter {job.iteration} bracket s={job.bracket} rung {job.rung}: {len(job.config_ids)} configs -> "
            f"{job.resource:.4g} epochs, rung best {min(finite) if finite else float('nan'):.5g}, "
            f"best so far {self.best:.5g}, "
            + (
                f"~{seconds:.1f} s (its share of the wave)"
                if share
                else f"{seconds:.1f} s, {done / max(seconds, 1e-9):.2f} config-epochs/s"
            )
        )

    def _say(self, line: str) -> None:
        log.info(line)
        if not self.quiet:
            self.console.print(line)

    def _advance(self, state, description: str) -> None:
        from ..scheduler import total_resource

        # from the state, not by adding up: a resumed run's bar starts where the run stopped
        self.progress.update(self.task, completed=total_resource(state, continued=True), description=description)

    def update(self, job, losses, state, seconds):
        """After a rung of a sequential run."""
        self._say(self._line(job, losses, seconds) + (f", {self.detail()}" if self.detail else ""))
        self._advance(state, f"s={job.bracket} rung {job.rung} best {self.best:.4g}")

    def wave_done(self, jobs, losses, state, seconds):
        """After a wave: one line for the wave (its rungs, time, and the engine's programs), one per rung."""
        from ..strategies.base import budget_of

        total = sum(seconds)
        done = sum(budget_of(job, continues=True) for job in jobs)
        self.waves_done += 1
        self._say(
            f"wave {self.waves_done}: {len(jobs)} rung(s) of {len({(j.iteration, j.bracket) for j in jobs})} "
            f"bracket(s), {sum(len(j.config_ids) for j in jobs)} configs, {total:.1f} s, "
            f"{done / max(total, 1e-9):.2f} config-epochs/s" + (f", {self.detail()}" if self.detail else "")
        )
        for job, loss, share in zip(jobs, losses, seconds):
            self._say("  " + self._line(job, loss, share, share=True))
        self._advance(state, f"wave {self.waves_done} best {self.best:.4g}")
