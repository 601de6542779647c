//! Errors as the Kubernetes API reports them: a `Status` object with a code and a reason.

use super::resources::ResourceType;
use serde_json::{Value, json};

/// An API error, answered as a `meta/v1 Status` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

fn details(rt: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": rt.plural});
    if !rt.group.is_empty() {
        d["group"] = json!(rt.group);
    }
    d
}

fn qualified(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.plural.to_string()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        ApiError {
            details: Some(details(rt, name)),
            ..Self::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", qualified(rt)),
            )
        }
    }

    pub fn not_found_in_ns(rt: &ResourceType, name: &str) -> Self {
        Self::not_found(rt, name)
    }

    /// The path names nothing this server serves.
    pub fn no_route(path: &str) -> Self {
        ApiError {
            details: Some(
                json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}),
            ),
            ..Self::new(
                404,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            )
        }
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        ApiError {
            details: Some(details(rt, name)),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(rt)),
            )
        }
    }

    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        ApiError {
            details: Some(details(rt, name)),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    qualified(rt)
                ),
            )
        }
    }

    /// A field failed validation; `why` is `field.path: Invalid value: …` as the API server
    /// words it. The details name the kind and carry the field as a cause (kubectl prints them).
    pub fn invalid(rt: &ResourceType, name: &str, why: &str) -> Self {
        let (field, detail) = why.split_once(": ").unwrap_or(("", why));
        let reason = if detail.starts_with("Required value") {
            "FieldValueRequired"
        } else {
            "FieldValueInvalid"
        };
        let mut d = json!({"name": name, "kind": rt.kind,
            "causes": [{"reason": reason, "message": detail, "field": field}]});
        let mut kind = rt.kind.to_string();
        if !rt.group.is_empty() {
            d["group"] = json!(rt.group);
            kind = format!("{kind}.{}", rt.group);
        }
        ApiError {
            details: Some(d),
            ..Self::new(
                422,
                "Invalid",
                format!("{kind} \"{name}\" is invalid: {why}"),
            )
        }
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(ct: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/merge-patch+json, application/strategic-merge-patch+json, application/json-patch+json (got {ct:?})"
            ),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(429, "TooManyRequests", message)
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {e}"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// The `Status` body.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::{ResourceType, Storage};

    #[test]
    fn invalid_names_the_kind_and_the_field_as_kubectl_prints_them() {
        let rt = Storage::Deployments.storage_type();
        let e = ApiError::invalid(rt, "bad", "spec.replicas: Required value");
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Deployment.apps \"bad\" is invalid: spec.replicas: Required value"
        );
        let d = e.details.unwrap();
        assert_eq!(d["kind"], "Deployment");
        assert_eq!(d["group"], "apps");
        assert_eq!(d["causes"][0]["field"], "spec.replicas");
        assert_eq!(d["causes"][0]["reason"], "FieldValueRequired");
        let pod = ResourceType::find("", "v1", "pods").unwrap();
        let e = ApiError::invalid(pod, "p", "spec.containers: Required value");
        assert!(e.message.starts_with("Pod \"p\" is invalid"));
        assert!(e.details.unwrap().get("group").is_none());
    }
}
