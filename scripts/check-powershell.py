#!/usr/bin/env python3
"""Parses every PowerShell text of `baton commands --format json` outputs with the tree-sitter
PowerShell grammar (PyPI: tree-sitter, tree-sitter-powershell).

    scripts/check-powershell.py FILE...     # each FILE a `baton commands ... --format json` output

Prints one JSON document: how many texts were parsed, every ERROR or MISSING node (with the
file, step, action, host, role, line and column, and the text around it), and every command
the texts call with the parameters they pass it. Exits 0 when it could parse (problems or
not), 3 when the grammar is not installed."""
import json
import sys

try:
    import tree_sitter
    import tree_sitter_powershell
except ImportError:
    print("the tree-sitter PowerShell grammar is missing: python3 -m pip install tree-sitter tree-sitter-powershell",
          file=sys.stderr)
    sys.exit(3)

parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def problems_in(tree, source):
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            line = source[: node.start_byte].count(b"\n") + 1
            column = node.start_byte - (source.rfind(b"\n", 0, node.start_byte) + 1) + 1
            found.append({
                "node": "MISSING " + node.type if node.is_missing else "ERROR",
                "line": line,
                "column": column,
                "near": source[node.start_byte:node.start_byte + 60].decode("utf-8", "replace"),
            })
        stack.extend(reversed(node.children))
    return found


def commands_in(tree, source):
    """Each named command (not `& $script`) and the parameters it is given."""
    called = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "command":
            name = next((c for c in node.children if c.type == "command_name"), None)
            if name is not None:
                parameters = []
                for element in node.children:
                    if element.type == "command_elements":
                        parameters += [source[p.start_byte:p.end_byte].decode().split(":")[0]
                                       for p in element.children if p.type == "command_parameter"]
                called.append((source[name.start_byte:name.end_byte].decode(), parameters))
        stack.extend(node.children)
    return called


report = {"texts": 0, "problems": [], "commands": {}}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as handle:
        listing = json.load(handle)
    for command in listing["commands"]:
        if command["language"] != "powershell":
            continue
        source = command["text"].encode("utf-8")
        tree = parser.parse(source)
        report["texts"] += 1
        for problem in problems_in(tree, source):
            problem.update({key: command[key] for key in ("step", "action", "host", "role")})
            problem["file"] = path
            report["problems"].append(problem)
        for name, parameters in commands_in(tree, source):
            known = report["commands"].setdefault(name, [])
            for parameter in parameters:
                if parameter not in known:
                    known.append(parameter)
for name in report["commands"]:
    report["commands"][name].sort(key=str.lower)
json.dump(report, sys.stdout, indent=1, sort_keys=True)
print()
