"""The experiment grid: shared defaults (params.yaml `train`) plus named experiments.

An experiment lists only what differs from the defaults, and its homework
`group`. Every value is checked before any training starts; errors name the
experiment and the key.
"""
import dataclasses
from dataclasses import dataclass
from typing import Literal

from mlpcore import WEIGHT_INITS

from .params import ParamsError, check_values, parse, section


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
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("dropout", 0 <= self.dropout < 1, "in [0, 1)"),
            ("lr", self.lr > 0, "> 0"),
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("init", self.init in WEIGHT_INITS, f"one of {sorted(WEIGHT_INITS)}"),
            ("seed", self.seed >= 0, ">= 0"),
            ("threads", self.threads >= 1, ">= 1"),
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
        known = sorted(experiments) if isinstance(experiments, dict) else []
        raise ParamsError(f"params.yaml:experiments: no experiment named {name!r}; "
                          f"known: {known}")
    where = f"params.yaml:experiments.{name}"
    overrides = experiments[name]
    if not isinstance(overrides, dict):
        raise ParamsError(f"{where}: expected a mapping of keys that differ from `train`, "
                          f"got {overrides!r}")
    overrides = dict(overrides)
    group = overrides.pop("group", None)
    if not isinstance(group, (str, int, float)) or isinstance(group, bool):
        raise ParamsError(f"{where}.group: missing or not a string; every experiment names "
                          f"its homework group, e.g. group: \"2.4\"")
    defaults = dataclasses.asdict(parse_defaults(params))
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ParamsError(f"{where}: unknown key(s) {unknown}; expected 'group' and keys of "
                          f"`train`: {sorted(defaults)}")
    config = parse(RunConfig, {**defaults, **overrides}, where)
    return Experiment(name=name, group=str(group), config=config)


def parse_grid(params):
    """All experiments in params.yaml order: {name: Experiment}."""
    return {name: parse_experiment(params, name) for name in section(params, "experiments")}
