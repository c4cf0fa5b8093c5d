"""Phase 1a speed: the batched optimiser against a one-pair-at-a-time loop with the same recipe, same machine, one run.

    .venv/bin/python benchmarks/bench_targets.py [--pairs 8] [--steps 100] [--K 4] [--device auto] [--padding]
    .venv/bin/python benchmarks/bench_targets.py --bookkeeping [--rows 1024] [--generator tiny]
    .venv/bin/python benchmarks/bench_targets.py --peer [--texts 4] [--steps 300] [--K 1]

Prints pairs converged per minute for both, their ratio, target tokens/s, and (on CUDA) an MFU estimate.
`--bookkeeping`: the optimiser's time per step outside the model's forward and backward, at `--rows` rows.
`--peer`: the per-sample loop of the Cramming paper's public code against the batched optimiser, one criterion.
The loop baseline runs the same optimiser with batch_rows=1: one pair at a time, its Q and A in one forward
(packed into one sequence, as the batched path packs), with the model loaded once. `--padding` also times both paths
with padding instead of packing, to show what packing alone is worth; the ratio is then also given against the faster
of the two loops, so the loop always gets its best recipe.
"""
import argparse, time, json, dataclasses, math
import torch, torch.nn.functional as F
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

class _Enough(Exception): "Raised by the timer once enough steps are measured."

def bookkeeping(a):
    """Time per optimiser step outside the model: each step's period (from one `target_loss` call to the next) minus
    the model's forward (the `target_loss` call) and backward (from the gradient of its loss to the gradient of its
    prefix, timed by tensor hooks). Steps [warm, warm + n) of one run; rows halt and are refilled during it."""
    gen = load_generator(a.generator, device=a.device)
    sync = (lambda: torch.cuda.synchronize()) if gen.device.type == "cuda" else (lambda: None)
    pairs = load_pairs("facts")
    restarts = -(-2 * a.rows // len(pairs))                                   # twice the pool's rows: a queue waits
    cfg = TargetConfig(K=a.K, restarts=restarts, lr=0.05, max_steps=a.steps, patience=a.steps, batch_rows=a.rows)
    items = [qa_item(p, cfg) for p in pairs]
    starts, fwd, bwd = [], [], []
    inner = gen.target_loss
    def timed(prefix, ids, mask, pack=0):
        sync(); t0 = time.perf_counter(); starts.append(t0)
        if len(starts) > a.warm + a.n: raise _Enough()
        o = inner(prefix, ids, mask, pack)
        sync(); fwd.append(time.perf_counter() - t0)
        mark = {}
        def at_loss(g): sync(); mark["t"] = time.perf_counter()
        def at_prefix(g): sync(); bwd.append(time.perf_counter() - mark["t"])
        o["loss"].register_hook(at_loss); prefix.register_hook(at_prefix)
        return o
    gen.target_loss = timed
    try: TargetOptimizer(gen, cfg).run(items, progress=False)
    except _Enough: pass
    finally: del gen.target_loss
    w, n = a.warm, len(starts) - 1 - a.warm
    period = (starts[-1] - starts[w]) / n
    model = (sum(fwd[w:w + n]) + sum(bwd[w:w + n])) / n
    per_step = sorted(starts[k + 1] - starts[k] - fwd[k] - bwd[k] for k in range(w, w + n))   # halts and refills land on few steps
    out = dict(device=str(gen.device), generator=a.generator, rows=a.rows, K=a.K, steps_timed=n, warm_up_steps=w,
               step_ms=round(1e3 * period, 1), model_fwd_bwd_ms=round(1e3 * model, 1),
               bookkeeping_ms=round(1e3 * (period - model), 1), bookkeeping_share=round((period - model) / period, 3),
               bookkeeping_median_ms=round(1e3 * per_step[n // 2], 1), bookkeeping_max_ms=round(1e3 * per_step[-1], 1))
    print(json.dumps(out, indent=1))
    print(f"bookkeeping per step at {a.rows} rows: {out['bookkeeping_ms']} ms of {out['step_ms']} ms ({100 * out['bookkeeping_share']:.1f}%)")

def peer_one(folder, ids, K, max_steps, seed, patience=2000):
    """One sample as the Cramming code (hidden_capacity, run_single_experiment) does it, written from its description:
    the model loaded from disk for this sample, batch 1, logits at every position and hidden states returned, AdamW
    lr 1e-2 betas (0.9, 0.9) wd 0.01, init randn·std(E); the first text token is fed after the vectors and the rest
    is scored; stop at teacher-forced accuracy 1.0 (or `patience` steps without a better loss), keep the best."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval(); model.requires_grad_(False)
    E = model.get_input_embeddings().weight
    g = torch.Generator().manual_seed(seed)
    mem = (torch.randn(1, K, E.shape[1], generator=g) * E.std()).requires_grad_(True)
    opt = torch.optim.AdamW([mem], lr=1e-2, betas=(0.9, 0.9), weight_decay=0.01)
    x = torch.tensor([ids]); tgt = x[0, 1:]
    best, since = math.inf, 0
    for step in range(max_steps):
        out = model(inputs_embeds=torch.cat([mem, E[x]], 1), output_hidden_states=True)   # (1, K+n, V) every position
        logits = out.logits[0, K:-1]                                             # predicts tokens 2..n
        loss = F.cross_entropy(logits, tgt)
        acc = (logits.argmax(-1) == tgt).float().mean().item()
        if loss.item() < best: best, since = loss.item(), 0
        else: since += 1
        if acc == 1.0: return True, step + 1
        if since >= patience: break
        opt.zero_grad(); loss.backward(); opt.step()
    return False, max_steps

def peer(a):
    """Texts converged per minute: the peer's per-sample loop against the lab's batched optimiser on the same texts,
    model and criterion (the lab runs with skip_first: the first token is fed after the content, the rest scored)."""
    from dcm_lab.generator import smollm2_dir
    from dcm_lab.targets import Item, Segment
    torch.manual_seed(0)
    t0 = time.perf_counter(); gen = load_generator("smollm2", device="cpu"); t_load = time.perf_counter() - t0
    pairs = load_pairs("facts", shuffle=True, seed=0)
    texts = [p.question for p in pairs if a.min_tokens <= len(gen.token_ids(p.question)) <= a.max_tokens][:a.texts]
    ids = [gen.token_ids(t) for t in texts]
    cfg = TargetConfig(K=a.K, restarts=1, init="randn", lr=1e-2, betas=(0.9, 0.9), weight_decay=0.01,
                       max_steps=a.steps, patience=a.steps, batch_rows=len(texts))
    TargetOptimizer(gen, dataclasses.replace(cfg, max_steps=2)).run([Item("w", (Segment("A", texts[0]),))], progress=False, skip_first=True)   # warm-up
    t0 = time.perf_counter()
    res = TargetOptimizer(gen, cfg).run([Item(f"t{i}", (Segment("A", t),)) for i, t in enumerate(texts)], progress=False, skip_first=True)
    t_lab = time.perf_counter() - t0 + t_load                                   # the lab loads its model once
    lab_conv, lab_steps = sum(r[0].converged for r in res), [r[0].steps for r in res]
    t0 = time.perf_counter()
    pr = [peer_one(str(smollm2_dir()), l, a.K, a.steps, seed=i) for i, l in enumerate(ids)]
    t_peer = time.perf_counter() - t0
    peer_conv = sum(c for c, _ in pr)
    rate = lambda c, t: 60 * c / t
    out = dict(texts=len(texts), tokens=[len(l) for l in ids], K=a.K, max_steps=a.steps, threads=torch.get_num_threads(),
               lab=dict(seconds=round(t_lab, 1), converged=lab_conv, steps=lab_steps, per_min=round(rate(lab_conv, t_lab), 2)),
               peer=dict(seconds=round(t_peer, 1), converged=peer_conv, steps=[s for _, s in pr], per_min=round(rate(peer_conv, t_peer), 2)))
    out["ratio"] = round(out["lab"]["per_min"] / out["peer"]["per_min"], 2) if peer_conv else None
    print(json.dumps(out, indent=1))
    print(f"texts converged/min (first token fed, rest exact)  lab {out['lab']['per_min']:.2f} | peer {out['peer']['per_min']:.2f} | ratio {out['ratio']}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=8); ap.add_argument("--steps", type=int, default=None, help="default 100 (--bookkeeping 40, --peer 300)")
    ap.add_argument("--K", type=int, default=None, help="default 4 (--peer 1)"); ap.add_argument("--device", default="auto")
    ap.add_argument("--generator", default=None, help="default smollm2 (--bookkeeping: tiny)")
    ap.add_argument("--batch-rows", type=int, default=None, help="rows per forward (default: all pairs; fewer keeps a waiting queue)")
    ap.add_argument("--loop-pairs", type=int, default=None, help="pairs for the loop baseline (default: all; fewer keeps CPU runs short)")
    ap.add_argument("--pack", type=int, default=TargetConfig.pack, help="positions per packed sequence (0: pad)")
    ap.add_argument("--padding", action="store_true", help="also time both paths with padding (pack=0)")
    ap.add_argument("--bookkeeping", action="store_true", help="time per step outside the model at --rows rows")
    ap.add_argument("--rows", type=int, default=1024); ap.add_argument("--warm", type=int, default=3); ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--peer", action="store_true", help="the Cramming code's per-sample loop against the batched optimiser")
    ap.add_argument("--texts", type=int, default=4); ap.add_argument("--min-tokens", type=int, default=6); ap.add_argument("--max-tokens", type=int, default=10)
    a = ap.parse_args()
    mode = "bookkeeping" if a.bookkeeping else "peer" if a.peer else "speed"
    a.K = a.K or dict(peer=1).get(mode, 4)
    a.steps = a.steps or dict(bookkeeping=40, peer=300, speed=100)[mode]
    a.generator = a.generator or ("tiny" if mode == "bookkeeping" else "smollm2")
    if a.bookkeeping: return bookkeeping(a)
    if a.peer: return peer(a)
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
