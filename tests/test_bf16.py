"""The bf16 path, exercised on CPU: Phase 1a, Diffuser training and sampling, and the evaluation's scorer on
the tiny model in bfloat16 (the dtype a GPU runs), so dtype mismatches show up here before a GPU does."""
import dataclasses, math, tempfile
from pathlib import Path
import pytest, torch
from dcm_lab.generator import load_generator
from dcm_lab.data import QAPair
from dcm_lab.targets import TargetConfig
from dcm_lab.store import generate_targets, load_targets
from dcm_lab.encoder import input_embeddings
from dcm_lab.diffusion import (DiffuserConfig, TrainConfig, Normalizer, diffusion_data, train_diffuser,
                               generate_content, generator_loss)
from dcm_lab.evaluation import METHODS, EvalConfig, evaluate_method

PAIRS = [QAPair(f"b{i}", q, a)
         for i, (q, a) in enumerate([("red apple?", "fruit"), ("blue sky?", "air"), ("green leaf?", "tree")])]

@pytest.fixture(scope="module")
def gen():
    g = load_generator("tiny", device="cpu", dtype=torch.bfloat16)
    assert g.dtype == torch.bfloat16
    return g

@pytest.fixture(scope="module")
def targets(gen):
    cfg = TargetConfig(K=2, restarts=1, lr=0.05, max_steps=4, patience=4, batch_rows=3)
    with tempfile.TemporaryDirectory() as d:
        yield load_targets(generate_targets(gen, PAIRS, cfg, Path(d)/"t", progress=False).path, gen)

def test_phase1a_bf16(gen, targets):
    assert targets.content.shape == (3, 1, 2, gen.d) and torch.isfinite(targets.content).all()
    # the bf16 run's recorded losses are those of the stored content, re-scored in bf16
    for n, r in enumerate(targets.records):
        rec = r["restarts"][0]["seg_loss"]
        assert all(l is not None and math.isfinite(l) for l in rec)
        pre = torch.cat([gen.stm(gen.mode_embedding(s["mode"]), targets.content[n, 0][None])
                         for s in r["segments"]])
        assert pre.dtype == torch.bfloat16
        again = gen.score(pre, [s["text"] for s in r["segments"]])["loss"].float()
        assert torch.allclose(again, torch.tensor(rec), rtol=0.02, atol=0.05), (again, rec)

@pytest.fixture(scope="module")
def diffuser(gen, targets):
    norm = Normalizer.fit(targets.best_content.float())
    data = diffusion_data(gen, targets, norm)
    dcfg = DiffuserConfig(K=2, d=gen.d, cond_dim=gen.d, width=32, depth=1, heads=4)
    _, ema, losses = train_diffuser(data, dcfg,
                                    TrainConfig(steps=3, batch_size=3, warmup=1, ckpt_every=0,
                                                precision="bf16"),
                                    norm, progress=False)
    assert len(losses) == 3 and all(math.isfinite(l) for l in losses)
    return ema, norm

def test_diffuser_sampling_bf16(gen, diffuser):
    net, norm = diffuser
    cond, mask = input_embeddings(gen, [p.question for p in PAIRS])
    c = generate_content(net, norm, cond, mask, steps=2)
    assert c.shape == (3, 2, gen.d) and torch.isfinite(c).all()
    out = gen.generate(gen.stm(gen.mode_embedding("A"), c), max_new_tokens=3)
    assert len(out) == 3 and all(isinstance(o, str) for o in out)

@pytest.mark.parametrize("method", METHODS)
def test_every_method_scores_in_bf16(gen, targets, diffuser, method):
    net, norm = diffuser
    cfg = EvalConfig(method=method, K=2, max_new_tokens=3, distill_steps=2, sample_steps=2)
    # the question-beside controls read a passage before the question
    pairs = [dataclasses.replace(p, context=f"A short passage. {p.answer} is the answer.") for p in PAIRS] \
        if METHODS[method].beside else PAIRS
    res = evaluate_method(gen, pairs, cfg, diffuser=net, norm=norm, c_star=targets.best_content, train=PAIRS,
                          train_content=targets.best_content)
    # an answers-only method has no loss
    assert res["n"] == 3 and math.isfinite(res["loss"]) != METHODS[method].answers, res
    assert len(res["preds"]) == 3

def test_beside_loss_bf16(gen):
    # the question-beside reading: left-padded [frame ; STM ; question] rows, loss and gradient finite in bf16
    content = (torch.randn(2, 2, gen.d) * 0.02).requires_grad_()
    before, bm = gen.pad([[5, 6, 7], [5]])
    after, am = gen.pad([[8], [9, 10, 11]])
    ids, mask = gen.pad([gen.token_ids("Paris"), gen.token_ids("a longer answer")])
    loss = generator_loss(gen, content, ids, mask, "A", around=(before, bm, after, am))
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(content.grad).all()
    assert content.grad.abs().sum(-1).gt(0).all()
