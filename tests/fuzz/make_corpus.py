#!/usr/bin/env python3
"""Regenerates the seed corpus tests/fuzz/corpus/ from the manifests in the tree:
manifests/*.yaml, the ```yaml examples in README.md and docs/*.md, and the
manifests written inline in the tests (raw strings and "lab: ..." literals).
Pairs of them joined by a "#%live" line seed the update paths (see
manifest_fuzzer.cpp). Run from anywhere; it rewrites the directory."""
import hashlib
import pathlib
import re

root = pathlib.Path(__file__).resolve().parents[2]
out = root / "tests/fuzz/corpus"

seeds = {}  # name -> text


def add(name, text):
    if "lab" not in text and "networks" not in text and "vms" not in text:
        return
    seeds[name] = text


for f in sorted((root / "manifests").glob("*.y*ml")):
    add("manifests_" + f.stem, f.read_text())

for f in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
    blocks = re.findall(r"```ya?ml\n(.*?)```", f.read_text(), re.S)
    for i, block in enumerate(blocks):
        add(f"docs_{f.stem}_{i}", block)

ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'", "0": "\0", "r": "\r"}


def unescape(body):
    return re.sub(r"\\(x[0-9a-fA-F]{2}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x"
                  else ESCAPES.get(m.group(1), m.group(1)), body)


literal = r'"((?:[^"\\\n]|\\.)*)"'
for f in sorted((root / "tests").glob("*/*_test.cpp")):
    src = f.read_text()
    n = 0
    for m in re.finditer(r'R"([^(\s]*)\((.*?)\)\1"', src, re.S):
        add(f"{f.parent.name}_{f.stem}_raw{n}", m.group(2))
        n += 1
    # Adjacent literals ("a\n" "b\n") are one string in C++.
    for m in re.finditer(rf'{literal}(?:\s*{literal})*', src):
        text = "".join(unescape(b) for b in re.findall(literal, m.group(0)))
        if text.startswith("lab:") and "\n" in text:
            add(f"{f.parent.name}_{f.stem}_{n}", text)
            n += 1

names = sorted(seeds)
# Update paths: each seed planned against the next one as the host.
for a, b in zip(names, names[1:] + names[:1]):
    seeds[f"pair_{a}__{b}"] = seeds[a] + "\n#%live\n" + seeds[b]

for old in out.glob("*"):
    old.unlink()
out.mkdir(parents=True, exist_ok=True)
seen = set()
for name, text in sorted(seeds.items()):
    digest = hashlib.sha1(text.encode()).hexdigest()
    if digest in seen:
        continue
    seen.add(digest)
    (out / f"{name}.yaml").write_text(text)
print(f"{len(seen)} seeds in {out.relative_to(root)}")
