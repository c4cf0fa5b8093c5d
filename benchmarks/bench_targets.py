"""Phase 1a speed: the batched optimiser against a one-pair-at-a-time loop with the same recipe, same machine, one run.

    .venv/bin/python benchmarks/bench_targets.py [--pairs 8] [--steps 100] [--K 4] [--device auto]

Prints pairs converged per minute for both, their ratio, target tokens/s, and (on CUDA) an MFU estimate.
The loop baseline runs the same optimiser with batch_rows=1: one pair at a time, its Q and A in one forward
(as a per-example script would), with the model loaded once.
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
    return dt, conv, steps

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=8); ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--K", type=int, default=4); ap.add_argument("--device", default="auto"); ap.add_argument("--generator", default="smollm2")
    ap.add_argument("--batch-rows", type=int, default=None, help="rows per forward (default: all pairs; fewer keeps a waiting queue)")
    ap.add_argument("--loop-pairs", type=int, default=None, help="pairs for the loop baseline (default: all; fewer keeps CPU runs short)")
    a = ap.parse_args()
    gen = load_generator(a.generator, device=a.device)
    pairs = load_pairs("facts", limit=a.pairs, shuffle=True, seed=0)
    cfg = TargetConfig(K=a.K, restarts=1, max_steps=a.steps, patience=a.steps, batch_rows=a.batch_rows or a.pairs)
    items = [qa_item(p, cfg) for p in pairs]
    tokens_per_row = sum(len(gen.token_ids(s.text)) + a.K + 1 for it in items for s in it.segments) / len(items)
    run(gen, items[:2], dataclasses.replace(cfg, max_steps=3))                     # warm-up (first steps are slow)
    bt, bc, bs = run(gen, items, cfg)
    loop_items = items[:a.loop_pairs or a.pairs]
    lt = lc = ls = 0
    for it in loop_items:
        t, c, s = run(gen, [it], dataclasses.replace(cfg, batch_rows=1)); lt += t; lc += c; ls += s
    b_rate, l_rate = 60 * bc / bt, 60 * lc / lt
    out = dict(device=str(gen.device), dtype=str(gen.dtype), torch_threads=torch.get_num_threads(), pairs=a.pairs, K=a.K, max_steps=a.steps,
               batched=dict(seconds=round(bt, 1), converged=bc, row_steps=bs, pairs_per_min=round(b_rate, 2), tokens_per_s=round(bs * tokens_per_row / bt, 1)),
               loop=dict(pairs=len(loop_items), seconds=round(lt, 1), converged=lc, row_steps=ls, pairs_per_min=round(l_rate, 2), tokens_per_s=round(ls * tokens_per_row / lt, 1)),
               ratio_pairs_per_min=round(b_rate / l_rate, 2) if l_rate else None,
               ratio_tokens_per_s=round((bs / bt) / (ls / lt), 2))
    if gen.device.type == "cuda":
        n_params = sum(p.numel() for p in gen.model.parameters())
        flops = 4 * n_params * bs * tokens_per_row    # forward 2N + input-gradient backward 2N per token (no weight grads)
        out["batched"]["mfu_vs_989TFLOPs"] = round(flops / bt / 989e12, 4)
    print(json.dumps(out, indent=1))
    print(f"pairs converged/min  batched {b_rate:8.2f} | loop {l_rate:8.2f} | ratio {out['ratio_pairs_per_min']}")
    print(f"target tokens/s      batched {out['batched']['tokens_per_s']:8.1f} | loop {out['loop']['tokens_per_s']:8.1f} | ratio {out['ratio_tokens_per_s']}")

if __name__ == "__main__": main()
