"""The Diffuser's registry and Hub form through the real training and loading path: a toy architecture
registered in DIFFUSERS trains with train_diffuser, is written by its checkpoint and by export_pretrained
(save_pretrained), and loads back with load_diffuser from either; TensorBoard events carry loss, lr and grad
norm per step; a checkpoint written before the normaliser joined the weights still loads, unpickling
nothing."""
import hashlib, json
from pathlib import Path
import pytest, torch, torch.nn as nn
from safetensors.torch import load_file, save_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from dcm_lab.diffusion import (DIFFUSERS, DiffuserBase, DiffuserConfig, DiffusionData, Normalizer,
                               TrainConfig, train_diffuser, load_diffuser, export_pretrained,
                               checkpoint_record)

class ToyDiffuser(DiffuserBase):
    "A per-slot MLP that reads the mean condition: a stand-in architecture, registered as 'toy'."
    def __init__(self, config):
        super().__init__(config)
        c = self.cfg
        self.net = nn.Sequential(nn.Linear(c.d + c.cond_dim + 1, c.width), nn.GELU(), nn.Linear(c.width, c.d))
    def forward(self, x_t, t, cond, mask, drop=None, x0_prev=None):
        m = mask[..., None].float()
        ctx = (cond * m).sum(1) / m.sum(1).clamp(min=1)                           # (B, cond_dim)
        K = x_t.shape[1]
        h = torch.cat([x_t, ctx[:, None].expand(-1, K, -1), t[:, None, None].expand(-1, K, 1)], -1)
        return self.net(h)                                                        # (B, K, d)

def data(n=6):
    g = torch.Generator().manual_seed(0)
    return DiffusionData(torch.randn(n, 5, 6, generator=g), torch.ones(n, 5, dtype=torch.bool),
                         torch.randn(n, 2, 8, generator=g), torch.ones(n), [f"i{k}" for k in range(n)])

SMALL = dict(K=2, d=8, cond_dim=6, width=16, depth=1, heads=2, max_cond_len=8)

@pytest.fixture
def toy():
    DIFFUSERS["toy"] = ToyDiffuser
    yield DiffuserConfig(**{**SMALL, "heads": 1, "arch": "toy"})
    DIFFUSERS.pop("toy", None)

def test_registered_arch_trains_exports_and_loads(toy, tmp_path):
    norm = Normalizer(torch.linspace(-1, 1, 8), 2.5)
    tcfg = TrainConfig(steps=5, batch_size=3, warmup=1, ckpt_every=0)
    model, ema, losses = train_diffuser(data(), toy, tcfg, norm, ckpt_dir=tmp_path/"ck", progress=False)
    assert isinstance(model, ToyDiffuser) and len(losses) == 5
    net, n2 = load_diffuser(tmp_path/"ck")
    assert isinstance(net, ToyDiffuser) and n2.scale == 2.5 and torch.equal(n2.mean, norm.mean)
    hub = export_pretrained(tmp_path/"ck", tmp_path/"hub", generator="tiny", data="toy rows", split="all 6")
    assert sorted(p.name for p in hub.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((hub/"config.json").read_text())["arch"] == "toy"
    card = (hub/"README.md").read_text()
    for s in ("**Generator**: tiny", "**Data**: toy rows", "**Split**: all 6", "**Input encoder**"):
        assert s in card
    back, n3 = load_diffuser(hub)
    assert isinstance(back, ToyDiffuser) and n3.scale == 2.5
    for (k, a), (_, b) in zip(net.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k
    DIFFUSERS.pop("toy")
    with pytest.raises(ValueError, match="DiffuserConfig.arch='toy' is not in DIFFUSERS"): load_diffuser(hub)

def test_tensorboard_curves(tmp_path):
    tcfg = TrainConfig(steps=4, batch_size=3, warmup=2, grad_clip=0.5)
    _, _, losses = train_diffuser(data(), DiffuserConfig(**SMALL), tcfg, Normalizer(torch.zeros(8), 1.0),
                                  ckpt_dir=tmp_path/"ck", progress=False)
    ea = EventAccumulator(str(tmp_path/"ck"/"tensorboard")).Reload()
    assert {"loss", "lr", "grad_norm"} <= set(ea.Tags()["scalars"])
    assert [e.step for e in ea.Scalars("loss")] == [1, 2, 3, 4]
    assert [e.value for e in ea.Scalars("loss")] == pytest.approx(losses, rel=1e-6)   # 1 process: its loss
    assert [e.value for e in ea.Scalars("lr")] == pytest.approx([1.5e-4, 3e-4, 3e-4, 3e-4])

def test_checkpoint_before_normaliser_buffers_loads_without_pickle(tmp_path):
    "A set as the previous lab version wrote it: weights without norm buffers, normaliser in the state file."
    cfg = DiffuserConfig(**SMALL)
    train_diffuser(data(), cfg, TrainConfig(steps=2, batch_size=3, warmup=1, track=False),
                   Normalizer(torch.full((8,), 0.5), 1.5), ckpt_dir=tmp_path, progress=False)
    rec = checkpoint_record(tmp_path)
    for k in ("model", "ema"):
        f = tmp_path/rec["files"][k]
        save_file({n: v for n, v in load_file(str(f)).items() if not n.startswith("norm_")}, str(f))
        rec["sha256"][k] = hashlib.sha256(f.read_bytes()).hexdigest()
    rec["diffuser"].pop("arch")                                                   # old configs had no arch
    (tmp_path/"config.json").write_text(json.dumps(rec))
    net, norm = load_diffuser(tmp_path)
    assert norm.scale == 1.5 and torch.equal(norm.mean, torch.full((8,), 0.5))
    train_diffuser(data(), cfg, TrainConfig(steps=3, batch_size=3, warmup=1, track=False), norm,
                   ckpt_dir=tmp_path, progress=False)
    assert checkpoint_record(tmp_path)["step"] == 3                               # and it resumes

def test_no_pickle_loaded_unsafely():
    root = Path(__file__).resolve().parent.parent
    mine = [root/"dcm_lab"/f for f in ("diffusion.py", "phase2.py", "runs.py", "cli.py")]
    mine.append(root/"scripts"/"train_diffuser.py")
    assert not [f.name for f in mine if "weights_only=False" in f.read_text()]
