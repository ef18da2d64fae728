#!/usr/bin/python3
"""The published JSON Schema of a manifest (issue 13): docs/virtform.schema.json
is exactly `virtform schema`, and every manifest of manifests/ and every ```yaml
block of README.md and docs/*.md carries the yaml-language-server modeline and
validates against it with a real validator (Debian's python3-jsonschema).

Usage: schema_test.py VIRTFORM_BINARY SOURCE_DIR
"""
import copy
import json
import pathlib
import re
import subprocess
import sys

import jsonschema
import yaml

MODELINE = re.compile(r"^# yaml-language-server: \$schema=\S*virtform\.schema\.json$")


def manifests(src):
    for path in sorted((src / "manifests").glob("*.yaml")):
        yield str(path.relative_to(src)), path.read_text()
    for path in [src / "README.md", *sorted((src / "docs").glob("*.md"))]:
        text = path.read_text()
        for m in re.finditer(r"^```yaml\n(.*?)^```$", text, re.S | re.M):
            # A manifest has a top-level `lab:` or the modeline; other YAML
            # (docs/ci.md's pipelines, an Ansible inventory) is not one.
            if not (re.search(r"^lab:", m.group(1), re.M) or MODELINE.match(m.group(1))):
                continue
            line = text.count("\n", 0, m.start()) + 2
            yield f"{path.relative_to(src)}:{line}", m.group(1)


def main():
    binary, src = sys.argv[1], pathlib.Path(sys.argv[2])
    failures = []
    out = subprocess.run([binary, "schema"], check=True, capture_output=True, text=True).stdout
    if out != (src / "docs/virtform.schema.json").read_text():
        failures.append("docs/virtform.schema.json differs from `virtform schema`; regenerate it: "
                        "build/src/virtform schema > docs/virtform.schema.json")
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    count = 0
    for name, text in manifests(src):
        count += 1
        if not MODELINE.match(text.splitlines()[0] if text else ""):
            failures.append(f"{name}: the first line is not the modeline "
                            "'# yaml-language-server: $schema=.../virtform.schema.json'")
        data = yaml.safe_load(text)
        for err in validator.iter_errors(data):
            failures.append(f"{name}: {'/'.join(map(str, err.absolute_path))}: {err.message}")
    if count < 5:
        failures.append(f"only {count} manifests found; the search is broken")
    # The validator does catch mistakes: a misspelt key and a wrong type.
    base = yaml.safe_load((src / "manifests/nat-lab.yaml").read_text())
    for label, mutate in [("misspelt key", lambda d: d["vms"][next(iter(d["vms"]))].update(cpu=2)),
                          ("wrong type", lambda d: d["vms"][next(iter(d["vms"]))].update(cpus=[1])),
                          ("out of range", lambda d: d["vms"][next(iter(d["vms"]))].update(cpus=0)),
                          ("unknown word", lambda d: d["vms"][next(iter(d["vms"]))].update(state="up"))]:
        bad = copy.deepcopy(base)
        mutate(bad)
        if validator.is_valid(bad):
            failures.append(f"a manifest with a {label} validates")
    for f in failures:
        print("FAIL:", f)
    print(f"{count} manifests checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
