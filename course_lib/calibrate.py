"""How fast this machine runs the course's workloads, against a reference machine.

A short fixed workload (25 to 35 s in all on a 2-core laptop-class CPU, importing TensorFlow,
building and warming up included), whose mix resembles the course's training: a small Keras CNN's ``train_on_batch``
steps (chapters 02-03) and a small Transformer block's hand-written training step compiled with
XLA (chapter 05), on synthetic data, each after a warm-up. The score is
steps per second (a geometric mean of the two parts); ``factor = reference score / this score``
is this machine's slowdown: 2.0 means it runs the course about twice as slowly as the machine
the time targets were set on, so a time bound of 60 s becomes 120 s here.

    python -m course_lib.calibrate            # measure and print the factor
    python -m course_lib.calibrate --json     # what the runner reads
    python -m course_lib.calibrate --spread 10  # repeatability: 10 fresh processes, their spread

The runner measures it in a fresh Python process, with the course's TensorFlow settings, so
that the number is taken as a notebook's kernel would see the machine. Nothing runs at import.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tomllib

REFERENCE_FILE = Path(__file__).with_name("calibration_reference.toml")
ROUNDS = 7              # timed rounds of each part, interleaved; each part's rate is the fastest round's
STEPS_PER_ROUND = 40    # its spread across runs is in calibration_reference.toml
WARMUP_STEPS = 5        # untimed: graph tracing, XLA compilation, oneDNN's first-call set-up


@dataclass(frozen=True)
class Reference:
    """The reference machine's calibration: its ``score`` (steps per second), what that machine
    is, in words, and the ``tolerance`` by which scaled time bounds are widened (the
    calibration's own spread)."""

    score: float
    machine: str
    tolerance: float
    path: Path


@dataclass(frozen=True)
class Calibration:
    """One measurement: the two parts' steps per second, their geometric mean ``score``, and
    the wall seconds the measurement took (warm-up and model building included)."""

    cnn_steps_per_second: float
    transformer_steps_per_second: float
    score: float
    seconds: float


def check_factor(factor: float, what: str = "the calibration factor") -> float:
    """``factor`` as a float when it is a finite positive number.

    Raises:
        ValueError: zero, negative, NaN, infinite or not a number; the message names ``what``.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor <= 0:
        raise ValueError(f"{what} must be a finite positive number, got {factor!r}. Measure it again "
                         f"(python -m course_lib.calibrate), or run with --no-calibrate for the absolute bounds.")
    return float(factor)


def load_reference(path: Path | None = None) -> Reference:
    """Read the reference file (default :data:`REFERENCE_FILE`).

    Raises:
        FileNotFoundError: the file is missing (named, with the fix).
        ValueError: it is not TOML, or its ``score``, ``machine`` or ``tolerance`` is missing or bad.
    """
    path = Path(path or REFERENCE_FILE)
    restore = (f"Restore it with `git checkout -- course_lib/{path.name}`, or run with --no-calibrate "
               f"for the absolute bounds.")
    try:
        with open(path, "rb") as handle:
            stored = tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"The calibration reference {path} is missing. {restore}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"The calibration reference {path} is not valid TOML ({error}). {restore}") from None
    except OSError as error:
        raise ValueError(f"Cannot read the calibration reference {path} ({error.strerror or error}). {restore}") \
            from None
    score, machine, tolerance = stored.get("score"), stored.get("machine"), stored.get("tolerance", 0.0)
    try:
        check_factor(score, f"{path}: score (the reference's steps per second)")
        if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not 0 <= tolerance < 1:
            raise ValueError(f"{path}: tolerance must be a number in [0, 1), got {tolerance!r}.")
    except ValueError as error:
        raise ValueError(f"{error} {restore}") from None
    if not isinstance(machine, str) or not machine.strip():
        raise ValueError(f"{path}: machine must describe the reference machine in words. {restore}")
    return Reference(float(score), machine.strip(), float(tolerance), path)


def slowdown(score: float, reference: Reference) -> float:
    """This machine's slowdown against the reference: ``reference.score / score`` (above 1: slower).

    Raises:
        ValueError: ``score`` is zero, negative, NaN or infinite.
    """
    return reference.score / check_factor(score, "this machine's calibration score")


def describe(factor: float) -> str:
    """The sentence the runner prints: this machine's speed as a multiple of the reference's."""
    factor = check_factor(factor)
    return (f"this machine runs the course's workloads at {1 / factor:.2f}x the reference "
            f"(time bounds x {factor:.2f})")


def measure(rounds: int = ROUNDS, steps_per_round: int = STEPS_PER_ROUND, seed: int = 0) -> Calibration:
    """Run the workload in this process and time it. Imports TensorFlow: call
    :func:`course_lib.setup.configure_environment` first (``main`` does), or use :func:`run_measurement`.

    The CNN is chapter 03's recipe in miniature: 28x28x1 images, batch 128, 3x3 convolutions of 16,
    32 and 64 filters ("same" padding, batch normalisation after the last two), max pooling, a
    128-wide dense layer, a 10-way softmax, AdamW, ``train_on_batch``. The Transformer block is
    chapter 05's pre-norm block: batch 16, 128 tokens of width 128, 4 causal heads, a 512-wide
    GELU MLP, a squared-error loss, AdamW, one ``tf.function(jit_compile=True)`` step. Data are
    float32 normal draws from ``seed``; only the timing matters. After the warm-up, ``rounds``
    rounds of ``steps_per_round`` steps of each part alternate, so that both parts see the same
    conditions; each part's rate is its fastest round's. Other work on the machine can only slow a
    round down, never speed it up, so the fastest round is the closest to what the machine does
    when nothing else is running, which is what the time budgets assume.

    Raises:
        ValueError: ``rounds`` or ``steps_per_round`` is not a positive whole number.
    """
    for name, value in (("rounds", rounds), ("steps_per_round", steps_per_round)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}.")
    import keras
    import numpy as np
    import tensorflow as tf

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    images = rng.normal(size=(128, 28, 28, 1)).astype("float32")  # [batch, height, width, channels]
    labels = rng.integers(0, 10, size=128)
    layers = keras.layers
    cnn = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(),
        layers.MaxPooling2D(), layers.Conv2D(64, 3, padding="same", use_bias=False), layers.BatchNormalization(),
        layers.ReLU(), layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10)])
    cnn.compile(optimizer=keras.optimizers.AdamW(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    tokens = tf.constant(rng.normal(size=(16, 128, 128)).astype("float32"))  # [batch, time, width]
    inputs = keras.Input((128, 128))
    normed = layers.LayerNormalization()(inputs)
    hidden = inputs + layers.MultiHeadAttention(num_heads=4, key_dim=32)(normed, normed, use_causal_mask=True)
    mlp = layers.Dense(128)(layers.Dense(512, activation="gelu")(layers.LayerNormalization()(hidden)))
    block = keras.Model(inputs, hidden + mlp)
    optimizer = keras.optimizers.AdamW(1e-3)

    @tf.function(jit_compile=True)
    def block_step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(block(batch, training=True) - batch))
        optimizer.apply(tape.gradient(loss, block.trainable_variables), block.trainable_variables)
        return loss

    def cnn_round(steps: int) -> float:
        round_started = time.perf_counter()
        for _ in range(steps):
            cnn.train_on_batch(images, labels)  # returns the loss as a Python float: it waits for the step
        return time.perf_counter() - round_started

    def block_round(steps: int) -> float:
        round_started = time.perf_counter()
        for _ in range(steps):
            loss = block_step(tokens)
        float(loss)  # wait for the last step
        return time.perf_counter() - round_started

    cnn_round(WARMUP_STEPS)
    block_round(WARMUP_STEPS)
    cnn_seconds, block_seconds = [], []
    for _ in range(rounds):
        cnn_seconds.append(cnn_round(steps_per_round))
        block_seconds.append(block_round(steps_per_round))
    cnn_rate, block_rate = round_rate(steps_per_round, cnn_seconds), round_rate(steps_per_round, block_seconds)
    return Calibration(cnn_rate, block_rate, math.sqrt(cnn_rate * block_rate), time.perf_counter() - started)


def round_rate(steps_per_round: int, round_seconds: list[float]) -> float:
    """Steps per second of the fastest of the timed rounds: other work on the machine can only
    slow a round down, so the fastest is the nearest to the machine's speed when idle.

    Raises:
        ValueError: no rounds, or a round time that is not a finite positive number.
    """
    if not round_seconds:
        raise ValueError("round_rate() needs at least one timed round.")
    return steps_per_round / min(check_factor(seconds, "a round's seconds") for seconds in round_seconds)


def run_measurement(timeout: float = 300) -> Calibration:
    """:func:`measure` in a fresh Python process with the course's TensorFlow settings, as a
    kernel would run it.

    Raises:
        RuntimeError: the process failed or timed out; the message carries its last lines.
    """
    command = [sys.executable, "-m", "course_lib.calibrate", "--json"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"The calibration took longer than {timeout:.0f} s; run with --no-calibrate.") from None
    lines = finished.stdout.strip().splitlines()
    if finished.returncode != 0 or not lines:
        tail = "\n".join((finished.stderr or finished.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"The calibration failed (exit status {finished.returncode}):\n{tail}\n"
                           f"Run with --no-calibrate to judge against the absolute bounds.")
    return Calibration(**json.loads(lines[-1]))


def spread(scores: list[float]) -> tuple[float, float]:
    """The median of repeated scores and their spread: the largest distance from the median, as
    a fraction of it (0.05 means every run fell within +-5% of the median).

    Raises:
        ValueError: no scores, or a score that is not a finite positive number.
    """
    if not scores:
        raise ValueError("spread() needs at least one score.")
    ordered = sorted(check_factor(score, "a calibration score") for score in scores)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return median, max(abs(score - median) for score in ordered) / median


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the measurement as one line of JSON")
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times in this process")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"timed rounds of each part (default {ROUNDS})")
    parser.add_argument("--steps-per-round", type=int, default=STEPS_PER_ROUND,
                        help=f"steps in a round (default {STEPS_PER_ROUND})")
    parser.add_argument("--spread", type=int, metavar="RUNS",
                        help="measure in this many fresh processes, as the runner does, and print their spread")
    arguments = parser.parse_args(argv)
    if arguments.spread:
        scores = []
        for run in range(1, arguments.spread + 1):
            load = _load_average()
            scores.append(run_measurement().score)
            print(f"run {run}: score {scores[-1]:.2f} (load average before it: {load})", flush=True)
        median, half_range = spread(scores)
        print(f"median {median:.2f}, spread +-{100 * half_range:.1f}% over {len(scores)} runs "
              f"(the tolerance in {REFERENCE_FILE.name} assumes at most +-5% on an idle machine)")
        return 0
    from course_lib import setup

    setup.configure_environment()
    for _ in range(max(1, arguments.repeat)):
        calibration = measure(arguments.rounds, arguments.steps_per_round)
        if arguments.json:
            print(json.dumps(calibration.__dict__), flush=True)
        else:
            factor = slowdown(calibration.score, load_reference())
            print(f"CNN {calibration.cnn_steps_per_second:.1f} steps/s, Transformer block "
                  f"{calibration.transformer_steps_per_second:.1f} steps/s, score {calibration.score:.2f} "
                  f"({calibration.seconds:.1f} s): {describe(factor)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
