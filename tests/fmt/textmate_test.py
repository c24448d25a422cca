#!/usr/bin/env python3
"""textmate_test.py — checks editors/textmate/nnc.tmLanguage.json (docs/editors.md).

    textmate_test.py GRAMMAR.json SAMPLE.nn [EXPECT.txt]

1. The grammar is valid JSON with the keys an editor needs (scopeName source.nnc, the
   file type nn, patterns, a repository that every "#name" include resolves in).
2. Every regex (match, begin, end) compiles with Python's re. Oniguruma, which editors use,
   accepts more; staying within what both accept keeps this check meaningful.
3. SAMPLE is tokenized with the small TextMate matcher below and each check of EXPECT
   (default: editors_expect.txt beside this file) is verified: the token's characters
   carry the expected scope (or, for !SCOPE, do not).

The matcher does what TextMate grammars need here: rules with match (and captures), rules
with begin/end (and beginCaptures/endCaptures/patterns, carried across lines), includes of
"#name" and "$self". At each position the leftmost match wins, ties going to the rule listed
first, and a begin/end rule's end wins ties against its inner patterns.
Exit status 0 pass, 1 fail, 2 usage.
"""
import json
import os
import re
import sys


class Grammar:
    def __init__(self, data):
        self.data = data
        self.repo = data.get("repository", {})
        self.cache = {}
        self.errors = []

    def regex(self, text, where):
        if text not in self.cache:
            try:
                self.cache[text] = re.compile(text)
            except re.error as e:
                self.errors.append("%s: %r does not compile with Python's re: %s" % (where, text, e))
                self.cache[text] = None
        return self.cache[text]

    def rules(self, patterns, seen=()):
        """The concrete rules (with match or begin) that a pattern list stands for."""
        out = []
        for p in patterns:
            inc = p.get("include")
            if inc is None:
                if "match" in p or "begin" in p:
                    out.append(p)
                elif "patterns" in p:
                    out.extend(self.rules(p["patterns"], seen))
                continue
            if inc in seen:
                continue
            if inc == "$self":
                out.extend(self.rules(self.data["patterns"], seen + (inc,)))
            elif inc.startswith("#") and inc[1:] in self.repo:
                target = self.repo[inc[1:]]
                if "match" in target or "begin" in target:
                    out.append(target)
                else:
                    out.extend(self.rules(target.get("patterns", []), seen + (inc,)))
            else:
                self.errors.append("include %r does not resolve" % inc)
        return out

    def all_regexes(self):
        """Every regex of the grammar with where it is, for the compile check."""
        def walk(node, where):
            if isinstance(node, dict):
                for key in ("match", "begin", "end"):
                    if isinstance(node.get(key), str):
                        yield "%s.%s" % (where, key), node[key]
                for key, value in node.items():
                    yield from walk(value, "%s.%s" % (where, key))
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    yield from walk(value, "%s[%d]" % (where, i))
        yield from walk(self.data, "grammar")


def apply(scopes, m, name, captures):
    """Adds name over the whole match and each capture's name over its group."""
    if name:
        for i in range(m.start(), m.end()):
            scopes[i].append(name)
    for group, cap in (captures or {}).items():
        g = int(group)
        if g <= (m.re.groups or 0) and m.start(g) >= 0 and "name" in cap:
            for i in range(m.start(g), m.end(g)):
                scopes[i].append(cap["name"])


def tokenize(grammar, lines):
    """Per line, per character, the list of scopes (outermost first)."""
    stack = []   # open begin/end rules: (rule, end regex, inner rules)
    top = grammar.rules(grammar.data["patterns"])
    result = []
    for text in lines:
        scopes = [[] for _ in range(len(text) + 1)]
        pos = 0
        # Scopes of rules still open from earlier lines cover this line from its start.
        def open_scopes(start):
            for rule, _, _ in stack:
                for i in range(start, len(text) + 1):
                    for key in ("name", "contentName"):
                        if rule.get(key):
                            scopes[i].append(rule[key])
        open_scopes(0)
        while pos <= len(text):
            rules = stack[-1][2] if stack else top
            best, best_rule = None, None
            for rule in rules:
                rx = grammar.regex(rule.get("match") or rule["begin"], "rule")
                m = rx.search(text, pos) if rx else None
                if m and (best is None or m.start() < best.start()):
                    best, best_rule = m, rule
            end = stack[-1][1].search(text, pos) if stack and stack[-1][1] else None
            if end and (best is None or end.start() <= best.start()):
                rule = stack.pop()[0]
                apply(scopes, end, None, rule.get("endCaptures"))
                # The rule's own scopes were laid over the whole line; remove them past its end.
                for i in range(end.end(), len(text) + 1):
                    for key in ("name", "contentName"):
                        if rule.get(key) and rule[key] in scopes[i]:
                            scopes[i].remove(rule[key])
                pos = end.end() if end.end() > pos else pos + 1
                continue
            if best is None:
                break
            if "match" in best_rule:
                apply(scopes, best, best_rule.get("name"), best_rule.get("captures"))
                pos = best.end() if best.end() > pos else pos + 1
                continue
            # begin: its scopes run from the match to the end of the line until its end matches.
            for i in range(best.start(), len(text) + 1):
                if best_rule.get("name"):
                    scopes[i].append(best_rule["name"])
            for i in range(best.end(), len(text) + 1):
                if best_rule.get("contentName"):
                    scopes[i].append(best_rule["contentName"])
            apply(scopes, best, None, best_rule.get("beginCaptures"))
            end_rx = grammar.regex(best_rule.get("end", "$^"), "end")
            stack.append((best_rule, end_rx, grammar.rules(best_rule.get("patterns", []))))
            pos = best.end() if best.end() > pos else pos + 1
        result.append(scopes[:len(text)])
    return result


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    grammar_path, sample_path = argv[1], argv[2]
    expect_path = argv[3] if len(argv) == 4 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "editors_expect.txt")
    problems = []
    try:
        with open(grammar_path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print("FAIL: %s is not readable JSON: %s" % (grammar_path, e))
        return 1
    if data.get("scopeName") != "source.nnc":
        problems.append("scopeName is %r, want 'source.nnc'" % data.get("scopeName"))
    if "nn" not in data.get("fileTypes", []):
        problems.append("fileTypes does not list 'nn'")
    if not isinstance(data.get("patterns"), list) or not data["patterns"]:
        problems.append("no top-level patterns")
    grammar = Grammar(data)
    count = 0
    for where, text in grammar.all_regexes():
        grammar.regex(text, where)
        count += 1
    grammar.rules(data.get("patterns", []))
    for entry in data.get("repository", {}).values():
        grammar.rules([entry])
    problems.extend(grammar.errors)
    if grammar.errors:
        for p in problems:
            print("FAIL:", p)
        return 1

    with open(sample_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    scopes = tokenize(grammar, lines)
    checks = 0
    with open(expect_path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            if raw.startswith("#") or not raw.strip():
                continue
            fields = raw.rstrip("\n").split("\t")
            if len(fields) != 4:
                problems.append("%s:%d: want 4 tab-separated fields" % (expect_path, n))
                continue
            line, token, want = int(fields[0]), fields[1], fields[2]
            if want == "-":
                continue
            checks += 1
            text = lines[line - 1] if line - 1 < len(lines) else ""
            col = text.find(token)
            if col < 0:
                problems.append("line %d: token %r not in %r" % (line, token, text))
                continue
            absent = want.startswith("!")
            scope = want.lstrip("!")
            for i in range(col, col + len(token)):
                has = any(s == scope or s.startswith(scope + ".") for s in scopes[line - 1][i])
                if has == absent:
                    problems.append("line %d col %d: %r (at %r) %s scope %s; it has %s" % (
                        line, col + 1, token, text[i], "has" if absent else "lacks", scope,
                        scopes[line - 1][i] or "no scope"))
                    break
    for p in problems:
        print("FAIL:", p)
    print("textmate_test.py: %d regexes compile; %d scope checks, %d problem(s)" % (
        count, checks, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
