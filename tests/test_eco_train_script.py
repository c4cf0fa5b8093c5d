"""`scripts/train_diffuser.py` under `accelerate launch` with 2 CPU processes (gloo), as on 2 GPUs: a target
store in, one checkpoint out, both ranks' losses gathered into it, the effective batch (2 × batch_size)
recorded, TensorBoard events written once."""
import os, subprocess, sys, time
from pathlib import Path
import pytest, torch

ROOT = Path(__file__).resolve().parent.parent

def launch(script, *args, n=2):
    "`accelerate launch` of N CPU processes (--multi_gpu: torch.distributed.run, gloo on CPU)."
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", "0", str(script), *map(str, args)]

@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from dcm_lab.generator import load_generator
    from dcm_lab.data import QAPair
    from dcm_lab.targets import TargetConfig
    from dcm_lab.store import generate_targets
    gen = load_generator("tiny", device="cpu")
    answers = ["red", "blue", "green", "pink", "grey", "gold"]
    pairs = [QAPair(f"s{i}", f"colour {i}?", a) for i, a in enumerate(answers)]
    out = tmp_path_factory.mktemp("eco")/"store"
    generate_targets(gen, pairs, TargetConfig(K=2, restarts=1, max_steps=2, patience=2), out, progress=False)
    return out

def test_train_diffuser_script_two_processes(store, tmp_path):
    from dcm_lab.diffusion import checkpoint_record, load_diffuser
    ck = tmp_path/"ck"
    params = ("steps=4", "batch_size=2", "width=32", "depth=1", "heads=2", "warmup=1")
    args = ["--targets", store, "--out", ck, "--generator", "tiny", "--cpu", "--quiet", "--held-out", "0.34",
            *[x for p in params for x in ("-p", p)]]
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    t0 = time.time()
    r = subprocess.run(launch(ROOT/"scripts"/"train_diffuser.py", *args), env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    said = "train_diffuser: 4 items (2 held out) × 4 steps by 2 process(es), effective batch 4"
    assert r.stdout.count(said) == 1                                              # the main process only
    rec = checkpoint_record(ck)                                                   # one checkpoint, verified
    assert rec["step"] == 4 and rec["run"]["num_processes"] == 2 and rec["run"]["effective_batch"] == 4
    st = torch.load(ck/rec["files"]["state"], weights_only=True)
    assert len(st["rank_losses"]) == 4                                            # every step…
    assert all(len(x) == 2 for x in st["rank_losses"])                            # …both ranks' losses
    assert st["rank_losses"][-1] == rec["run"]["last_rank_losses"]
    assert st["losses"] == [x[0] for x in st["rank_losses"]]                      # rank 0's column is its own
    assert any(a != b for a, b in st["rank_losses"])                              # each rank drew its batches
    assert len([p for p in ck.iterdir() if p.name.startswith("config")]) == 1
    assert len(list((ck/"tensorboard").glob("events.out.tfevents.*"))) == 1       # logged once, by rank 0
    net, norm = load_diffuser(ck)
    assert net.cfg.K == 2 and all(torch.isfinite(p).all() for p in net.parameters())
    print(f"2-process scripts/train_diffuser.py {time.time() - t0:.1f}s")
