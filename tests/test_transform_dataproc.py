"""Batch transform's InputFilter / JoinSource / OutputFilter on single records (no Ray): the
JSONPath subset SageMaker documents ("Associate Prediction Results with Input Records"), CSV
rows as arrays of their fields, JSON records as objects, and a clear refusal of the rest."""

from __future__ import annotations

import pytest

from serving._dataproc import DataProcessing, check, compile_path

CSV, JSONL = "text/csv", "application/jsonlines"


def test_csv_id_column_dropped_joined_and_kept_with_the_prediction():
    # The guide's CSV example: an ID first, then features; keep "ID,prediction".
    dp = DataProcessing("$[1:]", "$[0,-1]", "Input", CSV, CSV)
    assert dp.filters_input and not dp.identity
    assert dp.filter_input(b"ab-1,5.1,3.5,1.4") == b"5.1,3.5,1.4"
    assert dp.join(b"ab-1,5.1,3.5,1.4", b"0.97") == b"ab-1,0.97"
    # Without an output filter, the joined record is the input's fields then the output's.
    joined = DataProcessing("$[1:]", None, "Input", CSV, CSV)
    assert joined.join(b"7,1,2", b"0.1,0.9") == b"7,1,2,0.1,0.9"
    # Quoted fields keep their commas and are quoted again on the way out.
    assert dp.filter_input(b'"x, y",1,2') == b"1,2"
    assert joined.join(b'"x, y",1', b"0.5") == b'"x, y",1,0.5'


def test_json_features_in_id_and_output_out():
    dp = DataProcessing("$.features", "$['id','SageMakerOutput']", "Input", JSONL, JSONL)
    record = b'{"id": 3, "features": [1.5, 2], "note": "n"}'
    assert dp.filter_input(record) == b"[1.5,2]"
    assert dp.join(record, b'{"score": 0.25}') == b'{"id":3,"SageMakerOutput":{"score":0.25}}'
    whole = DataProcessing(None, None, "Input", JSONL, JSONL)
    assert whole.join(b"[1, 2]", b"0.5") == b"[1,2,0.5]"  # an array input gets the output appended
    assert whole.join(record, b"0.5") == (b'{"id":3,"features":[1.5,2],"note":"n",'
                                          b'"SageMakerOutput":0.5}')


def test_paths_indices_slices_unions_and_wildcards():
    row = ["a", "b", "c", "d"]
    assert compile_path("$[-1]")(row) == "d"
    assert compile_path("$[:2]")(row) == ["a", "b"]
    assert compile_path("$[1:-1]")(row) == ["b", "c"]
    assert compile_path("$[0, 2]")(row) == ["a", "c"]
    assert compile_path("$[*]")(row) == row and compile_path("$")(row) == row
    doc = {"a": {"b": [10, 20, 30]}, "c": 1}
    assert compile_path("$.a.b[1]")(doc) == 20
    assert compile_path("$['a']['b'][-2:]")(doc) == [20, 30]
    assert compile_path("$.*")({"x": 1, "y": 2}) == [1, 2]
    with pytest.raises(ValueError, match="index 9 is outside the record's 4 fields"):
        compile_path("$[9]")(row)
    with pytest.raises(ValueError, match="no field 'z'"):
        compile_path("$.z")(doc)


def test_one_output_per_record_is_required_for_joins():
    dp = DataProcessing(None, "$[0]", None, CSV, CSV)
    assert dp.split_output(b"0.1\n0.2\n", 2) == [b"0.1", b"0.2"]
    assert dp.join(b"ignored", b"0.1,0.9") == b"0.1"  # no join: the filter sees the output
    js = DataProcessing(None, None, "Input", JSONL, "application/json")
    assert js.split_output(b'{"predictions": [{"score": 1}, {"score": 2}]}', 2) == [
        b'{"score":1}', b'{"score":2}']
    assert js.split_output(b"[0.5, 0.7]", 2) == [b"0.5", b"0.7"]
    with pytest.raises(ValueError, match="answered 1 records for 3; join_source and "
                                         "output_filter need one answer per record"):
        dp.split_output(b"0.1\n", 3)


@pytest.mark.parametrize("args,words", [
    (("$..x", None, None, CSV, CSV), "recursive descent '..' or a filter '?()'"),
    (("$[?(@.a > 1)]", None, None, JSONL, CSV), "recursive descent '..' or a filter '?()'"),
    (("features", None, None, JSONL, CSV), "must start with $"),
    (("$[a]", None, None, CSV, CSV), "[a] is not an index list, a slice"),
    (("$.x y", None, None, JSONL, JSONL), "cannot read ' y'"),
    ((None, None, "Input", CSV, "application/jsonlines"), "cannot be joined; set accept to text/csv"),
    ((None, "$[0]", None, CSV, "application/x-npy"), "need answers in text/csv"),
    (("$[1:]", None, None, "application/x-recordio-protobuf", CSV), "work on text/csv"),
])
def test_unsupported_expressions_and_combinations_name_the_problem(args, words):
    problems = check(*args)
    assert any(words in message for _, message in problems), problems
    with pytest.raises(ValueError, match=None) as info:
        DataProcessing(*args)
    assert words in str(info.value)
