//! Links to a platform's dashboards (Grafana, Kibana, Prometheus…): URL templates from the
//! config (`links:` of a platform) filled in for one object — a release, a workload, a pod.
//!
//! A template names placeholders in braces — `{namespace}`, `{release}`, `{workload}`,
//! `{pod}`, `{container}`, `{platform}`, `{context}` — and each is replaced by the object's
//! value, URL-encoded (RFC 3986: everything but `A–Z a–z 0–9 - . _ ~` is percent-encoded), so
//! a value can never change the URL's scheme, host or path. `{{` and `}}` stand for a brace.
//! A template whose placeholder has no value for the object (`{pod}` on a workload) is not
//! offered there; [`Offer::missing`] says what it needs. Templates are `http://` or
//! `https://` URLs: they are handed to the system's opener, which must never run a file.
//!
//! No terminal code here: the console (`o`) and `helmdeck links` both use this.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A value a template can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placeholder {
    Namespace,
    Release,
    Workload,
    Pod,
    Container,
    Platform,
    Context,
}

impl Placeholder {
    pub const ALL: [Placeholder; 7] = [
        Placeholder::Namespace,
        Placeholder::Release,
        Placeholder::Workload,
        Placeholder::Pod,
        Placeholder::Container,
        Placeholder::Platform,
        Placeholder::Context,
    ];

    /// The name written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Namespace => "namespace",
            Placeholder::Release => "release",
            Placeholder::Workload => "workload",
            Placeholder::Pod => "pod",
            Placeholder::Container => "container",
            Placeholder::Platform => "platform",
            Placeholder::Context => "context",
        }
    }

    fn named(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown placeholder `{{{0}}}` (known: {{namespace}} {{release}} {{workload}} {{pod}} \
         {{container}} {{platform}} {{context}}; write {{{{ and }}}} for a brace)"
    )]
    UnknownPlaceholder(String),
    #[error("a `{{` at character {0} is not closed (write {{{{ for a brace)")]
    Unclosed(usize),
    #[error("a `}}` at character {0} closes nothing (write }}}} for a brace)")]
    Unopened(usize),
    #[error("must start with http:// or https:// (the system's opener is given it)")]
    NotHttp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// A parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template; see the module documentation for its syntax.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let lower = text.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(TemplateError::NotHttp);
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unopened(i + 1)),
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest.find('}').ok_or(TemplateError::Unclosed(i + 1))?;
                    let name = &rest[..end];
                    if name.contains('{') {
                        return Err(TemplateError::Unclosed(i + 1));
                    }
                    let p = Placeholder::named(name.trim())
                        .ok_or_else(|| TemplateError::UnknownPlaceholder(name.to_string()))?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Value(p));
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The placeholders it uses, in order, each once.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Value(p) = part
                && !out.contains(p)
            {
                out.push(*p);
            }
        }
        out
    }

    /// The URL for `subject`, or the placeholders it has no value for.
    pub fn fill(&self, subject: &Subject) -> Result<String, Vec<Placeholder>> {
        let missing: Vec<Placeholder> = self
            .placeholders()
            .into_iter()
            .filter(|p| subject.value(*p).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let mut url = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => url.push_str(t),
                Part::Value(p) => url.push_str(&encode(subject.value(*p).unwrap_or_default())),
            }
        }
        Ok(url)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `links:` of a platform: names and templates, in the order the config gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links(pub Vec<(String, String)>);

impl Links {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every template parsed; the first that cannot be, named: `grafana: unknown placeholder…`.
    pub fn parse(&self) -> Result<Vec<(String, Template)>, String> {
        self.0
            .iter()
            .map(|(name, text)| {
                Template::parse(text)
                    .map(|t| (name.clone(), t))
                    .map_err(|e| format!("link `{name}`: {e}"))
            })
            .collect()
    }
}

impl<'de> Deserialize<'de> for Links {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LinksVisitor;
        impl<'de> Visitor<'de> for LinksVisitor {
            type Value = Links;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of link names to URL templates")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Links, E> {
                Ok(Links::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Links, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some((name, url)) = map.next_entry::<String, String>()? {
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(de::Error::custom("a link name is given twice"));
                    }
                    out.push((name, url));
                }
                Ok(Links(out))
            }
        }
        deserializer.deserialize_any(LinksVisitor)
    }
}

/// The object links are asked for, with what is known of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub namespace: Option<String>,
    pub release: Option<String>,
    pub workload: Option<String>,
    pub pod: Option<String>,
    /// The pod's containers: a template with `{container}` is offered once per container.
    pub containers: Vec<String>,
    /// One container, when chosen (set per offer from `containers`).
    pub container: Option<String>,
    pub platform: Option<String>,
    pub context: Option<String>,
}

impl Subject {
    fn value(&self, p: Placeholder) -> Option<&str> {
        let v = match p {
            Placeholder::Namespace => &self.namespace,
            Placeholder::Release => &self.release,
            Placeholder::Workload => &self.workload,
            Placeholder::Pod => &self.pod,
            Placeholder::Container => &self.container,
            Placeholder::Platform => &self.platform,
            Placeholder::Context => &self.context,
        };
        v.as_deref().filter(|s| !s.is_empty())
    }
}

/// One link offered for an object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// The link's name in the config, with the container when it is per container:
    /// `kibana`, `logs (sidecar)`.
    pub name: String,
    pub url: String,
}

/// A template not offered for the object, and what it needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Missing {
    pub name: String,
    /// Placeholder names without braces: `pod`, `container`.
    pub needs: Vec<String>,
}

/// What a platform's templates give for one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Offer {
    pub links: Vec<Link>,
    pub missing: Vec<Missing>,
}

/// Fills `templates` in for `subject`: every template whose placeholders all have a value
/// (one per container when it uses `{container}` and the pod has several), and the others
/// with what they need.
pub fn offer(templates: &[(String, Template)], subject: &Subject) -> Offer {
    let mut out = Offer::default();
    for (name, template) in templates {
        let per_container = template.placeholders().contains(&Placeholder::Container)
            && subject.container.is_none()
            && !subject.containers.is_empty();
        let subjects: Vec<(String, Subject)> = if per_container {
            subject
                .containers
                .iter()
                .map(|c| {
                    let label = if subject.containers.len() > 1 {
                        format!("{name} ({c})")
                    } else {
                        name.clone()
                    };
                    let s = Subject {
                        container: Some(c.clone()),
                        ..subject.clone()
                    };
                    (label, s)
                })
                .collect()
        } else {
            vec![(name.clone(), subject.clone())]
        };
        for (label, s) in subjects {
            match template.fill(&s) {
                Ok(url) => out.links.push(Link { name: label, url }),
                Err(needs) => {
                    out.missing.push(Missing {
                        name: label,
                        needs: needs.iter().map(|p| p.name().to_string()).collect(),
                    });
                }
            }
        }
    }
    out
}

/// The links of every platform that `subject` belongs to: the platforms in its namespace
/// (for a release, those naming that release or none). With several platforms, each link's
/// name says its platform. Templates that do not parse are left out (the config refuses
/// them when it is loaded).
pub fn for_subject(platforms: &[crate::config::Platform], subject: &Subject) -> Offer {
    let matching: Vec<&crate::config::Platform> = platforms
        .iter()
        .filter(|p| Some(p.namespace.as_str()) == subject.namespace.as_deref())
        .filter(|p| match (&subject.release, &p.release) {
            (Some(r), Some(pr)) if subject.workload.is_none() && subject.pod.is_none() => r == pr,
            _ => true,
        })
        .filter(|p| !p.links.is_empty())
        .collect();
    let mut out = Offer::default();
    for p in &matching {
        let templates = p.links.parse().unwrap_or_default();
        let subject = Subject {
            platform: Some(p.name.clone()),
            release: subject.release.clone().or_else(|| p.release.clone()),
            ..subject.clone()
        };
        let mut one = offer(&templates, &subject);
        if matching.len() > 1 {
            for l in &mut one.links {
                l.name = format!("{}: {}", p.name, l.name);
            }
            for m in &mut one.missing {
                m.name = format!("{}: {}", p.name, m.name);
            }
        }
        out.links.extend(one.links);
        out.missing.extend(one.missing);
    }
    out
}

/// The OSC 52 escape sequence that asks the terminal to put `text` on the clipboard
/// (`ESC ] 52 ; c ; BASE64 BEL`); xterm, kitty, iTerm2, WezTerm, Windows Terminal and tmux
/// (with `set-clipboard on`) honour it, over SSH too.
pub fn osc52(text: &str) -> String {
    use base64::Engine as _;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// The system's opener for a URL: `open` on macOS, else `xdg-open`.
pub fn opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    }
}

/// Opens `url` with the system's opener, detached (its own session, no terminal I/O), and
/// does not wait for it. An opener that is not installed is an error to show, never a panic.
pub fn open(url: &str) -> Result<(), String> {
    open_with(opener(), url)
}

fn open_with(program: &str, url: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let mut command = Command::new(program);
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // Its own process group: a Ctrl-C or the console's exit does not reach it.
        command.process_group(0);
    }
    match command.spawn() {
        Ok(mut child) => {
            // Reaped off the UI thread so it never lingers as a zombie.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "cannot open the link: `{program}` is not installed (the link was copied instead \
             when the terminal allows it)"
        )),
        Err(e) => Err(format!("cannot open the link with `{program}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            namespace: Some("mr-ee".into()),
            release: Some("ee".into()),
            workload: Some("router".into()),
            pod: Some("router-7d4b9c-x2k4q".into()),
            containers: vec!["router".into()],
            container: None,
            platform: Some("mr-ee".into()),
            context: Some("prod/west".into()),
        }
    }

    #[test]
    fn placeholders_are_filled_in_and_url_encoded() {
        let t = Template::parse(
            "https://grafana.example/d/abc?var-namespace={namespace}&var-pod={pod}&ctx={context}",
        )
        .unwrap();
        assert_eq!(
            t.fill(&subject()).unwrap(),
            "https://grafana.example/d/abc?var-namespace=mr-ee&var-pod=router-7d4b9c-x2k4q&ctx=prod%2Fwest"
        );
        // A value cannot break out of its place in the URL.
        let s = Subject {
            namespace: Some("a&b=c #?/ é".into()),
            ..subject()
        };
        let t = Template::parse("https://k/app?q={namespace}").unwrap();
        assert_eq!(
            t.fill(&s).unwrap(),
            "https://k/app?q=a%26b%3Dc%20%23%3F%2F%20%C3%A9"
        );
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
    }

    #[test]
    fn braces_are_escaped_by_doubling_and_every_placeholder_is_known() {
        let t = Template::parse("https://k/app#/discover?_a=(query:'{{x}}',ns:{release})").unwrap();
        assert_eq!(
            t.fill(&subject()).unwrap(),
            "https://k/app#/discover?_a=(query:'{x}',ns:ee)"
        );
        let all = Placeholder::ALL
            .iter()
            .map(|p| p.to_string())
            .collect::<String>();
        let t = Template::parse(&format!("https://x/{all}")).unwrap();
        assert_eq!(t.placeholders(), Placeholder::ALL);
        let s = Subject {
            container: Some("router".into()),
            ..subject()
        };
        assert_eq!(
            t.fill(&s).unwrap(),
            "https://x/mr-eeeerouterrouter-7d4b9c-x2k4qroutermr-eeprod%2Fwest"
        );
    }

    #[test]
    fn a_bad_template_says_what_is_wrong() {
        let err = Template::parse("https://g/d?var-node={node}").unwrap_err();
        assert_eq!(err, TemplateError::UnknownPlaceholder("node".into()));
        assert!(
            err.to_string().contains("unknown placeholder `{node}`"),
            "{err}"
        );
        assert!(err.to_string().contains("{namespace}"), "{err}");
        assert_eq!(
            Template::parse("https://g/{pod").unwrap_err(),
            TemplateError::Unclosed(11)
        );
        assert_eq!(
            Template::parse("https://g/pod}").unwrap_err(),
            TemplateError::Unopened(14)
        );
        for not_http in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "grafana/d/{pod}",
            "",
        ] {
            assert_eq!(
                Template::parse(not_http).unwrap_err(),
                TemplateError::NotHttp,
                "{not_http}"
            );
        }
        let links = Links(vec![
            ("grafana".into(), "https://g/{pod}".into()),
            ("kibana".into(), "https://k/{host}".into()),
        ]);
        let err = links.parse().unwrap_err();
        assert!(
            err.starts_with("link `kibana`: unknown placeholder `{host}`"),
            "{err}"
        );
    }

    #[test]
    fn a_template_needing_what_the_object_lacks_is_not_offered() {
        let templates = Links(vec![
            (
                "grafana".into(),
                "https://g/d?ns={namespace}&w={workload}".into(),
            ),
            ("kibana".into(), "https://k/?pod={pod}".into()),
            ("logs".into(), "https://l/?pod={pod}&c={container}".into()),
        ])
        .parse()
        .unwrap();
        let workload = Subject {
            pod: None,
            containers: vec![],
            ..subject()
        };
        let o = offer(&templates, &workload);
        assert_eq!(
            o.links,
            [Link {
                name: "grafana".into(),
                url: "https://g/d?ns=mr-ee&w=router".into()
            }]
        );
        assert_eq!(
            o.missing,
            [
                Missing {
                    name: "kibana".into(),
                    needs: vec!["pod".into()]
                },
                Missing {
                    name: "logs".into(),
                    needs: vec!["pod".into(), "container".into()]
                }
            ]
        );
        // A pod with two containers: one link per container.
        let pod = Subject {
            containers: vec!["router".into(), "envoy".into()],
            ..subject()
        };
        let names: Vec<String> = offer(&templates, &pod)
            .links
            .into_iter()
            .map(|l| format!("{} {}", l.name, l.url))
            .collect();
        assert_eq!(
            names,
            [
                "grafana https://g/d?ns=mr-ee&w=router",
                "kibana https://k/?pod=router-7d4b9c-x2k4q",
                "logs (router) https://l/?pod=router-7d4b9c-x2k4q&c=router",
                "logs (envoy) https://l/?pod=router-7d4b9c-x2k4q&c=envoy",
            ]
        );
    }

    #[test]
    fn links_keep_the_config_order_and_refuse_a_name_twice() {
        let links: Links = serde_yaml::from_str("zeta: https://z/\nalpha: https://a/\n").unwrap();
        assert_eq!(
            links.0.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["zeta", "alpha"]
        );
        let err = serde_yaml::from_str::<Links>("a: https://x/\na: https://y/\n").unwrap_err();
        assert!(err.to_string().contains("given twice"), "{err}");
    }

    /// The config refuses a template it cannot fill in, naming the platform, the link and
    /// the placeholder; the sample file's links parse.
    #[test]
    fn the_config_refuses_an_unknown_placeholder_naming_it() {
        let yaml = "platforms:\n  - name: p\n    namespace: p\n    links:\n      grafana: \
                    https://g/d?var-node={node}\n";
        let err = crate::config::Config::from_yaml(yaml, std::path::Path::new("/c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("platform `p`: link `grafana`: unknown placeholder `{node}`"),
            "{err}"
        );
        let sample =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/helmdeck.sample.yaml");
        let config = crate::config::Config::load(Some(&sample)).unwrap();
        let p = config.platform("mr-ee").unwrap();
        let names: Vec<&str> = p.links.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["grafana", "kibana", "prometheus"]);
        let pod = Subject {
            namespace: Some("mr-ee".into()),
            pod: Some("router-1".into()),
            ..Subject::default()
        };
        let o = offer(&p.links.parse().unwrap(), &pod);
        assert_eq!(
            o.links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["kibana", "prometheus"]
        );
    }

    #[test]
    fn a_missing_opener_is_an_error_to_show() {
        let err = open_with("helmdeck-no-such-opener", "https://g/").unwrap_err();
        assert!(
            err.contains("`helmdeck-no-such-opener` is not installed"),
            "{err}"
        );
    }

    #[test]
    fn osc52_carries_the_url_in_base64() {
        assert_eq!(osc52("https://g/"), "\x1b]52;c;aHR0cHM6Ly9nLw==\x07");
    }
}
