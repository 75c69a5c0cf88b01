//! Generates the typed VPP binary-API messages from `api/*.api.json`.
//!
//! The `.api.json` files are VPP's own `vppapigen` output (copied into the
//! crate from FDio/vpp; see `api/README.md`). For every type, enum, union,
//! alias and message they define, this writes one Rust item to
//! `$OUT_DIR/vpp_api.rs`, which `src/api/mod.rs` includes:
//!
//! * types → `api::types::<CamelName>` structs, enums/enumflags → newtypes
//!   with associated constants (so unknown values decode), unions → raw
//!   bytes with a typed constructor and accessor per arm, aliases → `type`;
//! * messages → `api::<module>::<CamelName>` with `impl Message` (name,
//!   CRC, header layout, body parse/emit) and, from the `services` section,
//!   `impl Request` (one reply) or `impl Dump` (details ended by a control
//!   ping);
//! * `api::MESSAGES`: every message's name, CRC, module and header layout
//!   (the name_crc table a server announces).
//!
//! Wire rules (as VPP and vpp-papi implement them): integers big-endian,
//! `f64` in host order (VPP does not swap it), `bool` one byte, `string
//! name[N]` N bytes NUL-padded (at most N-1 characters), `string name[]` a
//! u32 length then the bytes, `T name[N]` N elements, `T name[count]` as
//! many elements as the earlier field `count` says (that field is not a
//! struct member: it is the vector's length), `T name[]` without a count
//! field: the rest of the message.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

const BASE: &[(&str, &str, usize)] = &[
    ("u8", "u8", 1),
    ("i8", "i8", 1),
    ("u16", "u16", 2),
    ("i16", "i16", 2),
    ("u32", "u32", 4),
    ("i32", "i32", 4),
    ("u64", "u64", 8),
    ("i64", "i64", 8),
    ("f64", "f64", 8),
    ("bool", "bool", 1),
];

fn base(t: &str) -> Option<(&'static str, usize)> {
    BASE.iter().find(|b| b.0 == t).map(|b| (b.1, b.2))
}

fn camel(s: &str) -> String {
    let mut out = String::new();
    for part in s.split('_').filter(|p| !p.is_empty()) {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            out.extend(f.to_uppercase());
            out.push_str(c.as_str());
        }
    }
    out
}

fn strip(t: &str) -> &str {
    t.strip_prefix("vl_api_")
        .and_then(|t| t.strip_suffix("_t"))
        .unwrap_or(t)
}

fn field_ident(n: &str) -> String {
    const KW: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
        "move", "mut", "priv", "pub", "ref", "return", "static", "struct", "trait", "true", "try",
        "type", "unsafe", "use", "where", "while", "yield", "abstract", "become", "do", "final",
        "macro", "override", "typeof", "unsized", "virtual",
    ];
    if KW.contains(&n) {
        format!("r#{n}")
    } else {
        n.to_owned()
    }
}

#[derive(Clone, Debug)]
enum Shape {
    /// `T name`
    Scalar,
    /// `T name[N]` (not string)
    Array(usize),
    /// `string name[N]`
    FixedStr(usize),
    /// `string name[]`
    VarStr(usize),
    /// `T name[count]`
    Vla(String),
    /// `T name[]` (not string): the rest
    Rest,
}

#[derive(Clone, Debug)]
struct Field {
    ty: String,
    name: String,
    shape: Shape,
    default: Option<Value>,
}

#[derive(Clone, Debug)]
enum Def {
    Struct(Vec<Field>),
    Enum {
        repr: String,
        values: Vec<(String, i64)>,
    },
    Union(Vec<(String, String)>),
    Alias {
        ty: String,
        len: Option<usize>,
    },
}

struct Msg {
    name: String,
    crc: u32,
    module: String,
    fields: Vec<Field>,
}

fn parse_fields(items: &[Value]) -> Vec<Field> {
    let mut out = Vec::new();
    for it in items {
        let Some(arr) = it.as_array() else { continue };
        let opts: Vec<&Value> = arr.iter().filter(|v| v.is_object()).collect();
        let plain: Vec<&Value> = arr.iter().filter(|v| !v.is_object()).collect();
        let ty = plain[0].as_str().expect("field type").to_owned();
        let name = plain[1].as_str().expect("field name").to_owned();
        let limit = opts
            .iter()
            .find_map(|o| o.get("limit").and_then(Value::as_u64))
            .map(|l| l as usize);
        let shape = match plain.len() {
            2 => Shape::Scalar,
            3 => {
                let n = plain[2].as_u64().expect("array length") as usize;
                match (ty.as_str(), n) {
                    ("string", 0) => Shape::VarStr(limit.unwrap_or(0)),
                    ("string", n) => Shape::FixedStr(limit.unwrap_or(n)),
                    (_, 0) => Shape::Rest,
                    (_, n) => Shape::Array(n),
                }
            }
            4 => Shape::Vla(plain[3].as_str().expect("count field").to_owned()),
            _ => panic!("unexpected field {it}"),
        };
        let default = opts.iter().find_map(|o| o.get("default").cloned());
        out.push(Field {
            ty,
            name,
            shape,
            default,
        });
    }
    out
}

struct Gen {
    defs: BTreeMap<String, Def>,
    msgs: Vec<Msg>,
    services: BTreeMap<String, Value>,
    files: Vec<(String, u32)>,
}

impl Gen {
    fn load(dir: &Path) -> Gen {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("api dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".api.json"))
            .collect();
        // memclnt first (its messages have the fixed ids 1..), then by name.
        files.sort_by_key(|p| {
            let n = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            (!n.starts_with("memclnt."), n)
        });
        let mut g = Gen {
            defs: BTreeMap::new(),
            msgs: Vec::new(),
            services: BTreeMap::new(),
            files: Vec::new(),
        };
        for p in files {
            println!("cargo:rerun-if-changed={}", p.display());
            let text = std::fs::read_to_string(&p).expect("read api file");
            let v: Value = serde_json::from_str(&text).expect("parse api file");
            let module = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .trim_end_matches(".api.json")
                .to_owned();
            let version = v["vl_api_version"]
                .as_str()
                .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                .unwrap_or(0);
            g.files.push((module.clone(), version));
            for kind in ["enums", "enumflags"] {
                for e in v[kind].as_array().into_iter().flatten() {
                    let a = e.as_array().expect("enum");
                    let name = a[0].as_str().expect("enum name").to_owned();
                    let mut repr = "u32".to_owned();
                    let mut values = Vec::new();
                    for x in &a[1..] {
                        if let Some(t) = x.get("enumtype").and_then(Value::as_str) {
                            repr = t.to_owned();
                        } else if let Some(pair) = x.as_array() {
                            values.push((
                                pair[0].as_str().expect("enum value name").to_owned(),
                                pair[1].as_i64().expect("enum value"),
                            ));
                        }
                    }
                    g.insert(name, Def::Enum { repr, values });
                }
            }
            for u in v["unions"].as_array().into_iter().flatten() {
                let a = u.as_array().expect("union");
                let arms = a[1..]
                    .iter()
                    .filter_map(Value::as_array)
                    .map(|f| {
                        (
                            f[0].as_str().expect("arm type").to_owned(),
                            f[1].as_str().expect("arm name").to_owned(),
                        )
                    })
                    .collect();
                g.insert(
                    a[0].as_str().expect("union name").to_owned(),
                    Def::Union(arms),
                );
            }
            for t in v["types"].as_array().into_iter().flatten() {
                let a = t.as_array().expect("type");
                g.insert(
                    a[0].as_str().expect("type name").to_owned(),
                    Def::Struct(parse_fields(&a[1..])),
                );
            }
            for (name, a) in v["aliases"].as_object().into_iter().flatten() {
                g.insert(
                    name.clone(),
                    Def::Alias {
                        ty: a["type"].as_str().expect("alias type").to_owned(),
                        len: a.get("length").and_then(Value::as_u64).map(|l| l as usize),
                    },
                );
            }
            for m in v["messages"].as_array().into_iter().flatten() {
                let a = m.as_array().expect("message");
                let name = a[0].as_str().expect("message name").to_owned();
                let crc = a
                    .iter()
                    .find_map(|x| x.get("crc").and_then(Value::as_str))
                    .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                    .expect("message crc");
                g.msgs.push(Msg {
                    name,
                    crc,
                    module: module.clone(),
                    fields: parse_fields(&a[1..]),
                });
            }
            for (k, s) in v["services"].as_object().into_iter().flatten() {
                g.services.insert(k.clone(), s.clone());
            }
        }
        g
    }

    fn insert(&mut self, name: String, d: Def) {
        // Files repeat the definitions they import; they must agree.
        if let Some(old) = self.defs.get(&name) {
            assert_eq!(
                format!("{old:?}"),
                format!("{d:?}"),
                "conflicting definitions of {name}"
            );
        }
        self.defs.insert(name, d);
    }

    /// Resolves aliases: the definition a type name finally denotes.
    fn resolve<'a>(&'a self, ty: &'a str) -> (&'a str, Option<usize>) {
        let mut t = strip(ty);
        let mut len = None;
        while let Some(Def::Alias { ty, len: l }) = self.defs.get(t) {
            if l.is_some() {
                len = *l;
            }
            t = strip(ty);
        }
        (t, len)
    }

    fn is_u8_array(&self, f: &Field) -> bool {
        let (t, alias_len) = self.resolve(&f.ty);
        t == "u8"
            && (matches!(f.shape, Shape::Array(_) | Shape::Vla(_) | Shape::Rest)
                || alias_len.is_some())
    }

    fn fixed_size(&self, ty: &str) -> usize {
        if let Some((_, n)) = base(ty) {
            return n;
        }
        match self
            .defs
            .get(strip(ty))
            .unwrap_or_else(|| panic!("unknown type {ty}"))
        {
            Def::Enum { repr, .. } => base(repr).expect("enum repr").1,
            Def::Alias { ty, len } => self.fixed_size(ty) * len.unwrap_or(1),
            Def::Union(arms) => arms
                .iter()
                .map(|a| self.fixed_size(&a.0))
                .max()
                .unwrap_or(0),
            Def::Struct(fields) => fields
                .iter()
                .map(|f| match f.shape {
                    Shape::Scalar => self.fixed_size(&f.ty),
                    Shape::Array(n) => self.fixed_size(&f.ty) * n,
                    Shape::FixedStr(n) => n,
                    _ => panic!("variable-size field {} in a fixed-size type {ty}", f.name),
                })
                .sum(),
        }
    }

    /// Rust type of a scalar of VPP type `ty`, seen from module `from`
    /// (`""` = inside `types`).
    fn rty(&self, ty: &str, inside_types: bool) -> String {
        if let Some((r, _)) = base(ty) {
            return r.to_owned();
        }
        let n = camel(strip(ty));
        if inside_types {
            n
        } else {
            format!("super::types::{n}")
        }
    }

    fn field_rty(&self, f: &Field, inside: bool) -> String {
        let t = self.rty(&f.ty, inside);
        match f.shape {
            Shape::Scalar => t,
            Shape::Array(n) => format!("[{t}; {n}]"),
            Shape::FixedStr(_) | Shape::VarStr(_) => "String".into(),
            Shape::Vla(_) | Shape::Rest => format!("Vec<{t}>"),
        }
    }

    fn count_fields(fields: &[Field]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in fields {
            if let Shape::Vla(c) = &f.shape {
                m.entry(c.clone()).or_default().push(f.name.clone());
            }
        }
        m
    }

    fn default_expr(&self, f: &Field, inside: bool) -> String {
        match (&f.shape, &f.default) {
            (Shape::Scalar, Some(d)) => {
                let (t, _) = self.resolve(&f.ty);
                let lit = match d {
                    Value::Bool(b) => b.to_string(),
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => panic!("default {other}"),
                };
                if t == "bool" {
                    // vpp-papi packs the default through Python truthiness.
                    let truthy = !matches!(lit.as_str(), "false" | "False" | "0");
                    return truthy.to_string();
                }
                if t == "f64" {
                    return format!("{lit}_f64");
                }
                match self.defs.get(t) {
                    Some(Def::Enum { .. }) => format!("{}({lit})", self.rty(t, inside)),
                    _ => lit,
                }
            }
            (Shape::Array(_), _) => "::std::array::from_fn(|_| Default::default())".into(),
            _ => "Default::default()".into(),
        }
    }

    fn gen_struct_body(&self, out: &mut String, rust: &str, fields: &[Field], inside: bool) {
        let counts = Self::count_fields(fields);
        // emit
        writeln!(
            out,
            "    fn emit_fields(&self, w: &mut Writer<'_>) -> Result<()> {{"
        )
        .ok();
        for f in fields {
            let id = field_ident(&f.name);
            if let Some(vecs) = counts.get(&f.name) {
                let (ct, _) = base(self.resolve(&f.ty).0).expect("count field must be an integer");
                let first = field_ident(&vecs[0]);
                for other in &vecs[1..] {
                    writeln!(
                        out,
                        "        if self.{}.len() != self.{first}.len() {{ return Err(Error::Unencodable {{ what: \"{rust}\", why: \"vectors sharing a count differ in length\" }}); }}",
                        field_ident(other)
                    )
                    .ok();
                }
                writeln!(
                    out,
                    "        w.count::<{ct}>(self.{first}.len(), \"{rust}.{}\")?;",
                    f.name
                )
                .ok();
                continue;
            }
            match &f.shape {
                Shape::Scalar | Shape::Array(_) => {
                    writeln!(out, "        self.{id}.emit(w)?;").ok();
                }
                Shape::FixedStr(n) => {
                    writeln!(
                        out,
                        "        w.fixed_str(&self.{id}, {n}, \"{rust}.{}\")?;",
                        f.name
                    )
                    .ok();
                }
                Shape::VarStr(limit) => {
                    writeln!(
                        out,
                        "        w.var_str(&self.{id}, {limit}, \"{rust}.{}\")?;",
                        f.name
                    )
                    .ok();
                }
                Shape::Vla(_) | Shape::Rest => {
                    writeln!(out, "        for x in &self.{id} {{ x.emit(w)?; }}").ok();
                }
            }
        }
        writeln!(out, "        Ok(())\n    }}").ok();
        // parse
        writeln!(
            out,
            "    fn parse_fields(r: &mut Reader<'_>) -> Result<Self> {{"
        )
        .ok();
        for f in fields {
            let id = field_ident(&f.name);
            let local = format!("f_{}", f.name);
            if counts.contains_key(&f.name) {
                writeln!(
                    out,
                    "        let {local} = {}::parse(r)? as usize;",
                    self.rty(&f.ty, inside)
                )
                .ok();
                continue;
            }
            let _ = id;
            match &f.shape {
                Shape::Scalar | Shape::Array(_) => {
                    writeln!(
                        out,
                        "        let {local} = <{}>::parse(r)?;",
                        self.field_rty(f, inside)
                    )
                    .ok();
                }
                Shape::FixedStr(n) => {
                    writeln!(out, "        let {local} = r.fixed_str({n})?;").ok();
                }
                Shape::VarStr(_) => {
                    writeln!(out, "        let {local} = r.var_str()?;").ok();
                }
                Shape::Vla(c) => {
                    writeln!(
                        out,
                        "        let {local} = r.vec::<{}>(f_{c}, \"{rust}.{}\")?;",
                        self.rty(&f.ty, inside),
                        f.name
                    )
                    .ok();
                }
                Shape::Rest => {
                    writeln!(
                        out,
                        "        let {local} = r.rest_vec::<{}>()?;",
                        self.rty(&f.ty, inside)
                    )
                    .ok();
                }
            }
        }
        write!(out, "        Ok(Self {{").ok();
        for f in fields.iter().filter(|f| !counts.contains_key(&f.name)) {
            write!(out, " {}: f_{},", field_ident(&f.name), f.name).ok();
        }
        writeln!(out, " }})\n    }}").ok();
    }

    fn gen_papi(&self, out: &mut String, rust: &str, fields: &[Field]) {
        let counts = Self::count_fields(fields);
        writeln!(
            out,
            "#[cfg(feature = \"testing\")]\nimpl crate::wire::papi::ToPapi for {rust} {{"
        )
        .ok();
        writeln!(out, "    fn to_papi(&self) -> serde_json::Value {{\n        let mut m = serde_json::Map::new();").ok();
        self.gen_papi_fields(out, fields, &counts);
        writeln!(out, "        serde_json::Value::Object(m)\n    }}\n}}").ok();
    }

    fn gen_papi_fields(
        &self,
        out: &mut String,
        fields: &[Field],
        counts: &BTreeMap<String, Vec<String>>,
    ) {
        for f in fields {
            let id = field_ident(&f.name);
            let v = if let Some(vecs) = counts.get(&f.name) {
                format!(
                    "serde_json::Value::from(self.{}.len())",
                    field_ident(&vecs[0])
                )
            } else if self.is_u8_array(f) {
                format!("crate::wire::papi::bytes(&self.{id}[..])")
            } else {
                format!("crate::wire::papi::ToPapi::to_papi(&self.{id})")
            };
            writeln!(out, "        m.insert(\"{}\".into(), {v});", f.name).ok();
        }
    }

    fn gen_types(&self, out: &mut String) {
        writeln!(
            out,
            "/// Types, enums, unions and aliases of the VPP API (shared by every module)."
        )
        .ok();
        writeln!(out, "pub mod types {{\n    #![allow(unused_imports)]\n    use crate::wire::{{Codec, Error, Reader, Result, Writer}};\n").ok();
        for (name, d) in &self.defs {
            let rust = camel(name);
            match d {
                Def::Alias { ty, len } => {
                    let t = self.rty(ty, true);
                    let r = match len {
                        Some(n) => format!("[{t}; {n}]"),
                        None => t,
                    };
                    writeln!(
                        out,
                        "/// VPP alias `{name}`: `{ty}{}`.\npub type {rust} = {r};\n",
                        len.map(|n| format!("[{n}]")).unwrap_or_default()
                    )
                    .ok();
                }
                Def::Enum { repr, values } => {
                    let (r, _) = base(repr).expect("enum repr");
                    writeln!(
                        out,
                        "/// VPP enum `{name}` ({repr} on the wire). Unknown values decode as is."
                    )
                    .ok();
                    writeln!(out, "#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub struct {rust}(pub {r});").ok();
                    writeln!(out, "impl {rust} {{").ok();
                    for (vn, vv) in values {
                        writeln!(out, "    /// `{vn}` = {vv}\n    pub const {vn}: {rust} = {rust}({vv} as {r});").ok();
                    }
                    writeln!(out, "}}").ok();
                    writeln!(out, "impl Codec for {rust} {{\n    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {{ self.0.emit(w) }}\n    fn parse(r: &mut Reader<'_>) -> Result<Self> {{ Ok({rust}({r}::parse(r)?)) }}\n}}").ok();
                    writeln!(out, "#[cfg(feature = \"testing\")]\nimpl crate::wire::papi::ToPapi for {rust} {{\n    fn to_papi(&self) -> serde_json::Value {{ serde_json::Value::from(self.0) }}\n}}\n").ok();
                }
                Def::Union(arms) => {
                    let size = self.fixed_size(name);
                    writeln!(out, "/// VPP union `{name}` ({size} bytes; the active arm is given by a sibling field).").ok();
                    writeln!(out, "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub struct {rust}(pub [u8; {size}]);").ok();
                    writeln!(out, "impl Default for {rust} {{ fn default() -> Self {{ {rust}([0; {size}]) }} }}").ok();
                    writeln!(out, "impl {rust} {{").ok();
                    for (at, an) in arms {
                        let t = self.rty(at, true);
                        writeln!(out, "    /// The union holding arm `{an}` (zero-padded).\n    pub fn from_{an}(v: &{t}) -> Self {{\n        let mut b = Vec::with_capacity({size});\n        let _ = v.emit(&mut Writer::new(&mut b));\n        let mut raw = [0u8; {size}];\n        let n = b.len().min({size});\n        raw[..n].copy_from_slice(&b[..n]);\n        {rust}(raw)\n    }}").ok();
                        writeln!(out, "    /// Reads the union as arm `{an}`.\n    pub fn {an}(&self) -> {t} {{\n        let mut r = Reader::new(&self.0);\n        <{t}>::parse(&mut r).unwrap_or_default()\n    }}").ok();
                    }
                    writeln!(out, "}}").ok();
                    writeln!(out, "impl Codec for {rust} {{\n    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {{ w.bytes(&self.0); Ok(()) }}\n    fn parse(r: &mut Reader<'_>) -> Result<Self> {{ Ok({rust}(r.array()?)) }}\n}}").ok();
                    let (big_t, big_n) = arms
                        .iter()
                        .max_by_key(|a| self.fixed_size(&a.0))
                        .map(|a| (a.0.clone(), a.1.clone()))
                        .expect("union arms");
                    let big_field = Field {
                        ty: big_t,
                        name: big_n.clone(),
                        shape: Shape::Scalar,
                        default: None,
                    };
                    let val = if self.is_u8_array(&big_field) {
                        format!("crate::wire::papi::bytes(&self.{big_n}()[..])")
                    } else {
                        format!("crate::wire::papi::ToPapi::to_papi(&self.{big_n}())")
                    };
                    writeln!(out, "#[cfg(feature = \"testing\")]\nimpl crate::wire::papi::ToPapi for {rust} {{\n    fn to_papi(&self) -> serde_json::Value {{\n        let mut m = serde_json::Map::new();\n        m.insert(\"{big_n}\".into(), {val});\n        serde_json::Value::Object(m)\n    }}\n}}\n").ok();
                }
                Def::Struct(fields) => {
                    self.gen_struct(
                        out,
                        name,
                        &rust,
                        fields,
                        true,
                        &format!("VPP type `{name}`."),
                    );
                    writeln!(out, "impl Codec for {rust} {{\n    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {{ self.emit_fields(w) }}\n    fn parse(r: &mut Reader<'_>) -> Result<Self> {{ Self::parse_fields(r) }}\n}}\n").ok();
                }
            }
        }
        writeln!(out, "}}").ok();
    }

    /// True if values of this (resolved) type are plain bytes: no strings
    /// or vectors anywhere inside.
    fn is_copy_ty(&self, ty: &str) -> bool {
        if base(ty).is_some() {
            return true;
        }
        match self.defs.get(strip(ty)) {
            Some(Def::Struct(fields)) => self.fields_copy(fields),
            Some(Def::Alias { ty, .. }) => self.is_copy_ty(ty),
            Some(Def::Enum { .. } | Def::Union(_)) => true,
            None => false,
        }
    }

    fn fields_copy(&self, fields: &[Field]) -> bool {
        fields
            .iter()
            .all(|f| matches!(f.shape, Shape::Scalar | Shape::Array(_)) && self.is_copy_ty(&f.ty))
    }

    fn gen_struct(
        &self,
        out: &mut String,
        name: &str,
        rust: &str,
        fields: &[Field],
        inside: bool,
        doc: &str,
    ) {
        let counts = Self::count_fields(fields);
        let copy = if self.fields_copy(fields) {
            ", Copy"
        } else {
            ""
        };
        writeln!(
            out,
            "/// {doc}\n#[derive(Clone{copy}, Debug, PartialEq)]\npub struct {rust} {{"
        )
        .ok();
        for f in fields.iter().filter(|f| !counts.contains_key(&f.name)) {
            let shape = match &f.shape {
                Shape::Scalar => String::new(),
                Shape::Array(n) | Shape::FixedStr(n) => format!("[{n}]"),
                Shape::VarStr(_) | Shape::Rest => "[]".into(),
                Shape::Vla(c) => format!("[{c}]"),
            };
            writeln!(
                out,
                "    /// `{} {}{shape}`\n    pub {}: {},",
                f.ty,
                f.name,
                field_ident(&f.name),
                self.field_rty(f, inside)
            )
            .ok();
        }
        writeln!(out, "}}").ok();
        writeln!(
            out,
            "impl Default for {rust} {{\n    fn default() -> Self {{\n        Self {{"
        )
        .ok();
        for f in fields.iter().filter(|f| !counts.contains_key(&f.name)) {
            writeln!(
                out,
                "            {}: {},",
                field_ident(&f.name),
                self.default_expr(f, inside)
            )
            .ok();
        }
        writeln!(out, "        }}\n    }}\n}}").ok();
        writeln!(out, "impl {rust} {{").ok();
        self.gen_struct_body(out, name, fields, inside);
        writeln!(out, "}}").ok();
        self.gen_papi(out, rust, fields);
    }

    fn header(fields: &[Field]) -> (&'static str, usize) {
        let n: Vec<&str> = fields.iter().take(3).map(|f| f.name.as_str()).collect();
        assert_eq!(n.first(), Some(&"_vl_msg_id"), "message without _vl_msg_id");
        match (n.get(1), n.get(2)) {
            (Some(&"client_index"), Some(&"context")) => ("ClientContext", 3),
            (Some(&"client_index"), _) => ("Client", 2),
            (Some(&"context"), _) => ("Context", 2),
            _ => ("Bare", 1),
        }
    }

    fn gen_messages(&self, out: &mut String) {
        let names: BTreeSet<&str> = self.msgs.iter().map(|m| m.name.as_str()).collect();
        let mut modules: BTreeMap<&str, Vec<&Msg>> = BTreeMap::new();
        for m in &self.msgs {
            modules.entry(m.module.as_str()).or_default().push(m);
        }
        let module_of: BTreeMap<&str, &str> = self
            .msgs
            .iter()
            .map(|m| (m.name.as_str(), m.module.as_str()))
            .collect();
        for (module, msgs) in &modules {
            writeln!(out, "/// Messages of `{module}.api.json`.\npub mod {module} {{\n    #![allow(unused_imports)]\n    use crate::wire::{{Codec, Error, HeaderKind, Message, Reader, Result, Writer}};\n").ok();
            for m in msgs {
                let rust = camel(&m.name);
                let (hk, skip) = Self::header(&m.fields);
                let body = &m.fields[skip..];
                self.gen_struct(
                    out,
                    &m.name,
                    &rust,
                    body,
                    false,
                    &format!(
                        "VPP message `{}_{:08x}` ({module}.api.json).",
                        m.name, m.crc
                    ),
                );
                let retval = body
                    .iter()
                    .find(|f| {
                        f.name == "retval" && f.ty == "i32" && matches!(f.shape, Shape::Scalar)
                    })
                    .map(|_| "    fn retval(&self) -> Option<i32> { Some(self.retval) }\n")
                    .unwrap_or_default();
                writeln!(out, "impl Message for {rust} {{\n    const NAME: &'static str = \"{}\";\n    const CRC: u32 = 0x{:08x};\n    const HEADER: HeaderKind = HeaderKind::{hk};\n    fn emit_body(&self, w: &mut Writer<'_>) -> Result<()> {{ self.emit_fields(w) }}\n    fn parse_body(r: &mut Reader<'_>) -> Result<Self> {{ Self::parse_fields(r) }}\n{retval}}}", m.name, m.crc).ok();
                if let Some(s) = self.services.get(&m.name) {
                    let reply = s["reply"].as_str().unwrap_or("");
                    let stream = s.get("stream").and_then(Value::as_bool).unwrap_or(false);
                    let path = |n: &str| format!("super::{}::{}", module_of[n], camel(n));
                    if names.contains(reply) && s.get("stream_msg").is_none() {
                        if stream {
                            writeln!(
                                out,
                                "impl crate::wire::Dump for {rust} {{ type Details = {}; }}",
                                path(reply)
                            )
                            .ok();
                        } else {
                            writeln!(
                                out,
                                "impl crate::wire::Request for {rust} {{ type Reply = {}; }}",
                                path(reply)
                            )
                            .ok();
                        }
                    }
                }
                writeln!(out).ok();
            }
            writeln!(out, "}}\n").ok();
        }
        writeln!(out, "/// Every message of the API files: name, CRC, module, header layout (in file order, `memclnt` first).\npub const MESSAGES: &[crate::wire::MessageInfo] = &[").ok();
        for m in &self.msgs {
            let (hk, _) = Self::header(&m.fields);
            writeln!(out, "    crate::wire::MessageInfo {{ name: \"{}\", crc: 0x{:08x}, module: \"{}\", header: crate::wire::HeaderKind::{hk} }},", m.name, m.crc, m.module).ok();
        }
        writeln!(out, "];\n").ok();
        writeln!(out, "/// Decodes a message by name into vpp-papi's argument form (`testing`):\n/// the header and the body as the dict `pack()` takes. `None` for an\n/// unknown name.\n#[cfg(feature = \"testing\")]\npub fn papi_args(name: &str, msg: &[u8]) -> Option<crate::wire::Result<(crate::wire::MsgHeader, serde_json::Value)>> {{\n    use crate::wire::papi::ToPapi;\n    Some(match name {{").ok();
        for m in &self.msgs {
            writeln!(out, "        \"{}\" => crate::wire::decode::<{}::{}>(msg).map(|(h, m)| (h, m.to_papi())),", m.name, m.module, camel(&m.name)).ok();
        }
        writeln!(out, "        _ => return None,\n    }})\n}}\n").ok();
        writeln!(out, "/// The API files compiled in, with their `vl_api_version`.\npub const API_FILES: &[(&str, u32)] = &[").ok();
        for (f, v) in &self.files {
            writeln!(out, "    (\"{f}\", 0x{v:08x}),").ok();
        }
        writeln!(out, "];").ok();
    }
}

fn main() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("api");
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed=build.rs");
    let g = Gen::load(&dir);
    let mut out = String::with_capacity(1 << 20);
    out.push_str("// @generated by contiv-dp-vpp/build.rs from api/*.api.json. Do not edit.\n\n");
    g.gen_types(&mut out);
    g.gen_messages(&mut out);
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("vpp_api.rs");
    std::fs::write(dest, out).expect("write generated API");
}
