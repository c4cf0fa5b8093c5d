#!/usr/bin/env python3
"""Widgets in a real browser: run each phase notebook in JupyterLab inside headless Chromium and move its
widgets.

For every notebook of `dcm_lab.runs.PIPELINE` (or those named with --notebooks) this
  1. opens it in a JupyterLab started here on 127.0.0.1 (free port, random token, temp runtime/settings dirs,
     autosave off: the notebooks on disk are never written; their hashes are checked at the end),
  2. runs all cells ('notebook:run-all-cells') with the notebook's default parameters,
  3. checks every cell: no error output; every widget output rendered as a real control (not its text repr
     "IntSlider(...)", not "Loading widget..." / "Error displaying widget"); every plotly output drawn as an
     SVG,
  4. moves one widget of each kind present (text, dropdown, slider, button: in that order, so the click sees
     the other changes), waits for the kernel after each, and fails if a callback raised (an error output, a
     traceback in a panel, a traceback in the kernel's log) or wrote into JupyterLab's Log Console instead of
     the notebook,
  5. saves reports/browser/NB.png (the last moved panel) and reports/browser/NB/cell-ID.png (each cell with a
     widget or a figure), and reports/browser/summary.json.
Exit status 1 names the notebook, cell and widget of each failure. Every wait is bounded; the server (and its
kernels) is shut down at the end, also on failure or Ctrl-C.

Needs Debian's chromium (/usr/bin/chromium) and playwright (the `browser` extra): `make test-browser` installs
both. Heavy (the notebooks run real SmolLM2 on the CPU): a few minutes per notebook. """
import argparse, hashlib, json, os, re, secrets, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dcm_lab.runs import PIPELINE  # after the path: the checkout's package

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
# JupyterLab settings for the check: no autosave (never write the notebooks), every cell attached to the DOM
# (so off-screen widgets and figures render and can be checked), no news/update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}
WIDGET_MIME, PLOTLY_MIME = "application/vnd.jupyter.widget-view+json", "application/vnd.plotly.v1+json"
# a widget that did not render shows its Python repr as text/plain
REPR_RE = (r"^\s*(VBox|HBox|Box|GridBox|Tab|Accordion|IntSlider|FloatSlider|FloatLogSlider|IntRangeSlider|"
           r"FloatRangeSlider|Dropdown|Select|SelectMultiple|ToggleButtons|RadioButtons|Button|Text|Textarea|"
           r"IntText|FloatText|Checkbox|HTML|HTMLMath|Label|Output|Image|Play|interactive|FigureWidget)\(")
# kind → CSS selector of the control inside a rendered widget output (the order is the order they are moved)
KINDS = {
    "text": ".widget-text input[type=text]:not([disabled]), .widget-textarea textarea:not([disabled])",
    "dropdown": ".widget-dropdown select:not([disabled])",
    "slider": ".widget-hslider:not(.mod-disabled) .noUi-handle, .widget-vslider:not(.mod-disabled) "
              ".noUi-handle",
    "button": "button.widget-button:not([disabled])",
}

class Failure(Exception): pass

def log(msg): print(f"[browser {time.strftime('%H:%M:%S')}] {msg}", flush=True)

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def wait_until(pred, timeout, what, every=0.5):
    "Poll `pred()` until it returns something truthy; raise Failure naming `what` after `timeout` seconds."
    t0 = time.time()
    while True:
        r = pred()
        if r: return r
        if time.time() - t0 > timeout: raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)

class Lab:
    """A JupyterLab server on 127.0.0.1 with a fresh token and temp dirs; `stop()` shuts it and its kernels
    down."""
    def __init__(self, root: Path, log_path: Path):
        self.tmp = Path(tempfile.mkdtemp(prefix="dcm-browser-"))
        self.port, self.token, self.log_path = free_port(), secrets.token_hex(16), log_path
        settings = self.tmp/"settings"
        for rel, val in LAB_SETTINGS.items():
            p = settings/rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(val))
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(self.tmp/"runtime"),
               "JUPYTER_CONFIG_DIR": str(self.tmp/"config"), "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", f"--port={self.port}",
               "--ServerApp.port_retries=0", "--allow-root", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={self.tmp/'workspaces'}"]
        self.log_file = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env, cwd=root,
                                     start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        def up():
            if self.proc.poll() is not None:
                raise Failure(f"jupyter lab exited with {self.proc.returncode}: see {log_path}")
            try:
                return urllib.request.urlopen(f"{self.url}/api/status?token={self.token}",
                                              timeout=2).status == 200
            except OSError: return False
        wait_until(up, 90, f"jupyter lab to answer on {self.url} (log: {log_path})")

    def log_text(self, start=0) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")[start:]

    def stop(self):
        if self.proc.poll() is None:
            try:
                req = urllib.request.Request(f"{self.url}/api/shutdown?token={self.token}", method="POST")
                urllib.request.urlopen(req, timeout=10)
            except OSError: pass
            try: self.proc.wait(30)
            except subprocess.TimeoutExpired: pass
        # the server's process group holds its kernels: end whatever of it is left
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            time.sleep(2)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError: pass
        self.log_file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

# --- JavaScript run in the page (window.jupyterapp is exposed by --LabApp.expose_app_in_browser) ---
JS_PANEL = "() => { const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;" \
           " return !!(p && p.sessionContext && p.content && p.content.widgets) && p.context.path; }"
JS_KERNEL = """() => { const p = window.jupyterapp.shell.currentWidget, s = p.sessionContext;
  const k = s.session && s.session.kernel;
  return k ? k.status : (s.isReady ? 'ready-no-kernel' : 'starting'); }"""
JS_RUN_ALL = """() => { window.__dcm = {done: false};
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    r => { window.__dcm = {done: true, ok: r}; },
    e => { window.__dcm = {done: true, ok: false, err: String(e)}; });
  return true; }"""
JS_PROGRESS = """() => { const p = window.jupyterapp.shell.currentWidget,
    cells = p.content.widgets.filter(c => c.model.type === 'code');
  return {run: window.__dcm, total: cells.length,
          executed: cells.filter(c => c.model.executionCount !== null).length,
          running: cells.filter(c => c.node.querySelector('.jp-InputArea-prompt') &&
                                     c.node.querySelector('.jp-InputArea-prompt').textContent.includes('*'))
                        .length};
}"""
JS_CELLS = """([WIDGET, PLOTLY, REPR]) => {
  const p = window.jupyterapp.shell.currentWidget, repr = new RegExp(REPR);
  return p.content.widgets.filter(c => c.model.type === 'code').map(c => {
    c.node.setAttribute('data-dcm-cell', c.model.id);
    const outs = c.model.outputs.toJSON(), dom = [...c.node.querySelectorAll('.jp-OutputArea-output')];
    const mimes = outs.map(o => o.data ? Object.keys(o.data) : [o.output_type]);
    const errors = outs.filter(o => o.output_type === 'error').map(o => `${o.ename}: ${o.evalue}`);
    // the output area's own children, one per output of the model (nested Output widgets have theirs inside)
    const kids = [...c.outputArea.node.children].filter(k => k.classList.contains('jp-OutputArea-child'));
    const byMime = m => outs.map((o, i) => (o.data && o.data[m] !== undefined && kids[i]) ?
                                           kids[i].querySelector('.jp-OutputArea-output') : null)
                            .filter(d => d);
    byMime(WIDGET).forEach(d => d.setAttribute('data-dcm-out', 'widget'));
    const drawn = pl => { const svg = pl.querySelector('.main-svg'), r = svg && svg.getBoundingClientRect();
      return !!(svg && r.width > 50 && r.height > 50); };
    const widgets = byMime(WIDGET).map(d => ({
      rendered: !!d.querySelector('.jupyter-widgets, .widget-box, .lm-Widget.jupyter-widget'),
      // a view whose model the kernel closed (a finished tqdm bar with leave=False) leaves an empty output
      closed: d.children.length === 0 && !(d.innerText || '').trim(),
      // figures a panel draws (in an Output widget)
      figures: [...d.querySelectorAll('.js-plotly-plot')].map(drawn),
      text: d.innerText.slice(0, 400),
      kinds: {text: d.querySelectorAll('.widget-text input, .widget-textarea textarea').length,
              dropdown: d.querySelectorAll('.widget-dropdown select').length,
              slider: d.querySelectorAll('.widget-hslider, .widget-vslider').length,
              button: d.querySelectorAll('button.widget-button').length,
              output: d.querySelectorAll('.widget-output').length,
              html: d.querySelectorAll('.widget-html').length}}));
    const plots = byMime(PLOTLY).map(d => { const svg = d.querySelector('.js-plotly-plot .main-svg');
      const r = svg && svg.getBoundingClientRect();
      const sel = '.js-plotly-plot .plot, .js-plotly-plot .cartesianlayer, .js-plotly-plot .heatmaplayer';
      return {drawn: !!(svg && r.width > 50 && r.height > 50 && d.querySelector(sel))}; });
    const reprs = dom.filter(d => repr.test(d.innerText || '')).map(d => d.innerText.slice(0, 120));
    const stuck = dom.filter(d => /Loading widget|Error displaying widget|Error rendering output/
                                    .test(d.innerText || ''))
                     .map(d => d.innerText.slice(0, 200));
    const tracebacks = dom.filter(d => /Traceback \\(most recent call last\\)/.test(d.innerText || ''))
                          .map(d => d.innerText.slice(0, 600));
    return {id: c.model.id, exec: c.model.executionCount, n_out: outs.length,
            n_widget_mime: mimes.filter(m => m.includes(WIDGET)).length,
            n_plotly_mime: mimes.filter(m => m.includes(PLOTLY)).length,
            errors, widgets, plots, reprs, stuck, tracebacks};
  }); }"""
JS_LOGCONSOLE = """async () => { const app = window.jupyterapp, p = app.shell.currentWidget;
  // the command toggles one Log Console: close the previous notebook's, open this one's
  if (app.commands.isToggled('logconsole:open')) await app.commands.execute('logconsole:open');
  await app.commands.execute('logconsole:open', {source: p.context.path, insertMode: 'split-bottom'});
  await new Promise(r => setTimeout(r, 1500));
  const panel = document.querySelector('.jp-LogConsolePanel');
  if (!panel) return null;
  const items = [...panel.querySelectorAll('.jp-OutputArea-child')];
  const err = '[data-mime-type="application/vnd.jupyter.stderr"], .jp-mod-error, [data-log-level="error"]';
  const out = items.map(i => ({text: (i.innerText || '').slice(0, 300),
                               plot: !!i.querySelector('.js-plotly-plot'), error: !!i.querySelector(err)}));
  app.shell.activateById(p.id);
  return out; }"""
JS_CLOSE = """async () => { const p = window.jupyterapp.shell.currentWidget;
  try { await p.sessionContext.shutdown(); } catch (e) {}
  p.context.model.dirty = false; p.dispose(); return true; }"""

def notebook_hashes(names):
    return {n: hashlib.sha256((ROOT/"nbs"/f"{n}.ipynb").read_bytes()).hexdigest() for n in names}

def kernel_settle(page, timeout, what):
    """Wait for the kernel to be idle twice in a row (a callback's comm message may take a moment to make it
    busy)."""
    time.sleep(0.7)
    seen = {"n": 0}
    def idle():
        st = page.evaluate(JS_KERNEL)
        if st in ("dead", "unknown"): raise Failure(f"kernel is {st} during {what}")
        seen["n"] = seen["n"] + 1 if st == "idle" else 0
        return seen["n"] >= 2
    wait_until(idle, timeout, f"the kernel to finish {what}", every=0.5)

def cell_problems(name, cells, stage):
    "Failures visible in the cells: error outputs, unrendered widgets, undrawn figures, tracebacks."
    probs = []
    for c in cells:
        at = f"{name} cell {c['id']}"
        probs += [f"{at}: {stage}: cell error {e}" for e in c["errors"]]
        probs += [f"{at}: {stage}: widget shown as text, not a control: {r!r}" for r in c["reprs"]]
        probs += [f"{at}: {stage}: widget did not render: {s!r}" for s in c["stuck"]]
        probs += [f"{at}: {stage}: widget output #{i} has no rendered control"
                  for i, w in enumerate(c["widgets"]) if not w["rendered"] and not w["closed"]]
        if c["n_widget_mime"] > len(c["widgets"]):
            probs.append(f"{at}: {stage}: {c['n_widget_mime']} widget outputs but {len(c['widgets'])} in the "
                         "page")
        probs += [f"{at}: {stage}: plotly figure #{i} not drawn" for i, pl in enumerate(c["plots"])
                  if not pl["drawn"]]
        probs += [f"{at}: {stage}: plotly figure #{j} inside widget output #{i} not drawn"
                  for i, w in enumerate(c["widgets"]) for j, ok in enumerate(w["figures"]) if not ok]
        if c["n_plotly_mime"] > len(c["plots"]):
            probs.append(f"{at}: {stage}: {c['n_plotly_mime']} plotly outputs but {len(c['plots'])} in the "
                         "page")
        probs += [f"{at}: {stage}: traceback shown: {t[:300]!r}" for t in c["tracebacks"] if not c["errors"]]
    return probs

def move(page, kind, loc):
    "Move one control the way a user would; return a short description of what was done."
    if kind == "text":
        old = loc.input_value()
        loc.click()
        loc.fill("")
        loc.type(old, delay=5)
        loc.press("Enter")
        return f"retyped {old[:60]!r} + Enter"
    if kind == "dropdown":
        opts = loc.locator("option").all_text_contents()
        cur = loc.evaluate("s => s.selectedIndex")
        if len(opts) < 2: return f"only one option {opts!r}: left"
        new = (cur + 1) % len(opts)
        loc.select_option(index=new)
        return f"{opts[cur]!r} → {opts[new]!r}"
    if kind == "slider":
        slider = loc.locator("xpath=ancestor::div[contains(@class,'widget-slider')][1]")
        readout = slider.locator(".widget-readout")
        before = readout.first.inner_text() if readout.count() else "?"
        read = lambda: readout.first.inner_text() if readout.count() else "?"
        # one step with the keyboard (the smallest move: an expensive callback stays cheap), else a short drag
        for key in ("ArrowRight", "ArrowLeft"):
            loc.focus()
            loc.press(key)
            time.sleep(0.3)
            if read() != before: return f"{key} {before!r} → {read()!r}"
        box = loc.bounding_box()
        x, y = box["x"] + box["width"]/2, box["y"] + box["height"]/2
        for dx in (30, -30):
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + dx, y, steps=8)
            page.mouse.up()
            time.sleep(0.3)
            if read() != before: return f"dragged {before!r} → {read()!r}"
        raise Failure(f"slider did not move with the keyboard or the mouse (readout stays {before!r})")
    if kind == "button":
        label = loc.inner_text().strip()
        loc.click()
        return f"clicked {label!r}"
    raise ValueError(kind)

def check_notebook(page, lab, name, out_dir, timeout, callback_timeout):
    """Open, run all, check, move widgets, screenshot one notebook; returns its summary (raises nothing
    itself)."""
    summary = dict(notebook=name, failures=[], moved=[], widgets=0, plots=0)
    fails, t0 = summary["failures"], time.time()
    shots = out_dir/name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    try:
        page.goto(f"{lab.url}/lab/tree/nbs/{name}.ipynb?token={lab.token}", timeout=120_000)
        wait_until(lambda: page.evaluate(JS_PANEL) == f"nbs/{name}.ipynb", 120,
                   f"{name} to open in JupyterLab")
        wait_until(lambda: page.evaluate(JS_KERNEL) == "idle", 180, f"{name}'s kernel to start")
        log(f"{name}: running all cells")
        page.evaluate(JS_RUN_ALL)
        last = [None]
        def finished():
            pr = page.evaluate(JS_PROGRESS)
            if (pr["executed"], pr["total"]) != last[0]:
                last[0] = (pr["executed"], pr["total"])
                log(f"{name}: {pr['executed']}/{pr['total']} cells run")
            return pr["run"] if pr["run"] and pr["run"]["done"] else None
        run = wait_until(finished, timeout, f"{name}'s 'Run all' ({timeout} s)", every=2)
        summary["run_s"] = round(time.time() - t0, 1)
        kernel_settle(page, 120, f"{name}'s last cell")
        time.sleep(2)  # widget views and plotly draw asynchronously after the outputs arrive
        cells = page.evaluate(JS_CELLS, [WIDGET_MIME, PLOTLY_MIME, REPR_RE])
        if not run.get("ok"):
            fails.append(f"{name}: 'Run all' did not complete ({run.get('err') or 'a cell failed'})")
        unrun = [c["id"] for c in cells if c["exec"] is None]
        if unrun: fails.append(f"{name}: cells not run: {unrun[:8]}")
        fails += cell_problems(name, cells, "after Run all")
        summary["widgets"] = sum(len(c["widgets"]) for c in cells)
        summary["plots"] = sum(len(c["plots"]) for c in cells)
        summary["panels"] = {c["id"]: [w["text"][:200] for w in c["widgets"]] for c in cells if c["widgets"]}
        for c in cells:  # each widget panel and figure as it stands after Run all
            if c["widgets"] or c["plots"]:
                page.locator(f'[data-dcm-cell="{c["id"]}"] .jp-Cell-outputWrapper').screenshot(
                    path=str(shots/f"cell-{c['id']}.png"), timeout=30_000)
        # --- move one widget of each kind ---
        log_start = len(lab.log_text())
        last_loc = None
        for kind, sel in KINDS.items():
            loc = page.locator(f'[data-dcm-cell] [data-dcm-out=widget] :is({sel})').first
            if not loc.count(): continue
            cell = loc.evaluate("n => n.closest('[data-dcm-cell]').getAttribute('data-dcm-cell')")
            what = f"{name} cell {cell} {kind}"
            try:
                loc.scroll_into_view_if_needed(timeout=10_000)
                panel = page.locator(f'[data-dcm-cell="{cell}"] .jp-Cell-outputWrapper')
                before = panel.inner_text()
                t_move = time.time()
                did = move(page, kind, loc)
                kernel_settle(page, callback_timeout, f"the {kind} callback")
                time.sleep(1)
                if kind == "button":
                    did += (f" ({time.time() - t_move:.0f} s; the panel's text "
                            + ("changed)" if panel.inner_text() != before else "did not change)"))
                summary["moved"].append(f"cell {cell} {kind}: {did}")
                log(f"{what}: {did}")
                last_loc = loc
            except Failure as e:
                fails.append(f"{what}: {e}")
            except Exception as e:  # a playwright timeout: the control could not be used
                fails.append(f"{what}: could not be moved: {type(e).__name__}: {str(e).splitlines()[0]}")
        cells = page.evaluate(JS_CELLS, [WIDGET_MIME, PLOTLY_MIME, REPR_RE])
        fails += [p for p in cell_problems(name, cells, "after moving widgets")
                  if p.split(": after")[0] + ": after Run all" not in " ".join(fails)]
        summary["panels_after"] = {c["id"]: [w["text"][:200] for w in c["widgets"]] for c in cells
                                   if c["widgets"]}
        summary["panel_figures"] = sum(len(w["figures"]) for c in cells for w in c["widgets"])
        for c in cells:
            if c["widgets"]:
                page.locator(f'[data-dcm-cell="{c["id"]}"] .jp-Cell-outputWrapper').screenshot(
                    path=str(shots/f"cell-{c['id']}-moved.png"), timeout=30_000)
        klog = lab.log_text(log_start)
        tb = [m.start() for m in re.finditer(
            r"Traceback \(most recent call last\)|Exception in comm_msg|Error in callback", klog)]
        if tb:
            fails.append(f"{name}: a widget callback raised in the kernel (server log): "
                         f"{klog[tb[0]:tb[0]+600]!r}")
        entries = page.evaluate(JS_LOGCONSOLE)
        summary["log_console"] = entries
        if entries:
            kinds = ("a plotly figure" if any(e["plot"] for e in entries)
                     else "an error" if any(e["error"] for e in entries) else "output")
            fails.append(f"{name}: {len(entries)} widget-callback output(s) went to JupyterLab's Log "
                         f"Console, not the notebook ({kinds}; first: {entries[0]['text'][:200]!r})")
        if last_loc is not None: last_loc.scroll_into_view_if_needed(timeout=10_000)
    except Failure as e:
        fails.append(f"{name}: {e}")
    except Exception as e:
        fails.append(f"{name}: check broke: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    finally:
        try: page.screenshot(path=str(out_dir/f"{name}.png"), timeout=30_000)
        except Exception: pass
        try: page.evaluate(JS_CLOSE)
        except Exception: pass
        summary["seconds"] = round(time.time() - t0, 1)
    return summary

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--notebooks", nargs="*", default=PIPELINE, help="notebook names (default: the pipeline)")
    ap.add_argument("--out", default=str(ROOT/"reports"/"browser"), help="screenshots and summary.json")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds for one notebook's 'Run all'")
    ap.add_argument("--callback-timeout", type=int, default=600, help="seconds for one widget callback")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args(argv)
    missing = [n for n in args.notebooks if not (ROOT/"nbs"/f"{n}.ipynb").exists()]
    if missing: sys.exit(f"browser check: no notebook nbs/{missing[0]}.ipynb (names are like {PIPELINE[0]})")
    if not Path(args.chromium).exists():
        sys.exit(f"browser check: no chromium at {args.chromium}: apt-get install chromium")
    # local: playwright is the optional `browser` extra; without it this says how to install it
    try: from playwright.sync_api import sync_playwright
    except ImportError: sys.exit("browser check: playwright is missing: pip install -e '.[browser]'")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # `timeout`/kill: still shut the server down (finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    hashes, t_all, results = notebook_hashes(args.notebooks), time.time(), []
    lab = Lab(ROOT, out/"jupyter.log")
    log(f"JupyterLab at {lab.url} (log {out/'jupyter.log'})")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_FLAGS,
                                         timeout=60_000)
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(30_000)
                page.on("pageerror", lambda e: log(f"page error: {e}"))
                for name in args.notebooks:
                    r = check_notebook(page, lab, name, out, args.timeout, args.callback_timeout)
                    results.append(r)
                    log(f"{name}: {r['seconds']} s, {r['widgets']} widget outputs, {r['plots']} figures, "
                        f"moved {len(r['moved'])}, {len(r['failures'])} failure(s)")
            finally:
                browser.close()
    finally:
        lab.stop()
        changed = [n for n, h in notebook_hashes(args.notebooks).items() if h != hashes[n]]
    fails = [f for r in results for f in r["failures"]]
    fails += [f"{n}: nbs/{n}.ipynb changed on disk during the check (autosave should be off)"
              for n in changed]
    (out/"summary.json").write_text(json.dumps(dict(seconds=round(time.time() - t_all, 1), results=results,
                                                    failures=fails), indent=1))
    print(f"\nbrowser check: {len(results)} notebooks in {time.time() - t_all:.0f} s; screenshots in {out}")
    for r in results:
        print(f"  {r['notebook']}: {r['seconds']} s, widget outputs {r['widgets']}, figures {r['plots']} "
            f"(+{r.get('panel_figures', 0)} in panels after moving), moved: {r['moved']}")
    if fails:
        print(f"\n{len(fails)} FAILURE(S):")
        [print("  " + f) for f in fails]
        return 1
    print("all widgets rendered and moved, all figures drawn, no errors")
    return 0

if __name__ == "__main__":
    sys.exit(main())
