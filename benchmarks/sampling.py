"""Timings that noise cannot pass off as results: workers, interleaved samples, a verdict.

A ratio is only as good as the two timings it divides, so both are sampled
alternately (ABAB...) in the same minutes, and the machine is watched while
they are taken: /proc/stat says how much CPU the whole machine used, the
workers say how much of it was theirs; the rest was other processes (or the
hypervisor's steal). A ratio is printed only when
  * other processes used less than BUSY_CORES cores on average,
  * the second core answered in time (hand-off rule, below),
  * min and median give ratios within MARGIN of each other, and
  * it is not below 1.0 (faster than the floor means the measurement is wrong).
Otherwise the report says which rule refused it.

The hand-off rule: a VM's second core can be there yet answer late. On the
2-vCPU EPYC VM of docs/performance.md, for seconds to minutes at a time and with
nothing else running, OpenBLAS's 2-thread GEMMs of a millisecond took 1.2-1.6x as
long as 1-thread ones (0.7x otherwise), while large GEMMs and 1-thread work kept
their speed; the epoch, which makes three such calls a minibatch, slowed more
than its floor, and min and median agreed on the wrong ratio. So bracketed_samples()
times, between every two samples, small GEMMs at a worker's threads and at 1
thread (benchmarks/worker.py), and keeps a sample only when the probes on both
sides of it are within HANDOFF_LIMIT (more threads no slower than one). The
probe never looks at what a sample measured, but it does choose the machine's
state: a kept ratio is the ratio with the second core answering at once (on that
VM 1.2x where the slow spells gave 1.5x), on purpose, since the code cannot change
how the host schedules the VM. What the slow spells cost a real run is in the
grid figure (--grid), which times training as it happened. A case with fewer than
MIN_CLEAN_SAMPLES kept for some step is refused.
"""
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY_CORES = 0.25
MARGIN = 0.10
HANDOFF_LIMIT = 1.0
MIN_CLEAN_SAMPLES = 3
MAX_ROUNDS_PER_PAIR = 3  # give up on a case after pairs x this many rounds
SETTLE_SECONDS = 0.3  # lets an idle OpenBLAS pool stop spinning before the next sample


class Worker:
    """A benchmarks.worker process: one kernels mode, one thread count."""

    def __init__(self, mode, threads, data_request, python=sys.executable,
                 module="benchmarks.worker"):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [python, "-m", module, mode, str(threads), json.dumps(data_request)],
            cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.mode, self.threads = mode, threads
        self.info = self._read()["ready"]

    def send(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker ({self.mode}, {self.threads} threads) "
                               f"exited with {self.process.wait()}")
        return json.loads(line)

    def receive(self):
        """The answer to the last request sent: seconds (or the ratio a probe asked for)."""
        return self._read()["seconds"]

    def ask(self, **request):
        self.send(**request)
        return self.receive()

    def cpu_seconds(self):
        return self.ask(op="cpu")

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


def machine_cpu_seconds():
    """CPU seconds all CPUs spent busy (steal included) since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


class Watch:
    """Other processes' average CPU use (in cores) between start() and stop()."""

    def __init__(self, workers):
        self.workers = workers

    def _own(self):
        times = os.times()
        return times.user + times.system + sum(w.cpu_seconds() for w in self.workers)

    def start(self):
        self.load_before = os.getloadavg()
        self.wall, self.machine, self.own = time.perf_counter(), machine_cpu_seconds(), self._own()
        return self

    def stop(self, own_extra=0.0):
        """own_extra: CPU seconds of our processes not in self.workers (e.g. already closed)."""
        wall = time.perf_counter() - self.wall
        others = (machine_cpu_seconds() - self.machine) - (self._own() + own_extra - self.own)
        return {"load_before": [round(x, 2) for x in self.load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
                "seconds": round(wall, 2),
                "other_cores": round(max(others, 0.0) / wall, 3)}


def summary(samples):
    return {"min": min(samples), "median": statistics.median(samples),
            "samples": [round(s, 4) for s in samples]}


def verdict(numerator, denominator, watch, floor_ratio=True):
    """{"ratio", "ratio_median", "refused"}: refused names the rule that failed, or None."""
    ratio = numerator["min"] / denominator["min"]
    ratio_median = numerator["median"] / denominator["median"]
    refused = None
    if watch["other_cores"] > BUSY_CORES:
        refused = (f"busy: other processes used {watch['other_cores']:.2f} cores on average "
                   f"(limit {BUSY_CORES})")
    elif watch.get("clean_samples", MIN_CLEAN_SAMPLES) < MIN_CLEAN_SAMPLES:
        refused = (f"late second core: only {watch['clean_samples']} of {watch['rounds']} "
                   f"samples had multi-thread GEMMs no slower than 1-thread ones on both "
                   f"sides (worst {watch['handoff']:.2f}x); {MIN_CLEAN_SAMPLES} needed")
    elif abs(ratio_median / ratio - 1) > MARGIN:
        refused = (f"unstable: min gives {ratio:.2f}, median {ratio_median:.2f} "
                   f"(more than {MARGIN:.0%} apart)")
    elif floor_ratio and min(ratio, ratio_median) < 1.0:
        refused = (f"measurement error: {min(ratio, ratio_median):.2f} is below the floor")
    return {"ratio": ratio, "ratio_median": ratio_median, "refused": refused}


def settle():
    time.sleep(SETTLE_SECONDS)


def interleaved(steps, pairs):
    """Run every step once per round, `pairs` rounds (ABAB...): {name: [seconds, ...]}.

    steps: [(name, function returning seconds), ...] in the order to alternate.
    """
    samples = {name: [] for name, _ in steps}
    for _ in range(pairs):
        for name, step in steps:
            settle()
            samples[name].append(step())
    return samples


def bracketed_samples(steps, probe, pairs):
    """Samples of `steps`, alternated as interleaved() does, each between two quiet probes.

    probe(): the hand-off ratio now (0.0 when no worker has two threads); it runs
    once first and again after every step, and a sample is clean when the probes
    just before and after it are within HANDOFF_LIMIT. Rounds go on until every
    step has `pairs` clean samples, or pairs x MAX_ROUNDS_PER_PAIR rounds ran.
    Returns ({name: [clean seconds]}, {name: [every seconds]}, [probe values]).
    """
    def settled_probe():  # the last step's threads, maybe another process's, stop spinning
        settle()
        return probe()

    clean, every = ({name: [] for name, _ in steps} for _ in range(2))
    probes = [settled_probe()]
    rounds = 0
    while min(map(len, clean.values())) < pairs and rounds < pairs * MAX_ROUNDS_PER_PAIR:
        rounds += 1
        for name, step in steps:
            settle()
            every[name].append(step())
            probes.append(settled_probe())
            if max(probes[-2:]) <= HANDOFF_LIMIT:
                clean[name].append(every[name][-1])
    return clean, every, probes


def handoff_probe(workers):
    """The hand-off ratio now, from the first multi-thread worker; 0.0 when there is none.

    A late second core is the machine's state, not a worker's: one probe tells.
    """
    threaded = [worker for worker in workers if worker.threads > 1]
    return (lambda: threaded[0].ask(op="handoff")) if threaded else (lambda: 0.0)


def ratio_text(result, unit=""):
    if result["refused"]:
        return f"no ratio ({result['refused']})"
    return f"{result['ratio']:.2f}{unit} (median {result['ratio_median']:.2f}{unit})"
