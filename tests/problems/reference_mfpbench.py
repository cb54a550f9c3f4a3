"""Reference definitions the JAX benchmarks are tested against (not part of hbjax).

``MFHartmann3`` / ``MFHartmann6``: copied verbatim (docstrings shortened) from mf-prior-bench
1.10.0, ``src/mfpbench/synthetic/hartmann/generators.py`` (identical in 1.8.1 and 1.9.0;
https://github.com/automl/mf-prior-bench, BSD-3-Clause). mf-prior-bench itself pins numpy < 2,
which jax >= 0.6 cannot share, so the generator is kept here instead of installed.

``counting_ones``: the objective of DEHB's ``benchmarking/counting_ones/counting_ones.py``
(copied from HPOlib1.5; https://github.com/automl/DEHB, Apache-2.0), as a function.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod

import numpy as np


class MFHartmannGenerator(ABC):
    optimum: tuple[float, ...]
    _default_seed: int = 1337
    dims: int

    def __init__(self, n_fidelities: int, fidelity_bias: float, fidelity_noise: float, seed: int | None = None):
        self.z_min, self.z_max = (1, n_fidelities)
        self.seed = seed if seed else self._default_seed
        self.bias = fidelity_bias
        self.noise = fidelity_noise
        self.random_state = np.random.default_rng(seed)

    @abstractmethod
    def __call__(self, z: int, Xs: tuple[float, ...]) -> float: ...


class MFHartmann3(MFHartmannGenerator):
    optimum = (0.114614, 0.555649, 0.852547)
    dims = 3

    def __call__(self, z: int, Xs: tuple[float, ...]) -> float:
        assert len(Xs) == self.dims
        X_0, X_1, X_2 = Xs

        log_z = np.log(z)
        log_lb, log_ub = np.log(self.z_min), np.log(self.z_max)
        log_z_scaled = (log_z - log_lb) / (log_ub - log_lb)

        # Highest fidelity (1) accounts for the regular Hartmann
        X = np.array([X_0, X_1, X_2]).reshape(1, -1)
        alpha = np.array([1.0, 1.2, 3.0, 3.2])

        alpha_prime = alpha - self.bias * np.power(1 - log_z_scaled, 1)
        A: np.ndarray = np.array(
            [[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]],
            dtype=float,
        )
        P: np.ndarray = np.array(
            [
                [3689, 1170, 2673],
                [4699, 4387, 7470],
                [1091, 8732, 5547],
                [381, 5743, 8828],
            ],
            dtype=float,
        )

        inner_sum = np.sum(A * (X[:, np.newaxis, :] - 0.0001 * P) ** 2, axis=-1)
        H = -(np.sum(alpha_prime * np.exp(-inner_sum), axis=-1))

        # and add some noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Seed below will overflow
            rng = np.random.default_rng(seed=abs(self.seed * z * hash(Xs)))

        noise = np.abs(rng.normal(size=H.size)) * self.noise * (1 - log_z_scaled)

        return float((H + noise)[0])


class MFHartmann6(MFHartmannGenerator):
    optimum = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
    dims = 6

    def __call__(self, z: int, Xs: tuple[float, ...]) -> float:
        assert len(Xs) == self.dims
        X_0, X_1, X_2, X_3, X_4, X_5 = Xs

        # Change by Carl - z now comes in normalized
        log_z = np.log(z)
        log_lb, log_ub = np.log(self.z_min), np.log(self.z_max)
        log_z_scaled = (log_z - log_lb) / (log_ub - log_lb)

        # Highest fidelity (1) accounts for the regular Hartmann
        X = np.array([X_0, X_1, X_2, X_3, X_4, X_5]).reshape(1, -1)
        alpha = np.array([1.0, 1.2, 3.0, 3.2])
        alpha_prime = alpha - self.bias * np.power(1 - log_z_scaled, 1)
        A: np.ndarray = np.array(
            [
                [10, 3, 17, 3.5, 1.7, 8],
                [0.05, 10, 17, 0.1, 8, 14],
                [3, 3.5, 1.7, 10, 17, 8],
                [17, 8, 0.05, 10, 0.1, 14],
            ],
            dtype=float,
        )
        P: np.ndarray = np.array(
            [
                [1312, 1696, 5569, 124, 8283, 5886],
                [2329, 4135, 8307, 3736, 1004, 9991],
                [2348, 1451, 3522, 2883, 3047, 6650],
                [4047, 8828, 8732, 5743, 1091, 381],
            ],
            dtype=float,
        )

        inner_sum = np.sum(A * (X[:, np.newaxis, :] - 0.0001 * P) ** 2, axis=-1)
        H = -(np.sum(alpha_prime * np.exp(-inner_sum), axis=-1))

        # and add some noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Seed below will overflow
            rng = np.random.default_rng(seed=abs(self.seed * z * hash(Xs)))

        noise = np.abs(rng.normal(size=H.size)) * self.noise * (1 - log_z_scaled)
        return float((H + noise)[0])


def counting_ones(config: dict, budget=100) -> float:
    """``CountingOnes.objective_function(config, budget)["function_value"]`` (global np.random)."""
    y = 0
    for h in config:
        if "float" in h:
            samples = np.random.binomial(1, config[h], int(budget))
            y += np.mean(samples)
        else:
            y += config[h]
    return -y


#: mf-prior-bench 1.10.0 itself (``mfpbench.get(name).query(all X = 0.5, at=z)``, default seed):
#: (z, value with its noise, value without noise), per name
MFPBENCH_AT_HALF = {
    "mfh3": [
        (3, -0.379348283808, -0.511503454276),
        (11, -0.485889623315, -0.554677013022),
        (33, -0.58025251993, -0.591182533961),
        (50, -0.601059643411, -0.60498959574),
        (100, -0.628022015071, -0.628022015071),
    ],
    "mfh3_good": [
        (3, 2.597674198262, -0.045429211096),
        (11, 1.114450789301, -0.261297004826),
        (33, -0.225224328903, -0.443824609525),
        (50, -0.434260871828, -0.512859918418),
        (100, -0.628022015071, -0.628022015071),
    ],
    "mfh3_moderate": [
        (3, 4.035744463736, 0.071089349699),
        (11, 1.875669688413, -0.187952002777),
        (33, -0.079084707484, -0.406985128416),
        (50, -0.371928929202, -0.489827499087),
        (100, -0.628022015071, -0.628022015071),
    ],
    "mfh3_bad": [
        (3, 5.47381472921, 0.187607910494),
        (11, 2.636888587526, -0.114607000728),
        (33, 0.067054913936, -0.370145647307),
        (50, -0.309596986577, -0.466795079757),
        (100, -0.628022015071, -0.628022015071),
    ],
    "mfh3_terrible": [
        (3, 6.911884994683, 0.304126471289),
        (11, 3.398107486638, -0.041261998679),
        (33, 0.213194535356, -0.333306166197),
        (50, -0.247265043951, -0.443762660426),
        (100, -0.628022015071, -0.628022015071),
    ],
    "mfh6": [
        (3, -0.403634138288, -0.426105367606),
        (11, -0.400569005098, -0.455454866397),
        (33, -0.449912915476, -0.480271415549),
        (50, -0.481378540196, -0.489657492461),
        (100, -0.505314991702, -0.505314991702),
    ],
    "mfh6_good": [
        (3, 0.340157715127, -0.10926687122),
        (11, 0.841702860795, -0.256014365175),
        (33, 0.227072890528, -0.380097110935),
        (50, -0.26144845019, -0.427027495498),
        (100, -0.505314991702, -0.505314991702),
    ],
    "mfh6_moderate": [
        (3, 0.644079632398, -0.030057247124),
        (11, 1.440421599085, -0.20615423987),
        (33, 0.555701467413, -0.355053534781),
        (50, -0.163001428295, -0.411369996257),
        (100, -0.505314991702, -0.505314991702),
    ],
    "mfh6_bad": [
        (3, 0.948001549668, 0.049152376972),
        (11, 2.039140337375, -0.156294114564),
        (33, 0.884330044298, -0.330009958628),
        (50, -0.0645544064, -0.395712497016),
        (100, -0.505314991702, -0.505314991702),
    ],
    "mfh6_terrible": [
        (3, 1.251923466938, 0.128362001069),
        (11, 2.637859075666, -0.106433989259),
        (33, 1.212958621182, -0.304966382475),
        (50, 0.033892615495, -0.380054997775),
        (100, -0.505314991702, -0.505314991702),
    ],
}
