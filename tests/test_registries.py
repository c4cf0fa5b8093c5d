"""One registry per extension point, each both the dispatch and the list: a toy evaluation method, a toy
dataset and a toy Diffuser architecture, each registered and run through the real paths — the method through
evaluate_method and evaluate_methods, the dataset through load_pairs, fetch, `dcm-lab data` and Phase 2's
targets, the architecture through diffuser_recipe, train_diffuser and load_diffuser — then removed."""
import contextlib, io
import pytest, torch, torch.nn as nn
from dcm_lab import cli
from dcm_lab.data import QAPair, DATASETS, register_dataset, load_pairs, fetch, DataError
from dcm_lab.diffusion import (DIFFUSERS, DiffuserBase, DiffusionData, Normalizer, diffuser_recipe,
                               train_diffuser, load_diffuser)
from dcm_lab.evaluation import METHODS, EvalConfig, register_method, evaluate_method, evaluate_methods
from dcm_lab.generator import load_generator
from dcm_lab.phase2 import phase2_config, phase2_targets

@pytest.fixture(scope="module")
def tiny():
    return load_generator("tiny", device="cpu")

@pytest.fixture
def toy_method():
    "A method that feeds the Generator the question's own token embeddings: a text method without the frame."
    @register_method("toy_question", needs=("toy_inputs",))
    def toy_question(gen, pairs, cfg, toy_inputs=None, **kw):
        ids = [gen.tok.encode(p.question, add_special_tokens=False) for p in pairs]
        return [gen.embed(i) for i in ids], dict(positions=[len(i) for i in ids],
                                                 frame_positions=[0] * len(ids))
    yield "toy_question"
    METHODS.pop("toy_question")

def test_method_registered_runs_through_evaluate(tiny, toy_method):
    pairs = [QAPair("a", "What is red?", "apple"), QAPair("b", "Where is Paris?", "France")]
    r = evaluate_method(tiny, pairs, EvalConfig(method=toy_method, K=2, max_new_tokens=3), toy_inputs=True)
    want = [len(tiny.tok.encode(p.question, add_special_tokens=False)) for p in pairs]
    assert (r["method"], r["n"], r["item_positions"], r["prefix_lengths"]) == (toy_method, 2, want, want)
    assert r["block"] == "gold-free" and len(r["preds"]) == 2
    # the default list of evaluate_methods is the registry: the toy method joins when its input is given …
    cfg = EvalConfig(K=2, max_new_tokens=3, distill_steps=1)
    rs = evaluate_methods(tiny, pairs, cfg, methods=None, toy_inputs=True)
    # (the question-beside controls run only beside a Diffuser read that way)
    assert [x["method"] for x in rs] == [m for m in METHODS if not set(METHODS[m].needs) - {"toy_inputs"}
                                         and not METHODS[m].beside]
    assert toy_method in [x["method"] for x in rs]
    # … and is left out, like every method, when it is not; named without it, it is refused
    assert toy_method not in [x["method"] for x in evaluate_methods(tiny, pairs, cfg, methods=["truncation"])]
    with pytest.raises(ValueError, match="needs toy_inputs="):
        evaluate_methods(tiny, pairs, cfg, methods=[toy_method])

@pytest.fixture
def toy_dataset():
    @register_dataset("toy_colours", "four colour questions, made up for this test")
    def toy_colours(seed: int = 0) -> list[QAPair]:
        answers = ["red", "blue", "green", "pink"]
        return [QAPair(f"colour-{i}", f"Which colour is number {i}?", a, topic="colour")
                for i, a in enumerate(answers)]
    yield "toy_colours"
    DATASETS.pop("toy_colours")

def test_dataset_registered_is_read_by_name_everywhere(tiny, toy_dataset, tmp_path):
    assert [p.id for p in load_pairs(toy_dataset)] == [f"colour-{i}" for i in range(4)]
    assert len(load_pairs(toy_dataset, limit=3, shuffle=True, seed=2)) == 3
    assert fetch(toy_dataset) == "toy_colours: 4 pairs"
    assert toy_dataset in cli.data_sources()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["data", "list"]) == 0
        assert cli.main(["data", "fetch", toy_dataset]) == 0
    assert toy_dataset in out.getvalue().split() and "toy_colours: 4 pairs" in out.getvalue()
    # Phase 2 makes its targets from a dataset named in its config
    cfg = phase2_config(d=tiny.d, dataset=toy_dataset, relation="", n_pairs=2, K=2, restarts=1, max_steps=2,
                        targets_dir=str(tmp_path/"t"))
    targets, _, pairs = phase2_targets(tiny, cfg, progress=False)
    assert {p.id for p in pairs} <= {f"colour-{i}" for i in range(4)} and targets.ids == [p.id for p in pairs]
    with pytest.raises(DataError, match="'toy_colours'"):               # the error lists the registry
        load_pairs("toy_colour")

class ToyDiffuser(DiffuserBase):
    "A per-slot MLP over the slot, the mean condition and t: a stand-in architecture."
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

@pytest.fixture
def toy_arch():
    DIFFUSERS["toy_mlp"] = ToyDiffuser
    yield "toy_mlp"
    DIFFUSERS.pop("toy_mlp")

def test_architecture_registered_trains_and_loads(toy_arch, tmp_path):
    g = torch.Generator().manual_seed(0)
    data = DiffusionData(torch.randn(6, 5, 6, generator=g), torch.ones(6, 5, dtype=torch.bool),
                         torch.randn(6, 2, 8, generator=g), torch.ones(6), [f"i{k}" for k in range(6)])
    dcfg, tcfg = diffuser_recipe(K=2, d=8, cond_dim=6, steps=4, width=16, depth=1, batch_size=3,
                                 arch=toy_arch, track=False)
    model, _, losses = train_diffuser(data, dcfg, tcfg, Normalizer(torch.zeros(8), 1.0),
                                      ckpt_dir=tmp_path/"ck", progress=False)
    assert isinstance(model, ToyDiffuser) and len(losses) == 4
    net, _ = load_diffuser(tmp_path/"ck")
    assert isinstance(net, ToyDiffuser) and net.cfg == dcfg
    for (k, a), (_, b) in zip(model.state_dict().items(), net.state_dict().items()):
        assert a.shape == b.shape, k
