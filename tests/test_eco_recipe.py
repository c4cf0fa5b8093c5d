"""The one Diffuser recipe keeps the study reproducible: `study_diffuser` builds exactly the DiffuserConfig
and TrainConfig (and so the checkpoint folder) that the study in flight built before the recipe existed, for
the sizes of the notebook, the `study` profile and the `gpu` profile. The expected values are written out here
as literals: what the code before the recipe built for the same arguments."""
import hashlib
from dataclasses import asdict
from pathlib import Path
import pytest, torch
import dcm_lab.study as study
from dcm_lab.generator import load_generator

@pytest.fixture(scope="module")
def tiny():
    return load_generator("tiny", device="cpu")

def diffuser_of(tiny, monkeypatch, tmp_path, **kw):
    "The configs and folder `study_diffuser` trains with, without training (train/load recorded, not run)."
    seen = {}
    monkeypatch.setattr(study, "train_diffuser", lambda data, dcfg, tcfg, norm, ckpt_dir, progress, gen:
                        seen.update(dcfg=dcfg, tcfg=tcfg, ck=ckpt_dir))
    monkeypatch.setattr(study, "load_diffuser", lambda ck, device, gen: (None, None))
    x = torch.randn(3, 4, tiny.d, generator=torch.Generator().manual_seed(0))
    ids, cond = ["a", "b", "c"], {"a": "What is a?", "b": "What is b?", "c": "What is c?"}
    study.study_diffuser(tiny, x, ids, cond, root=tmp_path, progress=False, **kw)
    return seen, x, ids, [cond[i] for i in ids]

# (study_diffuser's arguments, the DiffuserConfig and TrainConfig the code before the recipe built for them)
CASES = [
    (dict(width=128, depth=2, steps=100, batch_size=64, max_len=128, seed=0),          # 70_study's defaults
     dict(K=4, width=128, depth=2, heads=4, max_cond_len=128),
     dict(steps=100, batch_size=64, lr=1e-3, warmup=10, ema_decay=0.99, ckpt_every=10, seed=0)),
    (dict(width=256, depth=4, steps=2000, batch_size=64, max_len=128, seed=0),         # the study profile
     dict(K=4, width=256, depth=4, heads=4, max_cond_len=128),
     dict(steps=2000, batch_size=64, lr=1e-3, warmup=100, ema_decay=0.995, ckpt_every=200, seed=0)),
    (dict(width=512, depth=6, steps=20000, batch_size=256, max_len=128, seed=3),       # the gpu profile
     dict(K=4, width=512, depth=6, heads=4, max_cond_len=128),
     dict(steps=20000, batch_size=256, lr=1e-3, warmup=100, ema_decay=0.995, ckpt_every=2000, seed=3)),
    # below 1,000 steps, other lr
    (dict(width=64, depth=1, steps=999, batch_size=8, lr=3e-3, max_len=96, seed=1),
     dict(K=4, width=64, depth=1, heads=4, max_cond_len=96),
     dict(steps=999, batch_size=8, lr=3e-3, warmup=99, ema_decay=0.99, ckpt_every=99, seed=1)),
]

@pytest.mark.parametrize("kw, dnet, dtrain", CASES)
def test_study_diffuser_builds_todays_configs(tiny, monkeypatch, tmp_path, kw, dnet, dtrain):
    seen, x, ids, texts = diffuser_of(tiny, monkeypatch, tmp_path, **kw)
    want_d = dict(d=tiny.d, cond_dim=tiny.d, prediction="x0", cond_dropout=0.1, self_cond=False,
                  arch="transformer", **dnet)
    want_t = dict(weight_decay=0.01, precision="auto", grad_clip=1.0, track=True, **dtrain)
    # fields added since (Input Encoder, objective) at the defaults that mean what the study did before them
    new_d = dict(encoder="embedding", encoder_settings={}, regressor=False, text_len=0, reading="stm")
    new_t = dict(regress_weight=1.0, answer_weight=0.0, question_weight=0.0, a_mode="A", q_mode="Q",
                 generator_batch=0)
    assert asdict(seen["dcfg"]) == {**want_d, **new_d}
    assert asdict(seen["tcfg"]) == {**want_t, **new_t}
    # the checkpoint folder is named by the configs as they were: the study's finished Diffusers are found again
    key = study._digest(hashlib.sha256(x.numpy().tobytes()).hexdigest(), ids, texts, want_d, want_t)
    assert Path(seen["ck"]) == tmp_path/f"diffuser-{tiny.name.replace('/', '_')}-{key}"
