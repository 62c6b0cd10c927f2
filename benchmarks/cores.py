"""Machine throughput: one 2-thread run against two concurrent 1-thread runs (--cores)."""
import time

from .sampling import (Watch, Worker, bracketed_samples, handoff_probe, ratio_text, summary,
                       verdict)


def cores_study(args, pairs):
    """Epochs per second of the machine: one 2-thread run vs two concurrent 1-thread runs."""
    hidden, dtype = [150, 150], "float32"
    one = Worker("portable", 2, args.data_request)
    two = [Worker("portable", 1, args.data_request) for _ in range(2)]
    workers = [one, *two]
    try:
        return measure_cores(pairs, one, two, hidden, dtype)
    finally:
        for worker in workers:
            worker.close()


def measure_cores(pairs, one, two, hidden, dtype):
    """cores_study's measurement and verdict, on workers the caller closes."""
    workers = [one, *two]
    for worker in workers:
        worker.ask(op="epoch", hidden=hidden, dtype=dtype)

    def sequential():  # the 2-thread run does the same 2 epochs alone
        return sum(one.ask(op="epoch", hidden=hidden, dtype=dtype) for _ in range(2))

    def concurrent():
        start = time.perf_counter()
        for worker in two:
            worker.send(op="epoch", hidden=hidden, dtype=dtype)
        for worker in two:
            worker.receive()
        return time.perf_counter() - start

    watch = Watch(workers).start()
    # The 2-thread run is what a late second core slows: its samples too count only
    # between quiet hand-off probes (benchmarks.sampling).
    clean, every, probes = bracketed_samples(
        [("one run, 2 threads", sequential), ("two runs, 1 thread each", concurrent)],
        handoff_probe([one]), pairs)
    watch = watch.stop()
    watch.update(handoff=max(probes), rounds=len(every["one run, 2 threads"]),
                 clean_samples=min(map(len, clean.values())))
    times = {key: summary(clean[key] or every[key]) for key in clean}
    gain = verdict(times["one run, 2 threads"], times["two runs, 1 thread each"], watch,
                   floor_ratio=False)
    return {"network": "2x150", "dtype": dtype, "epochs_per_sample": 2, "watch": watch,
            "times": times, "two_runs_speedup": gain}


def cores_line(study):
    one, two = (study["times"][key] for key in ("one run, 2 threads", "two runs, 1 thread each"))
    speedup = study["two_runs_speedup"]
    verdict_text = (ratio_text(speedup) if speedup["refused"]  # "no ratio (why)"
                    else f"two runs do {ratio_text(speedup, 'x')} the work")
    return (f"cores: 2 epochs of 2x150 float32 by one 2-thread run {one['min']:.2f}/"
            f"{one['median']:.2f} s, by two concurrent 1-thread runs {two['min']:.2f}/"
            f"{two['median']:.2f} s (min/median): {verdict_text}")
