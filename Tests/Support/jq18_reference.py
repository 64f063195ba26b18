#!/usr/bin/env python3
"""Reference outputs from jq 1.8 (Python's `jq` package) for the differential tests.

Input (a file named by argv[1]): {"expressions": [...], "records": [JSON texts], "mapping": {...}?}
Output (stdout): {"expressions": [[result per record] per expression], "entities": [...]}
where a result is {"value": first output} | {"none": true} | {"error": message}.
With "mapping" ({"itemsToParse", "itemsToParseName", "fields": {name: expr}}), "entities" lists, per
record, Ocean's itemsToParse expansion with each field's first output (null on error or no output).
"""
import json
import sys

import jq


def first(program, value):
    try:
        outputs = program.input_value(value)
        for output in outputs:
            return {"value": output}
        return {"none": True}
    except Exception as error:  # jq raises ValueError for runtime errors
        return {"error": str(error)}


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    records = [json.loads(text) for text in request["records"]]
    answer = {"expressions": [], "entities": []}
    for expression in request["expressions"]:
        program = jq.compile(expression)
        answer["expressions"].append([first(program, record) for record in records])
    mapping = request.get("mapping")
    if mapping:
        items = jq.compile(mapping["itemsToParse"])
        path = mapping["itemsToParse"]
        fields = {name: jq.compile(source) for name, source in mapping["fields"].items()}
        for record in records:
            parent = jq.compile(f"del({path})").input_value(record).first()
            elements = items.input_value(record).first()
            for element in elements:
                item_record = dict(parent)
                item_record[mapping["itemsToParseName"]] = element
                entity = {}
                for name, program in fields.items():
                    result = first(program, item_record)
                    entity[name] = result.get("value")
                answer["entities"].append(entity)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
