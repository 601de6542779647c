//! The release lock: a `coordination.k8s.io/v1` Lease per release (`helmdeck-release-<NAME>`
//! in the release's namespace), so two consoles — or a console and a script — cannot
//! upgrade or roll back one release at once.
//!
//! The lock is taken by creating the Lease; one that exists and has not expired is
//! someone else's, and the refusal names its holder and what they are doing. An expired
//! one (its holder crashed) is taken over with the Lease's `resourceVersion` as a
//! precondition, so two takers cannot both win. While held, a task renews it every third
//! of its duration; losing it (someone took it, or it could not be renewed before it
//! expired) is reported through [`ReleaseLock::lost`], and the workflow stops before its
//! next step.

use anyhow::Context as _;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Annotation on the Lease saying what its holder is doing.
pub const OPERATION_ANNOTATION: &str = "helmdeck.io/operation";

/// The Lease of a release.
pub fn lease_name(release: &str) -> String {
    format!("helmdeck-release-{release}")
}

/// Who holds a release's lock, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub holder: String,
    pub operation: String,
    pub renewed: Option<jiff::Timestamp>,
    pub expires: Option<jiff::Timestamp>,
}

impl LockHolder {
    /// Expired, or held by a helmdeck process of this host that is no longer running (it
    /// was killed or crashed: nobody will renew it, so waiting out its duration is pointless).
    fn expired(&self, now: jiff::Timestamp) -> bool {
        self.expires.is_none_or(|e| e <= now) || self.holder_is_gone()
    }

    fn holder_is_gone(&self) -> bool {
        let Some((who, rest)) = self.holder.split_once(" (helmdeck, pid ") else {
            return false;
        };
        let Some(host) = who.split_once('@').map(|(_, h)| h) else {
            return false;
        };
        let Ok(pid) = rest.trim_end_matches(')').parse::<i32>() else {
            return false;
        };
        let mine = holder_identity();
        let my_host = mine
            .split_once(" (helmdeck")
            .and_then(|(w, _)| w.split_once('@'))
            .map(|(_, h)| h.to_string())
            .unwrap_or_default();
        if host != my_host || pid <= 0 || pid as u32 == std::process::id() {
            return false;
        }
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        !alive
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.holder)?;
        if !self.operation.is_empty() {
            write!(f, " ({})", self.operation)?;
        }
        if let Some(r) = self.renewed {
            write!(f, ", renewed {}", r.strftime("%H:%M:%S UTC"))?;
        }
        Ok(())
    }
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{namespace}/{release} is being changed by {holder}; wait for it to finish (the lock is the Lease {lease} and expires unless renewed)"
    )]
    Held {
        namespace: String,
        release: String,
        lease: String,
        holder: LockHolder,
    },
    #[error("cannot take the lock on {namespace}/{release}: {source:#}")]
    Api {
        namespace: String,
        release: String,
        source: anyhow::Error,
    },
}

/// This process's identity as a lock holder: `user@host (helmdeck, pid N)`.
pub fn holder_identity() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let host = if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".into()
    };
    format!("{user}@{host} (helmdeck, pid {})", std::process::id())
}

fn holder_of_lease(lease: &Lease) -> LockHolder {
    let spec = lease.spec.clone().unwrap_or_default();
    let renewed = spec.renew_time.or(spec.acquire_time).map(|t| t.0);
    let expires = renewed.and_then(|r| {
        r.checked_add(jiff::SignedDuration::from_secs(
            spec.lease_duration_seconds.unwrap_or(0) as i64,
        ))
        .ok()
    });
    LockHolder {
        holder: spec.holder_identity.unwrap_or_default(),
        operation: lease
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(OPERATION_ANNOTATION))
            .cloned()
            .unwrap_or_default(),
        renewed,
        expires,
    }
}

/// Who holds the lock of `namespace/release` now (`None` when free or expired).
pub async fn current_holder(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> anyhow::Result<Option<LockHolder>> {
    let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let lease = api
        .get_opt(&lease_name(release))
        .await
        .with_context(|| format!("reading the lock of {namespace}/{release}"))?;
    Ok(lease
        .map(|l| holder_of_lease(&l))
        .filter(|h| !h.expired(jiff::Timestamp::now())))
}

/// A held release lock. Dropping it stops renewing (the Lease then expires); call
/// [`ReleaseLock::release`] to give it back at once.
pub struct ReleaseLock {
    api: Api<Lease>,
    name: String,
    lost: Arc<parking_lot::Mutex<Option<String>>>,
    renewer: tokio::task::JoinHandle<()>,
    resource_version: Arc<parking_lot::Mutex<Option<String>>>,
}

impl ReleaseLock {
    /// Takes the lock of `namespace/release` for `operation` (shown to anyone refused).
    pub async fn acquire(
        client: &kube::Client,
        namespace: &str,
        release: &str,
        operation: &str,
        duration: Duration,
    ) -> Result<ReleaseLock, LockError> {
        let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
        let name = lease_name(release);
        let me = holder_identity();
        let secs = duration.as_secs().clamp(5, 3600) as i32;
        let api_err = |e: anyhow::Error| LockError::Api {
            namespace: namespace.into(),
            release: release.into(),
            source: e,
        };
        let lease = |rv: Option<String>, transitions: i32| Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.into()),
                resource_version: rv,
                labels: Some(BTreeMap::from([
                    ("app.kubernetes.io/managed-by".into(), "helmdeck".into()),
                    ("helmdeck.io/release".into(), release.into()),
                ])),
                annotations: Some(BTreeMap::from([(
                    OPERATION_ANNOTATION.into(),
                    operation.into(),
                )])),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(me.clone()),
                lease_duration_seconds: Some(secs),
                acquire_time: Some(MicroTime(jiff::Timestamp::now())),
                renew_time: Some(MicroTime(jiff::Timestamp::now())),
                lease_transitions: Some(transitions),
                ..Default::default()
            }),
        };
        let created = match api.create(&PostParams::default(), &lease(None, 0)).await {
            Ok(l) => l,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = api
                    .get(&name)
                    .await
                    .map_err(|e| api_err(anyhow::Error::new(e)))?;
                let holder = holder_of_lease(&existing);
                if !holder.expired(jiff::Timestamp::now()) {
                    return Err(LockError::Held {
                        namespace: namespace.into(),
                        release: release.into(),
                        lease: name,
                        holder,
                    });
                }
                // Expired: take it over, if nobody else did in between.
                let transitions = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0)
                    + 1;
                match api
                    .replace(
                        &name,
                        &PostParams::default(),
                        &lease(existing.metadata.resource_version.clone(), transitions),
                    )
                    .await
                {
                    Ok(l) => l,
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        let now = api
                            .get(&name)
                            .await
                            .map_err(|e| api_err(anyhow::Error::new(e)))?;
                        return Err(LockError::Held {
                            namespace: namespace.into(),
                            release: release.into(),
                            lease: name,
                            holder: holder_of_lease(&now),
                        });
                    }
                    Err(e) => return Err(api_err(anyhow::Error::new(e))),
                }
            }
            Err(e) => return Err(api_err(anyhow::Error::new(e))),
        };
        let lost = Arc::new(parking_lot::Mutex::new(None));
        let rv = Arc::new(parking_lot::Mutex::new(created.metadata.resource_version));
        let renewer = tokio::spawn(renew(
            api.clone(),
            name.clone(),
            me,
            Duration::from_secs(secs as u64),
            lost.clone(),
            rv.clone(),
        ));
        Ok(ReleaseLock {
            api,
            name,
            lost,
            renewer,
            resource_version: rv,
        })
    }

    /// Why the lock was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().clone()
    }

    /// Stops renewing and deletes the Lease (only if it is still ours).
    pub async fn release(self) {
        self.renewer.abort();
        if self.lost().is_some() {
            return;
        }
        let rv = self.resource_version.lock().clone();
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: rv,
                uid: None,
            }),
            ..Default::default()
        };
        if let Err(e) = self.api.delete(&self.name, &dp).await {
            tracing::warn!(lease = %self.name, error = %e, "could not delete the release lock; it expires on its own");
        }
    }
}

impl Drop for ReleaseLock {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

async fn renew(
    api: Api<Lease>,
    name: String,
    me: String,
    duration: Duration,
    lost: Arc<parking_lot::Mutex<Option<String>>>,
    rv: Arc<parking_lot::Mutex<Option<String>>>,
) {
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(duration / 3).await;
        let result = async {
            let mut lease = api.get(&name).await?;
            let holder = holder_of_lease(&lease);
            if holder.holder != me {
                return Ok::<_, kube::Error>(Some(format!("the lock was taken by {holder}")));
            }
            if let Some(spec) = lease.spec.as_mut() {
                spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
            }
            let l = api.replace(&name, &PostParams::default(), &lease).await?;
            *rv.lock() = l.metadata.resource_version;
            Ok(None)
        }
        .await;
        match result {
            Ok(None) => last_ok = tokio::time::Instant::now(),
            Ok(Some(why)) => {
                *lost.lock() = Some(why);
                return;
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                *lost.lock() = Some("the lock's Lease was deleted by someone else".into());
                return;
            }
            Err(e) => {
                tracing::warn!(lease = %name, error = %e, "renewing the release lock failed");
                if last_ok.elapsed() >= duration {
                    *lost.lock() = Some(format!(
                        "the lock could not be renewed for {} s ({e})",
                        duration.as_secs()
                    ));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(identity: &str) -> LockHolder {
        LockHolder {
            holder: identity.into(),
            operation: String::new(),
            renewed: Some(jiff::Timestamp::now()),
            expires: Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)),
        }
    }

    #[test]
    fn a_lock_of_a_dead_helmdeck_on_this_host_is_free_others_are_not() {
        let now = jiff::Timestamp::now();
        let me = holder_identity();
        let host = me.split_once('@').unwrap().1.split_once(" (").unwrap().0;
        // This process: alive.
        assert!(!holder(&me).expired(now));
        // A process that ran and exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(holder(&format!("ada@{host} (helmdeck, pid {pid})")).expired(now));
        // Another host's holder is never judged from here.
        assert!(!holder(&format!("ada@elsewhere (helmdeck, pid {pid})")).expired(now));
        // Someone else's tool: only its expiry counts.
        assert!(!holder("kube-controller").expired(now));
    }
}
