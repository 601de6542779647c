//! The resource types the sandbox serves, with what discovery says of them.

/// One served resource (a plural under a group/version).
#[derive(Debug)]
pub struct ResourceType {
    /// API group; "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    /// Subresources served under `<plural>/<name>/<sub>`.
    pub subresources: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Index of the table that stores it (several versions of one resource share a table).
    pub storage: Storage,
    /// Field selectors (besides metadata.name and metadata.namespace) that it supports.
    pub fields: &'static [&'static str],
}

/// Where a resource's objects live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Storage {
    Namespaces,
    Nodes,
    Pods,
    Services,
    ConfigMaps,
    Secrets,
    Events,
    ServiceAccounts,
    Deployments,
    ReplicaSets,
    StatefulSets,
    DaemonSets,
    Hpas,
    Pdbs,
    Leases,
    Jobs,
    EndpointSlices,
    CronJobs,
    /// rbac.authorization.k8s.io Roles and RoleBindings: stored and served, never enforced
    /// (the sandbox authorizes every request).
    Roles,
    RoleBindings,
    /// apiextensions.k8s.io CustomResourceDefinitions.
    Crds,
    /// The objects of one CustomResourceDefinition (an id of [`super::crd`]'s registry).
    Custom(u32),
    /// Computed on request (metrics.k8s.io); never stored.
    NodeMetrics,
    PodMetrics,
}

impl Storage {
    /// Every stored table, in a fixed order.
    pub const TABLES: [Storage; 21] = [
        Storage::Namespaces,
        Storage::Nodes,
        Storage::Pods,
        Storage::Services,
        Storage::ConfigMaps,
        Storage::Secrets,
        Storage::Events,
        Storage::ServiceAccounts,
        Storage::Deployments,
        Storage::ReplicaSets,
        Storage::StatefulSets,
        Storage::DaemonSets,
        Storage::Hpas,
        Storage::Pdbs,
        Storage::Leases,
        Storage::Jobs,
        Storage::EndpointSlices,
        Storage::CronJobs,
        Storage::Roles,
        Storage::RoleBindings,
        Storage::Crds,
    ];

    /// The resource type objects of this table are stored as.
    pub fn storage_type(self) -> &'static ResourceType {
        if let Storage::Custom(id) = self {
            return super::crd::storage_type(id);
        }
        RESOURCES
            .iter()
            .find(|r| r.storage == self)
            .expect("every storage has a resource")
    }
}

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const RO: &[&str] = &["get", "list"];

macro_rules! res {
    ($g:expr, $v:expr, $k:expr, $p:expr, $s:expr, [$($sn:expr),*], $ns:expr, $verbs:expr, [$($sub:expr),*], [$($cat:expr),*], $st:expr, [$($f:expr),*]) => {
        ResourceType {
            group: $g, version: $v, kind: $k, plural: $p, singular: $s,
            short_names: &[$($sn),*], namespaced: $ns, verbs: $verbs,
            subresources: &[$($sub),*], categories: &[$($cat),*], storage: $st, fields: &[$($f),*],
        }
    };
}

/// Everything served. The first entry of a [`Storage`] is the version it is stored as.
pub static RESOURCES: &[ResourceType] = &[
    res!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        ["ns"],
        false,
        RW,
        ["status"],
        [],
        Storage::Namespaces,
        ["status.phase"]
    ),
    res!(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        ["no"],
        false,
        RW,
        ["status"],
        [],
        Storage::Nodes,
        ["spec.unschedulable"]
    ),
    res!(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        ["po"],
        true,
        RW,
        ["status", "eviction", "log"],
        ["all"],
        Storage::Pods,
        [
            "spec.nodeName",
            "status.phase",
            "status.podIP",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName"
        ]
    ),
    res!(
        "",
        "v1",
        "Service",
        "services",
        "service",
        ["svc"],
        true,
        RW,
        ["status"],
        ["all"],
        Storage::Services,
        []
    ),
    res!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        ["cm"],
        true,
        RW,
        [],
        [],
        Storage::ConfigMaps,
        []
    ),
    res!(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        [],
        true,
        RW,
        [],
        [],
        Storage::Secrets,
        ["type"]
    ),
    res!(
        "",
        "v1",
        "Event",
        "events",
        "event",
        ["ev"],
        true,
        RW,
        [],
        [],
        Storage::Events,
        [
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type"
        ]
    ),
    res!(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        ["sa"],
        true,
        RW,
        [],
        [],
        Storage::ServiceAccounts,
        []
    ),
    res!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        ["deploy"],
        true,
        RW,
        ["status", "scale"],
        ["all"],
        Storage::Deployments,
        []
    ),
    res!(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        ["rs"],
        true,
        RW,
        ["status", "scale"],
        ["all"],
        Storage::ReplicaSets,
        []
    ),
    res!(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        ["sts"],
        true,
        RW,
        ["status", "scale"],
        ["all"],
        Storage::StatefulSets,
        []
    ),
    res!(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        ["ds"],
        true,
        RW,
        ["status"],
        ["all"],
        Storage::DaemonSets,
        []
    ),
    res!(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        ["hpa"],
        true,
        RW,
        ["status"],
        ["all"],
        Storage::Hpas,
        []
    ),
    res!(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        ["hpa"],
        true,
        RW,
        ["status"],
        ["all"],
        Storage::Hpas,
        []
    ),
    res!(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        ["pdb"],
        true,
        RW,
        ["status"],
        [],
        Storage::Pdbs,
        []
    ),
    res!(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        [],
        true,
        RW,
        [],
        [],
        Storage::Leases,
        []
    ),
    res!(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        [],
        true,
        RW,
        ["status"],
        ["all"],
        Storage::Jobs,
        ["status.successful"]
    ),
    res!(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "cronjob",
        ["cj"],
        true,
        RW,
        ["status"],
        ["all"],
        Storage::CronJobs,
        []
    ),
    res!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        [],
        true,
        RW,
        [],
        [],
        Storage::EndpointSlices,
        []
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        [],
        true,
        RW,
        [],
        [],
        Storage::Roles,
        []
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        [],
        true,
        RW,
        [],
        [],
        Storage::RoleBindings,
        []
    ),
    res!(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "customresourcedefinition",
        ["crd", "crds"],
        false,
        RW,
        ["status"],
        ["api-extensions"],
        Storage::Crds,
        []
    ),
    res!(
        "metrics.k8s.io",
        "v1beta1",
        "NodeMetrics",
        "nodes",
        "",
        [],
        false,
        RO,
        [],
        [],
        Storage::NodeMetrics,
        []
    ),
    res!(
        "metrics.k8s.io",
        "v1beta1",
        "PodMetrics",
        "pods",
        "",
        [],
        true,
        RO,
        [],
        [],
        Storage::PodMetrics,
        []
    ),
];

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the resource is computed, not stored.
    pub fn is_virtual(&self) -> bool {
        matches!(self.storage, Storage::NodeMetrics | Storage::PodMetrics)
    }

    /// Finds the resource for a plural under a group/version.
    pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The preferred (stored) resource for a kind name, as a client would write it.
    pub fn for_kind(kind: &str) -> Option<&'static ResourceType> {
        RESOURCES.iter().find(|r| r.kind == kind)
    }
}

/// The groups, each with its versions in order of preference.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) => {
                if !versions.contains(&r.version) {
                    versions.push(r.version)
                }
            }
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}
