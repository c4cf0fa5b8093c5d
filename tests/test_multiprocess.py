"""Phase 1a and the Diffuser's training in 2 CPU processes (gloo) through `accelerate launch`, as on N GPUs.
Phase 1a: a 2-process run is killed (one worker, SIGKILL) after that worker's first shard, then resumed by a
second launch; the store must then hold exactly the ids of a 1-process run, each once, with the same contents.
The Diffuser: a few steps in 2 processes; both agree on the weights and the checkpoint's loss is finite."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import psutil, pytest, torch
from dataclasses import asdict
from accelerate import PartialState
from dcm_lab.targets import notebook_config
from dcm_lab.store import phase1a_main, load_targets, TargetStore
from dcm_lab.diffusion import load_diffuser, checkpoint_record

ROOT = Path(__file__).resolve().parent.parent
PHASE1A = ["--generator", "tiny", "--dataset", "facts", "--n-pairs", "8", "--shard-size", "1", "--cpu",
           "--quiet", "-p", "K=2", "-p", "restarts=1", "-p", "max_steps=30", "-p", "patience=30",
           "-p", "lr=0.05", "-p", "batch_rows=1"]

def launch_cmd(script, *args, n=2):
    """`accelerate launch` of N CPU processes: --multi_gpu picks torch.distributed.run, which Accelerate turns
    into gloo on CPU."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
            "0", str(script), *map(str, args)]

def env():
    return dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
                TOKENIZERS_PARALLELISM="false")

def workers(launcher: psutil.Process) -> dict:
    "rank → worker process, among the launcher's descendants."
    out = {}
    for p in launcher.children(recursive=True):
        try:
            e = p.environ()
            if "RANK" in e and "phase1a" in " ".join(p.cmdline()): out[int(e["RANK"])] = p
        except psutil.Error: pass
    return out

def test_phase1a_two_processes_killed_and_resumed(tmp_path):
    try:
        # one process, no launcher
        ref = load_targets(phase1a_main([*PHASE1A, "--out", str(tmp_path/"one")]))
    finally:
        # leave no CPU state to later tests
        PartialState._reset_state()
    # the notebooks' builder
    want = notebook_config(K=2, restarts=1, max_steps=30, patience=30, lr=0.05, batch_rows=1)
    assert ref.meta["config"] == json.loads(json.dumps(asdict(want)))
    store = tmp_path/"two"
    t0 = time.time()
    proc = subprocess.Popen(launch_cmd(ROOT/"scripts"/"phase1a.py", *PHASE1A, "--out", store),
                            env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    launcher, killed = psutil.Process(proc.pid), None
    try:
        while proc.poll() is None and time.time() - t0 < 120:
            # rank 1 committed a shard: kill it
            if list(store.glob("shard-r001-*.json")):
                w = workers(launcher)
                if 1 in w:
                    killed = w[1]
                    killed.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.02)
        out = proc.communicate(timeout=120)[0].decode()
    finally:
        for p in workers(launcher).values() if proc.poll() is None else []: p.kill()
        if proc.poll() is None: proc.kill()
    assert killed is not None, f"the run ended before rank 1 could be killed:\n{out[-2000:]}"
    # the launcher saw the kill
    assert proc.returncode != 0
    part = TargetStore(store).done_ids()
    assert 0 < len(part) < len(ref.ids), (f"killed run left {len(part)} of {len(ref.ids)} items: "
                                          "not a partial store")
    t_kill = time.time() - t0
    t1 = time.time()
    r = subprocess.run(launch_cmd(ROOT/"scripts"/"phase1a.py", *PHASE1A, "--out", store), env=env(), cwd=ROOT,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "by 2 process(es)" in r.stdout
    two = load_targets(store)
    # all, once, in the pairs' order
    assert two.ids == ref.ids
    # the resume released the lock
    assert not (store/"lock").exists()
    # both processes wrote shards
    assert {int(p.name[7:10]) for p in store.glob("shard-r*.json")} == {0, 1}
    assert torch.allclose(two.content, ref.content, atol=1e-4), (two.content - ref.content).abs().max()
    print(f"killed 2-process run {t_kill:.1f}s ({len(part)}/{len(ref.ids)} items stored), resume "
          f"{time.time() - t1:.1f}s")

DIFFUSER_SCRIPT = textwrap.dedent('''
    import json, sys, torch
    from pathlib import Path
    from accelerate import PartialState
    from dcm_lab.diffusion import DiffusionData, DiffuserConfig, TrainConfig, Normalizer, train_diffuser
    from dcm_lab.diffusion import load_diffuser
    out = Path(sys.argv[1])
    g = torch.Generator().manual_seed(0)
    data = DiffusionData(torch.randn(8, 5, 6, generator=g), torch.ones(8, 5, dtype=torch.bool),
                         torch.randn(8, 2, 8, generator=g), torch.ones(8), list("abcdefgh"))
    dcfg = DiffuserConfig(K=2, d=8, cond_dim=6, width=32, depth=1, heads=2, max_cond_len=8)
    model, ema, losses = train_diffuser(data, dcfg,
                                        TrainConfig(steps=6, batch_size=4, lr=1e-3, warmup=2, ckpt_every=3),
                                        Normalizer(torch.zeros(8), 1.0), ckpt_dir=out/"ckpt", progress=False)
    st = PartialState()
    wsum = sum(p.double().sum().item() for p in model.parameters())
    rec = dict(world=st.num_processes, backend=st.backend, wsum=wsum, losses=losses)
    (out/f"rank{st.process_index}.json").write_text(json.dumps(rec))
''')

def test_train_diffuser_two_processes(tmp_path):
    script = tmp_path/"train.py"
    script.write_text(DIFFUSER_SCRIPT)
    t0 = time.time()
    r = subprocess.run(launch_cmd(script, tmp_path), env=env(), cwd=ROOT, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    ranks = [json.loads((tmp_path/f"rank{i}.json").read_text()) for i in range(2)]
    assert all(x["world"] == 2 and x["backend"] == "gloo" for x in ranks)
    # DDP kept the replicas equal
    assert ranks[0]["wsum"] == pytest.approx(ranks[1]["wsum"], rel=1e-6)
    assert len(ranks[0]["losses"]) == 6 and all(map(lambda v: v == v and abs(v) < 1e6, ranks[0]["losses"]))
    # each process drew its own batches
    assert ranks[0]["losses"] != ranks[1]["losses"]
    # written once, by the main process
    rec = checkpoint_record(tmp_path/"ckpt")
    assert rec["step"] == 6 and rec["last_loss"] == ranks[0]["losses"][-1]
    net, _ = load_diffuser(tmp_path/"ckpt")
    assert all(torch.isfinite(p).all() for p in net.parameters())
    print(f"2-process Diffuser training {time.time() - t0:.1f}s")
