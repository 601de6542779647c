//! A release's history from the cluster: its Helm release Secrets (labels
//! `owner=helm,name=RELEASE`), decoded by [`crate::core::release`].

use crate::core::release::{self, ReleaseHistory};
use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};

/// Lists the release Secrets of `namespace/name` and decodes them into its history
/// (ascending by decoded revision). Secrets that cannot be decoded are reported in the
/// history's `errors`; a release with no Secret at all is an error.
pub async fn release_history(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<ReleaseHistory> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("owner=helm,name={name}"));
    let mut secrets = api
        .list(&lp)
        .await
        .with_context(|| format!("listing the release Secrets of {namespace}/{name}"))?
        .items;
    secrets.retain(|s| s.type_.as_deref() == Some(release::RELEASE_SECRET_TYPE));
    release::history(&secrets)
        .into_iter()
        .find(|h| h.name == name)
        .ok_or_else(|| anyhow!("no Helm release {name:?} in namespace {namespace:?}"))
}
