"""The question-beside training step with the answer frame's start read from cached keys and values
(`Generator.head_kv`) against the frame recomputed in every forward — ratios from one run.

    .venv/bin/python benchmarks/bench_frame_cache.py [--rows 8] [--K 4] [--repeats 5] [--device auto]

One step is what `diffusion.generator_loss` does for the beside reading: [frame start ; A_mode ; K content slots ;
the question ; frame end] → the Generator's answer loss, forward and backward into the content. Both paths give
the same loss (printed) and gradient; the frame is SmolLM2's answer frame with the lab's few-shot turns.
"""
import argparse, time, json
import torch
from dcm_lab.generator import load_generator
from dcm_lab.data import load_pairs
from dcm_lab.evaluation import beside_parts
from dcm_lab.diffusion import generator_loss


def timed(fn, dev, repeats: int) -> tuple[float, torch.Tensor]:
    "Median seconds of `repeats` calls of fn (after one warm-up) and the last result."
    out, ts = fn(), []
    for _ in range(repeats):
        if dev.type == "cuda": torch.cuda.synchronize()
        t = time.perf_counter(); out = fn()
        if dev.type == "cuda": torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2], out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=8); ap.add_argument("--K", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5); ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    gen = load_generator("smollm2", device=a.device); dev = gen.device
    pairs = load_pairs("facts", limit=a.rows, shuffle=True, seed=0)
    parts = [beside_parts(gen, p) for p in pairs]                   # (frame start, question, frame end) per row
    before = gen.pad([b for b, _, _ in parts]); after = gen.pad([q + e for _, q, e in parts])
    ids, mask = gen.pad([gen.token_ids(p.answer) for p in pairs])
    content = (torch.randn(a.rows, a.K, gen.d, device=dev) * gen.E.float().std()).requires_grad_()

    def step(cached: bool):
        content.grad = None
        if cached: loss = generator_loss(gen, content, ids, mask, "A", (*before, *after))
        else:      # the path before head_kv: every row's whole frame in its prefix, recomputed each forward
            stm = gen.stm(gen.mode_embedding("A"), content)
            pre, pm = gen.around(stm, *before, *after)
            loss = gen.target_loss(pre, ids.to(dev), mask.to(dev), prefix_mask=pm)["loss"].float()
        loss.sum().backward()
        return loss.detach()

    t_full, l_full = timed(lambda: step(False), dev, a.repeats)
    t_head, l_head = timed(lambda: step(True), dev, a.repeats)
    frame = int(before[1].sum(1).min())
    out = dict(device=str(dev), dtype=str(gen.dtype), rows=a.rows, K=a.K, frame_start_tokens=frame,
               after_tokens=int(after[1].sum(1).max()), seconds_recomputed=round(t_full, 4),
               seconds_cached=round(t_head, 4), speedup=round(t_full / t_head, 2),
               max_loss_difference=float((l_full - l_head).abs().max()))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
