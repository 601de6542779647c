//! The Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`: the `k8s\0`
//! magic, a `runtime.Unknown` envelope, then the object), both ways:
//! - request bodies that kubectl's typed clients send are decoded. Only the types kubectl
//!   creates that way are known: Namespace, ConfigMap, Secret, Service, Deployment, Job,
//!   CronJob, Eviction, DeleteOptions and HorizontalPodAutoscaler (autoscaling/v1 and v2),
//!   and Pod;
//! - Pods are encoded for the clients that prefer protobuf (client-go's typed clients, the
//!   console): a Pod, a PodList, and a watch's events, framed as the API server frames them
//!   (a 4-byte big-endian length, then a `WatchEvent` whose object is an enveloped Pod).
//!   Every other response is JSON, which those clients accept too. The Pod's tables
//!   (`protobuf_schema.rs`) are generated from Kubernetes' own `.proto` files.

use super::error::ApiError;
use serde_json::{Map, Value, json};

/// The content type of a Kubernetes protobuf body.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Clone, Copy)]
pub(super) enum T {
    Str,
    I32,
    I64,
    Bool,
    Msg(&'static [F]),
    /// Repeated of the inner type.
    Rep(&'static T),
    /// map<string,string>
    MapStr,
    /// map<string,Quantity>
    MapQty,
    /// map<string,bytes>, as JSON shows it: base64 strings
    MapBytes,
    Time,
    Qty,
    /// An IntOrString (a Service's targetPort): its number or its string.
    IntOrStr,
    /// `bytes`, which JSON shows as base64.
    Bytes,
    /// A `metav1.FieldsV1` (managed fields): any JSON, carried as its bytes.
    Fields,
    /// A Go struct embedded in its parent: JSON puts its fields in the parent's object,
    /// protobuf in a message of its own under this field's number.
    Inline(&'static [F]),
}

/// A field: number, JSON name, type.
pub(super) type F = (u32, &'static str, T);

const OWNER_REF: &[F] = &[
    (1, "kind", T::Str),
    (3, "name", T::Str),
    (4, "uid", T::Str),
    (5, "apiVersion", T::Str),
    (6, "controller", T::Bool),
    (7, "blockOwnerDeletion", T::Bool),
];
const META: &[F] = &[
    (1, "name", T::Str),
    (2, "generateName", T::Str),
    (3, "namespace", T::Str),
    (5, "uid", T::Str),
    (6, "resourceVersion", T::Str),
    (7, "generation", T::I64),
    (8, "creationTimestamp", T::Time),
    (9, "deletionTimestamp", T::Time),
    (10, "deletionGracePeriodSeconds", T::I64),
    (11, "labels", T::MapStr),
    (12, "annotations", T::MapStr),
    (13, "ownerReferences", T::Rep(&T::Msg(OWNER_REF))),
    (14, "finalizers", T::Rep(&T::Str)),
];
const PRECONDITIONS: &[F] = &[(1, "uid", T::Str), (2, "resourceVersion", T::Str)];
const DELETE_OPTIONS: &[F] = &[
    (1, "gracePeriodSeconds", T::I64),
    (2, "preconditions", T::Msg(PRECONDITIONS)),
    (3, "orphanDependents", T::Bool),
    (4, "propagationPolicy", T::Str),
    (5, "dryRun", T::Rep(&T::Str)),
];
const EVICTION: &[F] = &[
    (1, "metadata", T::Msg(META)),
    (2, "deleteOptions", T::Msg(DELETE_OPTIONS)),
];
const CONFIG_MAP: &[F] = &[
    (1, "metadata", T::Msg(META)),
    (2, "data", T::MapStr),
    (3, "binaryData", T::MapBytes),
    (4, "immutable", T::Bool),
];
const SECRET: &[F] = &[
    (1, "metadata", T::Msg(super::protobuf_schema::OBJECT_META)),
    (2, "data", T::MapBytes),
    (3, "type", T::Str),
    (4, "stringData", T::MapStr),
    (5, "immutable", T::Bool),
];
const NS_SPEC: &[F] = &[(1, "finalizers", T::Rep(&T::Str))];
const NAMESPACE: &[F] = &[(1, "metadata", T::Msg(META)), (2, "spec", T::Msg(NS_SPEC))];
const XREF: &[F] = &[
    (1, "kind", T::Str),
    (2, "name", T::Str),
    (3, "apiVersion", T::Str),
];
const HPA_V1_SPEC: &[F] = &[
    (1, "scaleTargetRef", T::Msg(XREF)),
    (2, "minReplicas", T::I32),
    (3, "maxReplicas", T::I32),
    (4, "targetCPUUtilizationPercentage", T::I32),
];
const HPA_V1: &[F] = &[
    (1, "metadata", T::Msg(META)),
    (2, "spec", T::Msg(HPA_V1_SPEC)),
];
const METRIC_TARGET: &[F] = &[
    (1, "type", T::Str),
    (2, "value", T::Qty),
    (3, "averageValue", T::Qty),
    (4, "averageUtilization", T::I32),
];
const RESOURCE_METRIC: &[F] = &[(1, "name", T::Str), (2, "target", T::Msg(METRIC_TARGET))];
const METRIC_SPEC: &[F] = &[
    (1, "type", T::Str),
    (4, "resource", T::Msg(RESOURCE_METRIC)),
];
const HPA_V2_SPEC: &[F] = &[
    (1, "scaleTargetRef", T::Msg(XREF)),
    (2, "minReplicas", T::I32),
    (3, "maxReplicas", T::I32),
    (4, "metrics", T::Rep(&T::Msg(METRIC_SPEC))),
];
const HPA_V2: &[F] = &[
    (1, "metadata", T::Msg(META)),
    (2, "spec", T::Msg(HPA_V2_SPEC)),
];
const CONTAINER_PORT: &[F] = &[
    (1, "name", T::Str),
    (2, "hostPort", T::I32),
    (3, "containerPort", T::I32),
    (4, "protocol", T::Str),
];
const ENV_VAR: &[F] = &[(1, "name", T::Str), (2, "value", T::Str)];
const RESOURCES: &[F] = &[(1, "limits", T::MapQty), (2, "requests", T::MapQty)];
const CONTAINER: &[F] = &[
    (1, "name", T::Str),
    (2, "image", T::Str),
    (3, "command", T::Rep(&T::Str)),
    (4, "args", T::Rep(&T::Str)),
    (5, "workingDir", T::Str),
    (6, "ports", T::Rep(&T::Msg(CONTAINER_PORT))),
    (7, "env", T::Rep(&T::Msg(ENV_VAR))),
    (8, "resources", T::Msg(RESOURCES)),
    (14, "imagePullPolicy", T::Str),
];
const POD_SPEC: &[F] = &[
    (2, "containers", T::Rep(&T::Msg(CONTAINER))),
    (3, "restartPolicy", T::Str),
    (4, "terminationGracePeriodSeconds", T::I64),
    (7, "nodeSelector", T::MapStr),
    (8, "serviceAccountName", T::Str),
    (20, "initContainers", T::Rep(&T::Msg(CONTAINER))),
];
const POD_TEMPLATE: &[F] = &[(1, "metadata", T::Msg(META)), (2, "spec", T::Msg(POD_SPEC))];
const SELECTOR: &[F] = &[(1, "matchLabels", T::MapStr)];
const DEPLOY_SPEC: &[F] = &[
    (1, "replicas", T::I32),
    (2, "selector", T::Msg(SELECTOR)),
    (3, "template", T::Msg(POD_TEMPLATE)),
    (5, "minReadySeconds", T::I32),
    (6, "revisionHistoryLimit", T::I32),
    (7, "paused", T::Bool),
    (9, "progressDeadlineSeconds", T::I32),
];
const DEPLOYMENT: &[F] = &[
    (1, "metadata", T::Msg(META)),
    (2, "spec", T::Msg(DEPLOY_SPEC)),
];

const JOB_SPEC: &[F] = &[
    (1, "parallelism", T::I32),
    (2, "completions", T::I32),
    (3, "activeDeadlineSeconds", T::I64),
    (4, "selector", T::Msg(SELECTOR)),
    (5, "manualSelector", T::Bool),
    (6, "template", T::Msg(POD_TEMPLATE)),
    (7, "backoffLimit", T::I32),
    (8, "ttlSecondsAfterFinished", T::I32),
    (9, "completionMode", T::Str),
    (10, "suspend", T::Bool),
];
const JOB: &[F] = &[(1, "metadata", T::Msg(META)), (2, "spec", T::Msg(JOB_SPEC))];
const JOB_TEMPLATE: &[F] = &[(1, "metadata", T::Msg(META)), (2, "spec", T::Msg(JOB_SPEC))];
const CRONJOB_SPEC: &[F] = &[
    (1, "schedule", T::Str),
    (2, "startingDeadlineSeconds", T::I64),
    (3, "concurrencyPolicy", T::Str),
    (4, "suspend", T::Bool),
    (5, "jobTemplate", T::Msg(JOB_TEMPLATE)),
    (6, "successfulJobsHistoryLimit", T::I32),
    (7, "failedJobsHistoryLimit", T::I32),
    (8, "timeZone", T::Str),
];
const CRONJOB: &[F] = &[
    (1, "metadata", T::Msg(META)),
    (2, "spec", T::Msg(CRONJOB_SPEC)),
];

const SERVICE_PORT: &[F] = &[
    (1, "name", T::Str),
    (2, "protocol", T::Str),
    (3, "port", T::I32),
    (4, "targetPort", T::IntOrStr),
    (5, "nodePort", T::I32),
    (6, "appProtocol", T::Str),
];
const SERVICE_SPEC: &[F] = &[
    (1, "ports", T::Rep(&T::Msg(SERVICE_PORT))),
    (2, "selector", T::MapStr),
    (3, "clusterIP", T::Str),
    (4, "type", T::Str),
    (5, "externalIPs", T::Rep(&T::Str)),
    (7, "sessionAffinity", T::Str),
    (8, "loadBalancerIP", T::Str),
    (10, "externalName", T::Str),
    (11, "externalTrafficPolicy", T::Str),
    (12, "healthCheckNodePort", T::I32),
    (13, "publishNotReadyAddresses", T::Bool),
    (17, "ipFamilyPolicy", T::Str),
    (18, "clusterIPs", T::Rep(&T::Str)),
    (19, "ipFamilies", T::Rep(&T::Str)),
    (20, "allocateLoadBalancerNodePorts", T::Bool),
    (21, "loadBalancerClass", T::Str),
    (22, "internalTrafficPolicy", T::Str),
];
const SERVICE: &[F] = &[
    (1, "metadata", T::Msg(META)),
    (2, "spec", T::Msg(SERVICE_SPEC)),
];

fn schema(api_version: &str, kind: &str) -> Option<&'static [F]> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Service") => SERVICE,
        ("policy/v1", "Eviction") | ("policy/v1beta1", "Eviction") => EVICTION,
        ("v1", "DeleteOptions") | ("meta.k8s.io/v1", "DeleteOptions") => DELETE_OPTIONS,
        ("autoscaling/v1", "HorizontalPodAutoscaler") => HPA_V1,
        ("autoscaling/v2", "HorizontalPodAutoscaler") => HPA_V2,
        ("apps/v1", "Deployment") => DEPLOYMENT,
        ("batch/v1", "Job") => JOB,
        ("batch/v1", "CronJob") => CRONJOB,
        ("v1", "Pod") => super::protobuf_schema::POD,
        _ => return None,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn malformed() -> ApiError {
    ApiError::bad_request("the protobuf body is malformed")
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or_else(malformed)?;
            self.pos += 1;
            out |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(malformed())
    }

    fn bytes(&mut self) -> Result<&'a [u8], ApiError> {
        let len = self.varint()? as usize;
        let end = self.pos.checked_add(len).ok_or_else(malformed)?;
        let b = self.buf.get(self.pos..end).ok_or_else(malformed)?;
        self.pos = end;
        Ok(b)
    }

    /// Reads (field number, wire type) pairs until the end.
    fn next(&mut self) -> Result<Option<(u32, u8)>, ApiError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        Ok(Some(((key >> 3) as u32, (key & 7) as u8)))
    }

    fn skip(&mut self, wire: u8) -> Result<(), ApiError> {
        match wire {
            0 => {
                self.varint()?;
            }
            1 => self.pos += 8,
            2 => {
                self.bytes()?;
            }
            5 => self.pos += 4,
            _ => return Err(malformed()),
        }
        if self.pos > self.buf.len() {
            return Err(malformed());
        }
        Ok(())
    }
}

fn string(b: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(b.to_vec()).map_err(|_| malformed())
}

fn scalar(r: &mut Reader, t: T, wire: u8) -> Result<Value, ApiError> {
    Ok(match t {
        T::Str => json!(string(r.bytes()?)?),
        T::I32 => json!(r.varint()? as i32),
        T::I64 => json!(r.varint()? as i64),
        T::Bool => json!(r.varint()? != 0),
        T::Msg(fields) => message(r.bytes()?, fields)?,
        T::Time => {
            let m = message(r.bytes()?, &[(1, "seconds", T::I64)])?;
            let secs = m["seconds"].as_i64().unwrap_or(0);
            json!(
                jiff::Timestamp::from_second(secs)
                    .map_err(|_| malformed())?
                    .to_string()
            )
        }
        T::Qty => {
            let m = message(r.bytes()?, &[(1, "string", T::Str)])?;
            m["string"].clone()
        }
        T::IntOrStr => {
            let m = message(
                r.bytes()?,
                &[
                    (1, "type", T::I64),
                    (2, "intVal", T::I32),
                    (3, "strVal", T::Str),
                ],
            )?;
            if m["type"] == 1 {
                m.get("strVal").cloned().unwrap_or_else(|| json!(""))
            } else {
                m.get("intVal").cloned().unwrap_or_else(|| json!(0))
            }
        }
        T::Bytes => {
            use base64::Engine;
            json!(base64::engine::general_purpose::STANDARD.encode(r.bytes()?))
        }
        T::Fields => {
            let mut fields = Reader {
                buf: r.bytes()?,
                pos: 0,
            };
            let mut raw = &[][..];
            while let Some((num, wire)) = fields.next()? {
                match num {
                    1 => raw = fields.bytes()?,
                    _ => fields.skip(wire)?,
                }
            }
            serde_json::from_slice(raw).map_err(|_| malformed())?
        }
        T::Inline(fields) => message(r.bytes()?, fields)?,
        T::Rep(_) | T::MapStr | T::MapQty | T::MapBytes => {
            r.skip(wire)?;
            Value::Null
        }
    })
}

fn message(buf: &[u8], fields: &[F]) -> Result<Value, ApiError> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Map::new();
    while let Some((num, wire)) = r.next()? {
        let Some((_, name, t)) = fields.iter().find(|(n, _, _)| *n == num) else {
            r.skip(wire)?;
            continue;
        };
        match t {
            T::Rep(inner) => {
                let v = scalar(&mut r, **inner, wire)?;
                out.entry(name.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .expect("array")
                    .push(v);
            }
            T::MapStr | T::MapQty | T::MapBytes => {
                let (k, v) = map_entry(r.bytes()?, *t)?;
                out.entry(name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("object")
                    .insert(k, v);
            }
            T::Inline(_) => {
                if let Value::Object(inner) = scalar(&mut r, *t, wire)? {
                    out.extend(inner);
                }
            }
            _ => {
                let v = scalar(&mut r, *t, wire)?;
                out.insert(name.to_string(), v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// One `map<string, _>` entry: its key and its value as JSON shows it.
fn map_entry(buf: &[u8], t: T) -> Result<(String, Value), ApiError> {
    let mut r = Reader { buf, pos: 0 };
    let (mut k, mut v) = (String::new(), json!(""));
    while let Some((num, wire)) = r.next()? {
        match (num, t) {
            (1, _) => k = string(r.bytes()?)?,
            (2, T::MapQty) => v = scalar(&mut r, T::Qty, wire)?,
            (2, T::MapBytes) => {
                use base64::Engine;
                v = json!(base64::engine::general_purpose::STANDARD.encode(r.bytes()?));
            }
            (2, _) => v = json!(string(r.bytes()?)?),
            _ => r.skip(wire)?,
        }
    }
    Ok((k, v))
}

/// Decodes a protobuf body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| ApiError::bad_request("the protobuf body lacks the k8s magic prefix"))?;
    const TYPE_META: &[F] = &[(1, "apiVersion", T::Str), (2, "kind", T::Str)];
    let mut r = Reader { buf: rest, pos: 0 };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((num, wire)) = r.next()? {
        match num {
            1 => {
                let tm = message(r.bytes()?, TYPE_META)?;
                api_version = tm["apiVersion"].as_str().unwrap_or("").to_string();
                kind = tm["kind"].as_str().unwrap_or("").to_string();
            }
            2 => raw = r.bytes()?,
            _ => r.skip(wire)?,
        }
    }
    let fields = schema(&api_version, &kind).ok_or_else(|| {
        ApiError::unsupported_media_type(&format!(
            "{CONTENT_TYPE} for {api_version} {kind}; send it as application/json"
        ))
    })?;
    let mut v = message(raw, fields)?;
    prune_zero_values(&mut v);
    v["apiVersion"] = json!(api_version);
    v["kind"] = json!(kind);
    Ok(v)
}

/// Why an object was not encoded: the JSON path of what the tables cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotEncodable(pub String);

impl NotEncodable {
    /// The path, one step further out (paths are built as the error returns, so that an
    /// object that encodes builds none).
    fn within(self, step: &str) -> NotEncodable {
        NotEncodable(format!("{step}{}", self.0))
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, num: u32, wire: u8) {
    put_varint(out, (u64::from(num) << 3) | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, num: u32, b: &[u8]) {
    put_key(out, num, 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A nested message under `num`: written in place, then its length put before it.
fn put_message(
    out: &mut Vec<u8>,
    num: u32,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), NotEncodable>,
) -> Result<(), NotEncodable> {
    put_key(out, num, 2);
    let start = out.len();
    body(out)?;
    let mut len = Vec::with_capacity(5);
    put_varint(&mut len, (out.len() - start) as u64);
    out.splice(start..start, len);
    Ok(())
}

/// Whether `key` is a field of `fields`, or of a struct they embed.
fn known(fields: &[F], key: &str) -> bool {
    fields.iter().any(|(_, name, t)| match t {
        T::Inline(inner) => known(inner, key),
        _ => *name == key,
    })
}

/// Writes the fields of `obj` that `fields` describe, in field-number order; a key they do
/// not describe refuses the whole object.
fn put_fields(
    out: &mut Vec<u8>,
    obj: &Map<String, Value>,
    fields: &[F],
    mode: Mode,
) -> Result<(), NotEncodable> {
    if mode == Mode::Strict
        && let Some(key) = obj.keys().find(|k| !known(fields, k))
    {
        return Err(NotEncodable(format!(".{key}")));
    }
    put_known(out, obj, fields, mode)
}

fn put_known(
    out: &mut Vec<u8>,
    obj: &Map<String, Value>,
    fields: &[F],
    mode: Mode,
) -> Result<(), NotEncodable> {
    for &(num, name, t) in fields {
        match t {
            T::Inline(inner) => {
                if obj.keys().any(|k| known(inner, k)) {
                    put_message(out, num, |o| put_known(o, obj, inner, mode))?;
                }
            }
            _ => {
                if let Some(v) = obj.get(name) {
                    put_value(out, num, t, v, mode).map_err(|e| e.within(&format!(".{name}")))?;
                }
            }
        }
    }
    Ok(())
}

/// One field's value: a repeated field as one entry per element, as Go writes them.
fn put_value(out: &mut Vec<u8>, num: u32, t: T, v: &Value, mode: Mode) -> Result<(), NotEncodable> {
    use base64::Engine;
    let refuse = || NotEncodable(String::new());
    if v.is_null() {
        return Ok(());
    }
    match t {
        T::Str => put_bytes(out, num, v.as_str().ok_or_else(refuse)?.as_bytes()),
        T::I32 | T::I64 => {
            put_key(out, num, 0);
            put_varint(out, v.as_i64().ok_or_else(refuse)? as u64);
        }
        T::Bool => {
            put_key(out, num, 0);
            put_varint(out, u64::from(v.as_bool().ok_or_else(refuse)?));
        }
        T::Msg(fields) => {
            let obj = v.as_object().ok_or_else(refuse)?;
            put_message(out, num, |o| put_fields(o, obj, fields, mode))?;
        }
        T::Rep(inner) => {
            for (i, el) in v.as_array().ok_or_else(refuse)?.iter().enumerate() {
                put_value(out, num, *inner, el, mode).map_err(|e| e.within(&format!("[{i}]")))?;
            }
        }
        T::MapStr | T::MapQty | T::MapBytes => {
            for (k, val) in v.as_object().ok_or_else(refuse)? {
                put_message(out, num, |o| {
                    put_bytes(o, 1, k.as_bytes());
                    match t {
                        T::MapQty => put_value(o, 2, T::Qty, val, mode),
                        T::MapBytes => put_value(o, 2, T::Bytes, val, mode),
                        _ => put_value(o, 2, T::Str, val, mode),
                    }
                    .map_err(|e| e.within(&format!(".{k}")))
                })?;
            }
        }
        T::Time => {
            let ts: jiff::Timestamp = v.as_str().and_then(|s| s.parse().ok()).ok_or_else(refuse)?;
            put_message(out, num, |o| {
                put_key(o, 1, 0);
                put_varint(o, ts.as_second() as u64);
                if ts.subsec_nanosecond() != 0 {
                    put_key(o, 2, 0);
                    put_varint(o, ts.subsec_nanosecond() as u64);
                }
                Ok(())
            })?;
        }
        T::Qty => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(refuse()),
            };
            put_message(out, num, |o| {
                put_bytes(o, 1, text.as_bytes());
                Ok(())
            })?;
        }
        T::IntOrStr => put_message(out, num, |o| {
            match v {
                Value::Number(n) => {
                    put_key(o, 1, 0);
                    put_varint(o, 0);
                    put_key(o, 2, 0);
                    put_varint(o, n.as_i64().ok_or_else(refuse)? as u64);
                }
                Value::String(s) => {
                    put_key(o, 1, 0);
                    put_varint(o, 1);
                    put_bytes(o, 3, s.as_bytes());
                }
                _ => return Err(refuse()),
            }
            Ok(())
        })?,
        T::Bytes => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().ok_or_else(refuse)?)
                .map_err(|_| refuse())?;
            put_bytes(out, num, &raw);
        }
        T::Fields => {
            let raw = serde_json::to_vec(v).map_err(|_| refuse())?;
            put_message(out, num, |o| {
                put_bytes(o, 1, &raw);
                Ok(())
            })?;
        }
        T::Inline(_) => return Err(refuse()),
    }
    Ok(())
}

/// How the encoder meets a field its tables do not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// It refuses the object: for tests, which check the tables cover what pods hold.
    Strict,
    /// It leaves the field out, as the API server's Go types drop a field they lack.
    Lenient,
}

/// The tables of the kinds the sandbox serves in protobuf (and stores encoded): Pods, which
/// the console reads by the thousand, and Secrets, which carry Helm's releases.
fn served(api_version: &str, kind: &str) -> Option<&'static [F]> {
    match (api_version, kind) {
        ("v1", "Pod") => Some(super::protobuf_schema::POD),
        ("v1", "Secret") => Some(SECRET),
        _ => None,
    }
}

/// Whether objects of this kind are served in protobuf to a client that prefers it.
pub fn serves(api_version: &str, kind: &str) -> bool {
    served(api_version, kind).is_some()
}

/// An object's message, without the envelope, for a kind the sandbox [`serves`] in
/// protobuf; in [`Mode::Strict`], the first of its fields the tables cannot carry refuses
/// it.
pub fn encode(
    api_version: &str,
    kind: &str,
    v: &Value,
    mode: Mode,
) -> Result<Vec<u8>, NotEncodable> {
    let fields = served(api_version, kind).ok_or_else(|| {
        NotEncodable(format!(" ({api_version} {kind} is not served in protobuf)"))
    })?;
    let obj = v.as_object().ok_or_else(|| NotEncodable(String::new()))?;
    let type_meta = |k: &str| k == "apiVersion" || k == "kind";
    if mode == Mode::Strict
        && let Some(key) = obj.keys().find(|k| !type_meta(k) && !known(fields, k))
    {
        return Err(NotEncodable(format!(".{key}")));
    }
    let mut out = Vec::with_capacity(2048);
    put_known(&mut out, obj, fields, mode)?;
    Ok(out)
}

/// A Pod's message ([`encode`]).
pub fn encode_pod(v: &Value, mode: Mode) -> Result<Vec<u8>, NotEncodable> {
    encode("v1", "Pod", v, mode)
}

/// An object's message in the envelope a whole response body (or a watch event's object)
/// carries: the magic, then `runtime.Unknown` with its type and its bytes.
pub fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 32);
    out.extend_from_slice(b"k8s\0");
    let _ = put_message(&mut out, 1, |o| {
        put_bytes(o, 1, api_version.as_bytes());
        put_bytes(o, 2, kind.as_bytes());
        Ok(())
    });
    put_bytes(&mut out, 2, raw);
    out
}

/// A list (`PodList`) of items already encoded, enveloped; `meta` is the list's JSON
/// `metadata` (resourceVersion, continue, remainingItemCount).
pub fn list<'a>(
    api_version: &str,
    kind: &str,
    meta: &Value,
    items: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, NotEncodable> {
    use super::protobuf_schema::LIST_META;
    let mut body = Vec::new();
    let meta = meta
        .as_object()
        .ok_or_else(|| NotEncodable(".metadata".into()))?;
    put_message(&mut body, 1, |o| {
        put_fields(o, meta, LIST_META, Mode::Strict)
    })?;
    for item in items {
        put_bytes(&mut body, 2, item);
    }
    Ok(envelope(api_version, kind, &body))
}

/// A `Status` (an error) enveloped, as an error event of a protobuf watch carries it.
pub fn status(v: &Value) -> Vec<u8> {
    use super::protobuf_schema::STATUS;
    let mut body = Vec::new();
    if let Some(obj) = v.as_object() {
        let _ = put_known(&mut body, obj, STATUS, Mode::Lenient);
    }
    envelope("v1", "Status", &body)
}

/// One event of a watch stream: its length, then a `WatchEvent` whose object is `object`
/// enveloped ([`envelope`]).
pub fn watch_frame(event_type: &str, object: &[u8]) -> Vec<u8> {
    let mut event = Vec::with_capacity(object.len() + 24);
    put_bytes(&mut event, 1, event_type.as_bytes());
    let _ = put_message(&mut event, 2, |o| {
        put_bytes(o, 1, object);
        Ok(())
    });
    let mut out = Vec::with_capacity(event.len() + 4);
    out.extend_from_slice(&(event.len() as u32).to_be_bytes());
    out.extend_from_slice(&event);
    out
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends one event of a watch stream for an object whose message is `raw` (as
/// [`watch_frame`] of its [`envelope`] would), copying `raw` once: a streaming list is
/// thousands of these.
pub fn write_watch_event(
    out: &mut Vec<u8>,
    event_type: &str,
    api_version: &str,
    kind: &str,
    raw: &[u8],
) {
    let field = |len: usize| 1 + varint_len(len as u64) + len;
    let type_meta = field(api_version.len()) + field(kind.len());
    let envelope = 4 + field(type_meta) + field(raw.len());
    let event = field(event_type.len()) + field(field(envelope));
    out.reserve(4 + event);
    out.extend_from_slice(&(event as u32).to_be_bytes());
    put_bytes(out, 1, event_type.as_bytes());
    put_key(out, 2, 2);
    put_varint(out, field(envelope) as u64);
    put_key(out, 1, 2);
    put_varint(out, envelope as u64);
    out.extend_from_slice(b"k8s\0");
    put_key(out, 1, 2);
    put_varint(out, type_meta as u64);
    put_bytes(out, 1, api_version.as_bytes());
    put_bytes(out, 2, kind.as_bytes());
    put_bytes(out, 2, raw);
}

/// The watch stream's content type, as the API server names it.
pub const WATCH_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// Whether a client's `Accept` prefers protobuf: its first media range the server can
/// give is protobuf (client-go's typed clients send `application/vnd.kubernetes.protobuf,
/// application/json`; kube-rs and kubectl's printers send JSON).
pub fn preferred(accept: &str) -> bool {
    for range in accept.split(',') {
        let base = range.split(';').next().unwrap_or("").trim();
        match base {
            CONTENT_TYPE => return true,
            "application/json" | "application/*" | "*/*" | "application/yaml" => return false,
            _ => {}
        }
    }
    false
}

/// Go's protobuf writes empty strings and zero times for unset non-pointer fields; JSON omits them.
/// Maps keep their entries: an empty label or ConfigMap value is a value.
fn prune_zero_values(v: &mut Value) {
    const MAPS: [&str; 5] = ["labels", "annotations", "data", "stringData", "binaryData"];
    match v {
        Value::Object(m) => {
            m.retain(|_, x| {
                !(x.as_str() == Some("") || x.as_str() == Some("1970-01-01T00:00:00Z"))
            });
            for (k, x) in m.iter_mut() {
                if !MAPS.contains(&k.as_str()) {
                    prune_zero_values(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(prune_zero_values),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    fn field(num: u32, payload: &[u8], out: &mut Vec<u8>) {
        varint(((num as u64) << 3) | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    #[test]
    fn decodes_an_eviction_envelope() {
        let mut meta = Vec::new();
        field(1, b"web-1", &mut meta);
        field(3, b"mr-ee", &mut meta);
        let mut eviction = Vec::new();
        field(1, &meta, &mut eviction);
        let mut tm = Vec::new();
        field(1, b"policy/v1", &mut tm);
        field(2, b"Eviction", &mut tm);
        let mut body = b"k8s\0".to_vec();
        field(1, &tm, &mut body);
        field(2, &eviction, &mut body);
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Eviction");
        assert_eq!(v["metadata"]["name"], "web-1");
        assert_eq!(v["metadata"]["namespace"], "mr-ee");
    }

    #[test]
    fn decodes_a_secret_with_bytes_and_empty_values() {
        let mut meta = Vec::new();
        field(1, b"creds", &mut meta);
        let mut entry = Vec::new();
        field(1, b"password", &mut entry);
        field(2, b"s3cr\xff", &mut entry);
        let mut empty = Vec::new();
        field(1, b"note", &mut empty);
        field(2, b"", &mut empty);
        let mut secret = Vec::new();
        field(1, &meta, &mut secret);
        field(2, &entry, &mut secret);
        field(4, &empty, &mut secret);
        field(3, b"Opaque", &mut secret);
        let mut tm = Vec::new();
        field(1, b"v1", &mut tm);
        field(2, b"Secret", &mut tm);
        let mut body = b"k8s\0".to_vec();
        field(1, &tm, &mut body);
        field(2, &secret, &mut body);
        let v = decode(&body).unwrap();
        assert_eq!(v["metadata"]["name"], "creds");
        assert_eq!(v["type"], "Opaque");
        assert_eq!(v["data"]["password"], "czNjcv8=");
        assert_eq!(v["stringData"]["note"], "");
    }

    /// Drops what protobuf cannot tell from absent: nulls, empty lists and empty maps of
    /// strings.
    fn without_empties(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, x| {
                    !(x.is_null()
                        || x.as_array().is_some_and(Vec::is_empty)
                        || (["labels", "annotations", "nodeSelector"].contains(&k.as_str())
                            && x.as_object().is_some_and(Map::is_empty)))
                });
                m.values_mut().for_each(without_empties);
            }
            Value::Array(a) => a.iter_mut().for_each(without_empties),
            _ => {}
        }
    }

    /// The path of the first place where `a` and `b` differ.
    fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).collect();
                keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q, format!("{path}.{k}")),
                    (p, q) => Some(format!("{path}.{k}: {p:?} / {q:?}")),
                })
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(p, q, format!("{path}[{i}]"))),
            _ => (a != b).then(|| format!("{path}: {a} / {b}")),
        }
    }

    #[test]
    fn every_fixture_pod_encodes_and_decodes_to_itself() {
        for (path, text) in crate::core::cluster::slim::fixture_pods() {
            let mut pod: Value = serde_json::from_str(&text).unwrap();
            let bytes = encode_pod(&pod, Mode::Strict)
                .unwrap_or_else(|e| panic!("{path}: {} is not in the tables", e.0));
            let mut back = decode(&envelope("v1", "Pod", &bytes)).unwrap();
            prune_zero_values(&mut pod);
            without_empties(&mut pod);
            without_empties(&mut back);
            assert_eq!(
                back,
                pod,
                "{path}: first difference at {:?}",
                first_difference(&back, &pod, String::new())
            );
        }
    }

    #[test]
    fn a_field_the_tables_lack_refuses_a_strict_encoding_only() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "app", "sidecarMagic": true}]}});
        assert_eq!(
            encode_pod(&pod, Mode::Strict).unwrap_err().0,
            ".spec.containers[0].sidecarMagic"
        );
        let lenient = encode_pod(&pod, Mode::Lenient).unwrap();
        let back = decode(&envelope("v1", "Pod", &lenient)).unwrap();
        assert_eq!(back["spec"]["containers"][0], json!({"name": "app"}));
        let wrong = json!({"spec": {"containers": [{"name": 7}]}});
        assert!(
            encode_pod(&wrong, Mode::Lenient).is_err(),
            "a number for a string"
        );
    }

    #[test]
    fn a_watch_event_written_in_one_pass_is_the_frame_of_its_envelope() {
        for size in [0, 5, 127, 128, 300, 20_000] {
            let raw = vec![7u8; size];
            let mut out = b"before".to_vec();
            write_watch_event(&mut out, "MODIFIED", "v1", "Pod", &raw);
            let frame = watch_frame("MODIFIED", &envelope("v1", "Pod", &raw));
            assert_eq!(&out[6..], &frame[..], "{size} bytes");
        }
    }

    #[test]
    fn inlined_structs_nest_under_their_own_field() {
        // A Volume's source is inline in JSON, field 2 (`volumeSource`) in protobuf.
        let pod = json!({"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "app"}}]}});
        let bytes = encode_pod(&pod, Mode::Strict).unwrap();
        let back = decode(&envelope("v1", "Pod", &bytes)).unwrap();
        assert_eq!(back["spec"]["volumes"][0], pod["spec"]["volumes"][0]);
        let spec = Reader {
            buf: &bytes,
            pos: 0,
        }
        .bytes_of(2);
        let volume = Reader { buf: &spec, pos: 0 }.bytes_of(1);
        let source = Reader {
            buf: &volume,
            pos: 0,
        }
        .bytes_of(2);
        assert!(!source.is_empty(), "the source is its own message");
    }

    impl Reader<'_> {
        /// The first occurrence of a length-delimited field.
        fn bytes_of(&mut self, want: u32) -> Vec<u8> {
            while let Some((num, wire)) = self.next().unwrap() {
                if num == want {
                    return self.bytes().unwrap().to_vec();
                }
                self.skip(wire).unwrap();
            }
            panic!("no field {want}")
        }
    }

    #[test]
    fn refuses_garbage_and_unknown_kinds() {
        assert_eq!(decode(b"nope").unwrap_err().code, 400);
        assert_eq!(decode(b"k8s\0\x0a\xff").unwrap_err().code, 400);
        let mut tm = Vec::new();
        field(1, b"v1", &mut tm);
        field(2, b"PersistentVolume", &mut tm);
        let mut body = b"k8s\0".to_vec();
        field(1, &tm, &mut body);
        assert_eq!(decode(&body).unwrap_err().code, 415);
    }
}
