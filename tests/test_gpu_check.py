"""`make gpu-check`'s script on its CPU path: `scripts/gpu_check.py --cpu-smoke` run as a command (the CLI
a GPU run uses: the same stages on the tiny random model), its one JSON read back, and bad parameters refused
before anything runs."""
import importlib.util, json, math, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT/"scripts"/"gpu_check.py"
STAGES = ("load", "phase1a", "bookkeeping", "peer", "diffuser", "evaluation")
KEYS = ("check", "mode", "status", "error", "device", "dtype", "sizes", "stages", "tokens_per_s", "mfu",
        "peer_ratio", "bookkeeping_share", "peak_memory", "total_seconds", "mfu_note", "record")
RATED = ("phase1a", "diffuser", "evaluation")      # stages with tokens/s and an MFU estimate


def run_script(*args, timeout=240):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")/"check.json"
    r = run_script("--cpu-smoke", "--out", str(out))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "gpu_check ok" in r.stdout
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_key_and_the_device(smoke):
    assert set(KEYS) <= set(smoke), set(KEYS) - set(smoke)
    assert smoke["status"] == "ok" and smoke["error"] is None and smoke["mode"] == "cpu-smoke"
    dev = smoke["device"]
    assert dev["type"] == "cpu" and dev["name"] and dev["torch"] and "cuda" in dev
    assert smoke["dtype"] == "torch.float32"
    assert smoke["sizes"]["generator"] == "tiny" and smoke["sizes"]["cpu_smoke"] is True
    assert smoke["record"]["torch"] == dev["torch"]
    assert "estimate" in smoke["mfu_note"]


def test_stage_times_rates_and_memory(smoke):
    st = smoke["stages"]
    assert tuple(st) == STAGES
    for name in STAGES:
        assert st[name]["seconds"] > 0, name
    assert 0 < sum(st[n]["seconds"] for n in STAGES) <= smoke["total_seconds"]
    for name in RATED:
        assert st[name]["tokens"] > 0 and st[name]["flops"] > 0, name
        assert smoke["tokens_per_s"][name] == st[name]["tokens_per_s"] > 0, name
        assert smoke["mfu"][name] is None, name                       # no datasheet peak for a CPU
    assert smoke["peak_memory"]["cuda_max_allocated_bytes"] is None
    assert smoke["peak_memory"]["host_max_rss_bytes"] > 10 * 2**20


def test_flops_follow_the_positions_counted(smoke):
    "2 x params per position forward, twice that where a backward follows (MFU_NOTE): the counts agree."
    ld, p1, ev = (smoke["stages"][n] for n in ("load", "phase1a", "evaluation"))
    body, head = ld["body_params"], ld["head_params"]
    assert 0 < body < ld["params"] and head == ld["vocab"] * ld["d"]
    p1_rows = p1["head_rows"] + p1["fwd_bwd_head_rows"]
    assert p1["flops"] == pytest.approx(2 * body * (p1["tokens"] + p1["fwd_bwd_tokens"]) + 2 * head * p1_rows)
    assert 0 < p1["fwd_bwd_head_rows"] < p1["head_rows"] <= p1["tokens"]
    assert 2 * (body * ev["tokens"] + head * ev["head_rows"]) <= ev["flops"]   # oracle_gold_distill: backwards too
    assert ev["flops"] <= 4 * (body * ev["tokens"] + head * ev["head_rows"])


def test_phase1a_made_targets(smoke):
    p1, sz = smoke["stages"]["phase1a"], smoke["sizes"]
    assert p1["items"] == sz["n_pairs"] and p1["rows"] == sz["n_pairs"] * sz["restarts"]
    assert p1["content_shape"][:3] == [sz["n_pairs"], sz["restarts"], sz["K"]] and p1["content_finite"]
    assert 0 < p1["mean_steps"] <= sz["p1_steps"]
    assert p1["generate_calls"] == sz["n_pairs"] and p1["generate_seconds"] > 0   # one greedy check per item
    assert 0 < p1["fwd_bwd_tokens"] < p1["tokens"] and p1["fwd_bwd_tokens_per_s"] > 0
    assert 0 < p1["outside_generation_seconds"] < p1["seconds"] and p1["fwd_bwd_mfu"] is None


def test_diffuser_trained_and_its_loss_fell(smoke):
    d, sz = smoke["stages"]["diffuser"], smoke["sizes"]
    assert d["steps"] == sz["diff_steps"] and d["params"] > 0
    assert d["train_items"] + d["held_items"] == sz["n_pairs"] and d["held_items"] == sz["eval_items"]
    assert math.isfinite(d["loss_first"]) and d["loss_last"] < d["loss_first"] and d["loss_decreased"]


def test_evaluation_scored_every_method_on_every_item(smoke):
    ev, sz = smoke["stages"]["evaluation"], smoke["sizes"]
    assert ev["n"] == sz["eval_items"]
    assert list(ev["methods"]) == sz["methods"] and "diffuser" in ev["methods"]
    for m, r in ev["methods"].items():
        assert r["n"] == sz["eval_items"] and r["seconds"] > 0 and 0 <= r["match"] <= 1, m
    assert ev["tokens"] == sum(r["tokens"] for r in ev["methods"].values())


def test_peer_ratio_and_bookkeeping_share(smoke):
    pr, bk = smoke["stages"]["peer"], smoke["stages"]["bookkeeping"]
    assert pr["texts"] == smoke["sizes"]["peer_texts"]
    assert pr["lab"]["seconds_per_item"] > 0 and pr["peer"]["seconds_per_item"] > 0
    per_item = pr["peer"]["seconds_per_item"] / pr["lab"]["seconds_per_item"]
    assert smoke["peer_ratio"] == pytest.approx(per_item)
    assert len(pr["peer"]["steps"]) == pr["texts"]
    assert all(0 < s <= pr["max_steps"] for s in pr["peer"]["steps"])
    assert smoke["bookkeeping_share"] == bk["bookkeeping_share"] and 0 < bk["bookkeeping_share"] < 1
    assert bk["steps_timed"] == smoke["sizes"]["bk_n"] and bk["rows"] == smoke["sizes"]["bk_rows"]


def test_a_bad_parameter_is_refused_by_the_command(tmp_path):
    out = tmp_path/"x.json"
    r = run_script("--cpu-smoke", "--n-pairs", "0", "--out", str(out), timeout=120)
    assert r.returncode == 2 and "--n-pairs" in r.stderr and "integer" in r.stderr, r.stderr
    assert not out.exists()


@pytest.mark.parametrize("args, names", [
    (["--eval-items", "6", "--n-pairs", "6"], "--eval-items"),
    (["--n-pairs", "100000"], "--n-pairs"),
    (["--methods", "full_context,telepathy"], "--methods"),
    (["--diff-width", "30"], "--diff-width"),                   # not a multiple of the 4 heads
    (["--init", "nonsense"], "--init"),
    (["--diff-lr", "nan"], "--diff-lr"),
    (["--device", "cuda"], "--device"),                         # the smoke path is the CPU's
    (["--out", "check.txt"], "--out"),
])
def test_bad_parameters_are_refused_before_anything_runs(gpu_check, tmp_path, capsys, args, names):
    out = tmp_path/"x.json"
    argv = ["--cpu-smoke", "--out", str(out), *args]
    with pytest.raises(SystemExit) as e:
        gpu_check.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert names in err, err
    assert not out.exists() and not (tmp_path/"check.txt").exists()


def test_no_cuda_means_no_full_size_run(gpu_check, tmp_path, capsys):
    "Without a GPU the full-size defaults are refused with what to do, instead of hours on a CPU."
    if gpu_check.torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit):
        gpu_check.main(["--out", str(tmp_path/"x.json")])
    assert "--cpu-smoke" in capsys.readouterr().err
