//! Pods read from Kubernetes' protobuf encoding, which the API server gives the clients
//! that ask for it (`Accept: application/vnd.kubernetes.protobuf`), as client-go's typed
//! clients do. A pod's JSON is kilobytes of text to scan; its protobuf says how long each
//! field is, so everything a row does not need (env, volumes, probes, managed fields,
//! annotations…) is stepped over without being read. What is kept is what the JSON
//! decoder [`PodForRow`] keeps, into the same `Pod`, so rows come out the same.
//!
//! The wire: a body is the magic `k8s\0`, then a `runtime.Unknown` (1: type meta, 2: the
//! object's bytes); a watch stream is frames of a 4-byte big-endian length and a
//! `WatchEvent` (1: type, 2: a `RawExtension` whose 1 is an enveloped object). Field
//! numbers are those of `k8s.io/api/core/v1/generated.proto` and apimachinery's
//! `meta/v1/generated.proto`. Go writes a field that is not a pointer even when it is
//! empty (`""`, `0`, an empty time), where JSON leaves it out: those read as absent here.

use super::slim::PodForRow;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus,
    ResourceRequirements, Secret,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use std::collections::BTreeMap;

/// The media type of a protobuf body.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Bytes that are not the protobuf they should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed protobuf: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

type Result<T> = std::result::Result<T, Malformed>;

/// A field's value, as its wire type gives it.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// Fixed 32- or 64-bit values, which no field read here has.
    Fixed,
}

/// The fields of one message, in order.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    fn of(buf: &'a [u8]) -> Self {
        Fields { buf }
    }

    fn varint(&mut self) -> Result<u64> {
        // Most keys and lengths are one byte.
        if let Some(&b) = self.buf.first()
            && b < 0x80
        {
            self.buf = &self.buf[1..];
            return Ok(u64::from(b));
        }
        let mut out = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            out |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(out);
            }
        }
        Err(Malformed("a varint runs past its end"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(Malformed("a field runs past its message"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field: its number and value, or None at the end.
    fn next(&mut self) -> Result<Option<(u64, Wire<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len = self.varint()? as usize;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            _ => return Err(Malformed("an unknown wire type")),
        };
        Ok(Some((key >> 3, value)))
    }
}

/// Calls `each` with every field of `buf`.
fn each_field<'a>(buf: &'a [u8], mut each: impl FnMut(u64, Wire<'a>) -> Result<()>) -> Result<()> {
    let mut fields = Fields::of(buf);
    while let Some((num, value)) = fields.next()? {
        each(num, value)?;
    }
    Ok(())
}

fn bytes(w: Wire<'_>) -> Result<&[u8]> {
    match w {
        Wire::Bytes(b) => Ok(b),
        _ => Err(Malformed("a length-delimited field has another wire type")),
    }
}

fn string(w: Wire<'_>) -> Result<String> {
    let b = bytes(w)?;
    std::str::from_utf8(b)
        .map(str::to_string)
        .map_err(|_| Malformed("a string is not UTF-8"))
}

/// A string field as JSON would have it: Go writes `""` for an unset one.
fn some_string(w: Wire<'_>) -> Result<Option<String>> {
    string(w).map(|s| (!s.is_empty()).then_some(s))
}

fn varint(w: Wire<'_>) -> Result<u64> {
    match w {
        Wire::Varint(v) => Ok(v),
        _ => Err(Malformed("a varint field has another wire type")),
    }
}

fn int32(w: Wire<'_>) -> Result<i32> {
    varint(w).map(|v| v as i32)
}

fn boolean(w: Wire<'_>) -> Result<bool> {
    varint(w).map(|v| v != 0)
}

/// A `metav1.Time`; Go writes an unset one as an empty message.
fn time(w: Wire<'_>) -> Result<Option<Time>> {
    let b = bytes(w)?;
    if b.is_empty() {
        return Ok(None);
    }
    let (mut seconds, mut nanos) = (0i64, 0i32);
    each_field(b, |num, v| {
        match num {
            1 => seconds = varint(v)? as i64,
            2 => nanos = int32(v)?,
            _ => {}
        }
        Ok(())
    })?;
    jiff::Timestamp::new(seconds, nanos)
        .map(|t| Some(Time(t)))
        .map_err(|_| Malformed("a time out of range"))
}

/// One `map<string, V>` entry: its key and value bytes.
fn map_entry(w: Wire<'_>) -> Result<(String, Option<Wire<'_>>)> {
    let (mut key, mut value) = (String::new(), None);
    each_field(bytes(w)?, |num, v| {
        match num {
            1 => key = string(v)?,
            2 => value = Some(v),
            _ => {}
        }
        Ok(())
    })?;
    Ok((key, value))
}

/// Splits a body or a watch event's object into its type and its object's bytes.
pub fn unwrap(body: &[u8]) -> Result<(String, String, &[u8])> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or(Malformed("the k8s magic is missing"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    each_field(rest, |num, v| {
        match num {
            1 => each_field(bytes(v)?, |num, v| {
                match num {
                    1 => api_version = string(v)?,
                    2 => kind = string(v)?,
                    _ => {}
                }
                Ok(())
            })?,
            2 => raw = bytes(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((api_version, kind, raw))
}

/// A watch event (a frame's bytes, without its length): its type and its enveloped object.
pub fn watch_event(frame: &[u8]) -> Result<(String, &[u8])> {
    let (mut kind, mut object) = (String::new(), &[][..]);
    each_field(frame, |num, v| {
        match num {
            1 => kind = string(v)?,
            2 => each_field(bytes(v)?, |num, v| {
                if num == 1 {
                    object = bytes(v)?;
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((kind, object))
}

/// A `metav1.Status` (an error event's object): its code, reason, message and status.
pub fn status(raw: &[u8]) -> Result<kube::core::Status> {
    let mut s = kube::core::Status::default();
    each_field(raw, |num, v| {
        match num {
            2 => s.status = some_string(v)?.and_then(|t| serde_json::from_value(t.into()).ok()),
            3 => s.message = string(v)?,
            4 => s.reason = string(v)?,
            6 => s.code = int32(v)? as u16,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

/// A Pod's message: what a row needs of it, as [`PodForRow`] reads it from JSON.
///
/// Each message is read into its place in the pod, not into a value moved there: a pod's
/// spec and status are kilobytes, and moving them was a tenth of the decoding's time.
pub fn pod(raw: &[u8]) -> Result<PodForRow> {
    let mut pod = Pod::default();
    each_field(raw, |num, v| {
        match num {
            1 => pod.metadata = object_meta(bytes(v)?)?,
            2 => pod_spec(bytes(v)?, pod.spec.get_or_insert_with(Default::default))?,
            3 => pod_status(bytes(v)?, pod.status.get_or_insert_with(Default::default))?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(PodForRow(pod))
}

/// A new element at the end of `list`, to be read into.
fn pushed<T: Default>(list: &mut Vec<T>) -> &mut T {
    list.push(T::default());
    list.last_mut().expect("just pushed")
}

fn object_meta(buf: &[u8]) -> Result<ObjectMeta> {
    let mut m = ObjectMeta::default();
    each_field(buf, |num, v| {
        match num {
            1 => m.name = some_string(v)?,
            3 => m.namespace = some_string(v)?,
            6 => m.resource_version = some_string(v)?,
            8 => m.creation_timestamp = time(v)?,
            9 => m.deletion_timestamp = time(v)?,
            11 => {
                let (k, val) = map_entry(v)?;
                let val = val.map(string).transpose()?.unwrap_or_default();
                m.labels.get_or_insert_with(BTreeMap::new).insert(k, val);
            }
            13 => m
                .owner_references
                .get_or_insert_with(Vec::new)
                .push(owner(bytes(v)?)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(m)
}

fn owner(buf: &[u8]) -> Result<OwnerReference> {
    let mut o = OwnerReference::default();
    each_field(buf, |num, v| {
        match num {
            1 => o.kind = string(v)?,
            3 => o.name = string(v)?,
            6 => o.controller = Some(boolean(v)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(o)
}

fn pod_spec(buf: &[u8], s: &mut PodSpec) -> Result<()> {
    each_field(buf, |num, v| {
        match num {
            2 => container(bytes(v)?, pushed(&mut s.containers))?,
            10 => s.node_name = some_string(v)?,
            20 => container(
                bytes(v)?,
                pushed(s.init_containers.get_or_insert_with(Vec::new)),
            )?,
            _ => {}
        }
        Ok(())
    })
}

/// A container's name, restart policy and memory limit (see [`PodForRow`]).
fn container(buf: &[u8], c: &mut Container) -> Result<()> {
    each_field(buf, |num, v| {
        match num {
            1 => c.name = string(v)?,
            8 => c.resources = memory_limit(bytes(v)?)?,
            24 => c.restart_policy = some_string(v)?,
            _ => {}
        }
        Ok(())
    })
}

/// Of a `ResourceRequirements`, the memory limit alone, as the JSON decoder keeps it.
fn memory_limit(buf: &[u8]) -> Result<Option<ResourceRequirements>> {
    let mut memory = None;
    each_field(buf, |num, v| {
        if num == 1 {
            let (k, val) = map_entry(v)?;
            if k == "memory"
                && let Some(val) = val
            {
                let mut text = String::new();
                each_field(bytes(val)?, |num, v| {
                    if num == 1 {
                        text = string(v)?;
                    }
                    Ok(())
                })?;
                memory = Some(Quantity(text));
            }
        }
        Ok(())
    })?;
    Ok(memory.map(|m| ResourceRequirements {
        limits: Some(BTreeMap::from([("memory".to_string(), m)])),
        ..Default::default()
    }))
}

fn pod_status(buf: &[u8], s: &mut PodStatus) -> Result<()> {
    each_field(buf, |num, v| {
        match num {
            1 => s.phase = some_string(v)?,
            2 => condition(bytes(v)?, pushed(s.conditions.get_or_insert_with(Vec::new)))?,
            4 => s.reason = some_string(v)?,
            6 => s.pod_ip = some_string(v)?,
            8 => container_status(
                bytes(v)?,
                pushed(s.container_statuses.get_or_insert_with(Vec::new)),
            )?,
            10 => container_status(
                bytes(v)?,
                pushed(s.init_container_statuses.get_or_insert_with(Vec::new)),
            )?,
            _ => {}
        }
        Ok(())
    })
}

fn condition(buf: &[u8], c: &mut PodCondition) -> Result<()> {
    each_field(buf, |num, v| {
        match num {
            1 => c.type_ = string(v)?,
            2 => c.status = string(v)?,
            5 => c.reason = some_string(v)?,
            _ => {}
        }
        Ok(())
    })
}

fn container_status(buf: &[u8], c: &mut ContainerStatus) -> Result<()> {
    each_field(buf, |num, v| {
        match num {
            1 => c.name = string(v)?,
            2 => state(bytes(v)?, c.state.insert(Default::default()))?,
            3 => state(bytes(v)?, c.last_state.insert(Default::default()))?,
            4 => c.ready = boolean(v)?,
            5 => c.restart_count = int32(v)?,
            9 => c.started = Some(boolean(v)?),
            _ => {}
        }
        Ok(())
    })
}

/// A container's state: that it runs, why it waits, how it ended (see [`PodForRow`]).
fn state(buf: &[u8], s: &mut ContainerState) -> Result<()> {
    each_field(buf, |num, v| {
        match num {
            1 => {
                let mut w = ContainerStateWaiting::default();
                each_field(bytes(v)?, |num, v| {
                    match num {
                        1 => w.reason = some_string(v)?,
                        2 => w.message = some_string(v)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                s.waiting = Some(w);
            }
            2 => s.running = Some(ContainerStateRunning::default()),
            3 => s.terminated = Some(terminated(bytes(v)?)?),
            _ => {}
        }
        Ok(())
    })
}

fn terminated(buf: &[u8]) -> Result<ContainerStateTerminated> {
    let mut t = ContainerStateTerminated::default();
    each_field(buf, |num, v| {
        match num {
            1 => t.exit_code = int32(v)?,
            2 => t.signal = Some(int32(v)?).filter(|s| *s != 0),
            3 => t.reason = some_string(v)?,
            6 => t.finished_at = time(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(t)
}

/// A Secret's message: its metadata as [`pod`] reads a pod's, its `type` and its data
/// (raw bytes, where JSON has them in base64).
pub fn secret(raw: &[u8]) -> Result<Secret> {
    let mut secret = Secret::default();
    each_field(raw, |num, v| {
        match num {
            1 => secret.metadata = object_meta(bytes(v)?)?,
            2 => {
                let (k, val) = map_entry(v)?;
                let val = val.map(bytes).transpose()?.unwrap_or_default();
                secret
                    .data
                    .get_or_insert_with(BTreeMap::new)
                    .insert(k, ByteString(val.to_vec()));
            }
            3 => secret.type_ = some_string(v)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(secret)
}

/// A bookmark's Pod: its resourceVersion and annotations (the one that ends a streaming
/// list's initial events is among them).
pub fn bookmark(raw: &[u8]) -> Result<(String, BTreeMap<String, String>)> {
    let (mut rv, mut annotations) = (String::new(), BTreeMap::new());
    each_field(raw, |num, v| {
        if num == 1 {
            each_field(bytes(v)?, |num, v| {
                match num {
                    6 => rv = string(v)?,
                    12 => {
                        let (k, val) = map_entry(v)?;
                        let val = val.map(string).transpose()?.unwrap_or_default();
                        annotations.insert(k, val);
                    }
                    _ => {}
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    Ok((rv, annotations))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cluster::PodRow;
    use crate::core::cluster::slim::{SlimPod, fixture_pods};
    use crate::sandbox::protobuf::{Mode, encode_pod, envelope, watch_frame};

    #[test]
    fn every_fixture_pod_reads_the_same_from_protobuf_as_from_json() {
        let pods = fixture_pods();
        assert!(pods.len() >= 9, "only {} fixture pods", pods.len());
        for (path, text) in pods {
            let from_json: PodForRow = serde_json::from_str(&text).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let bytes = encode_pod(&value, Mode::Strict)
                .unwrap_or_else(|e| panic!("{path}: {} is not in the tables", e.0));
            let from_pb = pod(&bytes).unwrap();
            assert_eq!(from_pb, from_json, "{path}");
            let (row_json, row_pb): (PodRow, PodRow) = (
                SlimPod::from(from_json).into_row(),
                SlimPod::from(from_pb).into_row(),
            );
            assert_eq!(row_pb, row_json, "{path}");
        }
    }

    #[test]
    fn a_secret_reads_its_data_as_the_bytes_json_has_in_base64() {
        use crate::sandbox::protobuf::encode;
        let value = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sh.helm.release.v1.web.v3", "namespace": "ee",
                "resourceVersion": "41", "creationTimestamp": "2026-11-30T10:00:00Z",
                "labels": {"owner": "helm", "name": "web", "status": "deployed", "version": "3"},
                "annotations": {"note": "not read"}},
            "type": "helm.sh/release.v1",
            "data": {"release": "SDRzSUFBQUFBQUFB", "empty": ""}});
        let bytes = encode("v1", "Secret", &value, Mode::Strict).unwrap();
        let mut from_json: Secret = serde_json::from_value(value).unwrap();
        from_json.metadata.annotations = None;
        assert_eq!(secret(&bytes).unwrap(), from_json);
        assert_eq!(
            from_json.data.unwrap()["release"].0,
            b"H4sIAAAAAAAA".to_vec(),
            "the test's data is Helm's base64 text"
        );
    }

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(num: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint((num << 3) | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }
    fn number(num: u64, v: u64, out: &mut Vec<u8>) {
        varint(num << 3, out);
        varint(v, out);
    }

    /// Go writes every field that is not a pointer, empty or not; JSON leaves those out.
    #[test]
    fn the_empty_fields_go_writes_read_as_absent() {
        let mut meta = Vec::new();
        field(1, b"web-0", &mut meta);
        field(3, b"ee", &mut meta);
        field(6, b"7", &mut meta);
        field(8, b"", &mut meta); // an unset creationTimestamp
        let mut container = Vec::new();
        field(1, b"app", &mut container);
        let mut spec = Vec::new();
        field(2, &container, &mut spec);
        field(10, b"", &mut spec); // nodeName
        let mut terminated = Vec::new();
        number(1, 1, &mut terminated); // exitCode
        number(2, 0, &mut terminated); // signal
        field(3, b"", &mut terminated); // reason
        let mut state = Vec::new();
        field(3, &terminated, &mut state);
        let mut cs = Vec::new();
        field(1, b"app", &mut cs);
        field(2, &state, &mut cs);
        number(4, 0, &mut cs); // ready
        number(5, 0, &mut cs); // restartCount
        let mut status = Vec::new();
        field(1, b"Failed", &mut status);
        field(4, b"", &mut status); // reason
        field(6, b"", &mut status); // podIP
        field(8, &cs, &mut status);
        let mut raw = Vec::new();
        field(1, &meta, &mut raw);
        field(2, &spec, &mut raw);
        field(3, &status, &mut raw);

        let json = r#"{"metadata": {"name": "web-0", "namespace": "ee", "resourceVersion": "7"},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "app", "ready": false,
              "restartCount": 0, "state": {"terminated": {"exitCode": 1}}}]}}"#;
        let from_json: PodForRow = serde_json::from_str(json).unwrap();
        assert_eq!(pod(&raw).unwrap(), from_json);
    }

    #[test]
    fn an_envelope_and_a_watch_event_unwrap() {
        let value: serde_json::Value = serde_json::from_str(&fixture_pods()[0].1).unwrap();
        let bytes = encode_pod(&value, Mode::Strict).unwrap();
        let frame = watch_frame("MODIFIED", &envelope("v1", "Pod", &bytes));
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let (kind, object) = watch_event(&frame[4..]).unwrap();
        assert_eq!(kind, "MODIFIED");
        let (api_version, kind, raw) = unwrap(object).unwrap();
        assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "Pod"));
        assert_eq!(raw, &bytes[..]);
    }

    #[test]
    fn bytes_cut_short_or_garbled_are_an_error_not_a_panic() {
        let value: serde_json::Value = serde_json::from_str(&fixture_pods()[0].1).unwrap();
        let bytes = encode_pod(&value, Mode::Strict).unwrap();
        for end in [1, 2, 7, bytes.len() / 2, bytes.len() - 1] {
            assert!(pod(&bytes[..end]).is_err(), "cut at {end}");
        }
        assert!(pod(&[0x0f]).is_err(), "wire type 7");
        assert!(
            pod(&[
                0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ])
            .is_err()
        );
        assert!(
            unwrap(b"{\"kind\":\"Pod\"}").is_err(),
            "JSON is not protobuf"
        );
    }
}
