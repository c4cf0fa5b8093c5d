"""Issue #25 against the data layer: control characters and non-string fields refused by row (file:line for a file's
rows, as README promises for skip reports), and a folder given as a data file is a clear error."""
import io, json, contextlib
import pytest
from dcm_lab.data import QAPair, DataError, validate_pairs, load_pairs, load_jsonl

def rows(path, *records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n"); return path

def test_nul_in_a_json_escaped_field_is_refused_by_file_line(tmp_path):
    f = rows(tmp_path/"q.jsonl", dict(id="a", question="Q?", answer="A"), dict(id="b", question="Wh\u0000at?", answer="B"))
    with pytest.raises(DataError, match=r"q\.jsonl:2: control character '\\x00' in question"): load_jsonl(f)
    assert [p.id for p in load_pairs(str(f))] == ["a"]

def test_validate_pairs_names_a_non_string_answer():
    with pytest.raises(DataError, match="row 'n': answer is int, not a string"):
        validate_pairs([QAPair("n", "Q?", 42)], strict=True)
    kept, rep = validate_pairs([QAPair("n", "Q?", 42), QAPair("m", "Q?", "A")])
    assert [p.id for p in kept] == ["m"] and rep.examples == {"answer is int, not a string": "'n'"}

def test_skip_reports_name_file_line(tmp_path):
    f = rows(tmp_path/"d.jsonl", dict(id="a", question="Q?", answer="A"), dict(id="a", question="Q2?", answer="B"))
    with contextlib.redirect_stdout(io.StringIO()) as out: load_pairs(str(f))
    assert "duplicate id: 1 (e.g. 'd.jsonl:2')" in out.getvalue()

def test_a_folder_as_data_file(tmp_path):
    (tmp_path/"x.jsonl").mkdir()
    with pytest.raises(DataError, match="x.jsonl is a folder, not a data file"): load_pairs(str(tmp_path/"x.jsonl"))
