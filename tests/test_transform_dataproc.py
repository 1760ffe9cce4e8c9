"""Batch transform's data processing (InputFilter, JoinSource, OutputFilter), record by record.

The examples quoted below come from the SageMaker developer guide page "Associate Prediction
Results with Input Records" (batch-transform-data-processing), its API reference (DataProcessing)
and the sample notebooks it links to.
"""

import pytest

from serving._dataproc import DataProcessing, check

CSV, JSON, JSONL = "text/csv", "application/json", "application/jsonlines"


def csv_job(input_filter=None, output_filter=None, join_source=None):
    return DataProcessing(input_filter, output_filter, join_source, CSV, CSV)


def jsonl_job(input_filter=None, output_filter=None, join_source=None):
    return DataProcessing(input_filter, output_filter, join_source, JSONL, JSONL)


# --- the guide's examples, verbatim ------------------------------------------------------------

def test_output_only_inferences_is_the_default():
    # "Example: Output Only Inferences": input_filter="$", join_source="None", output_filter="$"
    for args in (("$", "$", "None"), (None, None, None), ("", " $ ", None)):
        dp = DataProcessing(*args, CSV, CSV)
        assert dp.identity and not dp.filters_input
        assert dp.filter_input(b"1,2,3") == b"1,2,3"
        assert dp.join(b"1,2,3", b"0.5") == b"0.5"


def test_output_input_data_and_inferences_json():
    # "if the input is a JSON file that contains the key-value pair {"key":1}, the data
    # transform result might be {"label":1}" -> {"key":1, "SageMakerOutput":{"label":1}}
    dp = jsonl_job(join_source="Input")
    assert not dp.identity and not dp.filters_input
    assert dp.join(b'{"key":1}', b'{"label":1}') == b'{"key":1,"SageMakerOutput":{"label":1}}'


def test_output_input_data_and_inferences_csv():
    # "if the record is [1,2,3], and the label result is [1], then the output file would
    # contain [1,2,3,1]"
    assert csv_job(join_source="Input").join(b"1,2,3", b"1") == b"1,2,3,1"


def test_json_input_that_is_not_an_object_is_wrapped():
    # "If the input isn't a key-value pair object, SageMaker creates a new JSON file ... the
    # input data is stored in the SageMakerInput key and the results are stored as the
    # SageMakerOutput value."
    dp = jsonl_job(join_source="Input")
    assert dp.join(b"[1,2,3]", b"[1]") == b'{"SageMakerInput":[1,2,3],"SageMakerOutput":[1]}'
    assert dp.join(b'"text"', b"0.5") == b'{"SageMakerInput":"text","SageMakerOutput":0.5}'


def test_csv_id_column_excluded_from_the_input_then_joined():
    # "Example: Output an ID Column with Results and Exclude the ID Column from the Input
    # (CSV)": five columns, the first the ID; InputFilter "$[1:]", JoinSource "Input",
    # OutputFilter "$".
    dp = csv_job("$[1:]", "$", "Input")
    assert dp.filters_input and not dp.identity
    assert dp.filter_input(b"id-7,5.1,3.5,1.4,0.2") == b"5.1,3.5,1.4,0.2"
    assert dp.join(b"id-7,5.1,3.5,1.4,0.2", b"0.93") == b"id-7,5.1,3.5,1.4,0.2,0.93"


def test_the_guides_column_ranges():
    # "$[1:4] specifies the second through fifth columns"; "[5:]" "all columns from the 6th
    # column through the last column"; "[:5]" "from the first column (index 0) through the
    # sixth column".
    row = b"c1,c2,c3,c4,c5,c6,c7,c8"
    assert csv_job("$[1:4]").filter_input(row) == b"c2,c3,c4,c5"
    assert csv_job("$[5:]").filter_input(row) == b"c6,c7,c8"
    assert csv_job("$[:5]").filter_input(row) == b"c1,c2,c3,c4,c5,c6"


def test_json_id_attribute_excluded_from_the_input_then_joined():
    # "Example: Output an ID Attribute with Results and Exclude the ID Attribute from the Input
    # (JSON)": input_filter="$.features", join_source="Input",
    # output_filter="$['id','SageMakerOutput']"
    dp = jsonl_job("$.features", "$['id','SageMakerOutput']", "Input")
    record = b'{"id":"r-1","features":[0.5,1.5,2.0],"note":"kept out"}'
    assert dp.filter_input(record) == b"[0.5,1.5,2.0]"
    assert dp.join(record, b'{"score":0.25}') == b'{"id":"r-1","SageMakerOutput":{"score":0.25}}'


@pytest.mark.parametrize("output_filter", ["$[0,-1]", "$[0, -1]"])
def test_breast_cancer_notebook_keeps_the_id_and_the_prediction(output_filter):
    # The guide's sample notebook (XGBoost, breast cancer): input_filter="$[1:]",
    # join_source="Input", output_filter="$[0,-1]" (its low-level twin writes "$[0, -1]").
    dp = csv_job("$[1:]", output_filter, "Input")
    assert dp.join(b"842302,17.99,10.38,122.8", b"0.9871") == b"842302,0.9871"


def test_api_reference_output_filter_example():
    # DataProcessing.OutputFilter examples: "$", "$[0,5:]", "$['id','SageMakerOutput']"
    dp = csv_job(output_filter="$[0,5:]", join_source="Input")
    assert dp.join(b"a,b,c,d,e,f", b"p") == b"a,f,p"


@pytest.mark.parametrize("path, expected", [
    ("$.id", b'{"k":"x1","n":2}'),
    ("$.id.*", b'["x1",2]'),
    ("$.tags.*", b'["a","b"]'),
    ("$['id','score']", b'{"id":{"k":"x1","n":2},"score":3}'),
    ("$.tags[1]", b'"b"'),
    ("$.v[1,3,5]", b"[1,3,5]"),
    ("$.v[-1]", b"6"),
    ("$.v[2:5]", b"[2,3,4,5]"),
    ("$.v[:5]", b"[0,1,2,3,4,5]"),
    ("$.v[2:]", b"[2,3,4,5,6]"),
    ("$.meta.['a','b']", b'{"a":1,"b":2}'),  # "$.field1.['child1','child2'] is supported"
])
def test_supported_operators_table(path, expected):
    # The table: $, .<name>, *, ['<name>' (,'<name>')], [<number> (,<number>)], [<start>:<end>]
    record = b'{"id":{"k":"x1","n":2},"score":3,"tags":["a","b"],"meta":{"a":1,"b":2},' \
             b'"v":[0,1,2,3,4,5,6]}'
    assert jsonl_job(path).filter_input(record) == expected


# --- CSV records ---------------------------------------------------------------------------------

def test_quoted_fields_with_commas_stay_one_field():
    dp = csv_job("$[1:]", "$[0,-1]", "Input")
    record = b'7,"Smith, Jane","said ""hi""",3.5'
    assert dp.filter_input(record) == b'"Smith, Jane","said ""hi""",3.5'
    assert dp.join(record, b"0.1") == b"7,0.1"
    assert csv_job("$[1]").filter_input(record) == b'"Smith, Jane"'
    assert csv_job("$[0,2]").filter_input(record) == b'7,"said ""hi"""'


def test_fields_are_kept_as_the_text_they_were():
    # Quotes that were not needed are dropped (the field's text is the same); spaces, number
    # spellings and non-ASCII bytes come back as they came.
    dp = csv_job(join_source="Input")
    assert dp.join(b'"a", 1.50 ,1e3,caf\xc3\xa9', b"x") == b"a, 1.50 ,1e3,caf\xc3\xa9,x"
    assert dp.join(b'"caf\xc3\xa9, ol\xc3\xa9",2', b"x") == b'"caf\xc3\xa9, ol\xc3\xa9",2,x'
    assert dp.join(b"\xff\xfe,1", b"x") == b"\xff\xfe,1,x"  # not even UTF-8: still untouched
    assert dp.join(b"1,2\r", b"3\r") == b"1,2,3"  # a CRLF file's line
    assert dp.join(b"1,,3", b"") == b"1,,3,"  # empty fields count


def test_a_multi_field_csv_output_is_appended_field_by_field():
    # XGBoost multi:softprob answers a row of class probabilities per record.
    dp = csv_job("$[1:]", "$[0,-3:]", "Input")
    assert dp.join(b"id9,1,2", b"0.1,0.7,0.2") == b"id9,0.1,0.7,0.2"


def test_negative_indices_and_slices():
    row = b"a,b,c,d,e"
    assert csv_job("$[-1]").filter_input(row) == b"e"
    assert csv_job("$[-2,0]").filter_input(row) == b"d,a"
    assert csv_job("$[-3:]").filter_input(row) == b"c,d,e"
    assert csv_job("$[-3:-2]").filter_input(row) == b"c,d"
    assert csv_job("$[:-2]").filter_input(row) == b"a,b,c,d"
    assert csv_job("$[1:-1]").filter_input(row) == b"b,c,d,e"
    assert csv_job("$[:]").filter_input(row) == row
    assert csv_job("$[*]").filter_input(row) == row
    assert csv_job("$[3:10]").filter_input(row) == b"d,e"  # a range is cut to the row


def test_an_index_outside_the_record_fails_that_record():
    # "If you specify indexes that aren't within the dimension size of the joined dataset,
    # you get an error."
    dp = csv_job(output_filter="$[0,7]", join_source="Input")
    with pytest.raises(ValueError, match=r"output_filter '\$\[0,7\]': index 7 is outside the 4 "
                                         r"elements there \(indices 0 to 3"):
        dp.join(b"1,2,3", b"9")
    with pytest.raises(ValueError, match=r"index -6 is outside the 5 elements"):
        csv_job("$[-6]").filter_input(b"a,b,c,d,e")


def test_a_broken_csv_line_fails_that_record():
    with pytest.raises(ValueError, match=r"the input record is not RFC 4180 CSV"):
        csv_job("$[1:]").filter_input(b'1,"open quote,2')


# --- JSON records --------------------------------------------------------------------------------

def test_joined_object_keeps_its_keys_and_the_output_replaces_a_reserved_key():
    # "the attribute name SageMakerOutput is reserved for output ... values in the input file
    # might be overwritten with the inference."
    dp = jsonl_job(join_source="Input")
    assert dp.join(b'{"b":1,"a":[1,2]}', b"[0.2,0.8]") == \
        b'{"b":1,"a":[1,2],"SageMakerOutput":[0.2,0.8]}'
    assert dp.join(b'{"SageMakerOutput":"old","k":"\xc3\xa9"}', b'"new"') == \
        '{"SageMakerOutput":"new","k":"é"}'.encode()


def test_application_json_records_join_with_json_lines_outputs():
    dp = DataProcessing("$.x", "$.SageMakerOutput.score", "Input", JSON, JSONL)
    assert dp.filter_input(b'{"x": [1, 2]}') == b"[1,2]"
    assert dp.join(b'{"x": [1, 2]}', b'{"score": 0.5}') == b"0.5"


def test_output_filter_without_a_join_filters_the_output_alone():
    assert jsonl_job(output_filter="$.score").join(b'{"x":1}', b'{"score":0.5,"l":1}') == b"0.5"
    assert csv_job(output_filter="$[-1]").join(b"1,2", b"0.1,0.9") == b"0.9"


def test_wildcards_and_paths_through_several_matches():
    record = b'{"instances":[{"features":[1,2]},{"features":[3]}],"meta":{"a":1,"b":[2]}}'
    assert jsonl_job("$.instances[*].features").filter_input(record) == b"[[1,2],[3]]"
    assert jsonl_job("$.instances[0].features[-1]").filter_input(record) == b"2"
    assert jsonl_job("$.meta.*").filter_input(record) == b"[1,[2]]"
    assert jsonl_job("$['meta']['b'][0]").filter_input(record) == b"2"


def test_a_union_of_names_keeps_the_keys_present():
    # As Jayway JsonPath (which the guide points to) reads several properties.
    dp = jsonl_job(output_filter="$['id','SageMakerOutput']", join_source="Input")
    assert dp.join(b'{"x":1}', b"2") == b'{"SageMakerOutput":2}'


def test_a_record_without_the_selected_key_fails_that_record():
    with pytest.raises(ValueError, match=r"input_filter '\$\.features': the record has no key "
                                         r"'features'"):
        jsonl_job("$.features").filter_input(b'{"feature":[1]}')
    with pytest.raises(ValueError, match=r"'features' needs a JSON object here, got an array"):
        jsonl_job("$.features").filter_input(b"[1,2]")
    with pytest.raises(ValueError, match=r"'\$\.id\.\*': \* needs an array here, got \"x1\""):
        jsonl_job("$.id.*").filter_input(b'{"id":"x1"}')


def test_a_record_that_is_not_json_fails_that_record():
    dp = jsonl_job("$.x", join_source="Input")
    with pytest.raises(ValueError, match=r"the input record is not JSON"):
        dp.filter_input(b"x,y")
    with pytest.raises(ValueError, match=r"the model's output for this record is not JSON"):
        dp.join(b'{"x":1}', b"not json")


# --- split_output --------------------------------------------------------------------------------

@pytest.mark.parametrize("accept, body, parts", [
    (CSV, b"0.1\n0.2\n0.3\n", [b"0.1", b"0.2", b"0.3"]),
    (CSV, b"0.1,0.9\r\n0.2,0.8", [b"0.1,0.9", b"0.2,0.8"]),
    (CSV, b"\n1\n", [b"", b"1"]),  # an empty answer is one record's
    (JSONL, b'{"score":0.1}\n{"score":0.2}\n', [b'{"score":0.1}', b'{"score":0.2}']),
    (JSON, b"[0.1, [0.2, 0.8]]", [b"0.1", b"[0.2,0.8]"]),
    (JSON, b'{"predictions": [{"score": 0.1}, {"score": 0.2}]}',  # XGBoost, TF Serving
     [b'{"score":0.1}', b'{"score":0.2}']),
    (JSON, b'{"score":0.1}\n{"score":0.2}', [b'{"score":0.1}', b'{"score":0.2}']),
])
def test_split_output_gives_one_output_per_record(accept, body, parts):
    dp = DataProcessing(None, None, "Input", JSONL if accept != CSV else CSV, accept)
    assert dp.split_output(body, len(parts)) == parts


@pytest.mark.parametrize("body, part", [
    (b"[0.2, 0.8]", b"[0.2,0.8]"),  # one record's class probabilities
    (b'{"predictions": [[0.2, 0.8]]}', b"[0.2,0.8]"),
    (b'{"predictions": [1, 2]}', b'{"predictions":[1,2]}'),  # not one per record: kept whole
    (b'{"label": 1}', b'{"label":1}'),
    (b"0.5", b"0.5"),
])
def test_a_single_records_json_answer(body, part):
    dp = DataProcessing(None, None, "Input", JSONL, JSON)
    assert dp.split_output(body, 1) == [part]


@pytest.mark.parametrize("accept, body, got", [
    (CSV, b"0.1\n0.2\n", 2),
    (JSONL, b'{"a":1}\n', 1),
    (JSON, b'{"predictions": [1, 2, 3, 4]}', 4),
    (JSON, b'{"label": 1}', 1),
])
def test_split_output_refuses_a_count_that_is_not_one_per_record(accept, body, got):
    dp = DataProcessing(None, None, "Input", CSV if accept == CSV else JSONL, accept)
    with pytest.raises(ValueError) as info:
        dp.split_output(body, 3)
    message = str(info.value)
    assert f"the model answered {got} records for 3 input records" in message
    assert "join_source and output_filter need one output per record" in message


# --- refused settings ----------------------------------------------------------------------------

@pytest.mark.parametrize("field, kwargs, words", [
    ("input_filter", dict(input_filter="$..price"),
     ["'$..price'", "recursive descent '..'", "write it with $, .name"]),
    ("input_filter", dict(input_filter="$[?(@.price > 10)]"),
     ["'$[?(@.price > 10)]'", "a filter expression", "does not support"]),
    ("input_filter", dict(input_filter="$[(@.length-1)]"), ["a script expression"]),
    ("output_filter", dict(output_filter="$.v.length()"), ["a function 'length()'"]),
    ("input_filter", dict(input_filter="$[::2]"), ["'$[::2]'", "a slice step [start:end:step]"]),
    # SageMaker's own refusal: "only single range filters of format (eg: [1:5]) are supported"
    ("output_filter", dict(output_filter="$[0:2,246:]", join_source="Input"),
     ["'$[0:2,246:]'", "only a single range", "list the other columns by index"]),
    ("output_filter", dict(output_filter="$.a.['b','c.d']"),
     ["\"$.a.['b','c.d']\"", "cannot reach further down", "select the parent first"]),
    ("input_filter", dict(input_filter="features"), ["'features' must start with $"]),
    ("input_filter", dict(input_filter="$.a]x"), ["'$.a]x': cannot read ']x'"]),
    ("input_filter", dict(input_filter="$[x]"), ["[x] is not an index list"]),
    ("output_filter", dict(output_filter="$['a',1]"), ["names and indices cannot be mixed"]),
    ("input_filter", dict(input_filter="$." + "a" * 62), ["is 64 characters", "at most 63"]),
    ("join_source", dict(join_source="input"), ["'input'", "must be 'Input'"]),
])
def test_a_refused_expression_names_itself_and_the_fix(field, kwargs, words):
    args = dict(input_filter=None, output_filter=None, join_source=None, content_type=JSONL,
                accept=JSONL) | kwargs
    problems = check(**args)
    assert [f for f, _ in problems] == [field], problems
    for word in words:
        assert word in problems[0][1], (word, problems)
    with pytest.raises(ValueError) as info:
        DataProcessing(**args)
    assert str(info.value) == f"{field}: {problems[0][1]}"


def test_csv_records_take_only_indices():
    # "For CSV data, each row is taken as a JSON array, so only index based JSONPaths can be
    # applied, e.g. $[0], $[1:]."
    problems = check("$.features", "$['id','SageMakerOutput']", "Input", CSV, CSV)
    assert [f for f, _ in problems] == ["input_filter", "output_filter"]
    assert "input_filter '$.features' selects by name, but a CSV record is an array" in \
        problems[0][1]
    assert "select them by index, e.g. '$[0]', '$[1:]' or '$[0,-1]'" in problems[1][1]
    # Without a join the output filter reads the output, so a JSON output may use names.
    assert check("$[1:]", "$.score", None, CSV, JSONL) == []
    assert check(None, "$.score", None, JSONL, CSV)[0][0] == "output_filter"


@pytest.mark.parametrize("content_type, accept, fix", [
    (CSV, JSON, "set accept to text/csv"),
    (CSV, JSONL, "set accept to text/csv"),
    (JSONL, CSV, "set accept to application/jsonlines"),
    (JSON, CSV, "set accept to application/jsonlines"),
])
def test_a_join_needs_the_records_format_for_the_output(content_type, accept, fix):
    problems = check(None, None, "Input", content_type, accept)
    assert problems == [("accept", f"join_source Input joins an output to its record in the "
                         f"record's format: content_type {content_type} cannot be joined with "
                         f"accept {accept}; {fix}")]


def test_data_processing_needs_csv_or_json_on_both_sides():
    # "you must set both the Content Type and Accept parameters to one of the following
    # values: text/csv, application/json, or application/jsonlines"
    problems = check("$[1:]", None, None, "application/x-npy", "application/x-npy")
    assert [f for f, _ in problems] == ["input_filter", "accept"]
    assert "need content_type text/csv, application/json, application/jsonlines; got " \
        "'application/x-npy'" in problems[0][1]
    assert "got 'application/x-npy'; set accept to one of them" in problems[1][1]
    assert check(None, None, "Input", "text/libsvm", CSV)[0][0] == "join_source"
    assert check(None, "$[0]", None, CSV, "application/x-recordio-protobuf")[0][0] == "accept"
    assert check(None, None, None, "application/x-npy", "application/x-npy") == []  # nothing asked
    with pytest.raises(ValueError, match=r"^input_filter: .*; accept: "):
        DataProcessing("$[1:]", None, None, "application/x-npy", "application/x-npy")


def test_media_type_parameters_and_case_are_ignored():
    dp = DataProcessing("$[1:]", None, "Input", "Text/CSV; charset=utf-8", "text/csv;header=absent")
    assert dp.join(b"1,2", b"3") == b"1,2,3"
    assert check(None, None, "Input", "APPLICATION/JSONLINES", "application/json") == []
