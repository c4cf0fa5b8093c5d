"""Issue #25 against the Phase 1a target store: a meta.json that disagrees with its shards never costs a
shard, a resume under another K is refused, unreadable files are named, a changed pair is refused, two writers
(two real processes) and a disk that fills partway (shard and checkpoint writes) end cleanly and a resume
completes with nothing lost."""
import errno, json, os, shutil, signal, subprocess, sys, textwrap, time
from dataclasses import replace
from pathlib import Path
from unittest import mock
import pytest, torch

ROOT = Path(__file__).resolve().parent.parent
from dcm_lab import core
from dcm_lab.core import read_json, atomic_write_json, LockedError
from dcm_lab.data import QAPair
from dcm_lab.generator import load_generator
from dcm_lab.targets import TargetConfig
from dcm_lab.store import (TargetStore, TargetStoreError, MetaMismatch, generate_targets, load_targets,
                           rebuild_meta)

PAIRS = [QAPair(f"t{i}", q, a, topic="numbers") for i, (q, a) in
         enumerate([("one", "two"), ("three", "four"), ("five", "six"), ("seven", "eight")])]
CFG = TargetConfig(K=2, restarts=1, lr=0.05, max_steps=4, patience=4, batch_rows=2)

@pytest.fixture(scope="module")
def tiny(): return load_generator("tiny", device="cpu")

@pytest.fixture(scope="module")
def ref(tiny, tmp_path_factory):
    "A finished store of the 4 pairs (one item per shard) and its loaded targets."
    path = tmp_path_factory.mktemp("ref")/"store"
    generate_targets(tiny, PAIRS, CFG, path, shard_size=1, progress=False)
    return path, load_targets(path, tiny)

def files(p: Path) -> dict:
    "Every file under a store (TensorBoard's folder too) but meta.json, by relative path → bytes."
    return {str(f.relative_to(p)): f.read_bytes() for f in sorted(p.rglob("*"))
            if f.is_file() and f.name != "meta.json"}

def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst

def edit_meta(p: Path, **kw):
    m = read_json(p/"meta.json")
    cfg = kw.pop("config", {})
    m.update(kw)
    m["config"].update(cfg)
    atomic_write_json(p/"meta.json", m)

def test_meta_edited_to_another_K_never_moves_a_shard(tiny, ref, tmp_path):
    st = copy(ref[0], tmp_path/"s")
    before = files(st)
    # the user's edit: meta says K=3, shards hold K=2
    edit_meta(st, K=3, config=dict(K=3))
    with pytest.raises(MetaMismatch, match="rebuild_meta"): load_targets(st, tiny)
    # the advice followed, again and again
    for _ in range(3):
        with pytest.raises(MetaMismatch, match="none was moved"):
            generate_targets(tiny, PAIRS, replace(CFG, K=3), st, shard_size=1, progress=False)
    # not one shard set aside or rewritten
    assert files(st) == before
    meta = rebuild_meta(st)
    assert meta["K"] == 2 and meta["config"]["K"] == 2
    t = load_targets(st, tiny)
    assert t.ids == ref[1].ids and torch.equal(t.content, ref[1].content)
    # resumes: nothing to do, nothing moved
    generate_targets(tiny, PAIRS, CFG, st, shard_size=1, progress=False)
    assert files(st) == before

def test_resume_with_another_K_is_refused(tiny, ref, tmp_path):
    "Only config.K edited: a resume asking K=3 used to find every id done and return K=2 contents."
    st = copy(ref[0], tmp_path/"s")
    edit_meta(st, config=dict(K=3))
    with pytest.raises(MetaMismatch, match=r"'config_K': \(2, 3\)") as e:
        generate_targets(tiny, PAIRS, replace(CFG, K=3), st, shard_size=1, progress=False)
    assert str(st) in str(e.value)
    with pytest.raises(MetaMismatch): load_targets(st)
    rebuild_meta(st)
    # now the plain config refusal: use a new folder
    with pytest.raises(TargetStoreError, match="another config"):
        generate_targets(tiny, PAIRS, replace(CFG, K=3), st, shard_size=1, progress=False)

def test_truncated_json_files_are_named(tiny, ref, tmp_path):
    st = copy(ref[0], tmp_path/"s")
    sh = sorted(st.glob("shard-*.json"))[1]
    sh.write_bytes(sh.read_bytes()[:40])
    with pytest.raises(TargetStoreError, match=sh.name) as e: load_targets(st, tiny)
    assert "generate_targets" in str(e.value)
    generate_targets(tiny, PAIRS, CFG, st, shard_size=1, progress=False)     # set aside, redone
    assert load_targets(st, tiny).ids == ref[1].ids
    (st/"meta.json").write_text('{"generator": "ti')                           # a truncated meta.json
    with pytest.raises(TargetStoreError, match="meta.json cannot be read.*rebuild_meta"):
        load_targets(st, tiny)
    rebuild_meta(st, cfg=CFG)
    assert load_targets(st, tiny).ids == ref[1].ids

def test_changed_topic_under_the_same_id_is_refused(tiny, ref, tmp_path):
    st = copy(ref[0], tmp_path/"s")
    moved = [replace(PAIRS[0], topic="words"), *PAIRS[1:]]
    with pytest.raises(TargetStoreError, match="item 't0' with other topic: 'numbers' → 'words'"):
        generate_targets(tiny, moved, CFG, st, shard_size=1, progress=False)

WRITER = textwrap.dedent('''
    import sys, time
    from dataclasses import replace
    from dcm_lab.data import QAPair
    from dcm_lab.generator import load_generator
    from dcm_lab.targets import TargetConfig
    from dcm_lab.store import generate_targets
    pairs = [QAPair(f"t{i}", q, a, topic="numbers") for i, (q, a) in
             enumerate([("one", "two"), ("three", "four"), ("five", "six"), ("seven", "eight")])]
    cfg = TargetConfig(K=2, restarts=1, lr=0.05, max_steps=4, patience=4, batch_rows=2)
    def hold(n):
        print("SHARD", n, flush=True)
        time.sleep(600)                        # a writer busy for a long time
    generate_targets(load_generator("tiny", device="cpu"), pairs, cfg, sys.argv[1], shard_size=1,
                     progress=False, on_shard=hold)
''')

def test_two_writers_on_one_store(tiny, ref, tmp_path, capsys):
    st = tmp_path/"s"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    a = subprocess.Popen([sys.executable, "-c", WRITER, str(st)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        line = a.stdout.readline()
        assert line.startswith("SHARD 1"), line + a.stdout.read()[-2000:]
        # the second writer: refused, holder named
        with pytest.raises(LockedError, match=f"names pid {a.pid} on host") as e:
            generate_targets(tiny, PAIRS, CFG, st, shard_size=1, progress=False)
        assert "lock" in str(e.value) and "Wait for it" in str(e.value)
        # the refused writer wrote nothing
        assert len(TargetStore(st).done_ids()) == 1
    finally:
        a.send_signal(signal.SIGKILL)
        a.wait()
    # the holder is dead: its lock is taken over
    generate_targets(tiny, PAIRS, CFG, st, shard_size=1, progress=False)
    assert f"took over the lock of process {a.pid}" in capsys.readouterr().out
    t = load_targets(st, tiny)
    assert t.ids == ref[1].ids                                                  # every id once
    assert torch.allclose(t.content, ref[1].content, atol=1e-5)
    assert not (st/"lock").exists()

def full_disk_after(n_ok: int):
    """A `_write_all` that writes n_ok files, then half of the next one before raising ENOSPC (a disk filling
    partway)."""
    real, calls = core._write_all, [0]
    def write(f, data):
        calls[0] += 1
        if calls[0] > n_ok:
            f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real(f, data)
    return mock.patch.object(core, "_write_all", write)

# writes: meta.json, then per shard tensors + JSON: fail on a JSON, tensors, a JSON
@pytest.mark.parametrize("n_ok", [2, 3, 4])
def test_full_disk_during_shards(tiny, ref, tmp_path, n_ok):
    st = tmp_path/"s"
    with full_disk_after(n_ok), pytest.raises(OSError, match="disk full while writing") as e:
        generate_targets(tiny, PAIRS, CFG, st, shard_size=1, progress=False)
    assert e.value.errno == errno.ENOSPC and "was not written" in str(e.value)
    assert not list(st.glob(".*.tmp")) and not (st/"lock").exists()
    done = TargetStore(st).done_ids()
    assert len(done) < len(PAIRS)
    for s in TargetStore(st).shards(): TargetStore(st).verify(s)              # what is there is whole
    # space freed: the resume completes
    generate_targets(tiny, PAIRS, CFG, st, shard_size=1, progress=False)
    t = load_targets(st, tiny)
    assert t.ids == ref[1].ids
    assert torch.allclose(t.content, ref[1].content, atol=1e-5)

def test_full_disk_during_a_checkpoint(tiny, ref, tmp_path):
    st = tmp_path/"s"
    cfg = replace(CFG, max_steps=6, patience=6)
    full = tmp_path/"full"
    generate_targets(tiny, PAIRS, cfg, full, shard_size=1, progress=False, checkpoint_every=2)
    # writes: meta.json, checkpoint 1, its history; the disk fills on checkpoint 2
    with full_disk_after(3), pytest.raises(OSError, match=r"disk full while writing .*inflight-r000\.pt"):
        generate_targets(tiny, PAIRS, cfg, st, shard_size=1, progress=False, checkpoint_every=2)
    assert not list(st.glob(".*.tmp"))
    torch.load(st/"inflight-r000.pt", weights_only=True)                      # the previous checkpoint, whole
    generate_targets(tiny, PAIRS, cfg, st, shard_size=1, progress=False, checkpoint_every=2)
    t, r = load_targets(st, tiny), load_targets(full, tiny)
    assert t.ids == r.ids
    assert torch.allclose(t.content, r.content, atol=1e-5)

def test_identity_joins_the_store_and_another_dtype_is_refused(tiny, ref, tmp_path, capsys):
    """Issue #24: a store made in fp32 used to resume in bf16 without a word (stores keyed on the Generator's
    name only)."""
    meta = read_json(ref[0]/"meta.json")
    assert meta["identity"] == tiny.identity and meta["identity"]["dtype"] == "float32"
    assert tiny.identity in meta["generators"]                                 # the run record names it too
    assert read_json(sorted(ref[0].glob("shard-*.json"))[0])["identity"] == tiny.identity
    half = load_generator("tiny", device="cpu", dtype=torch.bfloat16)
    assert half.identity["weights"] != tiny.identity["weights"]
    with pytest.raises(TargetStoreError, match=r"'dtype': \('float32', 'bfloat16'\).*dtype=torch.float32"):
        generate_targets(half, PAIRS, CFG, ref[0], shard_size=1, progress=False)
    with pytest.warns(UserWarning, match="another dtype or other weights"): load_targets(ref[0], half)
    # a store from before identities: a note
    old = copy(ref[0], tmp_path/"old")
    m = read_json(old/"meta.json")
    del m["identity"]
    atomic_write_json(old/"meta.json", m)
    generate_targets(half, PAIRS, CFG, old, shard_size=1, progress=False)
    assert "predates recorded Generator identities" in capsys.readouterr().out
