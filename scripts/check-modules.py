#!/usr/bin/env python3
"""Keep the files of each crate under crates/ acyclic and small.

For every crate, the module tree is read from its root (`lib.rs`, `main.rs`), following
`mod x;` to `x.rs`, `x/mod.rs` or a `#[path]`. A file imports another when it names an item
defined there: through `use` trees that start with `crate::`, `super::`, `self::` or a
module in scope, through paths such as `crate::a::b::f(...)` in code, and through glob
imports for the names the file uses. Names re-exported by a module (`pub use child::X`)
are followed to the file that defines them, and the re-export itself is an import of the
child. `#[cfg(test)]` items and `tests/` are left out. Every strongly connected component
of more than one file is reported with the items that tie it.

Sizes: a source file may have at most 1,000 lines (inline `#[cfg(test)]` modules aside)
and a `fn` at most 150 lines from its `fn` line to its closing brace.

Run from the repository root; exits non-zero naming every circle and every oversize file
or function. `--crate DIR` checks one crate only."""
import os
import sys

MAX_FILE_LINES = 1000
MAX_FN_LINES = 150

# Circles allowed, by crate (a circle passes while all its files are among one group's
# files). None is left: every crate's files import one another one way only.
KNOWN_CIRCLES: dict[str, list[set[str]]] = {}

KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "union",
}
ITEM_KEYWORDS = {"fn", "struct", "enum", "union", "trait", "type", "const", "static"}


class Tok:
    __slots__ = ("kind", "val", "line")

    def __init__(self, kind, val, line):
        self.kind, self.val, self.line = kind, val, line

    def __repr__(self):
        return f"{self.kind}:{self.val}@{self.line}"


def lex(text):
    """Tokens of Rust source: identifiers, strings (kept for #[path]), `::` and single
    punctuation. Comments, characters, lifetimes and numbers carry no names and are dropped
    or reduced to one token."""
    toks = []
    i, n, line = 0, len(text), 1

    def skip_string(j):
        # j is just past the opening quote of a normal string; returns the index past the end
        nonlocal line
        while j < n:
            c = text[j]
            if c == "\\":
                if j + 1 < n and text[j + 1] == "\n":
                    line += 1
                j += 2
                continue
            if c == "\n":
                line += 1
            if c == '"':
                return j + 1
            j += 1
        return j

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if text[i] == "\n":
                        line += 1
                    i += 1
        elif c == '"':
            start_line = line
            j = skip_string(i + 1)
            toks.append(Tok("str", text[i + 1 : j - 1], start_line))
            i = j
        elif c == "'":
            if i + 1 < n and text[i + 1] == "\\":
                j = text.find("'", i + 3)
                i = n if j < 0 else j + 1
                toks.append(Tok("lit", "'", line))
            elif i + 2 < n and text[i + 2] == "'":
                i += 3
                toks.append(Tok("lit", "'", line))
            else:  # a lifetime or a label
                j = i + 1
                while j < n and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                i = j
                toks.append(Tok("lifetime", "'", line))
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word in ("r", "br", "cr") and j < n and text[j] in '#"':
                k = j
                while k < n and text[k] == "#":
                    k += 1
                if k < n and text[k] == '"':
                    hashes = k - j
                    end = text.find('"' + "#" * hashes, k + 1)
                    end = n if end < 0 else end
                    start_line = line
                    line += text.count("\n", k, end)
                    toks.append(Tok("str", text[k + 1 : end], start_line))
                    i = end + 1 + hashes
                    continue
                if word == "r" and k == j + 1:  # a raw identifier r#name
                    m = k
                    while m < n and (text[m].isalnum() or text[m] == "_"):
                        m += 1
                    toks.append(Tok("ident", text[k:m], line))
                    i = m
                    continue
            if word in ("b", "c") and j < n and text[j] == '"':
                start_line = line
                e = skip_string(j + 1)
                toks.append(Tok("str", text[j + 1 : e - 1], start_line))
                i = e
                continue
            if word == "b" and j < n and text[j] == "'":
                if j + 1 < n and text[j + 1] == "\\":
                    e = text.find("'", j + 3)
                else:
                    e = j + 2
                i = n if e < 0 else e + 1
                toks.append(Tok("lit", "'", line))
                continue
            toks.append(Tok("ident", word, line))
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            if j + 1 < n and text[j] == "." and text[j + 1].isdigit():
                j += 1
                while j < n and (text[j].isalnum() or text[j] == "_"):
                    j += 1
            toks.append(Tok("lit", text[i:j], line))
            i = j
        elif text.startswith("::", i):
            toks.append(Tok("punct", "::", line))
            i += 2
        else:
            toks.append(Tok("punct", c, line))
            i += 1
    return toks


def is_p(tok, val):
    return tok.kind == "punct" and tok.val == val


def is_id(tok, val=None):
    return tok.kind == "ident" and (val is None or tok.val == val)


class Module:
    def __init__(self, name, file, parent):
        self.name, self.file, self.parent = name, file, parent
        self.children = {}  # name -> Module
        self.items = {}  # name -> file that defines it
        self.uses = {}  # name -> (context module, path segments)
        self.local_uses = {}  # names brought in by `use` inside function bodies
        self.globs = []  # (context module, path segments of the module)
        self.dir = None  # directory of the child modules' files, when the module is a file

    def path(self):
        parts, m = [], self
        while m.parent is not None:
            parts.append(m.name)
            m = m.parent
        return "::".join(reversed(parts)) or "crate"


class FileInfo:
    def __init__(self, path):
        self.path = path
        self.refs = []  # (context module, segments, is_use)
        self.globs = []  # (context module, segments)
        self.idents = set()


def attr_end(toks, i):
    """toks[i] is `#`; returns (index past the attribute, its tokens) or None."""
    j = i + 1
    if j < len(toks) and is_p(toks[j], "!"):
        j += 1
    if j >= len(toks) or not is_p(toks[j], "["):
        return None
    depth, k = 0, j
    while k < len(toks):
        if is_p(toks[k], "["):
            depth += 1
        elif is_p(toks[k], "]"):
            depth -= 1
            if depth == 0:
                return k + 1, toks[j + 1 : k]
        k += 1
    return len(toks), toks[j + 1 :]


def is_cfg_test(body):
    vals = [t.val for t in body]
    return vals[:4] == ["cfg", "(", "test", ")"] and len(vals) == 4


def item_end(toks, i):
    """Index past the item that starts at toks[i] (after its attributes)."""
    semi_only = False
    k = i
    while k < len(toks) and toks[k].kind == "ident" and toks[k].val in (
        "pub", "crate", "async", "unsafe", "extern", "default",
    ):
        k += 1
    if k < len(toks) and is_p(toks[k], "("):
        k += 1
        while k < len(toks) and not is_p(toks[k], ")"):
            k += 1
        k += 1
        while k < len(toks) and is_id(toks[k]) and toks[k].val in ("async", "unsafe"):
            k += 1
    if k < len(toks) and is_id(toks[k]) and toks[k].val in ("use", "const", "static", "type", "let"):
        semi_only = True
    depth = 0
    j = i
    while j < len(toks):
        t = toks[j]
        if t.kind == "punct":
            if t.val in "{([":
                depth += 1
            elif t.val in "})]":
                depth -= 1
                if depth == 0 and t.val == "}" and not semi_only:
                    return j + 1
                if depth < 0:
                    return j
            elif t.val == ";" and depth == 0:
                return j + 1
        j += 1
    return j


def parse_use_tree(toks, i, prefix, out):
    """Parses a use tree at toks[i]; appends (segments, alias) to out, alias '*' for globs.
    Returns the index past the tree."""
    segs = list(prefix)
    while i < len(toks):
        t = toks[i]
        if is_p(t, "::"):
            i += 1
            continue
        if is_p(t, "{"):
            i += 1
            while i < len(toks) and not is_p(toks[i], "}"):
                i = parse_use_tree(toks, i, segs, out)
                if i < len(toks) and is_p(toks[i], ","):
                    i += 1
            return i + 1
        if is_p(t, "*"):
            out.append((segs, "*"))
            return i + 1
        if t.kind == "ident":
            if t.val == "self" and segs:
                alias = segs[-1]
                i += 1
                if i + 1 < len(toks) and is_id(toks[i], "as"):
                    alias = toks[i + 1].val
                    i += 2
                out.append((segs, alias))
                return i
            segs = segs + [t.val]
            i += 1
            if i < len(toks) and is_p(toks[i], "::"):
                continue
            alias = segs[-1]
            if i + 1 < len(toks) and is_id(toks[i], "as"):
                alias = toks[i + 1].val
                i += 2
            out.append((segs, alias))
            return i
        return i  # `;`, `,` or `}` ends the tree
    return i


def module_file(parent_dir, name, path_attr, base_dir):
    if path_attr:
        return os.path.normpath(os.path.join(base_dir, path_attr))
    a = os.path.join(parent_dir, name + ".rs")
    if os.path.exists(a):
        return a
    b = os.path.join(parent_dir, name, "mod.rs")
    if os.path.exists(b):
        return b
    return None


class Crate:
    def __init__(self, root_file):
        self.root_file = root_file
        self.files = {}  # path -> FileInfo
        self.root = Module("crate", root_file, None)
        self.root.dir = os.path.dirname(root_file)
        self.errors = []
        self.parse_file(root_file, self.root)

    def parse_file(self, path, module):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        info = FileInfo(path)
        self.files[path] = info
        toks = lex(text)
        info.idents = {t.val for t in toks if t.kind == "ident"}
        # frames: (is_module, module)
        stack = [(True, module)]
        i = 0
        pending_test = False
        pending_export = False
        path_attr = None
        while i < len(toks):
            t = toks[i]
            is_mod_scope, mod = stack[-1]
            if is_p(t, "#"):
                got = attr_end(toks, i)
                if got:
                    end, body = got
                    if is_cfg_test(body):
                        if i + 1 < len(toks) and is_p(toks[i + 1], "!"):
                            return  # the whole file is test-only
                        pending_test = True
                    vals = [b.val for b in body]
                    if vals[:1] == ["macro_export"]:
                        pending_export = True
                    if vals[:2] == ["path", "="] and len(body) >= 3 and body[2].kind == "str":
                        path_attr = body[2].val
                    i = end
                    continue
            if pending_test:
                pending_test = False
                i = item_end(toks, i)
                path_attr = None
                continue
            if t.kind == "punct":
                if t.val == "{":
                    stack.append((False, mod))
                elif t.val == "}":
                    if len(stack) > 1:
                        stack.pop()
                i += 1
                continue
            if t.kind != "ident":
                i += 1
                continue
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if t.val == "mod" and nxt is not None and nxt.kind == "ident" and is_mod_scope:
                name = nxt.val
                after = toks[i + 2] if i + 2 < len(toks) else None
                if after is not None and is_p(after, ";"):
                    child = Module(name, None, mod)
                    mod.children[name] = child
                    base = mod.dir if mod.dir else os.path.dirname(path)
                    cf = module_file(base, name, path_attr, os.path.dirname(path))
                    if cf is None:
                        self.errors.append(f"{path}: no file for `mod {name};`")
                    else:
                        child.file = cf
                        if os.path.basename(cf) == "mod.rs":
                            child.dir = os.path.dirname(cf)
                        else:
                            child.dir = cf[: -len(".rs")]
                        self.parse_file(cf, child)
                    i += 3
                elif after is not None and is_p(after, "{"):
                    child = Module(name, path, mod)
                    child.dir = os.path.join(mod.dir or os.path.dirname(path), name)
                    mod.children[name] = child
                    stack.append((True, child))
                    i += 3
                else:
                    i += 2
                path_attr = None
                pending_export = False
                continue
            if t.val == "use" and (i == 0 or not is_p(toks[i - 1], "::")):
                out = []
                j = i + 1
                if j < len(toks) and is_p(toks[j], "::"):
                    j += 1
                j = parse_use_tree(toks, j, [], out)
                for segs, alias in out:
                    if alias == "*":
                        if is_mod_scope:
                            mod.globs.append((mod, segs))
                        info.globs.append((mod, segs))
                        continue
                    if is_mod_scope:
                        mod.uses[alias] = (mod, segs)
                    else:
                        mod.local_uses[alias] = (mod, segs)
                    info.refs.append((mod, segs, True))
                while j < len(toks) and not is_p(toks[j], ";"):
                    j += 1
                i = j + 1
                continue
            if is_mod_scope and nxt is not None:
                if t.val in ITEM_KEYWORDS and nxt.kind == "ident" and nxt.val not in KEYWORDS:
                    mod.items[nxt.val] = path
                elif t.val == "macro_rules" and is_p(nxt, "!") and i + 2 < len(toks):
                    name = toks[i + 2].val
                    mod.items[name] = path
                    if pending_export:
                        self.root.items[name] = path
            if t.val in ("fn", "struct", "enum", "trait", "impl", "const", "static", "type"):
                pending_export = False
            # A path in code: a::b::c, not the tail of a longer one.
            if nxt is not None and is_p(nxt, "::") and (i == 0 or not is_p(toks[i - 1], "::")):
                segs = [t.val]
                j = i + 1
                while j + 1 < len(toks) and is_p(toks[j], "::") and toks[j + 1].kind == "ident":
                    segs.append(toks[j + 1].val)
                    j += 2
                if i > 0 and is_p(toks[i - 1], "$") and segs[0] == "crate":
                    segs[0] = "crate"
                info.refs.append((mod, segs, False))
                i = j
                continue
            i += 1

    # --- resolution -------------------------------------------------------------------

    def resolve(self, ctx, segs, depth=0, local=True):
        """What a path names: ('item', file, name), ('mod', module) or None (outside)."""
        if depth > 12 or not segs:
            return None
        first = segs[0]
        if first == "crate":
            return self.walk(self.root, segs[1:], depth)
        if first == "self":
            return self.walk(ctx, segs[1:], depth)
        if first == "super":
            m, k = ctx, 0
            while k < len(segs) and segs[k] == "super":
                if m.parent is None:
                    return None
                m, k = m.parent, k + 1
            return self.walk(m, segs[k:], depth)
        if local and first in ctx.local_uses and first not in ctx.uses:
            c, raw = ctx.local_uses[first]
            return self.resolve(c, raw + segs[1:], depth + 1, local=False)
        if first in ctx.children or first in ctx.items or first in ctx.uses:
            return self.walk(ctx, segs, depth)
        return None

    def walk(self, mod, segs, depth):
        if depth > 12:
            return None
        if not segs:
            return ("mod", mod)
        seg = segs[0]
        if seg == "super":
            return self.walk(mod.parent, segs[1:], depth) if mod.parent else None
        if seg == "self":
            return self.walk(mod, segs[1:], depth)
        if seg in mod.children:
            return self.walk(mod.children[seg], segs[1:], depth)
        if seg in mod.items:
            return ("item", mod.items[seg], seg)
        if seg in mod.uses:
            c, raw = mod.uses[seg]
            if raw and raw[-1] == seg and c is mod and len(raw) == 1:
                return None  # `use serde;` style: an outside crate
            return self.resolve(c, raw + segs[1:], depth + 1, local=False)
        for c, raw in mod.globs:
            r = self.resolve(c, raw, depth + 1, local=False)
            if r and r[0] == "mod" and r[1] is not mod:
                got = self.walk(r[1], segs, depth + 1)
                if got:
                    return got
        return None

    def edges(self):
        """{(from file, to file): set of item names}"""
        out = {}

        def add(src, dst, name):
            if dst and dst != src:
                out.setdefault((src, dst), set()).add(name)

        for path, info in self.files.items():
            for ctx, segs, _ in info.refs:
                r = self.resolve(ctx, segs)
                if r and r[0] == "item":
                    add(path, r[1], r[2])
            for ctx, segs in info.globs:
                r = self.resolve(ctx, segs)
                if not r or r[0] != "mod":
                    continue
                target = r[1]
                names = set(target.items) | set(target.uses)
                for name in sorted(names & info.idents):
                    got = self.walk(target, [name], 0)
                    if got and got[0] == "item":
                        add(path, got[1], got[2])
        return out


def sccs(nodes, edges):
    graph = {n: [] for n in nodes}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_lines(toks):
    """Line ranges of #[cfg(test)] items."""
    ranges = []
    i = 0
    while i < len(toks):
        if is_p(toks[i], "#"):
            got = attr_end(toks, i)
            if got and is_cfg_test(got[1]):
                j = got[0]
                while j < len(toks) and is_p(toks[j], "#"):
                    g = attr_end(toks, j)
                    if not g:
                        break
                    j = g[0]
                end = item_end(toks, j)
                ranges.append((toks[i].line, toks[min(end, len(toks)) - 1].line))
                i = end
                continue
        i += 1
    return ranges


def long_fns(toks):
    """(name, first line, last line) of every fn with a body."""
    out = []
    for i, t in enumerate(toks):
        if not is_id(t, "fn") or i + 1 >= len(toks) or not is_id(toks[i + 1]):
            continue
        j, paren = i + 2, 0
        while j < len(toks):
            v = toks[j]
            if v.kind == "punct":
                if v.val in "([":
                    paren += 1
                elif v.val in ")]":
                    paren -= 1
                elif v.val == ";" and paren == 0:
                    j = -1
                    break
                elif v.val == "{" and paren == 0:
                    break
            j += 1
        if j < 0 or j >= len(toks):
            continue
        depth = 0
        k = j
        while k < len(toks):
            if is_p(toks[k], "{"):
                depth += 1
            elif is_p(toks[k], "}"):
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if k < len(toks):
            out.append((toks[i + 1].val, t.line, toks[k].line))
    return out


def check_sizes(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    toks = lex(text)
    problems = []
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    in_tests = sum(b - a + 1 for a, b in test_lines(toks))
    if lines - in_tests > MAX_FILE_LINES:
        problems.append(
            f"{path}: {lines - in_tests} lines outside #[cfg(test)] (at most {MAX_FILE_LINES})"
        )
    for name, a, b in long_fns(toks):
        if b - a + 1 > MAX_FN_LINES:
            problems.append(
                f"{path}:{a}: fn {name} has {b - a + 1} lines (at most {MAX_FN_LINES})"
            )
    return problems


def crate_roots(crate_dir):
    src = os.path.join(crate_dir, "src")
    roots = [os.path.join(src, r) for r in ("lib.rs", "main.rs")]
    bins = os.path.join(src, "bin")
    if os.path.isdir(bins):
        for name in sorted(os.listdir(bins)):
            p = os.path.join(bins, name)
            roots.append(p if name.endswith(".rs") else os.path.join(p, "main.rs"))
    return [r for r in roots if os.path.exists(r)]


def check_crate(crate_dir):
    """(problems, number of known circles still there)"""
    problems = []
    known_left = 0
    seen = set()
    for root in crate_roots(crate_dir):
        crate = Crate(root)
        problems += crate.errors
        # The crate root is left out: it declares every module and holds the crate's handle
        # (`App`, `AppState`, the CLI's `Failure`) that every capability extends, so edges
        # into it are the design, not a circle between capabilities.
        edges = {k: v for k, v in crate.edges().items() if root not in k}
        for comp in sccs([f for f in crate.files if f != root], edges.keys()):
            if len(comp) < 2:
                continue
            names = {rel(f, crate_dir) for f in comp}
            if any(names <= group for group in KNOWN_CIRCLES.get(crate_dir, [])):
                known_left += 1
                continue
            members = set(comp)
            lines = [f"{crate_dir}: files import each other round a loop:"]
            for a, b in sorted(edges):
                if a in members and b in members:
                    items = ", ".join(sorted(edges[(a, b)]))
                    lines.append(f"    {rel(a, crate_dir)} -> {rel(b, crate_dir)} ({items})")
            problems.append("\n".join(lines))
        for path in crate.files:
            if path not in seen:
                seen.add(path)
                problems += check_sizes(path)
    return problems, known_left


def rel(path, crate_dir):
    return os.path.relpath(path, os.path.join(crate_dir, "src"))


def main(argv):
    if len(argv) > 1 and argv[1] == "--crate":
        crates = argv[2:]
    else:
        crates = sorted(
            os.path.join("crates", d)
            for d in os.listdir("crates")
            if os.path.exists(os.path.join("crates", d, "Cargo.toml"))
        )
    problems = []
    known_left = 0
    for c in crates:
        got, left = check_crate(c)
        problems += got
        known_left += left
    if problems:
        print("module structure broken:")
        for p in problems:
            print("  " + p)
        return 1
    print(
        f"modules ok ({len(crates)} crates): no new import circles between files "
        f"({known_left} known ones left, see KNOWN_CIRCLES), files and functions within size"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
