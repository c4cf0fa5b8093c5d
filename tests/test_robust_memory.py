"""Issue #25 against the long-term memory: every saved byte verified at load (a content hash), truncated files
named, meaningless sizes refused, and a disk that fills during a save leaves the previous save loadable and a
later save whole."""
import errno, json
from pathlib import Path
from unittest import mock
import pytest, torch
from dcm_lab import core
from dcm_lab.memory import LTM, LTMError

def memory(n=5) -> LTM:
    torch.manual_seed(0)
    m = LTM(K=2, d=3, key_dim=4, dtype=torch.float32)
    m.write_many(torch.randn(n, 2, 3), torch.randn(n, 4))
    return m

def test_changed_bytes_are_refused(tmp_path):
    """20 bytes overwritten inside ltm.safetensors (same length) used to load five entries that differ from
    those saved."""
    m = memory()
    f = m.save(tmp_path)/"ltm.safetensors"
    raw = bytearray(f.read_bytes())
    raw[-40:-20] = bytes(20)
    f.write_bytes(bytes(raw))
    with pytest.raises(LTMError, match="ltm.safetensors does not hash to the sha256") as e: LTM.load(tmp_path)
    assert "save the memory again" in str(e.value)

@pytest.mark.parametrize("name", ["ltm.safetensors", "ltm.json"])
def test_truncated_files_are_named(tmp_path, name):
    f = memory().save(tmp_path)/name
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    with pytest.raises(LTMError, match=name) as e: LTM.load(tmp_path)
    assert "restore a copy" in str(e.value)

@pytest.mark.parametrize("kw", [dict(K=0), dict(key_dim=0), dict(d=-1), dict(capacity=0)])
def test_meaningless_sizes_are_refused(kw):
    name = next(iter(kw))
    with pytest.raises(LTMError, match=rf"LTM\({name}=.*must be an integer ≥ 1"):
        LTM(**{**dict(K=2, d=3, key_dim=4), **kw})

def test_negative_top_n_is_refused():
    with pytest.raises(LTMError, match=r"query\(top_n=-1\)"): memory().query(torch.randn(1, 4), top_n=-1)

def test_full_disk_during_a_memory_save(tmp_path):
    m = memory()
    m.save(tmp_path)
    m.write_many(torch.randn(3, 2, 3), torch.randn(3, 4))
    def full(f, data):
        f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")
    with (mock.patch.object(core, "_write_all", full),
          pytest.raises(OSError, match="disk full while writing .*ltm.safetensors")):
        m.save(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))
    assert len(LTM.load(tmp_path)) == 5                                        # the previous save, whole
    # space freed: the save completes
    m.save(tmp_path)
    back = LTM.load(tmp_path)
    assert len(back) == 8 and torch.equal(back.get(back.ids()), m.get(m.ids()))
