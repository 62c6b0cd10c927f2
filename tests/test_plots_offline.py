"""`dvc plots show/diff` pages made with the repo's offline template render with no network.

A tiny DVC project (the repo's .dvc/config and third_party/, one stage writing two
curve files, two linear plots) produces the pages; headless chromium, unable to
fetch anything, opens each one. Screenshots go to $OMNIGLOT_ARTIFACTS/plots_offline.
"""
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from dvc_render.html import PAGE_HTML as DVC_DEFAULT_PAGE
from PIL import Image

from tests.browser import CHROMIUM_REQUIREMENT, chromium_available, render_in_chromium
from tests.conftest import ROOT, DvcProject, isolated_env, require

ARTIFACTS = Path(os.environ.get("OMNIGLOT_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "plots_offline"

MAKE_CURVES = """\
import csv, math
from ruamel.yaml import YAML

rate = YAML(typ="safe").load(open("params.yaml"))["curves"]["rate"]
for name, offset in [("train", 0.0), ("val", 0.15)]:
    with open(f"curves/{name}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss", "accuracy"])
        for epoch in range(1, 11):
            loss = math.exp(-rate * epoch) + offset
            writer.writerow([epoch, round(loss, 4), round(1 - loss / 2, 4)])
"""
DVC_YAML = """\
stages:
  curves:
    cmd: python make_curves.py
    deps: [make_curves.py]
    params: [curves]
    outs:
      - curves/train.csv: {cache: false}
      - curves/val.csv: {cache: false}
plots:
  - loss:
      template: linear
      x: epoch
      y: {curves/train.csv: loss, curves/val.csv: loss}
  - accuracy:
      template: linear
      x: epoch
      y: {curves/train.csv: accuracy, curves/val.csv: accuracy}
"""


def make_project(path, env):
    """git + DVC project with the repo's DVC config and vendored vega, committed."""
    path.mkdir()
    project = DvcProject(path, env)
    project.run("git", "init", "-q", "-b", "main")
    project.run("dvc", "init", "-q")
    shutil.copy2(ROOT / ".dvc" / "config", path / ".dvc" / "config")
    shutil.copytree(ROOT / "third_party", path / "third_party")
    (path / "curves").mkdir()
    (path / "make_curves.py").write_text(MAKE_CURVES)
    (path / "dvc.yaml").write_text(DVC_YAML)
    (path / "params.yaml").write_text("curves:\n  rate: 0.5\n")
    project.run("dvc", "repro", "-q")
    project.commit("curves at rate 0.5")
    return project


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """name -> index.html written by a `dvc plots` command."""
    require(chromium_available(), CHROMIUM_REQUIREMENT)
    base = tmp_path_factory.mktemp("plots")
    home = base / "home"
    home.mkdir()
    env = isolated_env(home)
    project = make_project(base / "project", env)
    out = base / "pages"
    out.mkdir()  # DVC creates only the last level of -o

    (project.path / "params.yaml").write_text("curves:\n  rate: 0.8\n")
    project.run("dvc", "repro", "-q")
    project.run("dvc", "plots", "show", "-o", str(out / "show"))
    project.run("dvc", "plots", "diff", "HEAD", "-o", str(out / "diff_head"))
    # The default CDN page, as a control: it must stay blank in this browser.
    default_page = base / "dvc_default_page.html"
    default_page.write_text(DVC_DEFAULT_PAGE)
    project.run("dvc", "plots", "show", "--html-template", str(default_page),
                "-o", str(out / "cdn_default"))

    # One experiment in the workspace, one in a temporary clone of the commit.
    project.run("dvc", "exp", "run", "-q", "-n", "a", "-S", "curves.rate=0.3")
    project.run("dvc", "exp", "run", "-q", "--temp", "-n", "b", "-S", "curves.rate=1.2")
    project.run("dvc", "plots", "diff", "a", "b", "-o", str(out / "exp_diff"))

    # A fresh clone has only what git has: the template must be committed and found.
    clone = DvcProject(base / "clone", env)
    project.run("git", "clone", "-q", str(project.path), str(clone.path))
    clone.run("dvc", "plots", "show", "-o", str(out / "clone_show"))
    return {page.parent.name: page for page in out.glob("*/index.html")}


class PlotCharts(HTMLParser):
    """Which of the given plot divs hold a vega-rendered chart (`<canvas/svg class="marks">`)."""

    def __init__(self, plot_ids):
        super().__init__()
        self.plot_ids, self.rendered = set(plot_ids), set()
        self.current, self.depth = None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div":
            if self.current:
                self.depth += 1
            elif attrs.get("id") in self.plot_ids:
                self.current, self.depth = attrs["id"], 1
        elif self.current and tag in ("canvas", "svg") and "marks" in (attrs.get("class") or ""):
            self.rendered.add(self.current)

    def handle_endtag(self, tag):
        if tag == "div" and self.current:
            self.depth -= 1
            if self.depth == 0:
                self.current = None


def rendered_charts(html, dom):
    """(plot div ids in the page, those that hold a chart after rendering)."""
    plot_ids = re.findall(r"vegaEmbed\('#([^']+)'", html)
    parser = PlotCharts(plot_ids)
    parser.feed(dom)
    return plot_ids, parser.rendered


def check_screenshot(path):
    image = Image.open(path).convert("RGB")
    assert path.stat().st_size > 10_000, f"{path}: suspiciously small PNG"
    inked = sum(count for count, colour in image.getcolors(1 << 24) if colour != (255, 255, 255))
    assert inked > 0.01 * image.width * image.height, f"{path}: almost blank"


@pytest.mark.parametrize("name", ["show", "diff_head", "exp_diff", "clone_show"])
def test_plots_page_renders_offline(pages, name):
    html = pages[name].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc\s*=", html, re.IGNORECASE), "page loads external scripts"
    assert "Generated by tools/build_plots_template.py" in html, "not the offline template"

    screenshot = ARTIFACTS / f"{name}.png"
    dom = render_in_chromium(pages[name], screenshot_path=screenshot)
    plot_ids, rendered = rendered_charts(html, dom)
    assert len(plot_ids) == 2, plot_ids
    assert rendered == set(plot_ids), f"charts missing in {sorted(set(plot_ids) - rendered)}"
    check_screenshot(screenshot)


def test_default_cdn_page_stays_blank(pages):
    """Control: the browser really has no network, so the CDN page draws nothing."""
    html = pages["cdn_default"].read_text(encoding="utf-8")
    assert "https://cdn.jsdelivr.net/npm/vega@" in html
    plot_ids, rendered = rendered_charts(html, render_in_chromium(pages["cdn_default"]))
    assert len(plot_ids) == 2 and not rendered
