"""Issue 25 for the Diffuser's configs and the CLI: mistakes refused at once, naming the parameter or
folder and what to do, never accepted to fail later inside torch, never a traceback from the command line."""
import math, os, subprocess, sys
from pathlib import Path
import pytest, torch
from dcm_lab.diffusion import DiffuserConfig, TrainConfig, DiffusionData, Normalizer, train_diffuser

ROOT = Path(__file__).resolve().parent.parent

@pytest.mark.parametrize("kw, msg", [
    (dict(weight_decay=math.nan), "TrainConfig.weight_decay=nan (float): takes a finite number ≥ 0"),
    (dict(batch_size=2.5),
     "TrainConfig.batch_size=2.5 (float): takes a whole number ≥ 1; pass e.g. TrainConfig(batch_size=64)"),
    (dict(steps=True), "TrainConfig.steps=True (bool)"),
    (dict(lr=-1e-3), "TrainConfig.lr=-0.001"),
    (dict(warmup=1.5), "TrainConfig.warmup=1.5"),
])
def test_train_config_refused_at_construction(kw, msg):
    with pytest.raises(ValueError) as e: TrainConfig(**kw)
    assert msg in str(e.value)

@pytest.mark.parametrize("kw, msg", [
    (dict(K=2.5), "DiffuserConfig.K=2.5 (float): takes a whole number ≥ 1; pass e.g. DiffuserConfig(K=4)"),
    (dict(depth=0), "DiffuserConfig.depth=0 (int)"),
    (dict(cond_dropout=math.inf), "DiffuserConfig.cond_dropout=inf"),
])
def test_diffuser_config_refused_at_construction(kw, msg):
    with pytest.raises(ValueError) as e: DiffuserConfig(**kw)
    assert msg in str(e.value)

def test_diffuser_d_other_than_targets_refused_before_training():
    data = DiffusionData(torch.randn(3, 5, 6), torch.ones(3, 5, dtype=torch.bool), torch.randn(3, 2, 8),
                         torch.ones(3), list("abc"))
    cfg = DiffuserConfig(K=2, d=16, cond_dim=6, width=16, depth=1, heads=2, max_cond_len=8)
    with pytest.raises(ValueError) as e:
        train_diffuser(data, cfg, TrainConfig(steps=1, warmup=0), Normalizer(torch.zeros(16), 1.0),
                       progress=False)
    want = "the targets are (K, d) = (2, 8) but DiffuserConfig has K=2, d=16: build the config from"
    assert want in str(e.value)

def cli(*args):
    "The command line in a fresh process: (exit code, stdout, stderr)."
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    code = "import sys; from dcm_lab.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr

def test_data_fetch_unknown_source_is_one_line():
    rc, out, err = cli("data", "fetch", "nope")
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "unknown source 'nope'" in err
    assert all(s in err for s in ("facts", "squad", "bigbench", "larsdoku"))
    rc, out, _ = cli("data", "list")
    assert rc == 0 and "larsdoku" in out.split()

def test_compare_missing_and_empty_folders(tmp_path):
    rc, out, err = cli("compare", str(tmp_path/"x"), str(tmp_path/"y"))
    assert rc == 2 and "Traceback" not in err, err
    assert f"no run folder at {tmp_path/'x'}, {tmp_path/'y'}" in err, err
    (tmp_path/"a").mkdir()
    (tmp_path/"b").mkdir()
    rc, out, err = cli("compare", str(tmp_path/"a"), str(tmp_path/"b"))
    assert rc == 2 and f"nothing to compare in {tmp_path/'a'}, {tmp_path/'b'}" in err, (rc, out, err)
    assert not list(tmp_path.rglob("*.html"))                                    # nothing written

def test_version():
    rc, out, _ = cli("--version")
    assert rc == 0 and out.startswith("dcm-lab 0.1.0")
