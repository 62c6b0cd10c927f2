"""dvc.yaml tells the truth: each stage lists the code it imports and the params it reads."""
import json
import re
import subprocess
import sys

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT

CODE_DIRS = ("stages/", "pipeline/", "mlpcore/")


def stage_definitions(path=ROOT / "dvc.yaml"):
    """{stage name: definition}; a foreach stage appears once, by its template.

    The file's `vars` (paths) are substituted; ${key} of a foreach stage stays.
    """
    document = YAML(typ="safe").load(path.read_text())
    values = {f"{group}.{name}": value for entry in document.get("vars", [])
              for group, names in entry.items() for name, value in names.items()}

    def resolve(item):
        if isinstance(item, str):
            return re.sub(r"\$\{([\w.]+)\}", lambda m: values.get(m.group(1), m.group(0)), item)
        if isinstance(item, list):
            return [resolve(value) for value in item]
        if isinstance(item, dict):
            return {resolve(key): resolve(value) for key, value in item.items()}
        return item
    return {name: resolve(stage.get("do", stage)) for name, stage in document["stages"].items()}


def command_module(stage):
    argv = stage["cmd"].split()
    assert argv[:2] == ["python", "-m"], stage["cmd"]
    return argv[2]


def imported_project_files(module):
    """Repo files (relative paths) loaded by `import module`, found by really importing it."""
    probe = ("import importlib, json, sys; importlib.import_module(sys.argv[1]); "
             "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))")
    output = subprocess.run([sys.executable, "-c", probe, module], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    files = {path for path in json.loads(output) if path and path.startswith(str(ROOT) + "/")}
    return {path[len(str(ROOT)) + 1:] for path in files
            if path.startswith(tuple(str(ROOT / d) for d in CODE_DIRS))}


def covered(path, deps):
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def arguments_without_help(shown):
    """The argument lines of an argparse --help text with no help text after them.

    An argument is a line indented by two spaces; its help follows two or more spaces
    on that line, or on the next line indented further (argparse wraps long names).
    """
    lines = shown.splitlines() + [""]
    return [line.strip() for line, after in zip(lines, lines[1:])
            if re.match(r"  \S", line) and not re.search(r"\S {2,}\S", line)
            and not re.match(r" {4,}\S", after)]


@pytest.mark.parametrize("module", sorted({command_module(stage)
                                             for stage in stage_definitions().values()}
                                            | {"stages.predict"}))
def test_every_stage_module_prints_its_usage(module):
    shown = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT,
                           capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    # The command a user types, not argparse's default "<file>.py".
    assert shown.stdout.startswith(f"usage: python -m {module} "), shown.stdout
    assert arguments_without_help(shown.stdout) == []


@pytest.mark.parametrize("name, stage", stage_definitions().items())
def test_stage_deps_list_exactly_the_code_it_imports(name, stage):
    imported = {path for path in imported_project_files(command_module(stage))
                if not path.endswith("__init__.py")}
    code_deps = [dep for dep in stage["deps"] if dep.startswith(CODE_DIRS) or dep == "mlpcore"]
    assert sorted(path for path in imported if not covered(path, code_deps)) == []
    assert [dep for dep in code_deps if not any(covered(path, [dep]) for path in imported)] == []


class RecordingParams(dict):
    """A params dict that logs which key paths are traversed and which are read whole."""

    def __init__(self, data, log, path=()):
        super().__init__({key: RecordingParams(value, log, path + (key,))
                          if isinstance(value, dict) else value for key, value in data.items()})
        self.log, self.path = log, path

    def __getitem__(self, key):
        self.log.append(("through", self.path + (key,)))
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if super().__contains__(key) else default

    def __contains__(self, key):
        self.log.append(("through", self.path + (key,)))
        return super().__contains__(key)

    def _whole(self):
        self.log.append(("whole", self.path))

    def __iter__(self):
        self._whole()
        return super().__iter__()

    def keys(self):
        self._whole()
        return super().keys()

    def items(self):
        self._whole()
        return super().items()

    def values(self):
        self._whole()
        return super().values()


def listed_param(entry, key):
    """A dvc.yaml params entry as a key path; `params.yaml:` (the whole file) is ()."""
    if isinstance(entry, dict):
        assert entry == {"params.yaml": None}, entry
        return ()
    return tuple(entry.replace("${key}", str(key)).split("."))


def allowed(kind, path, listed):
    """Traversing towards a listed param, or anything at or under one, is allowed."""
    for param in listed:
        if path[:len(param)] == param:
            return True
        if kind == "through" and param[:len(path)] == path:
            return True
    return False


def test_every_stage_reads_only_the_params_dvc_yaml_lists(tiny_pipeline, monkeypatch):
    """Rerun every stage in-process against recording params, after a real `dvc repro`."""
    import importlib

    from pipeline.params import load_params

    project = tiny_pipeline
    project.run("dvc", "repro")
    monkeypatch.chdir(project.path)
    experiments = project.params()["experiments"]
    for name, stage in stage_definitions(project.path / "dvc.yaml").items():
        for key in (experiments if "${key}" in stage["cmd"] else [None]):
            argv = stage["cmd"].replace("${key}", str(key)).split()
            listed = [listed_param(entry, key) for entry in stage["params"]]
            log = []
            module = importlib.import_module(argv[2])
            monkeypatch.setattr(module, "load_params",
                                lambda *a: RecordingParams(load_params(*a), log))
            module.main(argv[3:])
            assert log, f"{name}: read no params"
            stray = sorted({path for kind, path in log if not allowed(kind, path, listed)})
            assert stray == [], f"{name}@{key} reads params dvc.yaml does not list: {stray}"
