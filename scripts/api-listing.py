#!/usr/bin/env python3
"""Prints a crate's public API, one item per line, sorted, from rustdoc's JSON output.

Usage: api-listing.py TARGET/doc/CRATE.json

Walks the crate from its root through public modules and re-exports (what a user can
name), and prints each item with what a caller depends on: struct fields, enum variants,
function and method signatures, trait implementations, constants' types, and whether a
type is #[non_exhaustive]. Doc comments and spans are left out, so only a change to the
API changes the listing. Written against rustdoc JSON format version 57; another version
is refused so a format change cannot pass as an empty diff.
"""
import json
import sys

FORMAT = 57

doc = json.load(open(sys.argv[1]))
if doc["format_version"] != FORMAT:
    sys.exit(f"api-listing: rustdoc JSON format {doc['format_version']}, written for {FORMAT}")
index = doc["index"]
out = set()


def ty(t):
    if t is None:
        return "()"
    (k, v), = t.items()
    if k == "primitive" or k == "generic":
        return v
    if k == "resolved_path":
        return canonical(v) + args(v.get("args"))
    if k == "borrowed_ref":
        lt = (v["lifetime"] + " ") if v.get("lifetime") else ""
        return "&" + lt + ("mut " if v["is_mutable"] else "") + ty(v["type"])
    if k == "tuple":
        return "(" + ", ".join(ty(x) for x in v) + ")"
    if k == "slice":
        return "[" + ty(v) + "]"
    if k == "array":
        return "[" + ty(v["type"]) + "; " + v["len"] + "]"
    if k == "impl_trait":
        return "impl " + bounds(v)
    if k == "dyn_trait":
        return "dyn " + " + ".join(p["trait"]["path"] + args(p["trait"].get("args")) for p in v["traits"])
    if k == "qualified_path":
        return "<" + ty(v["self_type"]) + (" as " + v["trait"]["path"] if v.get("trait") else "") + ">::" + v["name"]
    if k == "raw_pointer":
        return "*" + ("mut " if v["is_mutable"] else "const ") + ty(v["type"])
    return json.dumps(t, sort_keys=True)


public = {}


def canonical(p):
    """A path as a user names it: the crate's own items by their public path (the first
    the walk meets), other crates' by their defining path; never as the source spelled
    it, so moving an item between private modules changes nothing."""
    if p.get("id") in public:
        return public[p["id"]]
    known = doc["paths"].get(str(p.get("id")))
    return "::".join(known["path"]) if known else p["path"]


def args(a):
    if not a:
        return ""
    if "angle_bracketed" in a:
        parts = []
        for g in a["angle_bracketed"]["args"]:
            (k, v), = g.items()
            parts.append(ty(v) if k == "type" else (v if isinstance(v, str) else json.dumps(v, sort_keys=True)))
        for c in a["angle_bracketed"].get("constraints", []):
            b = c["binding"]
            parts.append(c["name"] + "=" + (ty(b["equality"]["type"]) if "equality" in b and "type" in b["equality"] else json.dumps(b, sort_keys=True)))
        return "<" + ", ".join(parts) + ">" if parts else ""
    if "parenthesized" in a:
        p = a["parenthesized"]
        return "(" + ", ".join(ty(x) for x in p["inputs"]) + ")" + (" -> " + ty(p["output"]) if p.get("output") else "")
    return ""


def bounds(bs):
    parts = []
    for b in bs:
        if "trait_bound" in b:
            t = b["trait_bound"]["trait"]
            parts.append(canonical(t) + args(t.get("args")))
        elif "outlives" in b:
            parts.append(b["outlives"])
    return " + ".join(parts)


def generics(g):
    ps = []
    for p in g.get("params", []):
        k = p["kind"]
        if "type" in k and k["type"].get("is_synthetic"):
            continue
        if "type" in k:
            b = bounds(k["type"]["bounds"])
            ps.append(p["name"] + (": " + b if b else ""))
        elif "const" in k:
            ps.append("const " + p["name"] + ": " + ty(k["const"]["type"]))
        elif "lifetime" in k:
            ps.append(p["name"])
    preds = []
    for w in g.get("where_predicates", []):
        if "bound_predicate" in w:
            bp = w["bound_predicate"]
            preds.append(ty(bp["type"]) + ": " + bounds(bp["bounds"]))
    return ("<" + ", ".join(ps) + ">" if ps else ""), (" where " + ", ".join(preds) if preds else "")


def fn(name, f):
    gp, wh = generics(f["generics"])
    h = f["header"]
    quals = ("const " if h["is_const"] else "") + ("async " if h["is_async"] else "") + ("unsafe " if h["is_unsafe"] else "")
    ins = ", ".join((n if n == "self" else n + ": ") + ("" if n == "self" else ty(t)) if n != "self" else self_arg(t) for n, t in f["sig"]["inputs"])
    o = f["sig"]["output"]
    return f"{quals}fn {name}{gp}({ins})" + (" -> " + ty(o) if o else "") + wh


def self_arg(t):
    s = ty(t)
    return {"&Self": "&self", "&mut Self": "&mut self", "Self": "self"}.get(s, "self: " + s)


def marks(item):
    return " #[non_exhaustive]" if any("non_exhaustive" in json.dumps(a) for a in item.get("attrs", [])) else ""


def impls(path, ids):
    for i in ids:
        imp = index[str(i)]["inner"]["impl"]
        if imp.get("is_synthetic") or imp.get("blanket_impl"):
            continue
        if imp["trait"] is None:
            for m in imp["items"]:
                it = index[str(m)]
                if it["visibility"] != "public":
                    continue
                if "function" in it["inner"]:
                    out.add(f"{path}::{fn(it['name'], it['inner']['function'])}")
                elif "assoc_const" in it["inner"]:
                    out.add(f"{path}::const {it['name']}: {ty(it['inner']['assoc_const']['type'])}")
        else:
            gp, _ = generics(imp["generics"])
            t = imp["trait"]
            out.add(f"impl{gp} {canonical(t)}{args(t.get('args'))} for {ty(imp['for'])}")


def visit(iid, path, seen):
    item = index.get(str(iid))
    if item is None or iid in seen:
        return
    seen = seen | {iid}
    public.setdefault(iid, path)
    if naming:
        (kind, _), = item["inner"].items()
        if kind != "module":
            return
    (kind, inner), = item["inner"].items()
    if kind == "module":
        out.add(f"mod {path}")
        for c in inner["items"]:
            ci = index.get(str(c))
            if ci is None or ci["visibility"] != "public":
                continue
            if "use" in ci["inner"]:
                u = ci["inner"]["use"]
                if u["is_glob"]:
                    target = index.get(str(u["id"])) if u["id"] is not None else None
                    if target and "module" in target["inner"]:
                        for g in target["inner"]["module"]["items"]:
                            gi = index[str(g)]
                            if gi["visibility"] == "public":
                                visit(g, f"{path}::{gi['name']}", seen)
                    else:
                        out.add(f"pub use {path}::* = {u['source']}::*")
                elif u["id"] is not None and str(u["id"]) in index:
                    visit(u["id"], f"{path}::{u['name']}", seen)
                else:
                    out.add(f"pub use {path}::{u['name']} = {u['source']}")
            else:
                visit(c, f"{path}::{ci['name']}", seen)
    elif kind == "struct":
        gp, wh = generics(inner["generics"])
        out.add(f"struct {path}{gp}{wh}{marks(item)}")
        k = inner["kind"]
        fields = k.get("plain", {}).get("fields", []) if isinstance(k, dict) else []
        if isinstance(k, dict) and "tuple" in k:
            fields = [f for f in k["tuple"] if f is not None]
        for f in fields:
            fi = index[str(f)]
            if fi["visibility"] == "public":
                out.add(f"{path}.{fi['name']}: {ty(fi['inner']['struct_field'])}")
        impls(path, inner["impls"])
    elif kind == "enum":
        gp, wh = generics(inner["generics"])
        out.add(f"enum {path}{gp}{wh}{marks(item)}")
        for v in inner["variants"]:
            vi = index[str(v)]
            vk = vi["inner"]["variant"]["kind"]
            if vk == "plain":
                out.add(f"{path}::{vi['name']}{marks(vi)}")
            elif "tuple" in vk:
                out.add(f"{path}::{vi['name']}(" + ", ".join(ty(index[str(f)]["inner"]["struct_field"]) for f in vk["tuple"] if f is not None) + f"){marks(vi)}")
            else:
                fs = ", ".join(index[str(f)]["name"] + ": " + ty(index[str(f)]["inner"]["struct_field"]) for f in vk["struct"]["fields"])
                out.add(f"{path}::{vi['name']} {{ {fs} }}{marks(vi)}")
        impls(path, inner["impls"])
    elif kind == "function":
        out.add(f"{path.rsplit('::', 1)[0]}::{fn(path.rsplit('::', 1)[1], inner)}")
    elif kind == "constant":
        out.add(f"const {path}: {ty(inner['type'])}")
    elif kind == "static":
        out.add(f"static {path}: {ty(inner['type'])}")
    elif kind == "type_alias":
        gp, _ = generics(inner["generics"])
        out.add(f"type {path}{gp} = {ty(inner['type'])}")
    elif kind == "trait":
        out.add(f"trait {path}")
        for m in inner["items"]:
            mi = index[str(m)]
            if "function" in mi["inner"]:
                out.add(f"{path}::{fn(mi['name'], mi['inner']['function'])}")
        for i in inner.get("implementations", []):
            imp = index[str(i)]["inner"]["impl"]
            out.add(f"impl {path} for {ty(imp['for'])}")
    else:
        out.add(f"{kind} {path}")


root = index[str(doc["root"])]
# First walk: every item's public path; second: the listing, naming items by those paths.
naming = True
visit(doc["root"], root["name"], frozenset())
naming = False
visit(doc["root"], root["name"], frozenset())
print("\n".join(sorted(out)))
