"""The experiment grid: shared defaults (params.yaml `train`) plus named experiments.

An experiment lists only what differs from the defaults, and its homework
`group`. Every value is checked before any training starts; errors name the
experiment and the key.
"""
import dataclasses
from dataclasses import dataclass
from typing import Literal

from mlpcore import WEIGHT_INITS

from pipeline.params import (ParamsError, check_experiment_name, check_name, check_values,
                             group_name, parse, section, shown)

# Upper bounds that keep one run within a few GiB on a 24 GiB machine shared by
# a few runs: 8 layers of 4096 units hold at most 11025*4096 + 7*4096**2 +
# 4096*12 = 162 M weights, 1.3 GB per float64 copy, and training keeps about
# four copies (weights, gradients, momentum, the saved model). A batch of 8192
# images is 0.7 GB in float64 before the hidden activations.
MAX_HIDDEN_SIZE = 4096
MAX_HIDDEN_LAYERS = 8
MAX_BATCH_SIZE = 8192
# Not memory but time: 100000 epochs are 500 times the homework's 200 (days of
# CPU); a larger value is a typo. Threads beyond 256 only oversubscribe the cores.
MAX_EPOCHS = 100_000
MAX_THREADS = 256
MAX_SEED = 2 ** 63 - 1  # stays an int64 in every tool that reads config.json


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run needs; no defaults here: params.yaml holds them."""
    hidden: list[int]
    momentum: float
    dropout: float
    lr: float
    epochs: int
    batch_size: int
    init: str
    dtype: Literal["float32", "float64"]
    seed: int
    threads: int
    kernels: Literal["portable", "native"]

    def validate(self, where):
        checks = [
            ("hidden", len(self.hidden) > 0 and min(self.hidden) >= 1,
             "a non-empty list of layer sizes >= 1"),
            ("hidden", len(self.hidden) <= MAX_HIDDEN_LAYERS
             and all(size <= MAX_HIDDEN_SIZE for size in self.hidden),
             f"at most {MAX_HIDDEN_LAYERS} layers of at most {MAX_HIDDEN_SIZE} units"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("dropout", 0 <= self.dropout < 1, "in [0, 1)"),
            ("lr", self.lr > 0, "> 0"),
            ("epochs", self.epochs >= 1, ">= 1"),
            ("epochs", self.epochs <= MAX_EPOCHS, f"<= {MAX_EPOCHS}"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("batch_size", self.batch_size <= MAX_BATCH_SIZE, f"<= {MAX_BATCH_SIZE}"),
            ("init", self.init in WEIGHT_INITS, f"one of {sorted(WEIGHT_INITS)}"),
            ("seed", 0 <= self.seed <= MAX_SEED, f"0..{MAX_SEED}"),
            ("threads", self.threads >= 1, ">= 1"),
            ("threads", self.threads <= MAX_THREADS, f"<= {MAX_THREADS}"),
        ]
        check_values(self, where, checks)


@dataclass(frozen=True)
class Experiment:
    name: str
    group: str
    config: RunConfig

    def resolved(self):
        """The final config of this run, as saved next to its metrics."""
        return {"name": self.name, "group": self.group, **dataclasses.asdict(self.config)}


def parse_defaults(params):
    return parse(RunConfig, section(params, "train"), "params.yaml:train")


def parse_experiment(params, name):
    """The named experiment, its values merged over the `train` defaults and checked."""
    experiments = section(params, "experiments")
    if not isinstance(experiments, dict) or name not in experiments:
        known = list(experiments) if isinstance(experiments, dict) else []
        for key in known:  # a YAML number: name it as such, not as a missing experiment
            if str(key) == name:
                check_experiment_name(key, "params.yaml:experiments")
        raise ParamsError(f"params.yaml:experiments: no experiment named {shown(name)}; "
                          f"known: {shown(sorted(known, key=str))}")
    check_experiment_name(name, "params.yaml:experiments")
    where = f"params.yaml:experiments.{name}"
    overrides = experiments[name]
    if not isinstance(overrides, dict):
        raise ParamsError(f"{where}: expected a mapping of keys that differ from `train`, "
                          f"got {shown(overrides)}")
    overrides = dict(overrides)
    if "group" not in overrides:
        raise ParamsError(f"{where}.group: missing; every experiment names its homework "
                          f"group, e.g. group: \"2.4\"")
    group = check_name(group_name(overrides.pop("group"), f"{where}.group"), f"{where}.group")
    defaults = dataclasses.asdict(parse_defaults(params))
    unknown = sorted(set(overrides) - set(defaults), key=str)
    if unknown:
        raise ParamsError(f"{where}: unknown key(s) {shown(unknown)}; expected 'group' "
                          f"and keys of `train`: {sorted(defaults)}")
    config = parse(RunConfig, {**defaults, **overrides}, where)
    return Experiment(name=name, group=group, config=config)


def parse_grid(params):
    """All experiments in params.yaml order: {name: Experiment}."""
    return {name: parse_experiment(params, name) for name in section(params, "experiments")}
