"""Where a cold compile's seconds go: the LSTM engine's programs beside plain flax + optax.

Each program is compiled in a fresh process with no compile cache (as on a fresh machine, where
``hbjax demo`` compiles five: four for the run, one for the held-out retrain), nothing else
running in it. Per program: the wall seconds of ``lower(...).compile()``, the process's CPU
seconds meanwhile (cores used: XLA compiles kernels on its own threads), JAX's own phases (tracing
to a jaxpr, lowering to MLIR, XLA's compile: ``jax.monitoring`` events) and XLA's inside its
compile (HLO passes; code generation, LLVM included: the ``cpu_compiler`` timers XLA logs under
``TF_CPP_VMODULE=cpu_compiler=1``), and the kernels XLA generated (fusions in the optimised
HLO; library fusions: the dots). Programs: the demo's four shapes' kind (5 folds side by side,
three allowed activations), the held-out retrain's kind (one fold), and the peers' smallest and largest
shapes (one fold, tanh), each beside the plain flax + optax epoch program of the same shape
(``lstm_program.plain_flax_epoch``: ``nn.RNN(nn.OptimizedLSTMCell)``, dropout, ``optax.adam``,
validation) where one exists (one fold).

    JAX_PLATFORMS=cpu python benchmarks/compile_profile.py     # ~1 minute on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, load_average, machine_info, write_json

DEMO_ACTS = "tanh,relu,sigmoid"
#: (label, hidden, layers, batch, folds, allowed activations, plain flax twin)
PROGRAMS = (
    ("demo 32x2 b64, 5 folds", 32, 2, 64, 5, DEMO_ACTS, False),
    ("demo 16x2 b128, 5 folds", 16, 2, 128, 5, DEMO_ACTS, False),
    ("retrain kind 16x2 b128, 1 fold", 16, 2, 128, 1, DEMO_ACTS, True),
    ("peer smallest 16x1 b32, 1 fold", 16, 1, 32, 1, "tanh", True),
    ("peer largest 256x3 b64, 1 fold", 256, 3, 64, 1, "tanh", True),
)
XLA_TIMER = re.compile(
    r"(Running HLO passes on|Compiling) \[(?P<module>[^\]]+)\] for CPU(?P<jit> using JIT)? "
    r"time: .*?\((?P<us>\d+) us\)"
)


def child(kind: str, hidden: int, layers: int, batch: int, folds: int, acts: str) -> dict:
    """Compile one program in this (fresh) process; -> its phases."""
    import jax

    phases: dict[str, float] = {}
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, secs, **_: phases.__setitem__(event, phases.get(event, 0.0) + secs)
    )
    from _common import first_fold_task

    task = first_fold_task(folds)
    windows = task.fold_windows(20)
    from hbjax.lstm.engine import FoldArrays, LSTMEngine

    arrays = FoldArrays(windows.x_train, windows.y_train, windows.x_val, windows.y_val)
    if kind == "hbjax":
        engine = LSTMEngine(
            lambda w: arrays, plan="exact", devices=jax.devices()[:1], activations=tuple(acts.split(","))
        )
        config = dict(
            lr=3e-3,
            hidden=hidden,
            layers=layers,
            dropout=0.2,
            activation=acts.split(",")[0],
            optimizer="adam",
            batch_size=batch,
        )
        program = engine.plan_rung([config], 1, [0.0]).programs[0]
        for k in list(phases):
            phases[k] = 0.0
        t0, cpu0 = time.perf_counter(), time.process_time()
        compiled = engine.compile_program(program)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        text = compiled.as_text()
    else:
        from lstm_program import plain_flax_program

        compile_program, _ = plain_flax_program(arrays, hidden, layers, batch)
        for k in list(phases):
            phases[k] = 0.0
        t0, cpu0 = time.perf_counter(), time.process_time()
        compiled = compile_program()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        text = compiled.as_text()
    return {
        "compile_s": wall,
        "process_cpu_s": cpu,
        "cores_used": cpu / wall,
        "trace_s": phases.get("/jax/core/compile/jaxpr_trace_duration", 0.0),
        "to_mlir_s": phases.get("/jax/core/compile/jaxpr_to_mlir_module_duration", 0.0),
        "xla_compile_s": phases.get("/jax/core/compile/backend_compile_duration", 0.0),
        "fusions": len(re.findall(r"\bfusion\(", text)),
        "library_fusions": len(re.findall(r"kind=kCustom", text)),
        "while_loops": len(re.findall(r"\bwhile\(", text)),
        "hlo_instructions": sum(1 for line in text.splitlines() if " = " in line),
    }


def run_child(kind: str, spec: tuple) -> dict:
    label, hidden, layers, batch, folds, acts, _ = spec
    env = dict(os.environ, HBJAX_NO_COMPILE_CACHE="1", TF_CPP_MIN_LOG_LEVEL="0", TF_CPP_VMODULE="cpu_compiler=1")
    env.setdefault("JAX_PLATFORMS", "cpu")
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(hidden), str(layers), str(batch), str(folds), acts],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} {label} failed:\n{done.stderr[-3000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    module = "jit_train" if kind == "hbjax" else "jit_epoch"
    hlo = codegen = 0.0
    for m in XLA_TIMER.finditer(done.stderr):
        if m["module"] != module:
            continue
        if m[1] == "Running HLO passes on":
            hlo += int(m["us"]) / 1e6
        elif m["jit"]:
            codegen += int(m["us"]) / 1e6
    return {
        "program": label,
        "kind": kind,
        "hidden": hidden,
        "layers": layers,
        "batch": batch,
        "folds": folds,
        "activations": acts,
        **row,
        "xla_hlo_passes_s": hlo,
        "xla_codegen_s": codegen,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", nargs=6, metavar=("KIND", "H", "L", "B", "FOLDS", "ACTS"), help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="only the peers' smallest program (a smoke test)")
    p.add_argument("--out", type=Path, default=RESULTS / "compile_profile_cpu.json")
    args = p.parse_args(argv)
    if args.child:
        kind, h, layers, b, k, acts = args.child
        print(json.dumps(child(kind, int(h), int(layers), int(b), int(k), acts)))
        return 0
    rows, load0 = [], load_average()
    for spec in [p for p in PROGRAMS if p[0].startswith("peer smallest")] if args.quick else PROGRAMS:
        for kind in ("hbjax", "plain_flax") if spec[-1] else ("hbjax",):
            row = run_child(kind, spec)
            rows.append(row)
            print(
                f"{row['program']:32s} {kind:10s} compile {row['compile_s']:5.2f} s ({row['cores_used']:.2f} cores): "
                f"trace {row['trace_s']:.2f}, MLIR {row['to_mlir_s']:.2f}, XLA {row['xla_compile_s']:.2f} "
                f"(HLO passes {row['xla_hlo_passes_s']:.2f}, codegen {row['xla_codegen_s']:.2f}); "
                f"{row['fusions']} fusions, {row['library_fusions']} of them library (dot) fusions",
                flush=True,
            )
    write_json(
        args.out,
        {
            "benchmark": "compile_profile",
            "machine": machine_info(),
            "load_average_at_start": load0,
            "load_average_at_end": load_average(),
            "note": "each program compiled alone in a fresh process, no compile cache; the configs are fixed (the "
            "same in every run of this benchmark). XLA's HLO-pass and code-generation seconds are its own "
            "timers for the program's module; the rest of its compile is thunk and buffer assignment. "
            "plain_flax: lstm_program.plain_flax_epoch's program of the same shape (one fold, adam, "
            "dropout, validation)",
            "programs": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
