//! The JSONPath of a CustomResourceDefinition's `additionalPrinterColumns`, as the API server
//! evaluates it for its Table (`k8s.io/client-go/util/jsonpath`, one template): fields
//! (`.spec.partitions`, `.metadata.labels.strimzi\.io/cluster`, `['a.b']`), indexes (`[0]`,
//! `[-1]`), `[*]` / `.*`, and filters (`[?(@.type=="Ready")]`, `[?(@.ready)]`). Recursive
//! descent (`..`), slices and unions are refused as not simple.

use serde_json::Value;

/// A comparison in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    /// `[?(@.path OP literal)]`, or `[?(@.path)]` (the field is there) without a comparison.
    Filter(Vec<Step>, Option<(Op, Value)>),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path(Vec<Step>);

impl Path {
    /// Parses `.spec.x`, `{.spec.x}` or `spec.x`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Path, String> {
        let t = text.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(t);
        if t.is_empty() {
            return Err("an empty path".into());
        }
        let chars: Vec<char> = t.chars().collect();
        let mut i = if chars[0] == '$' { 1 } else { 0 };
        let mut steps = Vec::new();
        if chars.get(i).is_some_and(|c| *c != '.' && *c != '[') {
            // `spec.x` as the relaxed form.
            let (name, next) = field_name(&chars, i);
            steps.push(Step::Field(name));
            i = next;
        }
        while i < chars.len() {
            match chars[i] {
                '.' if chars.get(i + 1) == Some(&'.') => {
                    return Err("recursive descent (..) is not a simple path".into());
                }
                '.' if chars.get(i + 1) == Some(&'*') => {
                    steps.push(Step::All);
                    i += 2;
                }
                '.' => {
                    let (name, next) = field_name(&chars, i + 1);
                    if name.is_empty() {
                        return Err(format!("a field name is missing at {}", i + 1));
                    }
                    steps.push(Step::Field(name));
                    i = next;
                }
                '[' => {
                    let close = closing_bracket(&chars, i)?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    steps.push(bracket(inner.trim())?);
                    i = close + 1;
                }
                c => return Err(format!("unexpected {c:?} at {i}")),
            }
        }
        Ok(Path(steps))
    }

    /// Every value the path reaches in `v`, in document order.
    pub fn find<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        eval(&self.0, vec![v])
    }
}

/// A field name from `start`: up to `.` or `[`, with `\.` a literal dot.
fn field_name(chars: &[char], start: usize) -> (String, usize) {
    let mut name = String::new();
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                name.push(chars[i + 1]);
                i += 2;
            }
            '.' | '[' => break,
            c => {
                name.push(c);
                i += 1;
            }
        }
    }
    (name, i)
}

/// The `]` closing the `[` at `open`, skipping quoted text and nested brackets.
fn closing_bracket(chars: &[char], open: usize) -> Result<usize, String> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if *c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(*c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err(format!("unclosed [ at {open}"))
}

fn unquote(s: &str) -> Option<&str> {
    let s = s.trim();
    (s.len() >= 2
        && ((s.starts_with('\'') && s.ends_with('\'')) || (s.starts_with('"') && s.ends_with('"'))))
    .then(|| &s[1..s.len() - 1])
}

/// What is inside `[...]`.
fn bracket(inner: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::All);
    }
    if let Some(key) = unquote(inner) {
        return Ok(Step::Field(key.to_string()));
    }
    if let Ok(n) = inner.parse::<i64>() {
        return Ok(Step::Index(n));
    }
    if let Some(f) = inner.strip_prefix("?(").and_then(|s| s.strip_suffix(')')) {
        return filter(f.trim());
    }
    if inner.contains(':') || inner.contains(',') {
        return Err(format!(
            "[{inner}]: slices and unions are not a simple path"
        ));
    }
    Err(format!("[{inner}] is not an index, a key or a filter"))
}

/// `@.path OP literal` or `@.path`.
fn filter(f: &str) -> Result<Step, String> {
    const OPS: [(&str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let (lhs, cmp) = match OPS
        .iter()
        .find_map(|(s, op)| f.split_once(s).map(|p| (p, *op)))
    {
        Some(((l, r), op)) => (l.trim(), Some((op, literal(r.trim())?))),
        None => (f, None),
    };
    let Some(rel) = lhs.strip_prefix('@') else {
        return Err(format!("the filter {f:?} does not start with @"));
    };
    let steps = if rel.is_empty() {
        Vec::new()
    } else {
        Path::parse(rel)?.0
    };
    Ok(Step::Filter(steps, cmp))
}

fn literal(s: &str) -> Result<Value, String> {
    if let Some(q) = unquote(s) {
        return Ok(Value::String(q.to_string()));
    }
    match s {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        "nil" | "null" => return Ok(Value::Null),
        _ => {}
    }
    serde_json::from_str::<serde_json::Number>(s)
        .map(Value::Number)
        .map_err(|_| format!("{s:?} is not a literal"))
}

fn eval<'a>(steps: &[Step], mut cur: Vec<&'a Value>) -> Vec<&'a Value> {
    for step in steps {
        let mut next = Vec::new();
        for v in cur {
            match (step, v) {
                (Step::Field(k), Value::Object(m)) => next.extend(m.get(k)),
                (Step::Index(i), Value::Array(a)) => {
                    let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                    if idx >= 0 {
                        next.extend(a.get(idx as usize));
                    }
                }
                (Step::All, Value::Array(a)) => next.extend(a.iter()),
                (Step::All, Value::Object(m)) => next.extend(m.values()),
                (Step::Filter(path, cmp), Value::Array(a)) => {
                    next.extend(a.iter().filter(|e| matches(path, cmp, e)));
                }
                _ => {}
            }
        }
        cur = next;
    }
    cur
}

fn matches(path: &[Step], cmp: &Option<(Op, Value)>, e: &Value) -> bool {
    let found = eval(path, vec![e]);
    let Some((op, lit)) = cmp else {
        return !found.is_empty();
    };
    found.iter().any(|x| compare(x, *op, lit))
}

fn compare(x: &Value, op: Op, lit: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (x, lit) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn first(path: &str, v: &Value) -> Option<Value> {
        Path::parse(path)
            .unwrap()
            .find(v)
            .first()
            .map(|x| (*x).clone())
    }

    #[test]
    fn evaluates_the_paths_printer_columns_use() {
        let v = json!({
            "metadata": {"labels": {"strimzi.io/cluster": "mr-ee"}},
            "spec": {"partitions": 6, "replicas": 3, "config": {"a.b": "x"}},
            "status": {"conditions": [
                {"type": "Progressing", "status": "False"},
                {"type": "Ready", "status": "True"},
            ]},
        });
        assert_eq!(first(".spec.partitions", &v), Some(json!(6)));
        assert_eq!(first("{.spec.replicas}", &v), Some(json!(3)));
        assert_eq!(
            first(".metadata.labels.strimzi\\.io/cluster", &v),
            Some(json!("mr-ee"))
        );
        assert_eq!(first(".spec.config['a.b']", &v), Some(json!("x")));
        assert_eq!(
            first(".status.conditions[?(@.type==\"Ready\")].status", &v),
            Some(json!("True"))
        );
        assert_eq!(
            first(".status.conditions[-1].type", &v),
            Some(json!("Ready"))
        );
        assert_eq!(
            first(".status.conditions[*].type", &v),
            Some(json!("Progressing"))
        );
        assert_eq!(first(".status.phase", &v), None);
        assert_eq!(first(".spec.partitions.nope", &v), None);
        assert_eq!(
            first(".status.conditions[?(@.status != 'True')].type", &v),
            Some(json!("Progressing"))
        );
    }

    #[test]
    fn refuses_what_is_not_a_simple_path() {
        for bad in ["", "..spec", ".spec..x", ".a[1:2]", ".a[", ".a[?(x==1)]"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }
}
