"""Collect the licences of the npm packages bundled inside the vega builds we inline.

third_party/vega/offline_plots.html inlines the UMD builds of vega, vega-lite and
vega-embed (see tools/build_plots_template.py). Rollup copied the code of other npm
packages (d3 modules, topojson-client, semver, ...) into those builds, and their
licences (ISC, MIT, BSD-3-Clause, Unlicense) ask that their notices go along with
copies. This script downloads each bundled package's tarball, checks it against the
registry's dist.integrity, and writes its licence text into
third_party/vega/THIRD_PARTY_NOTICES.md.

Usage: python tools/collect_vega_notices.py   (set NPM_CONFIG_REGISTRY to use a mirror)
"""
import collections
import json
import re
import urllib.request

# Run as `python tools/...`, so the sibling script is importable; it owns the registry
# address and the checked download.
from build_plots_template import OUT_DIR, REGISTRY
from build_plots_template import fetch as fetch_verified

from pipeline.atomic import write_text

OUT_FILE = OUT_DIR / "THIRD_PARTY_NOTICES.md"
LICENCE_FILE = re.compile(r"(licen[cs]e|copying)([.-][^/]*)?", re.IGNORECASE)

# How these lists were determined: each tarball ships build/<name>.min.js.map, whose
# `sources` name every module rollup put into the bundle (node_modules/<package>/...
# or ../../vega-<package>/... for vega's monorepo) and whose `sourcesContent` holds
# their code. Every such file was compared with the same path in each published
# version of the package; the versions below are the ones whose files are identical.
# Where several versions match (d3-dsv, d3-format, d3-interpolate, d3-quadtree,
# d3-time-format, internmap), the range vega's packages declare decides, else the
# newest match; those candidates have identical licence files. vega-event-selector
# 3.0.1 and vega-statistics 1.9.0 are the only versions vega 5.33.1's ~ranges allow;
# the bundle holds a rebuild of their source that differs from the published
# build/*.module.js only in output details (includes() for indexOf(), how numeric
# literals are written). Note that `npm install` today resolves newer
# versions (e.g. d3-array 3.2.5, semver 7.8.6), which are not what was bundled.
# vega-lite's UMD build maps vega-util, vega-event-selector and vega-expression to
# the external `vega` global and bundles nothing but its own src/; vega-embed's
# treats vega and vega-lite as external (see their rollup configs and the
# require("vega"...) in each UMD header).
BUNDLES = [
    # (package, version, inlined file, bundled packages as (name, version))
    ("vega", "5.33.1", "build/vega.min.js", [
        ("d3-array", "3.2.4"), ("d3-color", "3.1.0"), ("d3-delaunay", "6.0.4"),
        ("d3-dispatch", "3.0.1"), ("d3-dsv", "3.0.1"), ("d3-force", "3.0.0"),
        ("d3-format", "3.1.0"), ("d3-geo", "3.1.0"), ("d3-geo-projection", "4.0.0"),
        ("d3-hierarchy", "3.1.2"), ("d3-interpolate", "3.0.1"), ("d3-path", "3.1.0"),
        ("d3-quadtree", "3.0.1"), ("d3-scale", "4.0.2"), ("d3-scale-chromatic", "3.1.0"),
        ("d3-shape", "3.2.0"), ("d3-time", "3.1.0"), ("d3-time-format", "4.1.0"),
        ("d3-timer", "3.0.1"), ("delaunator", "5.0.0"), ("internmap", "2.0.3"),
        ("robust-predicates", "3.0.1"), ("topojson-client", "3.1.0"),
        ("vega-canvas", "1.2.7"), ("vega-crossfilter", "4.1.4"), ("vega-dataflow", "5.7.8"),
        ("vega-encode", "4.10.3"), ("vega-event-selector", "3.0.1"),
        ("vega-expression", "5.2.1"), ("vega-force", "4.2.3"), ("vega-format", "1.1.4"),
        ("vega-functions", "5.18.1"), ("vega-geo", "4.4.4"), ("vega-hierarchy", "4.1.4"),
        ("vega-label", "1.3.2"), ("vega-loader", "4.5.4"), ("vega-parser", "6.6.1"),
        ("vega-projection", "1.6.3"), ("vega-regression", "1.3.2"), ("vega-runtime", "6.2.2"),
        ("vega-scale", "7.4.3"), ("vega-scenegraph", "4.13.2"), ("vega-selections", "5.6.3"),
        ("vega-statistics", "1.9.0"), ("vega-time", "2.1.4"), ("vega-transforms", "4.12.2"),
        ("vega-util", "1.17.4"), ("vega-view", "5.16.1"), ("vega-view-transforms", "4.6.2"),
        ("vega-voronoi", "4.2.5"), ("vega-wordcloud", "4.1.7"),
    ]),
    ("vega-lite", "5.23.0", "build/vega-lite.min.js", []),
    ("vega-embed", "6.29.0", "build/vega-embed.min.js", [
        ("fast-json-patch", "3.1.1"), ("json-stringify-pretty-compact", "4.0.0"),
        ("semver", "7.6.3"), ("vega-interpreter", "1.0.5"), ("vega-schema-url-parser", "2.2.0"),
        ("vega-themes", "2.15.0"), ("vega-tooltip", "0.35.2"), ("vega-util", "1.17.2"),
    ]),
]

INTRO = """# Third-party notices for the inlined vega builds

`offline_plots.html` inlines the UMD builds of vega, vega-lite and vega-embed (see
README.md; their own licences are `LICENSE-<package>`). When those builds were made,
rollup copied the code of other npm packages into them, so the page also carries the
packages listed below, per build, with the licence text each package distributes.
Their licences (ISC, MIT, BSD-3-Clause, Unlicense) ask that the copyright and
permission notice go along with copies; this file is that notice. The lists were
determined from each build's source map (see tools/collect_vega_notices.py).

Generated by `python tools/collect_vega_notices.py`; edit that script, not this file.
"""


def fetch(name, version):
    """The package's tarball, checked against the dist.integrity the registry lists for it."""
    url = f"{REGISTRY}/{name}/{version}"
    with urllib.request.urlopen(url, timeout=60) as response:
        integrity = json.loads(response.read())["dist"]["integrity"]
    return fetch_verified(name, version, integrity)


def licence(name, version):
    """(SPDX id from package.json, licence file names or None if there are none, text)."""
    tarball = fetch(name, version)
    files = {member.name.split("/", 1)[1]: member for member in tarball.getmembers()
             if member.isfile() and member.name.count("/") == 1}
    meta = json.loads(tarball.extractfile(files["package.json"]).read())
    spdx = meta.get("license", "(none declared)")
    found = sorted(path for path in files if LICENCE_FILE.fullmatch(path))
    if not found:
        return spdx, None, (f"license: {spdx}\nauthor: {person(meta.get('author', ''))}\n"
                            f"repository: {repository(meta)}")
    texts = [tarball.extractfile(files[path]).read().decode("utf-8").strip() for path in found]
    return spdx, found, "\n\n".join(texts)


def person(author):
    return author.get("name", "") if isinstance(author, dict) else author


def repository(meta):
    repo = meta.get("repository", "")
    return repo.get("url", "") if isinstance(repo, dict) else repo


def fenced(text):
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def entry(name, version, spdx, files, text):
    if files:
        source = f"From {', '.join(f'`{path}`' for path in files)} in the {name}-{version} tarball:"
    else:
        source = (f"The {name}-{version} tarball has no licence file; its package.json"
                  " declares the following.")
        if text.endswith("repository: vega/vega"):
            source += " The licence of the vega/vega repository is `LICENSE-vega`."
    return [f"### {name} {version} ({spdx})", "", source, "", fenced(text), ""]


def bundle_section(bundle, version, script, packages):
    """Markdown for one build, and its packages as (name, version, spdx, files, text)."""
    lines = [f"## {bundle} {version}: `{script}`", ""]
    if not packages:
        return lines + ["This build contains no third-party package: its source map lists only "
                        f"{bundle}'s own `src/` files, and vega is loaded as an external.", ""], []
    found = [(name, pkg_version, *licence(name, pkg_version)) for name, pkg_version in packages]
    lines += ["| package | version | licence |", "|---|---|---|"]
    lines += [f"| {name} | {pkg_version} | {spdx} |" for name, pkg_version, spdx, *_ in found]
    lines.append("")
    for item in found:
        lines += entry(*item)
    return lines, found


def main():
    lines, found = [INTRO], []
    for bundle, version, script, packages in BUNDLES:
        section, bundled = bundle_section(bundle, version, script, packages)
        lines += section
        found += bundled
    write_text(OUT_FILE, "\n".join(lines).rstrip() + "\n")
    counts = collections.Counter(spdx for _, _, spdx, _, _ in found)
    print(f"wrote {OUT_FILE}: {len(found)} packages, "
          + ", ".join(f"{n} {spdx}" for spdx, n in counts.most_common()))
    missing = [f"{name}@{version}" for name, version, _, files, _ in found if not files]
    if missing:
        print(f"no licence file, package.json `license` used instead: {', '.join(missing)}")


if __name__ == "__main__":
    main()
