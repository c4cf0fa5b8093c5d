"""The lab's test command (`make test`): sync check, every notebook under nbdev's test flags, then pytest.
Prints a closing line `N passed, N failed` and exits non-zero on any failure."""
import argparse, subprocess, sys, time, os
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def sync_check() -> bool:
    "nbdev's own CI check: cleaning and exporting must not change the checkout."
    for cmd in ("nbdev-clean", "nbdev-export"):
        subprocess.run([str(BIN/cmd)], cwd=ROOT, check=True)
    if not (ROOT/".git").exists(): return True
    r = subprocess.run(["git", "status", "--porcelain", "--", "nbs", "dcm_lab"], cwd=ROOT,
                       capture_output=True, text=True)
    if r.stdout.strip():
        print("OUT OF SYNC: nbdev-clean/nbdev-export changed these files; run `make sync` and commit:\n"
              + r.stdout)
        return False
    return True

def run_notebooks(flags: list[str]) -> tuple[int, int]:
    skip = [f for f in get_config().tst_flags.split() if f not in flags]
    passed = failed = 0
    for nb in sorted((ROOT/"nbs").glob("[!_.]*.ipynb")):
        t0 = time.time()
        ok, _ = test_nb(nb, skip_flags=skip, force_flags=flags, basepath=ROOT)
        print(f"{'PASS' if ok else 'FAIL'} {nb.name} ({time.time() - t0:.0f}s)", flush=True)
        passed += ok
        failed += not ok
    return passed, failed

class _Count:
    def __init__(self): self.passed = self.failed = 0
    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome == "failed":
            if report.passed and report.when == "call": self.passed += 1
            elif report.failed: self.failed += 1

def run_pytest() -> tuple[int, int]:
    files = sorted((ROOT/"tests").glob("test_*.py"))
    if not files: return 0, 0
    c = _Count()
    pytest.main(["-q", *map(str, files)], plugins=[c])
    return c.passed, c.failed

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flags", default="", help="also run cells marked with these flags (slow gpu)")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    t0 = time.time()
    sync_ok = sync_check()
    np_, nf = run_notebooks(a.flags.split())
    pp, pf = run_pytest()
    passed, failed = np_ + pp + sync_ok, nf + pf + (not sync_ok)
    print(f"\nnotebooks {np_} passed, {nf} failed; pytest {pp} passed, {pf} failed; sync "
          f"{'ok' if sync_ok else 'FAILED'}; {time.time() - t0:.0f}s")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)

if __name__ == "__main__": main()
