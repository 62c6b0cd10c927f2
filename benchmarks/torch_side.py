"""The same epoch in PyTorch CPU, the reference mlpcore is held to. Optional.

torch is imported only inside functions: without it (the `bench` extra is not
installed) the benchmark reports "n/a". Same network, batch size, dtype,
thread count and data (shared with numpy, not copied). One difference in
semantics, none in cost: torch's Dropout is inverted (scales kept units by
1/(1-p) in training, identity at inference) where the course's is not.
"""
import importlib

from .workload import time_repeats


def load_torch():
    """The torch module, or None when it is not installed."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def torch_info(torch):
    """Version, BLAS and CPU capability torch was built with and uses."""
    if torch is None:
        return None
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", "\n").split()
                 if part.startswith("BLAS_INFO=")), "unknown")
    return {"version": torch.__version__, "blas": blas, "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability()
            if hasattr(torch.backends, "cpu") else "unknown",
            "mkl": torch.backends.mkl.is_available()}


def build_network(torch, sizes, dtype):
    """Linear, ReLU, Dropout(0.2), ..., Linear for sizes [11025, hidden..., 12], Xavier init."""
    nn = torch.nn
    layers = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU(), nn.Dropout(0.2)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    network = nn.Sequential(*layers)
    for layer in network:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return network.to(dtype)


def tensors(torch, split, labels):
    """x (N, 11025) sharing the Split's memory, and int64 labels (N,)."""
    return torch.from_numpy(split.x), torch.from_numpy(labels).long()


def train_epoch(torch, network, optimizer, x, y, batch_size, generator):
    """Shuffled minibatches: zero_grad, forward, loss, backward, momentum step."""
    network.train()
    loss_fn = torch.nn.functional.cross_entropy
    order = torch.randperm(len(x), generator=generator)
    for start in range(0, len(x), batch_size):
        batch = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(network(x[batch]), y[batch])  # x[batch]: one gather, as in mlpcore
        if not torch.isfinite(loss):  # mlpcore checks every batch too
            raise FloatingPointError("the benchmark's torch training diverged")
        loss.backward()  # x needs no grad, so the first layer's input gradient is skipped
        optimizer.step()


def evaluate(torch, network, x, y, chunk):
    """Mean loss and accuracy over x in inference mode, in chunks of `chunk` rows."""
    network.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            logits = network(x[start:start + chunk])
            labels = y[start:start + chunk]
            total_loss += float(torch.nn.functional.cross_entropy(logits, labels,
                                                                  reduction="sum"))
            correct += int((logits.argmax(dim=1) == labels).sum())
    return total_loss / len(x), correct / len(x)


def time_torch(sizes, data, config, chunk, repeats):
    """Seconds per torch epoch (train + evaluate train and test), or None without torch.

    data: (train Split, train labels, test Split, test labels) from numpy.
    """
    torch = load_torch()
    if torch is None:
        return None
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    dtype = getattr(torch, config.dtype)
    train_split, train_labels, test_split, test_labels = data
    train_x, train_y = tensors(torch, train_split, train_labels)
    test_x, test_y = tensors(torch, test_split, test_labels)
    network = build_network(torch, sizes, dtype)
    optimizer = torch.optim.SGD(network.parameters(), lr=config.lr, momentum=config.momentum)
    generator = torch.Generator().manual_seed(config.seed)

    def epoch():
        train_epoch(torch, network, optimizer, train_x, train_y, config.batch_size, generator)
        evaluate(torch, network, train_x, train_y, chunk)
        evaluate(torch, network, test_x, test_y, chunk)

    return time_repeats(epoch, repeats)
