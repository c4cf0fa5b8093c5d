"""Issue #25 against the data layer: control characters and non-string fields refused by row (file:line for a
file's rows, as README promises for skip reports), and a folder given as a data file is a clear error."""
import io, json, contextlib, threading, time, subprocess
from pathlib import Path
from unittest import mock
import pytest
import dcm_lab.data as D
from dcm_lab.data import QAPair, DataError, validate_pairs, load_pairs, load_jsonl

def rows(path, *records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path

def test_nul_in_a_json_escaped_field_is_refused_by_file_line(tmp_path):
    f = rows(tmp_path/"q.jsonl", dict(id="a", question="Q?", answer="A"),
             dict(id="b", question="Wh\u0000at?", answer="B"))
    with pytest.raises(DataError, match=r"q\.jsonl:2: control character '\\x00' in question"): load_jsonl(f)
    assert [p.id for p in load_pairs(str(f))] == ["a"]

def test_validate_pairs_names_a_non_string_answer():
    with pytest.raises(DataError, match="row 'n': answer is int, not a string"):
        validate_pairs([QAPair("n", "Q?", 42)], strict=True)
    kept, rep = validate_pairs([QAPair("n", "Q?", 42), QAPair("m", "Q?", "A")])
    assert [p.id for p in kept] == ["m"] and rep.examples == {"answer is int, not a string": "'n'"}

def test_skip_reports_name_file_line(tmp_path):
    f = rows(tmp_path/"d.jsonl", dict(id="a", question="Q?", answer="A"),
             dict(id="a", question="Q2?", answer="B"))
    with contextlib.redirect_stdout(io.StringIO()) as out: load_pairs(str(f))
    assert "duplicate id: 1 (e.g. 'd.jsonl:2')" in out.getvalue()

def test_a_folder_as_data_file(tmp_path):
    (tmp_path/"x.jsonl").mkdir()
    with pytest.raises(DataError, match="x.jsonl is a folder, not a data file"):
        load_pairs(str(tmp_path/"x.jsonl"))

def test_two_bigbench_fetches_at_once_do_not_share_a_temp_folder(tmp_path):
    "Issue #24: fetch_bigbench recreated one fixed temp folder, so two ranks fetching on a fresh cache raced."
    seen = []
    # pip download --no-clean: leaves the unpacked sdist in its TMPDIR
    def fake_pip(cmd, env, **kw):
        t = Path(env["TMPDIR"])
        seen.append(t)
        time.sleep(0.3)
        (t/"pip-download-x"/"bigbench-1.0.0"/"bigbench"/"benchmark_tasks").mkdir(parents=True)
        time.sleep(0.3)
        return subprocess.CompletedProcess(cmd, 0, "", "")
    out, errs = [], []
    def fetch():
        try: out.append(D.fetch_bigbench())
        except Exception as e: errs.append(e)
    with mock.patch.object(D, "cache_dir", lambda: tmp_path), \
            mock.patch.object(D.subprocess, "run", fake_pip):
        th = [threading.Thread(target=fetch) for _ in range(2)]
        for t in th: t.start()
        for t in th: t.join()
    assert not errs, errs
    # each fetch its own temp folder
    assert len(set(seen)) == 2
    assert out == [tmp_path/"bigbench"/"bigbench-1.0.0"] * 2
    assert (out[0]/"bigbench"/"benchmark_tasks").is_dir()
    # no temp folder left behind
    assert [p.name for p in (tmp_path/"bigbench").iterdir()] == ["bigbench-1.0.0"]

def test_hf_dataset_with_a_column_map(tmp_path):
    import datasets             # seconds to import: only this test needs it
    rows_ = dict(query=["Who?", "Where?"], gold=[["Ann", "Anna"], ["Rome"]])
    datasets.Dataset.from_dict(rows_).save_to_disk(str(tmp_path/"d"))
    ps = load_pairs(f"hf:{tmp_path/'d'}", question="query", answer="gold")
    assert [(p.id, p.question, p.answer) for p in ps] == [("d-000000", "Who?", "Ann"),
                                                          ("d-000001", "Where?", "Rome")]

def test_squad_reaches_the_hub_entry(tmp_path):
    "HUB listed rajpurkar/squad, yet load_pairs('squad') never reached it."
    f = tmp_path/"sq.jsonl"
    row = dict(id="x1", title="T", context="Paris is in France.", question="Where is Paris?",
               answers=dict(text=["France"], answer_start=[9]))
    f.write_text(json.dumps(row) + "\n")
    got = [(p.id, p.answer, p.context) for p in load_pairs("squad", data_files=f)]
    assert got == [("squad-x1", "France", "Paris is in France.")]
