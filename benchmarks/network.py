"""What every benchmark epoch trains, in mlpcore and in PyTorch alike: the grid's
costliest settings (momentum and dropout on), evaluation in training's chunks."""
from pipeline.training.loop import EVAL_CHUNK  # numpy only: the torch venv has it

__all__ = ["DROPOUT", "EVAL_CHUNK", "LR", "MOMENTUM"]

MOMENTUM = 0.4
DROPOUT = 0.2
LR = 0.001
