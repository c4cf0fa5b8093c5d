"""Every Phase 1a init, with and without progressive targets, on the same pairs (issue #13 §"Learnable targets").

Per (init, progressive): cost (mean steps), greedy vs teacher-forced exactness, the mean greedy-exact fraction of the
targets, the learnability row (ridge regression from the pooled question embeddings to c*, fitted on the training
pairs, scored on the held-out ones: R², and the Generator's A loss / EM from the predicted content beside c* and the
training mean) and the effective rank. `warm` starts from the ridge prediction fitted on the first init's targets.
Targets are cached by config, so a rerun only scores. Writes <out>/init-tables.json (command, machine, config, table).

    python benchmarks/init_tables.py --pairs 16 --out benchmarks/results/init-cpu
"""
import argparse, dataclasses, datetime, platform, sys, time
from pathlib import Path
import pandas as pd, torch
from dcm_lab.generator import load_generator
from dcm_lab.data import load_pairs
from dcm_lab.targets import notebook_config, INITS
from dcm_lab.diagnostics import init_comparison, learn_split
from dcm_lab.core import atomic_write_json, nan_to_none

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--pairs", type=int, default=16, help="facts pairs (a quarter held out for learnability)")
ap.add_argument("--inits", default=",".join(INITS), help="inits compared, in order (warm needs one before it)")
ap.add_argument("--progressive", default="0,1", help="progressive settings per init (0: whole targets)")
ap.add_argument("--K", type=int, default=4)
ap.add_argument("--restarts", type=int, default=1)
ap.add_argument("--max-steps", type=int, default=60)
ap.add_argument("--lr", type=float, default=1e-2)
ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
ap.add_argument("--device", default="cpu")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--out", default="reports/init-cpu")
a = ap.parse_args()
inits, prog = [x for x in a.inits.split(",") if x], [int(x) for x in a.progressive.split(",") if x]
if bad := [x for x in inits if x not in INITS]: sys.exit(f"--inits: unknown {bad}; choose from {INITS}")
if inits and inits[0] == "warm": sys.exit("--inits: 'warm' starts from another init's targets: list one before it")
if a.threads: torch.set_num_threads(a.threads)
gen = load_generator("smollm2", device=a.device)
pairs = load_pairs("facts", limit=a.pairs, shuffle=True, seed=a.seed)
cfg = notebook_config(a.K, a.restarts, a.max_steps, a.lr, seed=a.seed)
train, held = learn_split([p.id for p in pairs], a.seed)
if len(train) < 2: sys.exit(f"--pairs {a.pairs}: learnability needs ≥ 3 pairs")
t0 = time.time()
table = init_comparison(gen, pairs, cfg, inits, prog, train, held, "facts", progress=True)
sec = time.time() - t0
pd.set_option("display.width", 250)
print(f"SmolLM2-135M, {len(pairs)} facts pairs ({len(train)} fit / {len(held)} held out), K={a.K}, {a.restarts} restart(s), "
      f"≤ {a.max_steps} steps, device {a.device}, {torch.get_num_threads()} threads; {sec:.0f}s")
print(table.to_string(index=False))
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
atomic_write_json(out/"init-tables.json", nan_to_none(dict(
    command="python " + " ".join(sys.argv), machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads, {a.device}",
    date=datetime.date.today().isoformat(), args=vars(a), config=dataclasses.asdict(cfg), seconds=sec,
    ids=[p.id for p in pairs], train=train, held=held, table=table.to_dict("records"))))
print("wrote", out/"init-tables.json")
