"""Phase 2 speed: Diffuser sampling latency against the number of steps (DDIM and DPM-Solver++), and the end-to-end cost of an answer
(Generator input positions and time) from Q → STM against full-context prompting — ratios from one run.

    .venv/bin/python benchmarks/bench_diffusion.py [--n 16] [--K 4] [--steps 1,10,25,50] [--context-tokens 400]

The Diffuser is untrained here (weights do not change the cost); the full-context prompt is the question with a
passage of --context-tokens tokens, as in SQuAD-style use.
"""
import argparse, time, json
import torch
from dcm_lab.generator import load_generator
from dcm_lab.data import load_pairs
from dcm_lab.encoder import input_embeddings
from dcm_lab.diffusion import Diffuser, DiffuserConfig, Normalizer, generate_content

def timed(fn, dev):
    if dev.type == "cuda": torch.cuda.synchronize()
    t = time.perf_counter(); out = fn()
    if dev.type == "cuda": torch.cuda.synchronize()
    return time.perf_counter() - t, out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16); ap.add_argument("--K", type=int, default=4)
    ap.add_argument("--steps", default="1,10,25,50"); ap.add_argument("--context-tokens", type=int, default=400)
    ap.add_argument("--width", type=int, default=256); ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--device", default="auto"); ap.add_argument("--new-tokens", type=int, default=8)
    a = ap.parse_args()
    gen = load_generator("smollm2", device=a.device); dev = gen.device
    pairs = load_pairs("facts", limit=a.n, shuffle=True, seed=0)
    net = Diffuser(DiffuserConfig(K=a.K, d=gen.d, cond_dim=gen.d, width=a.width, depth=a.depth)).to(dev).eval()
    norm = Normalizer(torch.zeros(gen.d), gen.E.float().std().item())
    cond, mask = input_embeddings(gen, [p.question for p in pairs])
    for smp in ("ddim", "dpm"): generate_content(net, norm, cond, mask, steps=2, sampler=smp)   # warm-up (imports, kernels)
    rows = []
    for smp in ("ddim", "dpm"):
        for s in [int(x) for x in a.steps.split(",")]:
            t, c = timed(lambda: generate_content(net, norm, cond, mask, steps=s, sampler=smp), dev)
            rows.append(dict(sampler=smp, steps=s, batch=a.n, seconds=round(t, 4), ms_per_example=round(1000 * t / a.n, 2)))
    filler = " ".join(["The committee met again to review the annual report and its many appendices."] * (a.context_tokens // 14 + 1))
    ctx_ids = gen.tok.encode(filler, add_special_tokens=False)[:a.context_tokens]
    passage = gen.tok.decode(ctx_ids)
    prompts = [f"{passage}\n\n{p.question}" for p in pairs]
    full_pos = sum(len(gen.chat_ids(x)) for x in prompts) / len(prompts)
    steps_e2e = int(a.steps.split(",")[min(2, len(a.steps.split(",")) - 1)])
    t_full, _ = timed(lambda: gen.generate_text(prompts, max_new_tokens=a.new_tokens), dev)
    def stm_path():
        c = generate_content(net, norm, cond, mask, steps=steps_e2e)
        return gen.generate(gen.stm(gen.mode_embedding("A"), c.to(dev)), max_new_tokens=a.new_tokens)
    t_stm, _ = timed(stm_path, dev)
    out = dict(device=str(dev), dtype=str(gen.dtype), sampling=rows,
               end_to_end=dict(examples=a.n, new_tokens=a.new_tokens, diffusion_steps=steps_e2e,
                               generator_input_positions=dict(full_context=round(full_pos, 1), stm=a.K + 1, ratio=round(full_pos / (a.K + 1), 1)),
                               seconds=dict(full_context=round(t_full, 3), stm=round(t_stm, 3), ratio=round(t_full / t_stm, 2))))
    print(json.dumps(out, indent=1))
    for r in rows: print(f"{r['sampler']:4s} sampling {r['steps']:4d} steps: {r['ms_per_example']:8.2f} ms/example (batch {a.n})")
    e = out["end_to_end"]
    print(f"answer cost: full context {e['generator_input_positions']['full_context']} positions, {e['seconds']['full_context']}s | "
          f"STM {a.K + 1} positions + {steps_e2e} Diffuser steps, {e['seconds']['stm']}s | time ratio {e['seconds']['ratio']}")

if __name__ == "__main__": main()
