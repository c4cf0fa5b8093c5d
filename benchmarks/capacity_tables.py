"""The published capacity/horizon tables beside the lab's optimiser on SmolLM2-135M (issue #13 §"The published tables").

Progressive Cramming's SmolLM2-135M row (64-token texts, one vector: full cramming ≈ 0.992 TF accuracy after ≈ 2,614
steps with ≈ 0 greedy; progressive horizon 29 greedy-exact tokens) and Cramming's capacity over K, on SQuAD dev passages
from the bigbench archive, with Progressive Cramming's recipe (AdamW lr 0.1, betas 0.9/0.9, cosine with warmup, init
N(0, 0.02)). Writes <out>/capacity-tables.json (config, both tables, every row) and prints the tables.

    python benchmarks/capacity_tables.py --texts 2 --full-steps 300 --prog-steps 300 --out benchmarks/results/capacity-cpu
"""
import argparse, dataclasses, datetime, json, platform, sys, time
from pathlib import Path
import pandas as pd, torch
from dcm_lab.generator import load_generator
from dcm_lab.targets import TargetConfig
from dcm_lab.diagnostics import squad_passages, prefix_text, capacity_run, horizon_table, capacity_table, PUBLISHED
from dcm_lab.core import atomic_write_json, nan_to_none

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--texts", type=int, default=2, help="SQuAD passages per point (the papers: 50)")
ap.add_argument("--tokens", type=int, default=64, help="tokens per passage (Progressive Cramming's row: 64)")
ap.add_argument("--Ks", default="1,2,4,8", help="K values of the capacity table (progressive)")
ap.add_argument("--full-steps", type=int, default=300, help="step cap of full cramming (K=1)")
ap.add_argument("--prog-steps", type=int, default=300, help="step cap of each progressive row")
ap.add_argument("--grow", type=int, default=1, help="tokens the horizon grows per advance")
ap.add_argument("--warmup", type=int, default=100, help="cosine warmup steps (Progressive Cramming: 100)")
ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
ap.add_argument("--device", default="cpu")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--out", default="reports/capacity-cpu")
a = ap.parse_args()
if a.threads: torch.set_num_threads(a.threads)
gen = load_generator("smollm2", device=a.device)
texts = [prefix_text(gen, t, a.tokens) for t in squad_passages(a.texts, a.tokens, gen, a.seed)]
base = TargetConfig(K=1, restarts=1, lr=0.1, betas=(0.9, 0.9), weight_decay=0.01, schedule="cosine",
                    warmup_steps=min(a.warmup, a.full_steps // 2), max_steps=a.full_steps, patience=a.full_steps,
                    init="randn", init_std=0.02, q_weight=0.0, seed=a.seed)
prog = dataclasses.replace(base, progressive=a.grow, max_steps=a.prog_steps, patience=a.prog_steps,
                           warmup_steps=min(a.warmup, a.prog_steps // 2))
t0 = time.time(); full = capacity_run(gen, texts, [1], base); t_full = time.time() - t0
t0 = time.time(); pr = capacity_run(gen, texts, [int(k) for k in a.Ks.split(",")], prog); t_prog = time.time() - t0
ht, ct = horizon_table(full, pr[pr.K == 1]), capacity_table(pr)
pd.set_option("display.width", 200)
print(f"SmolLM2-135M, {a.texts} SQuAD dev passages × {a.tokens} tokens, device {a.device}, {torch.get_num_threads()} threads; "
      f"full {t_full:.0f}s, progressive {t_prog:.0f}s")
print(ht.to_string(index=False)); print(ct.to_string(index=False))
print(pd.concat([full.assign(mode="full"), pr.assign(mode="progressive")]).drop(columns=["seconds_per_K"]).to_string(index=False))
out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
atomic_write_json(out/"capacity-tables.json", nan_to_none(dict(
    command="python " + " ".join(sys.argv), machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads, {a.device}",
    date=datetime.date.today().isoformat(), args=vars(a), full_config=dataclasses.asdict(base), progressive_config=dataclasses.asdict(prog), published=PUBLISHED,
    seconds=dict(full=t_full, progressive=t_prog), texts=texts, horizon_table=ht.to_dict("records"),
    capacity_table=ct.to_dict("records"), rows=pd.concat([full.assign(mode="full"), pr.assign(mode="progressive")]).to_dict("records"))))
print("wrote", out/"capacity-tables.json")
