#!/usr/bin/env python
"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

    python tests/browser/check_pages.py [_build/html] [--shots _build/screenshots] [--pages GLOB]

Serves the build on 127.0.0.1 (a throwaway http.server) and drives /usr/bin/chromium through
/usr/bin/chromedriver with selenium (pinned in requirements.txt; Debian's `chromium` and
`chromium-driver`). Chromium's resolver maps every host but 127.0.0.1 to NOTFOUND, so the network is
unavailable to it, and every request it makes is logged: any that leaves 127.0.0.1 is a failure.
Per page it checks (names as in checks.CHECKS): MathJax finished and left no raw TeX, no TeX errors,
every image loaded, nothing wider than the article column (and no box that must scroll sideways),
no cell output that is only a bare number or an object repr, an image under every cell that shows
a figure, no console errors, no off-site
requests or off-site resource tags. It saves the first screen of each page to
`<shots>/<page>.png`, the whole page to `<shots>/<page>.full.png` and the first display equation
to `<shots>/<page>.math.png`.

Failures listed in tests/browser/known_failures.txt (`page | check | reason`) are reported but
allowed; any other failure makes the exit status 1. Not a pytest test: CI runs it after the build.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import functools
import http.server
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1280, 900  # a laptop screen: the book's three columns are all shown
FULL_PAGE_MAX = 20000  # px: longer pages are cut in the full-page screenshot
MATHJAX_TIMEOUT = 20  # s


# What the page looks like once MathJax is done; run in the browser, returns plain JSON.
PAGE_FACTS_JS = r"""
// MathJax's assistive MathML (for screen readers) is invisible but counts in scrollWidth: hide it
// while measuring, or every inline formula would look clipped.
const hideAmml = document.createElement('style');
hideAmml.textContent = 'mjx-assistive-mml { display: none !important; }';
document.head.appendChild(hideAmml);
const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const aRect = article.getBoundingClientRect();
const SKIP_TEXT = 'script,style,pre,code,textarea,mjx-container,.highlight,.cell_input,.MathJax_Preview,noscript';
// visible text outside code and typeset math
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {
  acceptNode(n) {
    const p = n.parentElement;
    if (!p || p.closest(SKIP_TEXT)) return NodeFilter.FILTER_REJECT;
    return NodeFilter.FILTER_ACCEPT;
  }});
let text = ''; for (let n = walker.nextNode(); n; n = walker.nextNode()) text += n.nodeValue + ' ';

function label(el) {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  const cls = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 3);
  if (cls.length) s += '.' + cls.join('.');
  const sec = el.closest('section[id]');
  if (sec) s += ' in #' + sec.id;
  // by code points: slicing UTF-16 units can split a math letter's surrogate pair, which the
  // driver then cannot deserialize
  const t = Array.from((el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ')).slice(0, 70).join('');
  return t ? s + ' "' + t + '"' : s;
}
function cellLabel(cell) {
  const pre = cell.querySelector('.cell_input pre');
  if (!pre) return label(cell);
  const sec = cell.closest('section[id]');
  const src = Array.from((pre.textContent || '').trim().replace(/\s+/g, ' ')).slice(0, 70).join('');
  return 'cell ' + (pre.id || '?') + (sec ? ' in #' + sec.id : '') + ' "' + src + '"';
}
function kind(el) {
  if (el.matches('table, .table-wrapper, .pst-scrollable-table-container') || el.querySelector('table')) return 'table';
  if (el.matches('mjx-container, .math') || el.closest('.math, mjx-container')) return 'math';
  if (el.closest('.cell_output, .output')) return 'output';
  if (el.closest('.cell_input, div[class*="highlight-"], pre')) return 'code';
  return 'other';
}
// boxes that hide content sideways (they scroll or clip): one entry per outermost such box
const wide = [], overflow = [];
for (const el of article.querySelectorAll('*')) {
  const cs = getComputedStyle(el);
  if (cs.display === 'none' || cs.visibility === 'hidden') continue;
  // MathJax's own parts (stretchy delimiters clip on purpose): judge the mjx-container instead
  if (el.tagName.startsWith('MJX-') && el.tagName !== 'MJX-CONTAINER') continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  const scrolls = ['auto', 'scroll', 'hidden', 'clip'].includes(cs.overflowX);
  if (scrolls && el.scrollWidth > el.clientWidth + 2 && el.clientWidth > 0) {
    if (!wide.some(w => w.el.contains(el)))
      wide.push({el, kind: kind(el), scroll: el.scrollWidth, box: el.clientWidth});
  }
  // sticking out of the article column, unless clipped by a scrolling ancestor inside it
  if (r.right > aRect.right + 2 || r.left < aRect.left - 2) {
    let clip = el.parentElement, clipped = false;
    while (clip && clip !== article) {
      const ox = getComputedStyle(clip).overflowX;
      if (['auto', 'scroll', 'hidden', 'clip'].includes(ox)) { clipped = true; break; }
      clip = clip.parentElement;
    }
    if (!clipped && !overflow.some(o => o.el.contains(el)))
      overflow.push({el, width: Math.round(r.width), right: Math.round(r.right - aRect.right)});
  }
}
const outputs = [];
for (const el of article.querySelectorAll('.cell_output .output')) {
  if (el.querySelector('img, table, mjx-container')) continue;
  const pre = el.querySelector('pre') || el;
  const cell = el.closest('.cell');
  outputs.push({label: cell ? cellLabel(cell) : label(el), text: pre.innerText || ''});
}
const cells = [];
for (const cell of article.querySelectorAll('.cell')) {
  const src = cell.querySelector('.cell_input pre');
  if (!src) continue;
  cells.push({label: cellLabel(cell), source: src.textContent || '',
              hasImage: !!cell.querySelector('.cell_output img, .cell_output svg')});
}
hideAmml.remove();
const imgs = [...document.images].map(im => ({src: im.getAttribute('src'), ok: im.complete && im.naturalWidth > 0}));
return {
  articleWidth: Math.round(aRect.width),
  mathElements: article.querySelectorAll('.math').length,
  mjx: document.querySelectorAll('mjx-container').length,
  merror: [...document.querySelectorAll('mjx-merror')].map(e => label(e.closest('mjx-container') || e)),
  mathjaxLoaded: !!(window.MathJax && window.MathJax.startup && window.MathJax.startup.document),
  text,
  wide: wide.map(w => ({label: label(w.el), kind: w.kind, scroll: w.scroll, box: w.box})),
  overflow: overflow.map(o => ({label: label(o.el), width: o.width, right: o.right})),
  outputs, imgs, cells,
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
};
"""

# Resolves once MathJax has typeset the page (or at once when the page has no MathJax).
WAIT_MATHJAX_JS = r"""
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => done('typeset'), e => done('error: ' + e));
  } else if (!document.querySelector('script[src*="mathjax"], script[src*="MathJax"]')) {
    done('absent');
  } else if (Date.now() - start > %d) {
    done('timeout: MathJax never started (script not loaded?)');
  } else setTimeout(poll, 50);
})();
""" % (MATHJAX_TIMEOUT * 1000 - 2000)

WAIT_IMAGES_JS = r"""
const done = arguments[arguments.length - 1];
for (const im of document.images) im.loading = 'eager';
const start = Date.now();
(function poll() {
  if ([...document.images].every(im => im.complete) || Date.now() - start > 15000) {
    document.fonts.ready.then(() => done(true));
  } else setTimeout(poll, 50);
})();
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root: Path):
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def find_binary(env: str, *names: str) -> str:
    for candidate in [os.environ.get(env)] + [shutil.which(n) for n in names]:
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit(f"check_pages: no {names[0]} found (apt-get install -y chromium chromium-driver, or set ${env})")


def start_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = find_binary("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        # the network is unavailable: only the local server resolves
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--no-proxy-server",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        "--disable-extensions",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=find_binary("CHROMEDRIVER", "chromedriver"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(MATHJAX_TIMEOUT)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


def requests_from(perf_log) -> list[str]:
    urls = []
    for entry in perf_log:
        try:
            msg = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
        elif msg.get("method") == "Network.webSocketCreated":
            urls.append(msg["params"]["url"])
    return urls


def save_png(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def screenshots(driver, page: str, shots: Path, height: int):
    stem = shots / page[: -len(".html")]
    save_png(stem.with_suffix(".png"), driver.get_screenshot_as_png())
    # The whole page: a viewport as tall as the page (captureBeyondViewport shifts this theme's
    # layout sideways), then back to the normal screen.
    full_h = min(height, FULL_PAGE_MAX)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": full_h, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        driver.execute_script("window.scrollTo(0, 0);")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        save_png(Path(f"{stem}.full.png"), base64.b64decode(shot["data"]))
    finally:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
    from selenium.webdriver.common.by import By

    # the first display equation, else the paragraph of the first inline formula
    eqs = driver.find_elements(
        By.CSS_SELECTOR, "article mjx-container[display='true']"
    ) or driver.find_elements(By.CSS_SELECTOR, "article mjx-container")
    if eqs:
        block = driver.execute_script(
            "return arguments[0].closest('div.math, p, li, td, dd, figcaption, .caption') || arguments[0];",
            eqs[0],
        )
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", block)
        save_png(Path(f"{stem}.math.png"), block.screenshot_as_png)


def check_page(
    driver, origin: str, page: str, build: Path, shots: Path | None, per_check: int = 8
) -> list[tuple[str, str]]:
    fails: list[tuple[str, str]] = []
    for bad in checks.offsite_resources((build / page).read_text(errors="replace")):
        fails.append(("offsite-static", bad))
    driver.get_log("performance"), driver.get_log("browser")  # drain the previous page's logs
    driver.get(f"{origin}/{page}")
    state = driver.execute_async_script(WAIT_MATHJAX_JS)
    if state not in ("typeset", "absent"):
        fails.append(("math-not-typeset", f"MathJax: {state}"))
    driver.execute_async_script(WAIT_IMAGES_JS)
    facts = driver.execute_script(PAGE_FACTS_JS)

    if facts["mathElements"] and not facts["mjx"]:
        fails.append(
            (
                "math-not-typeset",
                f"{facts['mathElements']} math elements, no mjx-container "
                f"(MathJax {'loaded' if facts['mathjaxLoaded'] else 'not loaded'})",
            )
        )
    for label in facts["merror"]:
        fails.append(("math-error", label))
    for snippet in checks.find_raw_tex(facts["text"]):
        fails.append(("raw-tex", snippet))
    for im in facts["imgs"]:
        if not im["ok"]:
            fails.append(("image", f"not loaded: {im['src']}"))
    for w in facts["wide"]:
        fails.append(
            (
                checks.wide_check_name(w["kind"]),
                f"{w['label']}: content {w['scroll']} px in a {w['box']} px box",
            )
        )
    for o in facts["overflow"]:
        fails.append(
            (
                "overflow",
                f"{o['label']}: {o['width']} px wide, {o['right']} px past the "
                f"{facts['articleWidth']} px article",
            )
        )
    for out in facts["outputs"]:
        reason = checks.stray_output_reason(out["text"])
        if reason:
            fails.append(("stray-output", f"{reason} in {out['label']}"))

    for cell in facts["cells"]:
        if not cell["hasImage"] and checks.expects_figure(cell["source"]):
            fails.append(("missing-figure", f"no image under {cell['label']}"))

    for url in requests_from(driver.get_log("performance")):
        if checks.is_offsite(url, origin):
            fails.append(("offsite", url))
    for entry in driver.get_log("browser"):
        # Chromium asks every site for /favicon.ico by itself; the book declares no icon, and a
        # reader sees nothing of that 404, so it is not a page error.
        if entry.get("level") == "SEVERE" and "/favicon.ico" not in entry.get("message", ""):
            fails.append(("console", entry.get("message", "")[:300]))
    if shots is not None:
        screenshots(driver, page, shots, facts["height"])
    return checks.condense(fails, per_check)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("build", nargs="?", default="_build/html", type=Path)
    ap.add_argument(
        "--shots",
        default=None,
        type=Path,
        help="screenshot folder (default: _build/screenshots beside the html folder)",
    )
    ap.add_argument("--no-shots", action="store_true")
    ap.add_argument("--pages", default="*", help="glob of pages to check, e.g. 'book/ch06*'")
    ap.add_argument("--known", default=HERE / "known_failures.txt", type=Path)
    ap.add_argument("--per-check", default=8, type=int, help="findings printed per page and check")
    ap.add_argument("--verbose", action="store_true", help="list each known failure's findings")
    args = ap.parse_args(argv)

    build = args.build.resolve()
    if not (build / "index.html").is_file():
        print(f"check_pages: no index.html in {build}: build the book first", file=sys.stderr)
        return 2
    shots = None if args.no_shots else (args.shots or build.parent / "screenshots").resolve()
    pages = [p for p in checks.pages_in(build) if fnmatch.fnmatch(p, args.pages)]
    known = checks.load_known_failures(args.known)

    t0 = time.time()
    server, origin = serve(build)
    driver = start_browser()
    failures: dict[str, list[tuple[str, str]]] = {}
    try:
        for page in pages:
            t = time.time()
            try:
                fails = check_page(driver, origin, page, build, shots, args.per_check)
            except Exception as err:  # noqa: BLE001 - report and go on to the next page
                fails = [("load", f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")]
            if fails:
                failures[page] = fails
            print(f"  {page:48s} {len(fails):3d} finding(s)  {time.time() - t:5.1f} s", flush=True)
    finally:
        driver.quit()
        server.shutdown()

    new, allowed, stale = checks.split_known(failures, known)
    if args.pages != "*":  # entries for pages not checked this time are not stale
        stale = [k for k in stale if fnmatch.fnmatch(k.page, args.pages)]
    reasons = {(k.page, k.check): k.reason for k in known}
    if allowed:
        print(f"\nKnown failures (allowed by {args.known.name}; --verbose lists each):")
        for page, items in allowed.items():
            by_check: dict[str, list[str]] = {}
            for check, detail in items:
                by_check.setdefault(check, []).append(detail)
            for check, details in by_check.items():
                total = sum(int(d.split()[2]) if d.startswith("... and ") else 1 for d in details)
                print(f"  {page} [{check}] {total} now; known: {reasons[(page, check)]}")
                if args.verbose:
                    for detail in details:
                        print(f"      {detail}")
    if stale:
        print(f"\nListed as known but no longer failing (remove from {args.known.name}):")
        for k in stale:
            print(f"  {k.page} | {k.check}")
    if new:
        print("\nFAILURES:")
        for page, items in new.items():
            print(f"  {page}")
            for check, detail in items:
                print(f"    [{check}] {detail}")
    n_new = sum(map(len, new.values()))
    n_known = sum(map(len, allowed.values()))
    print(
        f"\ncheck_pages: {len(pages)} pages, {n_new} failure(s), {n_known} known, "
        f"{time.time() - t0:.0f} s" + (f"; screenshots in {shots}" if shots else "")
    )
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
