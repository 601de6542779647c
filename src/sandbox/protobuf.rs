//! Decoding of the Kubernetes protobuf request bodies that kubectl's typed clients send
//! (`application/vnd.kubernetes.protobuf`: the `k8s\0` magic, a `runtime.Unknown` envelope,
//! then the object). Only the types kubectl creates that way are known: Namespace,
//! ConfigMap, Secret, Service, Deployment, Job, CronJob, Eviction, DeleteOptions and
//! HorizontalPodAutoscaler (autoscaling/v1 and v2).
//! Responses are always JSON, which every client accepts.

use super::error::ApiError;
use serde_json::{Map, Value, json};

/// The content type of a Kubernetes protobuf body.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

#[derive(Clone, Copy)]
enum T {
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
}

/// A field: number, JSON name, type.
type F = (u32, &'static str, T);

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
    (1, "metadata", T::Msg(META)),
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

    #[test]
    fn refuses_garbage_and_unknown_kinds() {
        assert_eq!(decode(b"nope").unwrap_err().code, 400);
        assert_eq!(decode(b"k8s\0\x0a\xff").unwrap_err().code, 400);
        let mut tm = Vec::new();
        field(1, b"v1", &mut tm);
        field(2, b"Pod", &mut tm);
        let mut body = b"k8s\0".to_vec();
        field(1, &tm, &mut body);
        assert_eq!(decode(&body).unwrap_err().code, 415);
    }
}
