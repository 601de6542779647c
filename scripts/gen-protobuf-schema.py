#!/usr/bin/env python3
"""Generates src/sandbox/protobuf_schema.rs: the tables with which the sandbox encodes a Pod
(and its lists and errors) as Kubernetes protobuf.

Inputs are Kubernetes' own sources:
  - kubernetes/api            core/v1/generated.proto, core/v1/types.go
  - kubernetes/apimachinery   pkg/apis/meta/v1/generated.proto, pkg/apis/meta/v1/types.go
The .proto files give the messages, field numbers and types; the Go struct tags give each
field's JSON name and tell which fields are embedded structs that JSON inlines into their
parent but protobuf nests under a field of its own (`T::Inline`).

The tables cover `k8s.io.api.core.v1.Pod`, every message reachable from it, and
`meta.v1.ListMeta` and `meta.v1.Status` (for lists and errors). Anything that cannot be mapped
onto the Rust `T` type is emitted as `T::Unsupported` and listed on stderr. (`T` has only the
variants today's tables use: a table needing `T::Unsupported`, `T::F64` or `T::MicroTime`
fails to build until `src/sandbox/protobuf.rs` gives that variant its encoding.)

The commits named in the generated header are those of `--api-repo`/`--apimachinery-repo` at
`--api-rev`/`--apimachinery-rev`; the input files must be exactly those commits' blobs.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

CORE_PKG = "k8s.io.api.core.v1"
META_PKG = "k8s.io.apimachinery.pkg.apis.meta.v1"
RESOURCE_PKG = "k8s.io.apimachinery.pkg.api.resource"
INTSTR_PKG = "k8s.io.apimachinery.pkg.util.intstr"

# Paths of the inputs inside their repositories.
REPO_PATHS = {
    "core_proto": ("api", "core/v1/generated.proto"),
    "core_types": ("api", "core/v1/types.go"),
    "meta_proto": ("apimachinery", "pkg/apis/meta/v1/generated.proto"),
    "meta_types": ("apimachinery", "pkg/apis/meta/v1/types.go"),
}

ROOTS = [(CORE_PKG, "Pod"), (META_PKG, "ListMeta"), (META_PKG, "Status")]

# Messages with a dedicated `T` variant (never expanded into a table).
SPECIAL = {
    (META_PKG, "Time"): "T::Time",
    (META_PKG, "MicroTime"): "T::MicroTime",
    (META_PKG, "FieldsV1"): "T::Fields",
    (RESOURCE_PKG, "Quantity"): "T::Qty",
    (INTSTR_PKG, "IntOrString"): "T::IntOrStr",
}
# Messages deliberately left unsupported, with the reason.
UNSUPPORTED_MSG = {
    (META_PKG, "Duration"): "metav1.Duration: a string in JSON, {int64 duration = 1} in proto",
}

SCALARS = {
    "string": "T::Str",
    "int32": "T::I32",
    "int64": "T::I64",
    "bool": "T::Bool",
    "bytes": "T::Bytes",
    "double": "T::F64",
}

MAP_VALUES = {
    "string": "T::MapStr",
    "bytes": "T::MapBytes",
    (RESOURCE_PKG, "Quantity"): "T::MapQty",
}


def die(msg):
    sys.exit(f"gen-protobuf-schema: {msg}")


# ---------------------------------------------------------------- .proto


PROTO_FIELD = re.compile(
    r"^(?:(optional|repeated|required)\s+)?"
    r"(map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*(?:\[[^\]]*\])?\s*;$"
)


def parse_proto(text):
    """Returns (package, {message: [field dict]}) for a go-to-protobuf generated file."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = [re.sub(r"//.*", "", line).strip() for line in text.splitlines()]
    package = None
    messages = {}
    current = None
    depth = 0
    for line in lines:
        if not line:
            continue
        m = re.match(r"^package\s+([\w.]+)\s*;$", line)
        if m:
            package = m.group(1)
            continue
        m = re.match(r"^message\s+(\w+)\s*\{$", line)
        if m:
            if current is not None:
                die(f"nested message {m.group(1)} in {current}")
            current = m.group(1)
            messages[current] = []
            depth = 1
            continue
        if current is None:
            continue
        if line == "}":
            depth -= 1
            if depth == 0:
                current = None
            continue
        if re.match(r"^(oneof|enum|reserved|extensions|option|message)\b", line):
            die(f"unexpected '{line}' in message {current}")
        m = PROTO_FIELD.match(line)
        if not m:
            die(f"cannot parse '{line}' in message {current}")
        label, typ, mkey, mval, name, num = m.groups()
        field = {"label": label or "optional", "name": name, "num": int(num)}
        if mkey:
            field["map"] = (mkey, mval)
        else:
            field["type"] = typ
        messages[current].append(field)
    if package is None:
        die("no package statement")
    return package, messages


def resolve(typ, package):
    """A proto type name as (package, name), or the scalar's name."""
    if typ in SCALARS or typ in ("float", "uint32", "uint64", "sint32", "sint64", "fixed32",
                                 "fixed64", "sfixed32", "sfixed64"):
        return typ
    if typ.startswith("."):
        pkg, _, name = typ[1:].rpartition(".")
        return (pkg, name)
    if "." in typ:
        pkg, _, name = typ.rpartition(".")
        return (pkg, name)
    return (package, typ)


# ---------------------------------------------------------------- Go types


GO_TAG = re.compile(r'(\w+):"([^"]*)"')


def parse_go(text):
    """Returns {struct: [field dict]} with each field's Go name (None when embedded), Go type,
    JSON tag and protobuf tag."""
    structs = {}
    current = None
    for raw in text.splitlines():
        if current is None:
            m = re.match(r"^type\s+(\w+)\s+struct\s*\{\s*$", raw)
            if m:
                current = m.group(1)
                structs[current] = []
            continue
        if raw.startswith("}"):
            current = None
            continue
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        m = re.match(r"^([^`]*?)\s*`([^`]*)`\s*(?://.*)?$", line)
        if not m:
            # A field without tags: note it (it has no protobuf field either).
            words = re.sub(r"//.*", "", line).split()
            structs[current].append({"go": words[0] if len(words) > 1 else None,
                                     "type": words[-1] if words else "", "json": None,
                                     "pb": None})
            continue
        words = m.group(1).split()
        tags = dict(GO_TAG.findall(m.group(2)))
        if len(words) == 1:
            go, typ = None, words[0]
        elif len(words) == 2:
            go, typ = words
        else:
            die(f"cannot parse Go field '{line}' in {current}")
        pb = None
        if "protobuf" in tags:
            parts = tags["protobuf"].split(",")
            pb = {"num": int(parts[1]), "name": None}
            for p in parts[2:]:
                if p.startswith("name="):
                    pb["name"] = p[len("name="):]
        structs[current].append({"go": go, "type": typ, "json": tags.get("json"), "pb": pb})
    return structs


def json_name(gofield):
    tag = gofield["json"]
    if tag is None:
        return None
    return tag.split(",")[0]


def is_inline(gofield):
    """An embedded struct whose fields JSON inlines into the parent."""
    if gofield["go"] is not None or gofield["json"] is None:
        return False
    return json_name(gofield) == "" and (gofield["json"] in ("", ",inline")
                                         or gofield["json"].startswith(",inline"))


# ---------------------------------------------------------------- naming


def screaming(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.upper()


# ---------------------------------------------------------------- generator


class Gen:
    def __init__(self, protos, gotypes):
        self.protos = protos  # package -> {message: fields}
        self.gotypes = gotypes  # package -> {struct: fields}
        self.order = []  # (package, message) in discovery order
        self.tables = {}  # (package, message) -> [(num, json, type-expr-template)]
        self.unsupported = []  # (message, field, reason)
        self.inline = []  # (message, field, target)
        self.renamed = []  # (message, proto name, json name)
        self.json_only = []  # (message, Go field, json name): JSON fields with no proto field
        self.cycles = []

    def msg_key_name(self, key):
        return f"{key[1]}" if key[0] == CORE_PKG else f"meta.v1.{key[1]}"

    def build(self):
        """Breadth-first from each root in turn: a root's tables, then the next root's."""
        seen = set()
        for root in ROOTS:
            queue = [root]
            while queue:
                key = queue.pop(0)
                if key in seen:
                    continue
                seen.add(key)
                self.order.append(key)
                queue.extend(self.build_message(key))

    def build_message(self, key):
        pkg, name = key
        if pkg not in self.protos or name not in self.protos[pkg]:
            die(f"message {pkg}.{name} not found")
        go = self.gotypes[pkg].get(name)
        if go is None:
            die(f"Go struct {name} not found for {pkg}.{name}")
        by_num = {}
        for gf in go:
            if gf["pb"] is not None:
                if gf["pb"]["num"] in by_num:
                    die(f"{name}: protobuf number {gf['pb']['num']} twice in the Go struct")
                by_num[gf["pb"]["num"]] = gf
            elif gf["json"] is not None and json_name(gf) not in ("", "-"):
                self.json_only.append((self.msg_key_name(key), gf["go"], json_name(gf)))
        proto_nums = {f["num"] for f in self.protos[pkg][name]}
        for num, gf in by_num.items():
            if num not in proto_nums:
                die(f"{name}: Go field {gf['go'] or gf['type']} has protobuf number {num}, "
                    f"which the .proto lacks")
        fields = []
        refs = []
        mname = self.msg_key_name(key)
        for f in sorted(self.protos[pkg][name], key=lambda f: f["num"]):
            gf = by_num.get(f["num"])
            if gf is None:
                die(f"{name}.{f['name']} (= {f['num']}) has no Go field")
            if gf["pb"]["name"] is not None and gf["pb"]["name"] != f["name"]:
                die(f"{name}.{f['name']}: Go protobuf tag names it {gf['pb']['name']}")
            inline = is_inline(gf)
            if inline:
                jname = f["name"]
            else:
                jname = json_name(gf)
                if not jname or jname == "-":
                    die(f"{name}.{f['name']}: no JSON name (tag {gf['json']!r})")
                if jname != f["name"]:
                    self.renamed.append((mname, f["name"], jname))
            typ, ref = self.field_type(key, f, inline)
            if ref is not None:
                refs.append(ref)
            if typ == "T::Unsupported":
                pass
            elif inline:
                self.inline.append((mname, f["name"], self.msg_key_name(ref)))
            fields.append([f["num"], jname, typ, ref])
        self.tables[key] = fields
        return refs

    def unsup(self, key, f, reason):
        self.unsupported.append((self.msg_key_name(key), f["name"], reason))
        return "T::Unsupported", None

    def field_type(self, key, f, inline):
        """Returns (Rust type expression with {REF} for the referenced table, referenced key)."""
        pkg = key[0]
        if "map" in f:
            if inline:
                die(f"{key[1]}.{f['name']}: an inlined map")
            k, v = f["map"]
            if k != "string":
                return self.unsup(key, f, f"map<{k}, {v}>: key is not a string")
            rv = resolve(v, pkg)
            if rv in MAP_VALUES:
                return MAP_VALUES[rv], None
            return self.unsup(key, f, f"map<{k}, {v}>: no T for this map's values")
        rt = resolve(f["type"], pkg)
        if isinstance(rt, str):
            if inline:
                die(f"{key[1]}.{f['name']}: an inlined scalar")
            if rt not in SCALARS:
                return self.unsup(key, f, f"scalar {rt} has no T")
            inner, ref = SCALARS[rt], None
        elif rt in SPECIAL:
            if inline:
                die(f"{key[1]}.{f['name']}: an inlined {rt[1]}")
            inner, ref = SPECIAL[rt], None
        elif rt in UNSUPPORTED_MSG:
            return self.unsup(key, f, UNSUPPORTED_MSG[rt])
        elif rt[0] in (CORE_PKG, META_PKG):
            inner = "T::Inline({REF})" if inline else "T::Msg({REF})"
            ref = rt
        else:
            return self.unsup(key, f, f"{rt[0]}.{rt[1]} has no T")
        if f["label"] == "repeated":
            if inline:
                die(f"{key[1]}.{f['name']}: a repeated inlined field")
            return f"T::Rep(&{inner})", ref
        return inner, ref

    def break_cycles(self):
        """A const cannot refer to itself, even through others: cut back edges."""
        state = {}

        def visit(key, path):
            state[key] = "open"
            for field in self.tables[key]:
                ref = field[3]
                if ref is None:
                    continue
                if state.get(ref) == "open":
                    cyc = " -> ".join(self.msg_key_name(k) for k in path[path.index(ref):] + [ref])
                    self.cycles.append(cyc)
                    self.unsupported.append((self.msg_key_name(key), field[1],
                                             f"cycle {cyc}"))
                    field[2], field[3] = "T::Unsupported", None
                elif ref not in state:
                    visit(ref, path + [ref])
            state[key] = "done"

        for root in self.order:
            if root not in state:
                visit(root, [root])

    def const_names(self):
        core = {screaming(n) for p, n in self.order if p == CORE_PKG}
        names = {}
        for key in self.order:
            n = screaming(key[1])
            if key[0] == META_PKG and n in core:
                n = "META_" + n
            names[key] = n
        if len(set(names.values())) != len(names):
            die("const names clash")
        return names

    def render(self, header):
        names = self.const_names()
        out = [header, "", "use super::protobuf::{F, T};", ""]
        for key in self.order:
            pkg, name = key
            what = f"`{pkg}.{name}`"
            out.append(f"/// {what}")
            out.append(f"pub(super) const {names[key]}: &[F] = &[")
            for num, jname, typ, ref in self.tables[key]:
                if ref is not None:
                    typ = typ.replace("{REF}", names[ref])
                out.append(f'    ({num}, "{jname}", {typ}),')
            out.append("];")
            out.append("")
        out.pop()
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--core-proto", default="/tmp/core.proto",
                    help="kubernetes/api core/v1/generated.proto")
    ap.add_argument("--meta-proto", default="/tmp/meta.proto",
                    help="kubernetes/apimachinery pkg/apis/meta/v1/generated.proto")
    ap.add_argument("--core-types", default="/tmp/core_types.go",
                    help="kubernetes/api core/v1/types.go")
    ap.add_argument("--meta-types", default="/tmp/meta_types.go",
                    help="kubernetes/apimachinery pkg/apis/meta/v1/types.go")
    ap.add_argument("--api-repo", default="/work/.mirror/kubernetes+api/repo",
                    help="a git repository of kubernetes/api (may be bare)")
    ap.add_argument("--api-rev", default="HEAD")
    ap.add_argument("--apimachinery-repo", default="/work/.mirror/kubernetes+apimachinery/repo",
                    help="a git repository of kubernetes/apimachinery (may be bare)")
    ap.add_argument("--apimachinery-rev", default="HEAD")
    ap.add_argument("--out", default=os.path.join(root, "src/sandbox/protobuf_schema.rs"))
    ap.add_argument("--no-rustfmt", action="store_true",
                    help="do not run rustfmt --edition 2024 on the output")
    args = ap.parse_args()

    repos = {"api": (args.api_repo, args.api_rev),
             "apimachinery": (args.apimachinery_repo, args.apimachinery_rev)}
    commits = {r: git(repo, "rev-parse", f"{rev}^{{commit}}") for r, (repo, rev) in repos.items()}
    for arg, (r, path) in REPO_PATHS.items():
        file = getattr(args, arg)
        want = git(repos[r][0], "rev-parse", f"{commits[r]}:{path}")
        have = subprocess.run(["git", "hash-object", file], check=True, capture_output=True,
                              text=True).stdout.strip()
        if want != have:
            die(f"{file} is not kubernetes/{r} {path} at {commits[r]}")

    def read(p):
        with open(p, encoding="utf-8") as f:
            return f.read()

    core_pkg, core_msgs = parse_proto(read(args.core_proto))
    meta_pkg, meta_msgs = parse_proto(read(args.meta_proto))
    if (core_pkg, meta_pkg) != (CORE_PKG, META_PKG):
        die(f"unexpected packages {core_pkg}, {meta_pkg}")
    gen = Gen({CORE_PKG: core_msgs, META_PKG: meta_msgs},
              {CORE_PKG: parse_go(read(args.core_types)), META_PKG: parse_go(read(args.meta_types))})
    gen.build()
    gen.break_cycles()

    header = "\n".join([
        "//! Kubernetes protobuf schema tables: `k8s.io.api.core.v1.Pod` and every message it",
        "//! reaches, plus `meta.v1.ListMeta` and `meta.v1.Status` (lists and errors). Each table",
        "//! lists a message's fields in field-number order as (number, JSON name, type).",
        "//!",
        "//! Generated by `scripts/gen-protobuf-schema.py` from",
        f"//! - kubernetes/api {commits['api']}:",
        "//!   `core/v1/generated.proto`, `core/v1/types.go`;",
        f"//! - kubernetes/apimachinery {commits['apimachinery']}:",
        "//!   `pkg/apis/meta/v1/generated.proto`, `pkg/apis/meta/v1/types.go`.",
        "//!",
        "//! Do not edit by hand. Regenerate from the repository root with the command below (the",
        "//! input files must be those commits' blobs; `--help` describes the options):",
        "//!",
        "//! ```text",
        "//! python3 scripts/gen-protobuf-schema.py \\",
        f"//!     --core-proto {args.core_proto} --core-types {args.core_types} \\",
        f"//!     --meta-proto {args.meta_proto} --meta-types {args.meta_types} \\",
        f"//!     --api-repo {args.api_repo} \\",
        f"//!     --api-rev {commits['api']} \\",
        f"//!     --apimachinery-repo {args.apimachinery_repo} \\",
        f"//!     --apimachinery-rev {commits['apimachinery']}",
        "//! ```",
    ])
    text = gen.render(header)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    if not args.no_rustfmt:
        rustfmt = shutil.which("rustfmt")
        if rustfmt is None:
            print("warning: rustfmt not found; the output is not formatted", file=sys.stderr)
        else:
            subprocess.run([rustfmt, "--edition", "2024", args.out], check=True)

    nfields = sum(len(t) for t in gen.tables.values())
    print(f"wrote {args.out}: {len(gen.order)} messages, {nfields} fields", file=sys.stderr)
    for m, f, t in gen.inline:
        print(f"  inline: {m}.{f} -> {t}", file=sys.stderr)
    for m, f, why in gen.unsupported:
        print(f"  unsupported: {m}.{f}: {why}", file=sys.stderr)
    for m, p, j in gen.renamed:
        print(f"  proto name != JSON name: {m}.{p} is {j} in JSON", file=sys.stderr)
    for m, g, j in gen.json_only:
        print(f"  JSON-only field (no proto field): {m}.{g} ({j})", file=sys.stderr)
    for c in gen.cycles:
        print(f"  cycle cut: {c}", file=sys.stderr)


if __name__ == "__main__":
    main()
