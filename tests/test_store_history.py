"""Issue #25/#24 item 6: Phase 1a's per-step history saved beside the store (every session, kills and resumes
included) and targets exportable as a `datasets.Dataset`."""
import json
from dataclasses import replace
import datasets, pytest, torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from dcm_lab.core import read_json
from dcm_lab.data import QAPair
from dcm_lab.generator import load_generator
from dcm_lab.targets import TargetConfig
from dcm_lab.store import TargetStore, generate_targets, load_targets
from dcm_lab.runs import run_curves

PAIRS = [QAPair(f"h{i}", q, a, topic="t")
         for i, (q, a) in enumerate([("one", "two"), ("three", "four"), ("five", "six")])]
CFG = TargetConfig(K=2, restarts=2, lr=0.05, max_steps=5, patience=5, batch_rows=4)

@pytest.fixture(scope="module")
def tiny(): return load_generator("tiny", device="cpu")

def test_history_is_saved_beside_the_store_across_a_resume(tiny, tmp_path):
    class Killed(Exception): pass
    def kill(n):
        if n == 1: raise Killed()
    st = tmp_path/"s"
    cfg = replace(CFG, max_steps=60, patience=60)
    with pytest.raises(Killed):
        generate_targets(tiny, PAIRS, cfg, st, shard_size=1, progress=False, checkpoint_every=2,
                         on_checkpoint=kill)
    first = read_json(st/"history-r000.json")
    # saved at the checkpoint
    assert len(first) == 1 and len(first[0]["steps"]) == 2 and first[0]["items"] == 3
    generate_targets(tiny, PAIRS, cfg, st, shard_size=1, progress=False, checkpoint_every=2)
    h = TargetStore(st).history()
    assert list(h.columns) == ["rank", "session", "step", "active_rows", "mean_loss", "exact_rows",
                               "rows_converged"]
    assert sorted(h.session.unique()) == [0, 1]
    assert (h.active_rows <= 4).all() and (h.exact_rows <= h.active_rows).all() and h.mean_loss.notna().all()
    last = h[h.session == 1]
    assert last.rows_converged.is_monotonic_increasing
    t = load_targets(st, tiny)
    conv = sum(x["converged"] for r in t.records for x in r["restarts"])
    # each converged row counted once
    assert conv > 0 and h.groupby("session").rows_converged.max().sum() == conv

def test_targets_as_a_dataset(tiny, tmp_path):
    t = load_targets(generate_targets(tiny, PAIRS, CFG, tmp_path/"s", shard_size=2, progress=False).path,
                     tiny)
    ds = t.to_dataset()
    assert ds.num_rows == 3 and ds["id"] == t.ids and ds["answer"] == ["two", "four", "six"]
    assert torch.equal(ds.with_format("torch")[:]["content"], t.best_content.float())
    assert ds["best_restart"] == t.best.tolist()
    ds.save_to_disk(str(tmp_path/"ds"))
    back = datasets.load_from_disk(str(tmp_path/"ds"))
    assert json.loads(back.info.description)["generator"] == tiny.identity

def test_history_as_tensorboard_events(tiny, tmp_path):
    """Each session's steps as TensorBoard scalars (phase1a/<column>), each step once, what `dcm-lab compare`
    reads."""
    st = tmp_path/"run"/"targets"
    generate_targets(tiny, PAIRS, CFG, st, shard_size=1, progress=False, checkpoint_every=2)
    h = TargetStore(st).history()
    ea = EventAccumulator(str(st/"tensorboard"/"r000-s0")).Reload()
    assert sorted(ea.Tags()["scalars"]) == sorted(f"phase1a/{c}" for c in ("active_rows", "mean_loss",
                                                                            "exact_rows", "rows_converged"))
    loss = ea.Scalars("phase1a/mean_loss")
    # written at every checkpoint and at the end, yet each step once, equal to the JSON history
    assert [e.step for e in loss] == h.step.tolist()
    assert [e.value for e in loss] == pytest.approx(h.mean_loss.tolist(), rel=1e-6)
    curves = run_curves([tmp_path/"run"])
    assert set(curves.tag) >= {"phase1a/mean_loss"} and (curves.source == "targets/tensorboard/r000-s0").all()
