"""A per-run progress bar that stays silent where nobody watches (CI, logs, pipes)."""
import sys

from tqdm import tqdm


class EpochProgress:
    """Context manager; update(log) advances one epoch and shows loss and accuracy."""

    def __init__(self, name, epochs, stream=None):
        stream = stream or sys.stderr
        self.bar = tqdm(total=epochs, desc=name, unit="epoch", file=stream,
                        disable=not stream.isatty(), dynamic_ncols=True, leave=True)

    def update(self, log):
        self.bar.set_postfix(train_loss=f"{log.train_loss:.3f}",
                             test_acc=f"{log.test_accuracy:.3f}", refresh=False)
        self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()
