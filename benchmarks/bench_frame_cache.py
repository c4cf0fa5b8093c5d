"""The answer frame's start read from cached keys and values (`Generator.head_kv`) against the frame
recomputed in every forward — ratios from one run, for the question-beside training step, the evaluation's
reading and the distillation teacher.

    .venv/bin/python benchmarks/bench_frame_cache.py [--rows 8] [--K 4] [--repeats 5] [--eval-n 32] \
        [--device auto]

One step is what `diffusion.generator_loss` does for the beside reading: [frame start ; A_mode ; K content
slots ; the question ; frame end] → the Generator's answer loss, forward and backward into the content. Both
paths give the same loss (printed) and gradient; the frame is SmolLM2's answer frame with the lab's few-shot
turns.
The evaluation part scores and greedily answers --eval-n facts under `full_context` through `score_prefixes`,
with the frame's start split off each batch (`split_head`) and without, and counts the answers that agree.
The teacher part computes the full-context teacher's log-probabilities on the gold answers of the same facts
(`teacher_logprobs`, what distillation targets and the per-item distillation oracle start from), both ways.
"""
import argparse, time, json
import torch
from dcm_lab.generator import load_generator
from dcm_lab.data import load_pairs
from dcm_lab.evaluation import beside_parts, method_prefixes, EvalConfig, teacher_logprobs
from dcm_lab.diffusion import generator_loss
from dcm_lab.phase2 import score_prefixes


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
    ap.add_argument("--eval-n", type=int, default=32)
    a = ap.parse_args()
    gen = load_generator("smollm2", device=a.device); dev = gen.device
    pairs = load_pairs("facts", limit=a.rows, shuffle=True, seed=0)
    parts = [beside_parts(gen, p) for p in pairs]          # (frame start, question, frame end) per row
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
    out.update(_evaluation(gen, a.eval_n))
    out.update(_teacher(gen, a.eval_n))
    print(json.dumps(out, indent=1))


def _evaluation(gen, n: int) -> dict:
    "full_context on n facts through score_prefixes, the frame's start split off each batch and not."
    pairs = load_pairs("facts", limit=n, shuffle=True, seed=1)
    pre, _ = method_prefixes(gen, pairs, EvalConfig(method="full_context"))
    golds = [p.answer for p in pairs]
    score_prefixes(gen, pre[:2], golds[:2], 4)                       # warm-up
    t0 = time.perf_counter(); full = score_prefixes(gen, pre, golds, min_head=10**9)
    t1 = time.perf_counter(); head = score_prefixes(gen, pre, golds)
    t2 = time.perf_counter()
    dl = max(abs(a - b) for a, b in zip(full["loss"], head["loss"]))
    return dict(eval_items=n, eval_seconds_recomputed=round(t1 - t0, 3),
                eval_seconds_cached=round(t2 - t1, 3),
                eval_speedup=round((t1 - t0) / (t2 - t1), 2), eval_answers_equal=sum(
                    a == b for a, b in zip(full["pred"], head["pred"])), eval_max_loss_difference=dl)


@torch.no_grad()
def _teacher(gen, n: int) -> dict:
    "The distillation teacher's log-probabilities on n facts' gold answers, cached frame start and not."
    pairs = load_pairs("facts", limit=n, shuffle=True, seed=1)
    teacher_logprobs(gen, pairs[:2])                                   # warm-up
    t0 = time.perf_counter(); full = teacher_logprobs(gen, pairs, cache_head=False)
    t1 = time.perf_counter(); head = teacher_logprobs(gen, pairs)
    t2 = time.perf_counter()
    return dict(teacher_seconds_recomputed=round(t1 - t0, 3), teacher_seconds_cached=round(t2 - t1, 3),
                teacher_speedup=round((t1 - t0) / (t2 - t1), 2),
                teacher_max_logprob_difference=float((full - head).abs().max()))


if __name__ == "__main__":
    main()
