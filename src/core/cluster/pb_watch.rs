//! A streaming list-watch read in protobuf when the API server gives it: the pods' and the
//! release Secrets'.
//!
//! kube-runtime's watcher reads JSON only. At 10,000 pods, decoding their JSON (25 MB) is
//! most of the time from launch to the list on screen; in protobuf each field carries its
//! length, so a pod's row is read without scanning the rest of it ([`super::pb`]), and a
//! Secret's data comes as bytes, not as base64 to decode. This watch asks for protobuf
//! first and JSON second, as client-go's typed clients do, and reads whichever the server
//! answers: protobuf frames, or JSON lines (a server that does not encode the kind in
//! protobuf, like the sandbox before it did).
//!
//! The events mean what they mean to kube-runtime's watcher with streaming lists: a watch
//! with `sendInitialEvents=true` gives `Init`, an `InitApply` per object and `InitDone` at
//! the `k8s.io/initial-events-end` bookmark; then `Apply` and `Delete`; a watch that ends
//! is resumed from the last resourceVersion seen, and a 410 Gone lists again. Errors are
//! kube-runtime's [`watcher::Error`]s, so the feed reports them, backs off and detects a
//! server that refuses streaming lists (then it lists in pages with kube's watcher, in
//! JSON) exactly as it does for the other resources.

use super::pb;
use super::slim::SlimPod;
use bytes::{Bytes, BytesMut};
use futures::Stream;
use http_body_util::BodyExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::ResourceExt as _;
use kube::api::WatchParams;
use kube::client::Body;
use kube::core::watch::{Bookmark, BookmarkMeta};
use kube::core::{Status, TypeMeta, WatchEvent};
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

/// How long the server keeps a watch open (kube's default).
const WATCH_TIMEOUT_SECS: u32 = 290;
/// A watch with no data for its timeout and this long is taken as dead, as kube does
/// (checked by one timer, so "no data" is noticed within twice that).
const IDLE_MARGIN: Duration = Duration::from_secs(5);
/// The annotation of the bookmark that ends a streaming list's initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";
/// What the watch accepts, in order of preference (client-go's typed clients send this).
const ACCEPT: &str = "application/vnd.kubernetes.protobuf, application/json";
/// The largest protobuf frame taken: larger is a broken stream (the API server's limit on
/// an object is 1.5 MiB; this leaves room).
const MAX_FRAME: usize = 16 << 20;

type Decoded<K> = Result<WatchEvent<K>, kube::Error>;

/// A kind this watch reads: from JSON as serde does, or from its protobuf message.
pub trait Watched: kube::Resource + DeserializeOwned + Send + 'static {
    /// The object from its message (without the envelope).
    fn from_protobuf(raw: &[u8]) -> Result<Self, pb::Malformed>;
}

impl Watched for SlimPod {
    fn from_protobuf(raw: &[u8]) -> Result<Self, pb::Malformed> {
        pb::pod(raw).map(SlimPod::from)
    }
}

impl Watched for Secret {
    fn from_protobuf(raw: &[u8]) -> Result<Self, pb::Malformed> {
        pb::secret(raw)
    }
}

/// The objects at `url` (a collection's path, e.g. `/api/v1/pods`) that `labels` selects,
/// as kube-runtime's watcher events.
pub fn watch<K: Watched>(
    client: Client,
    url: String,
    labels: Option<String>,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send {
    futures::stream::unfold(State::Empty, move |state| {
        let client = client.clone();
        let url = url.clone();
        let labels = labels.clone();
        async move { Some(step(&client, &url, labels.as_deref(), state).await) }
    })
}

/// Where the watch stands.
enum State<K> {
    /// Nothing listed, or a list is due again: open a watch with the initial events.
    Empty,
    /// Reading the initial events.
    Initial(Events<K>),
    /// Listed: reading changes, the last one seen at `rv`.
    Watching { rv: String, events: Events<K> },
    /// The watch ended: open another from `rv`.
    Resume { rv: String },
}

/// Moves the watch on until it has an event or an error to give.
async fn step<K: Watched>(
    client: &Client,
    url: &str,
    labels: Option<&str>,
    mut state: State<K>,
) -> (watcher::Result<Event<K>>, State<K>) {
    loop {
        state = match state {
            State::Empty => match open(client, url, labels, None).await {
                Ok(events) => return (Ok(Event::Init), State::Initial(events)),
                Err(e) => return (Err(watcher::Error::WatchStartFailed(e)), State::Empty),
            },
            State::Initial(mut events) => match events.next().await {
                Some(Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj))) => {
                    return (Ok(Event::InitApply(obj)), State::Initial(events));
                }
                // The API server never sends these among the initial events.
                Some(Ok(WatchEvent::Deleted(_))) => State::Initial(events),
                Some(Ok(WatchEvent::Bookmark(b))) => {
                    if b.metadata.annotations.contains_key(INITIAL_EVENTS_END) {
                        let rv = b.metadata.resource_version;
                        return (Ok(Event::InitDone), State::Watching { rv, events });
                    }
                    State::Initial(events)
                }
                Some(Ok(WatchEvent::Error(status))) => {
                    let next = if status.code == 410 {
                        State::Empty
                    } else {
                        State::Initial(events)
                    };
                    return (Err(watcher::Error::WatchError(status)), next);
                }
                Some(Err(e)) => {
                    return (Err(watcher::Error::WatchFailed(e)), State::Initial(events));
                }
                // Ended before the list was whole: list again.
                None => State::Empty,
            },
            State::Resume { rv } => match open(client, url, labels, Some(&rv)).await {
                Ok(events) => State::Watching { rv, events },
                Err(e) => {
                    return (
                        Err(watcher::Error::WatchStartFailed(e)),
                        State::Resume { rv },
                    );
                }
            },
            State::Watching { rv, mut events } => match events.next().await {
                Some(Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj))) => {
                    return changed(obj, Event::Apply, events);
                }
                Some(Ok(WatchEvent::Deleted(obj))) => return changed(obj, Event::Delete, events),
                Some(Ok(WatchEvent::Bookmark(b))) => State::Watching {
                    rv: b.metadata.resource_version,
                    events,
                },
                Some(Ok(WatchEvent::Error(status))) => {
                    let next = if status.code == 410 {
                        State::Empty
                    } else {
                        State::Watching { rv, events }
                    };
                    return (Err(watcher::Error::WatchError(status)), next);
                }
                Some(Err(e)) => {
                    return (
                        Err(watcher::Error::WatchFailed(e)),
                        State::Watching { rv, events },
                    );
                }
                None => State::Resume { rv },
            },
        }
    }
}

/// A change read while watching: the watch goes on from the object's resourceVersion.
fn changed<K: Watched>(
    obj: K,
    event: fn(K) -> Event<K>,
    events: Events<K>,
) -> (watcher::Result<Event<K>>, State<K>) {
    match obj.resource_version().filter(|rv| !rv.is_empty()) {
        Some(rv) => (Ok(event(obj)), State::Watching { rv, events }),
        None => (Err(watcher::Error::NoResourceVersion), State::Empty),
    }
}

/// Opens a watch: with the initial events when `from` is None, else from that
/// resourceVersion.
async fn open<K: Watched>(
    client: &Client,
    url: &str,
    labels: Option<&str>,
    from: Option<&str>,
) -> Result<Events<K>, kube::Error> {
    use axum::http::header;
    let params = WatchParams {
        timeout: Some(WATCH_TIMEOUT_SECS),
        send_initial_events: from.is_none(),
        label_selector: labels.map(str::to_string),
        ..WatchParams::default()
    };
    let mut request = kube::core::Request::new(url)
        .watch(&params, from.unwrap_or("0"))
        .map_err(kube::Error::BuildRequest)?;
    let headers = request.headers_mut();
    headers.insert(header::ACCEPT, header::HeaderValue::from_static(ACCEPT));
    // As kube does for its watches: a compressed watch stream is not decoded per event.
    headers.insert(
        header::ACCEPT_ENCODING,
        header::HeaderValue::from_static("identity"),
    );
    let response = client.send(request.map(Body::from)).await?;
    let status = response.status();
    let protobuf = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(pb::MEDIA_TYPE));
    if status.is_client_error() || status.is_server_error() {
        let body = response.into_body().collect().await?.to_bytes();
        return Err(kube::Error::Api(api_status(status.as_u16(), &body).boxed()));
    }
    Ok(Events::new(response.into_body(), protobuf))
}

/// The Status an API server answers a refused request with, or one made of its text.
fn api_status(code: u16, body: &[u8]) -> Status {
    let decoded = match pb::unwrap(body) {
        Ok((_, kind, raw)) if kind == "Status" => pb::status(raw).ok(),
        _ => serde_json::from_slice::<Status>(body).ok(),
    };
    decoded.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        Status::failure(text.trim(), "Failed to parse error data").with_code(code)
    })
}

/// A watch's body as decoded events, in order.
struct Events<K> {
    body: Body,
    /// The rest of the latest chunk read, not yet decoded: events wholly inside it are
    /// decoded where they lie, without a copy.
    pending: Bytes,
    /// The start of an event that the next chunk ends.
    carry: BytesMut,
    /// Protobuf frames, else JSON lines.
    protobuf: bool,
    /// Fires when the watch may have gone idle: one timer for the whole watch, not one per
    /// chunk (a list is thousands of chunks).
    idle: Pin<Box<tokio::time::Sleep>>,
    /// Data came since the idle timer was last set.
    active: bool,
    /// The body has ended (or failed, or went idle).
    ended: bool,
    kind: PhantomData<fn() -> K>,
}

impl<K: Watched> Events<K> {
    fn new(body: Body, protobuf: bool) -> Events<K> {
        Events {
            body,
            pending: Bytes::new(),
            carry: BytesMut::new(),
            protobuf,
            idle: Box::pin(tokio::time::sleep(idle_limit())),
            active: false,
            ended: false,
            kind: PhantomData,
        }
    }

    /// The next event, None once the body has ended and every event is given.
    async fn next(&mut self) -> Option<Decoded<K>> {
        loop {
            if let Some(event) = self.decode_next() {
                return Some(event);
            }
            if self.ended {
                // A last JSON line without its newline, as kube's line reader gives it.
                if !self.protobuf && !self.carry.is_empty() {
                    let line = self.carry.split();
                    return decode_line(&line);
                }
                return None;
            }
            let frame = tokio::select! {
                frame = self.body.frame() => frame,
                () = &mut self.idle => {
                    if std::mem::take(&mut self.active) {
                        let next = tokio::time::Instant::now() + idle_limit();
                        self.idle.as_mut().reset(next);
                    } else {
                        tracing::debug!("watch idle too long: reconnecting");
                        self.ended = true;
                    }
                    continue;
                }
            };
            self.active = true;
            match frame {
                None => self.ended = true,
                Some(Err(e)) if ends_resumably(&e) => {
                    tracing::debug!("watch ended early: {e}");
                    self.ended = true;
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(e));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending = data;
                    }
                }
            }
        }
    }

    /// Decodes the next whole event from what has been read, if one is there.
    fn decode_next(&mut self) -> Option<Decoded<K>> {
        loop {
            let event = if self.carry.is_empty() {
                if self.pending.is_empty() {
                    return None;
                }
                match self.event_len(&self.pending) {
                    Ok(Some(n)) => self.pending.split_to(n),
                    Ok(None) => {
                        self.carry.extend_from_slice(&self.pending);
                        self.pending.clear();
                        return None;
                    }
                    Err(e) => return Some(Err(self.broken(e))),
                }
            } else {
                match self.complete_carry() {
                    Ok(true) => self.carry.split().freeze(),
                    Ok(false) => return None,
                    Err(e) => return Some(Err(self.broken(e))),
                }
            };
            let decoded = if self.protobuf {
                Some(decode_frame(&event[4..]).map_err(malformed))
            } else {
                decode_line(&event)
            };
            if decoded.is_some() {
                return decoded;
            }
        }
    }

    /// The length of the first whole event in `data`, None if it does not end there.
    fn event_len(&self, data: &[u8]) -> Result<Option<usize>, pb::Malformed> {
        if !self.protobuf {
            return Ok(memchr::memchr(b'\n', data).map(|at| at + 1));
        }
        let Some(head) = data.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(head.try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME {
            return Err(pb::Malformed("a watch frame is too long"));
        }
        Ok((data.len() >= 4 + len).then_some(4 + len))
    }

    /// Moves what ends the carried event from `pending`; whether it is whole now.
    fn complete_carry(&mut self) -> Result<bool, pb::Malformed> {
        if !self.protobuf {
            let Some(at) = memchr::memchr(b'\n', &self.pending) else {
                self.carry.extend_from_slice(&self.pending);
                self.pending.clear();
                return Ok(false);
            };
            self.carry.extend_from_slice(&self.pending.split_to(at + 1));
            return Ok(true);
        }
        loop {
            let missing = match self.event_len(&self.carry)? {
                Some(_) => return Ok(true),
                None if self.carry.len() < 4 => 4 - self.carry.len(),
                None => {
                    let len = u32::from_be_bytes(self.carry[..4].try_into().expect("4 bytes"));
                    4 + len as usize - self.carry.len()
                }
            };
            if self.pending.is_empty() {
                return Ok(false);
            }
            let n = missing.min(self.pending.len());
            self.carry.extend_from_slice(&self.pending.split_to(n));
        }
    }

    /// A stream that cannot be read on: its error, and nothing more from it.
    fn broken(&mut self, e: pb::Malformed) -> kube::Error {
        self.ended = true;
        self.pending.clear();
        self.carry.clear();
        malformed(e)
    }
}

/// A watch with no data for its timeout and a margin is taken as dead, as kube does.
fn idle_limit() -> Duration {
    Duration::from_secs(WATCH_TIMEOUT_SECS.into()) + IDLE_MARGIN
}

fn malformed(e: pb::Malformed) -> kube::Error {
    kube::Error::ReadEvents(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// One protobuf watch event.
fn decode_frame<K: Watched>(frame: &[u8]) -> Result<WatchEvent<K>, pb::Malformed> {
    let (kind, object) = pb::watch_event(frame)?;
    let (api_version, object_kind, raw) = pb::unwrap(object)?;
    let obj = || K::from_protobuf(raw);
    Ok(match kind.as_str() {
        "ADDED" => WatchEvent::Added(obj()?),
        "MODIFIED" => WatchEvent::Modified(obj()?),
        "DELETED" => WatchEvent::Deleted(obj()?),
        "BOOKMARK" => {
            let (resource_version, annotations) = pb::bookmark(raw)?;
            WatchEvent::Bookmark(Bookmark {
                types: TypeMeta {
                    api_version,
                    kind: object_kind,
                },
                metadata: BookmarkMeta {
                    resource_version,
                    annotations,
                },
            })
        }
        "ERROR" => WatchEvent::Error(Box::new(pb::status(raw)?)),
        _ => return Err(pb::Malformed("a watch event of an unknown type")),
    })
}

/// Decodes one line as kube's watch stream does: a watch event, else an API error
/// Status, else the decoding error. Blank lines and a line cut short give nothing.
fn decode_line<K: Watched>(line: &[u8]) -> Option<Decoded<K>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<WatchEvent<K>>(line) {
        Ok(event) => Some(Ok(event)),
        // A line cut short where the body ended, which kube's watch stream skips too.
        Err(e) if e.is_eof() => None,
        Err(e) => match serde_json::from_slice::<Status>(line) {
            Ok(status) => Some(Err(kube::Error::Api(status.boxed()))),
            Err(_) => Some(Err(kube::Error::SerdeError(e))),
        },
    }
}

/// The end of a watch that the next watch resumes: the connection closed mid-chunk, as
/// servers and proxies do to long watches (kube's watch stream ends on these too).
fn ends_resumably(e: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    for _ in 0..16 {
        let Some(err) = source else { break };
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        source = err.source();
    }
    e.to_string().contains("unexpected EOF during chunk")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::protobuf::{Mode, encode_pod, envelope, status, watch_frame};
    use serde_json::json;

    fn event(frame: &[u8]) -> WatchEvent<SlimPod> {
        decode_frame(&frame[4..]).unwrap()
    }

    #[test]
    fn protobuf_frames_are_watch_events() {
        let pod = json!({"metadata": {"name": "web-0", "namespace": "ee",
            "resourceVersion": "12"}, "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running"}});
        let bytes = encode_pod(&pod, Mode::Strict).unwrap();
        let WatchEvent::Added(p) = event(&watch_frame("ADDED", &envelope("v1", "Pod", &bytes)))
        else {
            panic!("an ADDED event")
        };
        assert_eq!(p.resource_version().as_deref(), Some("12"));
        assert_eq!(p.row().name, "web-0");

        let mark = json!({"metadata": {"resourceVersion": "40",
            "annotations": {INITIAL_EVENTS_END: "true"}}});
        let bytes = encode_pod(&mark, Mode::Strict).unwrap();
        let WatchEvent::Bookmark(b) =
            event(&watch_frame("BOOKMARK", &envelope("v1", "Pod", &bytes)))
        else {
            panic!("a BOOKMARK event")
        };
        assert_eq!(b.metadata.resource_version, "40");
        assert!(b.metadata.annotations.contains_key(INITIAL_EVENTS_END));

        let gone = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "too old resource version: 1 (40)", "reason": "Expired", "code": 410});
        let WatchEvent::Error(s) = event(&watch_frame("ERROR", &status(&gone))) else {
            panic!("an ERROR event")
        };
        assert_eq!((s.code, s.reason.as_str()), (410, "Expired"));
        assert!(s.message.contains("too old"));
    }

    /// What a stream cut into chunks of `size` bytes decodes to: each event's type and name.
    fn read_in_chunks(stream: &[u8], size: usize, protobuf: bool) -> Vec<String> {
        let mut events = Events::<SlimPod>::new(Body::empty(), protobuf);
        let mut seen = Vec::new();
        for chunk in stream.chunks(size) {
            events.pending = Bytes::copy_from_slice(chunk);
            while let Some(e) = events.decode_next() {
                seen.push(match e.unwrap() {
                    WatchEvent::Added(p) => format!("ADDED {}", p.row().name),
                    WatchEvent::Modified(p) => format!("MODIFIED {}", p.row().name),
                    WatchEvent::Bookmark(b) => format!("BOOKMARK {}", b.metadata.resource_version),
                    other => format!("{other:?}"),
                });
            }
        }
        assert!(
            events.pending.is_empty() && events.carry.is_empty(),
            "all read"
        );
        seen
    }

    #[tokio::test]
    async fn events_split_anywhere_across_chunks_read_whole() {
        let pods: Vec<_> = (0..3)
            .map(|i| {
                json!({"metadata": {"name": format!("web-{i}"), "namespace": "ee",
                "resourceVersion": format!("{}", 10 + i)}, "spec": {"containers": [
                {"name": "app", "image": "x".repeat(300 * i)}]}})
            })
            .collect();
        let mark = json!({"metadata": {"resourceVersion": "20"}});
        let expected = [
            "ADDED web-0",
            "MODIFIED web-1",
            "ADDED web-2",
            "BOOKMARK 20",
        ];
        let kinds = ["ADDED", "MODIFIED", "ADDED"];

        let mut pb_stream = Vec::new();
        let mut json_stream = Vec::new();
        for (pod, kind) in pods.iter().zip(kinds) {
            let bytes = encode_pod(pod, Mode::Strict).unwrap();
            pb_stream.extend(watch_frame(kind, &envelope("v1", "Pod", &bytes)));
            json_stream.extend(
                json!({"type": kind, "object": pod})
                    .to_string()
                    .into_bytes(),
            );
            json_stream.push(b'\n');
        }
        let bytes = encode_pod(&mark, Mode::Strict).unwrap();
        pb_stream.extend(watch_frame("BOOKMARK", &envelope("v1", "Pod", &bytes)));
        json_stream.extend(
            json!({"type": "BOOKMARK", "object": {"kind": "Pod",
            "apiVersion": "v1", "metadata": {"resourceVersion": "20"}}})
            .to_string()
            .into_bytes(),
        );
        json_stream.push(b'\n');

        for size in [1, 2, 3, 4, 5, 7, 64, 333, 1000, usize::MAX] {
            assert_eq!(
                read_in_chunks(&pb_stream, size, true),
                expected,
                "protobuf, {size}"
            );
            assert_eq!(
                read_in_chunks(&json_stream, size, false),
                expected,
                "JSON, {size}"
            );
        }
    }

    #[tokio::test]
    async fn a_frame_longer_than_any_object_breaks_the_stream() {
        let mut events = Events::<SlimPod>::new(Body::empty(), true);
        events.pending = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert!(matches!(events.decode_next(), Some(Err(_))));
        assert!(events.ended && events.decode_next().is_none());
    }

    #[test]
    fn an_unknown_event_type_is_an_error() {
        let bytes = encode_pod(&json!({"metadata": {"name": "p"}}), Mode::Strict).unwrap();
        let frame = watch_frame("SHRUGGED", &envelope("v1", "Pod", &bytes));
        assert!(decode_frame::<SlimPod>(&frame[4..]).is_err());
    }
}
