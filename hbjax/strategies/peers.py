"""Other libraries' multi-fidelity optimisers, run through hbjax's backends and budget accounting.

=============== ===========================================================================
name            strategy
=============== ===========================================================================
optuna-tpe-hb   :class:`OptunaTPEHyperband`: Optuna ``TPESampler`` + ``HyperbandPruner``
optuna-random   :class:`OptunaRandom`: Optuna ``RandomSampler``, every trial at ``max_resource``
dehb            :class:`DEHBStrategy`: DEHB (Awad, Mallik & Hutter 2021), ask/tell
=============== ===========================================================================

They are driven by their own ask/tell interfaces, but every evaluation is a
:class:`~hbjax.scheduler.RungJob` sent to ``backend.train_rung`` and charged
:func:`~hbjax.strategies.base.budget_of` (continued config-epochs when ``backend.continues``,
else the full resource of every config), exactly as hbjax's own strategies: no job is started
that would take the run over its budget, so ``resource_spent <= budget``, and a run ends with
less than one ``max_resource`` evaluation's worth left. The trials table has one row per config
per job, ``result.best_*`` is the smallest finite loss of any row (as for Hyperband).

Optuna and DEHB are imported when a strategy is constructed (not by ``import hbjax``); without
them the constructor raises an ``ImportError`` that says what to install::

    pip install 'hbjax[peers]'          # optuna>=3.5 and dehb==0.1.1

(DEHB 0.1.2 declares ``numpy<2``, which no jax that hbjax can use accepts; 0.1.1 has the same
ask/tell interface without the pin. 0.1.2 also works here if it is installed anyway, e.g.
``pip install --no-deps dehb==0.1.2``.)

**optuna-tpe-hb.** Trials are asked ``batch_size`` at a time and advanced together, resource
level by resource level: every trial reports (``trial.report``) only at the rung resources of
the Hyperband bracket the pruner gives it (bracket b of Optuna's ``HyperbandPruner``: steps
``eta^b, eta^(b+1), ...`` up to R, then R), so that a backend that retrains from scratch pays
only for the evaluations the pruner looks at. All trials of the batch due at the same resource
train as one job (survivors continue from their state when the backend continues). After each
report ``trial.should_prune()`` decides; a trial that reaches R is told COMPLETE with its value
at R, a pruned one PRUNED, a diverged one (NaN/inf loss) FAIL. A trial whose next rung no longer
fits in the budget stops there (PRUNED, or FAIL if it never trained). The bracket is read from
the pruner (``HyperbandPruner._get_bracket_id``, private API; if it is missing, every trial
reports at every ``eta^k``, which is correct but costlier on a retraining backend). ``max_resource``
must be an integer (Optuna's steps are). The study is named after the seed, so the pruner's
bracket assignment (a hash of study name and trial number) is reproducible too.

**optuna-random.** ``batch_size`` trials per job, each trained once at R, told COMPLETE (FAIL
when diverged); the last batch shrinks to fit the budget, as :class:`RandomSearch`.

**dehb.** DEHB's own successive-halving brackets (min fidelity ``min_resource``, max fidelity
R, ``eta``): jobs are asked while they come from the same bracket rung (DEHB's next job would
otherwise have to wait for results and start a new bracket instead: ``DEHB._get_next_bracket``,
private API, else one job at a time), up to ``batch_size``, trained as one job, and told with
``fitness`` = the loss (1e300 when diverged: finite, as DEHB 0.1.1 cannot promote from a rung
without a finite fitness) and ``cost`` = the
resource charged. Every DEHB job is trained from scratch under a fresh config id, including a
config DEHB promotes to a higher fidelity in its first brackets (the ``dehb_config_id`` column
links them): DEHB's own cost model, and a fair one on a retraining backend; on a continuing
backend this charges the promoted config its whole fidelity again, which hbjax's Hyperband would
not. DEHB's log output (loguru) is muted, and its files go to a temporary folder that is removed.
"""

from __future__ import annotations

from .peer_common import PEERS_INSTALL
from .peer_dehb import DEHBStrategy, config_from_configspace, from_configspace, to_configspace
from .peer_optuna import OptunaRandom, OptunaTPEHyperband, optuna_distributions

__all__ = [
    "PEERS",
    "PEERS_INSTALL",
    "DEHBStrategy",
    "OptunaRandom",
    "OptunaTPEHyperband",
    "config_from_configspace",
    "from_configspace",
    "optuna_distributions",
    "to_configspace",
]

PEERS = {
    "optuna-tpe-hb": OptunaTPEHyperband,
    "optuna-random": OptunaRandom,
    "dehb": DEHBStrategy,
}
