"""The same epoch in PyTorch CPU, as a benchmark worker. Optional.

    /path/to/torch-venv/bin/python -m benchmarks.torch_worker torch THREADS DATA_JSON

Run by `python -m benchmarks.epoch --torch-python PATH` with an interpreter that
has torch and numpy (torch stays out of the project's environment). Speaks the
protocol of benchmarks/worker.py; only "epoch" and "cpu". Same network, batch,
dtype, threads and data as mlpcore's epoch; torch's Dropout is inverted (scales
kept units in training) where the course's is not: a difference in semantics,
none in cost.
"""
import json
import os
import sys
import time

import torch

from .data import load_data
from .network import DROPOUT, EVAL_CHUNK, LR, MOMENTUM


def network(sizes, dtype):
    """Linear, ReLU, Dropout(DROPOUT), ..., Linear; Xavier-uniform weights, zero biases."""
    nn = torch.nn
    layers = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU(), nn.Dropout(DROPOUT)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model.to(dtype)


class TorchRun:
    """One network trained epoch after epoch, as mlpcore's run_epoch does."""

    def __init__(self, dataset, hidden, dtype, batch_size):
        dtype = getattr(torch, dtype)
        self.train = (torch.from_numpy(dataset.train_x).to(dtype),
                      torch.from_numpy(dataset.train_y).long())
        self.test = (torch.from_numpy(dataset.test_x).to(dtype),
                     torch.from_numpy(dataset.test_y).long())
        self.model = network([dataset.train_x.shape[1], *hidden, dataset.num_classes], dtype)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.generator = torch.Generator().manual_seed(0)
        self.batch_size = batch_size

    def epoch(self):
        x, y = self.train
        loss_fn = torch.nn.functional.cross_entropy
        self.model.train()
        order = torch.randperm(len(x), generator=self.generator)
        for start in range(0, len(x), self.batch_size):
            batch = order[start:start + self.batch_size]
            self.optimizer.zero_grad()
            loss = loss_fn(self.model(x[batch]), y[batch])  # one gather, as in mlpcore
            if not torch.isfinite(loss):  # mlpcore checks every batch too
                raise FloatingPointError("the benchmark's torch training diverged")
            loss.backward()
            self.optimizer.step()
        self.model.eval()
        with torch.no_grad():
            for x, y in (self.train, self.test):
                for start in range(0, len(x), EVAL_CHUNK):
                    chunk = slice(start, start + EVAL_CHUNK)
                    logits = self.model(x[chunk])
                    float(loss_fn(logits, y[chunk], reduction="sum"))
                    int((logits.argmax(dim=1) == y[chunk]).sum())


def serve(threads, data_request, lines=sys.stdin, out=sys.stdout):
    torch.set_num_threads(threads)
    dataset, source = load_data(**data_request)
    runs = {}
    print(json.dumps({"ready": {
        "kernels": "torch", "kernels_note": f"torch {torch.__version__}, CPU capability "
                                            f"{torch.backends.cpu.get_cpu_capability()}",
        "blas": "mkl" if torch.backends.mkl.is_available() else "torch's own",
        "numpy": "", "numpy_simd": "", "threads": torch.get_num_threads(), "data": source}}),
        file=out, flush=True)
    for line in lines:
        request = json.loads(line)
        if request["op"] == "cpu":
            times = os.times()
            answer = {"seconds": times.user + times.system}
        elif request["op"] == "epoch":
            key = (tuple(request["hidden"]), request["dtype"])
            if key not in runs:
                runs[key] = TorchRun(dataset, request["hidden"], request["dtype"],
                                     data_request["batch_size"])
            start = time.perf_counter()
            runs[key].epoch()
            answer = {"seconds": time.perf_counter() - start}
        else:
            raise ValueError(f"torch worker: unsupported op {request['op']!r}")
        print(json.dumps(answer), file=out, flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[2]), json.loads(sys.argv[3]))
