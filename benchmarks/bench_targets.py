"""Phase 1a speed: the batched optimiser against a one-pair-at-a-time loop with the same recipe, same machine, one run.

    .venv/bin/python benchmarks/bench_targets.py [--pairs 8] [--steps 100] [--K 4] [--device auto] [--padding]

Prints pairs converged per minute for both, their ratio, target tokens/s, and (on CUDA) an MFU estimate.
The loop baseline runs the same optimiser with batch_rows=1: one pair at a time, its Q and A in one forward
(packed into one sequence, as the batched path packs), with the model loaded once. `--padding` also times both paths
with padding instead of packing, to show what packing alone is worth; the ratio is then also given against the faster
of the two loops, so the loop always gets its best recipe.
"""
import argparse, time, json, dataclasses
import torch
from dcm_lab.generator import load_generator
from dcm_lab.data import load_pairs
from dcm_lab.targets import TargetConfig, TargetOptimizer, qa_item

def run(gen, items, cfg):
    if gen.device.type == "cuda": torch.cuda.synchronize()
    t0 = time.perf_counter()
    opt = TargetOptimizer(gen, cfg)
    res = opt.run(items, progress=False)
    if gen.device.type == "cuda": torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    conv = sum(any(r.converged for r in rs) for rs in res)
    steps = sum(r.steps for rs in res for r in rs)
    return dict(seconds=dt, converged=conv, row_steps=steps)

def loop(gen, items, cfg):
    "One pair at a time, each in its own optimiser run."
    tot = dict(seconds=0.0, converged=0, row_steps=0)
    for it in items:
        for k, v in run(gen, [it], dataclasses.replace(cfg, batch_rows=1)).items(): tot[k] += v
    return tot

def summary(r, targets_per_row, n_pairs=None):
    out = dict(seconds=round(r["seconds"], 1), converged=r["converged"], row_steps=r["row_steps"],
               pairs_per_min=round(60 * r["converged"] / r["seconds"], 2), tokens_per_s=round(r["row_steps"] * targets_per_row / r["seconds"], 1))
    return dict(pairs=n_pairs, **out) if n_pairs else out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=8); ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--K", type=int, default=4); ap.add_argument("--device", default="auto"); ap.add_argument("--generator", default="smollm2")
    ap.add_argument("--batch-rows", type=int, default=None, help="rows per forward (default: all pairs; fewer keeps a waiting queue)")
    ap.add_argument("--loop-pairs", type=int, default=None, help="pairs for the loop baseline (default: all; fewer keeps CPU runs short)")
    ap.add_argument("--pack", type=int, default=TargetConfig.pack, help="positions per packed sequence (0: pad)")
    ap.add_argument("--padding", action="store_true", help="also time both paths with padding (pack=0)")
    a = ap.parse_args()
    gen = load_generator(a.generator, device=a.device)
    pairs = load_pairs("facts", limit=a.pairs, shuffle=True, seed=0)
    cfg = TargetConfig(K=a.K, restarts=1, max_steps=a.steps, patience=a.steps, batch_rows=a.batch_rows or a.pairs, pack=a.pack)
    items = [qa_item(p, cfg) for p in pairs]
    targets_per_row = sum(len(gen.token_ids(s.text)) for it in items for s in it.segments) / len(items)   # target tokens (Q + A)
    positions_per_row = targets_per_row + a.K * sum(len(it.segments) for it in items) / len(items)  # [mode; K slots; targets but the last]
    run(gen, items[:2], dataclasses.replace(cfg, max_steps=3))                     # warm-up (first steps are slow)
    loop_items = items[:a.loop_pairs or a.pairs]
    b, l = run(gen, items, cfg), loop(gen, loop_items, cfg)
    rate = lambda r: r["converged"] / r["seconds"]
    speed = lambda r: r["row_steps"] / r["seconds"]
    out = dict(device=str(gen.device), dtype=str(gen.dtype), torch_threads=torch.get_num_threads(), pairs=a.pairs, K=a.K, max_steps=a.steps, pack=a.pack,
               batched=summary(b, targets_per_row), loop=summary(l, targets_per_row, len(loop_items)),
               ratio_pairs_per_min=round(rate(b) / rate(l), 2) if rate(l) else None, ratio_tokens_per_s=round(speed(b) / speed(l), 2))
    if a.padding:
        pb, pl = run(gen, items, dataclasses.replace(cfg, pack=0)), loop(gen, loop_items, dataclasses.replace(cfg, pack=0))
        out["batched_padded"], out["loop_padded"] = summary(pb, targets_per_row), summary(pl, targets_per_row, len(loop_items))
        out["packing_speedup_per_row_step"] = dict(batched=round(speed(b) / speed(pb), 2), loop=round(speed(l) / speed(pl), 2))
        best = max(rate(l), rate(pl))
        out["ratio_pairs_per_min_vs_best_loop"] = round(rate(b) / best, 2) if best else None
    if gen.device.type == "cuda":
        n_body = sum(p.numel() for p in gen.base.parameters()) - gen.E.numel()             # the embedding table is a lookup
        # forward 2N + input-gradient backward 2N per position (no weight grads); the head runs at target positions only
        flops = 4 * b["row_steps"] * (n_body * positions_per_row + gen.E.numel() * targets_per_row)
        out["batched"]["mfu_vs_989TFLOPs"] = round(flops / b["seconds"] / 989e12, 4)
    print(json.dumps(out, indent=1))
    print(f"pairs converged/min  batched {60 * rate(b):8.2f} | loop {60 * rate(l):8.2f} | ratio {out['ratio_pairs_per_min']}")
    print(f"target tokens/s      batched {out['batched']['tokens_per_s']:8.1f} | loop {out['loop']['tokens_per_s']:8.1f} | ratio {out['ratio_tokens_per_s']}")
    if a.padding:
        print(f"packing vs padding   row-steps/s: batched ×{out['packing_speedup_per_row_step']['batched']} | loop ×{out['packing_speedup_per_row_step']['loop']}")
        print(f"pairs converged/min  batched {60 * rate(b):8.2f} | best loop {60 * best:8.2f} | ratio {out['ratio_pairs_per_min_vs_best_loop']}")

if __name__ == "__main__": main()
