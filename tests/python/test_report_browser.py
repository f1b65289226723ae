"""The HTML report in a real browser (headless Debian chromium through chromedriver).

Opens the offline demo's report and a real-data report (a reduced Mur92 study:
registry data only) and checks what a reader would see: no console errors, every
<img> decoded (naturalWidth > 0), no element wider than the page (outside a
scrolling box), with the tables folded and unfolded, no network resource, and one
figure per result family the run computed; and the figure rules: no clipped text
(no element cuts its own text: scrollWidth/Height beyond clientWidth/Height in a box
that hides its overflow; no figure image cut by its frame or shrunk below legible
size), every figure with a caption beyond its title, and the first figure the
headline one (drawn from the table the first finding cites). A full-page and a
first-screen screenshot are saved beside each report (``<run output>/report-
screenshot.png``, ``report-first-screen.png``) for a person to look at, and copied to
``$REPALIGN_SCREENSHOT_DIR`` when that is set.

``make test`` installs chromium and chromium-driver (Debian) when missing. Without
them the tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pytest
from builders import MUR92_METRICS, study_head

from repalign.children import child_env
from repalign.config import load_config
from repalign.pipeline import run

ROOT = Path(__file__).resolve().parents[2]

MUR92 = (
    study_head({"source": "mur92"}, ["efficientnet_lite0", "random:efficientnet_lite0", "pixels"], name="mur92-browser")
    + MUR92_METRICS
)

# Elements (right edge past the viewport) that are not inside a box that scrolls or clips.
_OVERFLOW_JS = """
const vw = document.documentElement.clientWidth, bad = [];
for (const e of document.body.querySelectorAll('*')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.right <= vw + 1) continue;
  let clipped = false;
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const o = getComputedStyle(a).overflowX;
    if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
  }
  if (!clipped) bad.push(e.tagName + (e.id ? '#' + e.id : '') + ' right=' + Math.round(r.right) + ' > ' + vw);
}
const sw = document.documentElement.scrollWidth;
if (sw > vw + 1) bad.push('page scrollWidth ' + sw + ' > ' + vw);
return bad;
"""
_IMAGES_JS = "return [...document.images].map(i => [i.alt, i.complete, i.naturalWidth]);"

# Text that the page cuts: an element that hides its overflow while its content is
# larger than its box (the text runs on under the edge), and figure images cut by
# their frame or shown so small that 9-pt text drawn at 150 dpi falls under 8 px.
_CLIPPED_JS = """
const bad = [];
for (const e of document.body.querySelectorAll('*')) {
  if (!e.textContent.trim() || e.getClientRects().length === 0) continue;
  const cs = getComputedStyle(e);
  const hides = v => v === 'hidden' || v === 'clip';
  const name = e.tagName + (e.id ? '#' + e.id : '') + ' "' + e.textContent.trim().slice(0, 40) + '"';
  if (hides(cs.overflowX) && e.scrollWidth > e.clientWidth + 1)
    bad.push(name + ' cut at the right: ' + e.scrollWidth + ' > ' + e.clientWidth);
  if (hides(cs.overflowY) && e.scrollHeight > e.clientHeight + 1)
    bad.push(name + ' cut at the bottom: ' + e.scrollHeight + ' > ' + e.clientHeight);
  if (cs.textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1) bad.push(name + ' ends in an ellipsis');
}
for (const f of document.querySelectorAll('figure')) {
  const img = f.querySelector('img'); if (!img) continue;
  const fr = f.getBoundingClientRect(), ir = img.getBoundingClientRect();
  if (ir.left < fr.left - 1 || ir.right > fr.right + 1) bad.push('figure ' + f.id + ': image cut by its frame');
  if (img.naturalWidth && ir.width / img.naturalWidth < 8 / 19) bad.push('figure ' + f.id + ': shown at ' +
      Math.round(100 * ir.width / img.naturalWidth) + '% of its size, text under 8 px');
}
return bad;
"""

# Every figure: its id, classes, the caption text after the title, the tables its
# caption links; and the first finding's first link (the table it cites).
_FIGURES_JS = """
const figs = [...document.querySelectorAll('.grid > figure')].map(f => {
  const cap = f.querySelector('figcaption');
  const title = cap && cap.querySelector('b') ? cap.querySelector('b').textContent : '';
  const text = cap ? cap.textContent.replace(title, '').replace(/Data:.*$|Files:.*$/s, '').trim() : '';
  return {id: f.id, classes: [...f.classList], caption: text,
          tables: cap ? [...cap.querySelectorAll('a')].map(a => a.getAttribute('href').slice(1)) : []};
});
const first = document.querySelector('.finding a');
return {figures: figs, cited: first ? first.getAttribute('href').slice(1) : null};
"""


def _binaries() -> tuple[str, str]:
    chromium = next(
        (shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
    )
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    msg = (
        "the browser test needs chromium and chromedriver "
        "(Debian: apt-get install chromium chromium-driver; make test does it)"
    )
    if os.environ.get("CI"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = _binaries()
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not try to fetch drivers
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = chromium
    for a in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1366,900",
        "--hide-scrollbars",
        "--disable-extensions",
        "--no-first-run",
    ):
        opts.add_argument(a)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        opts.add_argument("--no-sandbox")  # chromium refuses to run as root with its sandbox
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path, env=child_env()), options=opts)
    yield drv
    drv.quit()


def inspect_page(drv, path: Path, screenshot: Path | None = None) -> dict:
    """Open ``path`` and return what a reader would meet: console errors, images
    (alt, complete, naturalWidth), overflowing elements with tables folded and
    unfolded; save a full-page screenshot (tables folded) to ``screenshot``."""
    drv.get(path.resolve().as_uri())
    drv.execute_script("return document.readyState")
    images = drv.execute_script(_IMAGES_JS)
    folded = drv.execute_script(_OVERFLOW_JS)
    clipped = drv.execute_script(_CLIPPED_JS)
    figures = drv.execute_script(_FIGURES_JS)
    if screenshot is not None:
        drv.get_screenshot_as_file(
            str(screenshot.with_name(screenshot.stem.replace("screenshot", "first-screen") + ".png"))
        )
        size = drv.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        shot = drv.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
            },
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    drv.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    unfolded = drv.execute_script(_OVERFLOW_JS)
    clipped += drv.execute_script(_CLIPPED_JS)
    logs = drv.get_log("browser")
    return {
        "errors": [entry["message"] for entry in logs if entry["level"] == "SEVERE"],
        "images": images,
        "overflow": folded + unfolded,
        "clipped": sorted(set(clipped)),
        "figures": figures["figures"],
        "cited": figures["cited"],
    }


def _check_report(drv, out: Path, families: set[str], name: str) -> dict:
    report = out / "report.html"
    text = report.read_text()
    # self-contained: no resource from the network
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", text), "report links a network resource"
    found = inspect_page(drv, report, out / "report-screenshot.png")
    assert found["errors"] == [], found["errors"]
    assert found["images"], "no figures in the report"
    undecoded = [alt for alt, complete, width in found["images"] if not complete or width == 0]
    assert undecoded == [], f"images not decoded: {undecoded}"
    assert found["overflow"] == [], found["overflow"]
    assert found["clipped"] == [], found["clipped"]
    # every figure has a caption beyond its title
    bare = [f["id"] for f in found["figures"] if len(f["caption"]) < 20]
    assert found["figures"] and bare == [], bare
    # the headline figure first: drawn from the table the first finding cites
    first = found["figures"][0]
    assert "headline" in first["classes"], first
    if found["cited"]:
        assert found["cited"] in first["tables"], (found["cited"], first)
    # a number in a finding links to its table, which unfolds
    links = re.findall(r"<div class='finding'>.*?<a href='#([^']+)'>", text)
    if links:
        drv.get(report.resolve().as_uri())
        drv.find_element("css selector", ".finding a").click()
        assert drv.execute_script(f"return document.getElementById('{links[0]}').open") is True
    ids = set(re.findall(r"<figure id='fig-([^']+)'", text))
    overview = set(re.findall(r"<li><b>([^<]+)</b> \((\d+)\)", text))
    from repalign.pipeline.figures import figure_groups

    titles = {figure_groups()[f] for f in families}
    assert titles <= {t for t, _ in overview}, (titles, overview)
    shot = out / "report-screenshot.png"
    print(
        f"\nbrowser check: {report} ({report.stat().st_size / 1e6:.2f} MB, {len(ids)} figures, first "
        f"{first['id']}); screenshot {shot}"
    )
    keep = os.environ.get("REPALIGN_SCREENSHOT_DIR")
    if keep:  # for a person (e.g. a release note) to look at
        Path(keep).mkdir(parents=True, exist_ok=True)
        for p in (shot, out / "report-first-screen.png"):
            shutil.copyfile(p, Path(keep) / f"{name}-{p.name}")
    return found


def test_checker_sees_planted_faults(browser, tmp_path):
    """The page checks find a broken image, an overflowing box and a console error
    that are planted in a page (and nothing in a clean one)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 3), "white").save(buf, format="PNG")
    ok_png = base64.b64encode(buf.getvalue()).decode()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!doctype html><html><body><img alt='broken' src='data:image/png;base64,AAAA'>"
        "<div style='width:3000px'>wide</div><div style='overflow-x:auto'><table style='width:3000px'>"
        "<tr><td>scrolls, fine</td></tr></table></div>"
        "<div style='width:60px;overflow:hidden;white-space:nowrap'>a title that is cut at the edge</div>"
        f"<div class='grid'><figure id='fig-bare'><img alt='ok' src='data:image/png;base64,{ok_png}'>"
        "<figcaption><b>Title only.</b> Files: <code>x.png</code></figcaption></figure></div>"
        "<script>console.error('planted')</script></body></html>"
    )
    found = inspect_page(browser, bad)
    assert any(c.startswith('DIV "a title that is cut') and "cut at the right" in c for c in found["clipped"]), found
    assert [(f["id"], f["caption"]) for f in found["figures"]] == [("fig-bare", "")]
    assert any("planted" in e for e in found["errors"])
    assert found["images"] == [["broken", True, 0], ["ok", True, 4]]
    assert any(o.startswith("DIV right=") for o in found["overflow"])
    assert not any(o.startswith("TABLE") for o in found["overflow"])  # inside a scrolling box
    clean = tmp_path / "clean.html"
    clean.write_text(
        f"<!doctype html><html><body><p>fine</p><img alt='ok' src='data:image/png;base64,{ok_png}'></body></html>"
    )
    found = inspect_page(browser, clean)
    assert found["errors"] == [] and found["overflow"] == [] and found["images"] == [["ok", True, 4]]
    assert found["clipped"] == [] and found["figures"] == [] and found["cited"] is None


@pytest.mark.slow
def test_demo_report_in_browser(browser, demo_run):
    out, _ = demo_run
    found = _check_report(browser, out, {"choice_models", "dimensionality", "alignment_vs_size", "learning"}, "demo")
    alts = [alt for alt, _, _ in found["images"]]
    # 2 Python + 3 R figures: the demo's alignment model (5 models, 4 fixed effects) is saturated,
    # so it has no intervals, no coefficient figure, and the report says why
    assert len(alts) == 5 and not any("coefficients" in a for a in alts), alts
    assert "saturated" in (out / "report.html").read_text()
    # the finding is about the choice models: their figure leads; the saturated fit draws no line and says so
    assert found["figures"][0]["id"] == "fig-choice_models_pseudo_r2", [f["id"] for f in found["figures"]]
    size = next(f for f in found["figures"] if f["id"] == "fig-r-alignment_vs_train_size")
    assert "points only, no fitted line: the alignment model is saturated" in size["caption"], size


@pytest.mark.data
def test_mur92_report_in_browser(browser, tmp_path):
    path = tmp_path / "mur92.toml"
    path.write_text(MUR92)
    run(load_config(path), progress=False)
    out = load_config(path).output
    found = _check_report(browser, out, {"rsa", "cka", "dimensionality"}, "mur92")
    assert len(found["images"]) == 3
    assert [f["id"] for f in found["figures"]][0] == "fig-rsa"
    cka = next(f for f in found["figures"] if f["id"] == "fig-cka")
    assert "RSA figure's order" in cka["caption"], cka
