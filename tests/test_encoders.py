"""Issue #26's condition cache beyond the notebook's checks (nbs/12_encoders): any object with the encoder
interface is cached; an interrupted fill keeps what it wrote and a rerun computes only the rest; a disk that
fills partway leaves no partial file; two real processes filling one folder end with every item once, as one
process makes it."""
import errno, json, os, subprocess, sys, textwrap
from pathlib import Path
from unittest import mock
import pytest, torch

ROOT = Path(__file__).resolve().parent.parent
from dcm_lab import core
from dcm_lab.encoders import encode_cached, pad_rows, text_key, ConditionBank

TOY = textwrap.dedent('''
    import torch
    from dcm_lab.encoders import pad_rows
    class Toy:
        "A stand-in encoder: row j of text t is (3j, 3j+1, 3j+2) + len(t); it fails after `fail_after` calls."
        name, dim = "toy", 3
        def __init__(self, fail_after=None): self.calls, self.texts, self.fail_after = 0, 0, fail_after
        def identity(self): return dict(encoder="toy", settings={}, model="arange")
        def encode(self, texts, max_len):
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after: raise RuntimeError("killed")
            self.texts += len(texts)
            rows = [torch.arange(3 * min(len(t), max_len), dtype=torch.float32).reshape(-1, 3) + len(t)
                    for t in texts]
            return pad_rows(rows, 3)
''')
exec(TOY)                                                      # defines Toy here; the workers exec the same
TEXTS = [f"item {i} " + "x" * (i % 7) for i in range(40)] + ["item 3 xxx", "item 5 xxxxx"]  # 42, 40 distinct

def expected(texts, max_len=128):
    "What one uninterrupted process makes."
    return Toy().encode(texts, max_len)

def check_bank(bank, texts):
    cond, mask = bank[torch.arange(len(texts))]
    ref, ref_mask = expected(texts)
    assert torch.equal(mask, ref_mask) and torch.equal(cond, ref)

def stray(root: Path) -> list:
    "Temporary files left behind under root."
    return [p for p in root.rglob("*") if p.name.startswith(".")]

def test_interrupted_fill_keeps_its_chunks_and_a_rerun_computes_only_the_rest(tmp_path):
    with pytest.raises(RuntimeError, match="killed"):
        encode_cached(Toy(fail_after=2), TEXTS, root=tmp_path, chunk=8)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 16 and not stray(tmp_path)   # 2 chunks of 8 written
    again = Toy()
    bank = encode_cached(again, TEXTS, root=tmp_path, chunk=8)
    assert (again.calls, again.texts) == (3, 24)                                         # only the 24 missing
    check_bank(bank, TEXTS)

def test_disk_full_partway_leaves_no_partial_file_and_a_rerun_completes(tmp_path):
    real, n = core._write_all, [0]
    def fills(f, data):
        n[0] += 1
        if n[0] > 10: raise OSError(errno.ENOSPC, "No space left on device")
        real(f, data)
    with mock.patch.object(core, "_write_all", fills), pytest.raises(OSError, match="disk full"):
        encode_cached(Toy(), TEXTS, root=tmp_path, chunk=8)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 9 and not stray(tmp_path)   # encoder.json, 9 items
    for p in tmp_path.rglob("*.safetensors"):                                          # each one readable
        ConditionBank(p.parent.parent.parent, [p.stem])[[0]]
    bank = encode_cached(Toy(), TEXTS, root=tmp_path, chunk=8)
    check_bank(bank, TEXTS)

def test_two_processes_filling_one_folder(tmp_path):
    script = TOY + textwrap.dedent(f'''
        import sys, json
        from dcm_lab.encoders import encode_cached
        texts = json.loads(sys.argv[1])
        bank = encode_cached(Toy(), texts, root={str(tmp_path)!r}, chunk=4)
        print(len(bank))
    ''')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = lambda texts: subprocess.Popen([sys.executable, "-c", script, json.dumps(texts)], env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [run(TEXTS), run(TEXTS[::-1])]                                      # forwards and backwards
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == ["42", "42"]
    assert len(list(tmp_path.rglob("*.safetensors"))) == 40 and not stray(tmp_path)  # each distinct text once
    folder = next(tmp_path.iterdir())
    check_bank(ConditionBank(folder, [text_key(t) for t in TEXTS]), TEXTS)
