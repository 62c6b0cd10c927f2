"""The grid's floor: sum over the runs of epochs x their network's floor epoch,
against the training time and the `dvc repro` wall time they took (--grid).

Run right after the `dvc repro` whose files it reads, in the same session.
"""
import os
from types import SimpleNamespace

from pipeline.params import load_params
from pipeline.training.experiments import parse_grid
from pipeline.training.runs import read_config, read_json

from .sampling import (MIN_CLEAN_SAMPLES, ROOT, Watch, Worker, bracketed_samples, handoff_probe,
                       ratio_text, summary, verdict)


def grid_floor(args, runs_dir):
    """The grid's floor from fresh floor samples, against the runs' timing.json.

    The runs are params.yaml's; each one's settings come from its config.json, the
    config it trained with.
    """
    rows, watch = sample_grid(args, runs_dir)
    return grid_result(rows, watch, args)


def sample_grid(args, runs_dir):
    """([row per run], watch): each network's floor sampled once, for all its runs."""
    floors, workers, rows = {}, {}, []
    machine_watch = Watch([]).start()
    try:
        for name in parse_grid(load_params(ROOT / "params.yaml")):
            config = SimpleNamespace(**read_config(runs_dir / name / "config.json", name))
            # A run may set its own batch_size, and the floor's GEMMs have the batch's shape.
            key = (tuple(config.hidden), config.dtype, config.kernels, config.threads,
                   config.batch_size)
            if key not in floors:
                worker_key = (config.kernels, config.threads, config.batch_size)
                if worker_key not in workers:
                    workers[worker_key] = Worker(config.kernels, config.threads,
                                                 {**args.data_request,
                                                  "batch_size": config.batch_size})
                floors[key] = floor_samples(workers[worker_key], config, args.pairs)
            rows.append(grid_row(name, runs_dir, floors[key]))
        own = sum(worker.cpu_seconds() for worker in workers.values())
    finally:
        for worker in workers.values():
            worker.close()
    watch = machine_watch.stop(own_extra=own)
    if any(f["handoff"] for f in floors.values()):  # some worker had threads to probe
        watch.update(handoff=max(f["handoff"] for f in floors.values()),
                     rounds=max(f["rounds"] for f in floors.values()),
                     clean_samples=min(f["clean_samples"] for f in floors.values()))
    return rows, watch


def grid_row(name, runs_dir, floor):
    """One run's epochs and training time (its metrics.json, timing.json) beside its floor."""
    epochs = read_json(runs_dir / name / "metrics.json")["epochs_run"]
    timing = read_json(runs_dir / name / "timing.json")
    return {"run": name, "epochs": epochs, "floor_epoch": floor["min"],
            "floor_seconds": epochs * floor["min"],
            "floor_seconds_median": epochs * floor["median"],
            "training_seconds": timing["wall_seconds"],
            "cpu_seconds": timing.get("cpu_seconds"),
            "quiet_training_seconds": quiet_seconds(timing.get("epoch_seconds"))}


def grid_result(rows, watch, args):
    """Totals and ratios over the rows, each ratio under the grid's verdict."""
    floor = sum(row["floor_seconds"] for row in rows)
    training = sum(row["training_seconds"] for row in rows)
    result = {"runs": rows, "floor_seconds": floor, "training_seconds": training,
              "training_over_floor": training / floor, "watch": watch,
              "verdict": verdict(summary([training]), {
                  "min": floor, "median": sum(row["floor_seconds_median"] for row in rows)},
                  watch)}
    if args.quick:  # not comparable: the runs trained on the whole data
        result["verdict"]["refused"] = (f"--quick: floors of {args.data_request['limit']} "
                                        f"training images, not the runs' data")
    if all(row["cpu_seconds"] is not None for row in rows):  # older runs lack them
        result["training_cores_used"] = sum(row["cpu_seconds"] for row in rows) / training
    if all(row["quiet_training_seconds"] is not None for row in rows):
        quiet = sum(row["quiet_training_seconds"] for row in rows)
        result.update(quiet_training_seconds=quiet, quiet_training_over_floor=quiet / floor)
    if args.repro_seconds:
        result.update(repro_seconds=args.repro_seconds,
                      repro_over_floor=args.repro_seconds / floor,
                      dvc_and_other_stages_seconds=args.repro_seconds - training)
        if args.repro_seconds < training:
            result["repro_refused"] = (
                f"the runs' timing.json add up to {training:.0f} s, more than the repro's "
                f"{args.repro_seconds:.0f} s: they are not from that repro (restored from "
                f"the run-cache?)")
    return result


def floor_samples(worker, config, pairs):
    """summary() of one network's floor epoch, samples kept between quiet hand-off probes.

    A floor sampled while the second core answers late would come out slow and
    flatter the grid's ratio. With fewer than MIN_CLEAN_SAMPLES clean samples all
    are summarized, and grid_floor's verdict refuses on "clean_samples".
    """
    def floor():
        return worker.ask(op="floor", hidden=config.hidden, dtype=config.dtype)

    floor()  # warm-up, untimed
    clean, every, probes = bracketed_samples([("floor", floor)], handoff_probe([worker]), pairs)
    kept = clean["floor"] if len(clean["floor"]) >= MIN_CLEAN_SAMPLES else every["floor"]
    return {**summary(kept), "clean_samples": len(clean["floor"]),
            "rounds": len(every["floor"]), "handoff": max(probes)}


def quiet_seconds(epoch_seconds):
    """Epochs x the 10th-percentile epoch: the run's time had every epoch been as quick as
    its quicker ones. Apart from the host slowing the VM (seen here: the same epoch
    taking 1.6x longer for minutes with nothing else running), it is the code's cost."""
    if not epoch_seconds:
        return None
    ordered = sorted(epoch_seconds)
    return len(ordered) * ordered[len(ordered) // 10]


def grid_line(grid):
    text = (f"grid: floor {grid['floor_seconds']:.0f} s, training (timing.json) "
            f"{grid['training_seconds']:.0f} s: {ratio_text(grid['verdict'], 'x')} the floor; "
            f"others {grid['watch']['other_cores']:.2f} cores while sampling the floors")
    if "handoff" in grid["watch"]:
        watch = grid["watch"]
        text += (f"\n    floors between hand-off probes: fewest clean samples "
                 f"{watch['clean_samples']} (of up to {watch['rounds']} rounds), "
                 f"multi/1-thread small GEMMs up to {watch['handoff']:.2f}")
    if "quiet_training_seconds" in grid:
        text += (f"\n    at each run's 10th-percentile epoch, training would take "
                 f"{grid['quiet_training_seconds']:.0f} s: {quiet_ratio_text(grid)}")
    if "training_cores_used" in grid:
        text += (f"\n    training kept {grid['training_cores_used']:.2f} of "
                 f"{len(os.sched_getaffinity(0))} cores busy on average (CPU seconds / wall seconds)")
    if "repro_seconds" in grid:
        refused = grid["verdict"]["refused"] or grid.get("repro_refused")
        ratio = (f"no ratio ({refused})" if refused
                 else f"{grid['repro_over_floor']:.2f}x the floor")
        text += (f"\n    dvc repro {grid['repro_seconds']:.0f} s: {ratio}; DVC and the other "
                 f"stages {grid['dvc_and_other_stages_seconds']:.0f} s")
    return text


def quiet_ratio_text(grid):
    """The 10th-percentile ratio, under the grid's verdict; below 1.0 it is an error."""
    ratio = grid["quiet_training_over_floor"]
    if grid["verdict"]["refused"]:
        return "no ratio"
    if ratio < 1.0:
        return f"no ratio (measurement error: {ratio:.2f} is below the floor)"
    return f"{ratio:.2f}x the floor"
