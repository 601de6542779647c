//! Which key does what, on which screen. The key map is data: [`KeyMap::default`] holds the
//! k9s-like defaults, and the `keys:` section of the config file ([`KeyMapConfig`]) replaces the
//! keys of any action.
//!
//! A binding is global or scoped to some [`Screen`]s, so one key can mean different things on
//! different screens. On a screen, the binding that decides a key is, in order of precedence:
//! a user binding scoped to that screen, a global user binding, a default binding scoped to that
//! screen, a global default binding. The defaults use this once: `d` drains a node on the nodes
//! screen and describes the selected object everywhere else (`i` describes everywhere,
//! including on nodes). A binding only acts where its action does ([`Action::acts_on`]):
//! nothing is described on the Overview or Topics, so their help does not list `d` or `i`.
//!
//! Config shape (each action takes a key, a list of keys, or `{ keys, screens }`; leaving out
//! `screens` keeps the action's default screens; an empty list of keys unbinds the action):
//!
//! ```yaml
//! keys:
//!   scale: ["s", "S"]
//!   refresh: ctrl-l
//!   drain: { keys: ["D"], screens: [nodes] }
//!   delete: []
//! ```
//!
//! Key specs: a single character (`q`, `G`, `?`, `:`, `0`), a named key (`esc`, `enter`, `tab`,
//! `shift-tab`, `backspace`, `delete`, `insert`, `up`, `down`, `left`, `right`, `pgup`, `pgdn`,
//! `home`, `end`, `space`, `f1`…`f24`), with optional `ctrl-`, `alt-` and `shift-` prefixes.
//! Uppercase letters match whether or not the terminal reports SHIFT with them; `shift-g` is
//! the same key as `G`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Everything a key can ask the console to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Quit,
    Help,
    CommandMode,
    FilterMode,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Back,
    Scale,
    Cordon,
    Uncordon,
    Drain,
    Logs,
    PreviousLogs,
    FollowToggle,
    WrapToggle,
    TimestampsToggle,
    SaveLog,
    ObjectEvents,
    Describe,
    Yaml,
    Delete,
    Restart,
    Links,
    SortNext,
    SortReverse,
    Refresh,
    ToggleAllNamespaces,
    Rollback,
    Upgrade,
    History,
    Diff,
    RevealSecrets,
    CreateTopics,
    Mark,
    Backups,
    SearchNext,
    SearchPrev,
    RecoverVerify,
    RecoverRollback,
    NextView,
    PrevView,
    ViewOverview,
    ViewNodes,
    ViewWorkloads,
    ViewPods,
    ViewEvents,
    ViewReleases,
    ViewTopics,
    ViewInventory,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 54] = [
        Action::Quit,
        Action::Help,
        Action::CommandMode,
        Action::FilterMode,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Enter,
        Action::Back,
        Action::Scale,
        Action::Cordon,
        Action::Uncordon,
        Action::Drain,
        Action::Logs,
        Action::PreviousLogs,
        Action::FollowToggle,
        Action::WrapToggle,
        Action::TimestampsToggle,
        Action::SaveLog,
        Action::ObjectEvents,
        Action::Describe,
        Action::Yaml,
        Action::Delete,
        Action::Restart,
        Action::Links,
        Action::SortNext,
        Action::SortReverse,
        Action::Refresh,
        Action::ToggleAllNamespaces,
        Action::Rollback,
        Action::Upgrade,
        Action::History,
        Action::Diff,
        Action::RevealSecrets,
        Action::CreateTopics,
        Action::Mark,
        Action::Backups,
        Action::SearchNext,
        Action::SearchPrev,
        Action::RecoverVerify,
        Action::RecoverRollback,
        Action::NextView,
        Action::PrevView,
        Action::ViewOverview,
        Action::ViewNodes,
        Action::ViewWorkloads,
        Action::ViewPods,
        Action::ViewEvents,
        Action::ViewReleases,
        Action::ViewTopics,
        Action::ViewInventory,
    ];

    /// The action's name as written in the config file (`page-down`, `reveal-secrets`…).
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::CommandMode => "command-mode",
            Action::FilterMode => "filter-mode",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page-up",
            Action::PageDown => "page-down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Enter => "enter",
            Action::Back => "back",
            Action::Scale => "scale",
            Action::Cordon => "cordon",
            Action::Uncordon => "uncordon",
            Action::Drain => "drain",
            Action::Logs => "logs",
            Action::PreviousLogs => "previous-logs",
            Action::FollowToggle => "follow-toggle",
            Action::WrapToggle => "wrap-toggle",
            Action::TimestampsToggle => "timestamps-toggle",
            Action::SaveLog => "save-log",
            Action::ObjectEvents => "object-events",
            Action::Describe => "describe",
            Action::Yaml => "yaml",
            Action::Delete => "delete",
            Action::Restart => "restart",
            Action::Links => "links",
            Action::SortNext => "sort-next",
            Action::SortReverse => "sort-reverse",
            Action::Refresh => "refresh",
            Action::ToggleAllNamespaces => "toggle-all-namespaces",
            Action::Rollback => "rollback",
            Action::Upgrade => "upgrade",
            Action::History => "history",
            Action::Diff => "diff",
            Action::RevealSecrets => "reveal-secrets",
            Action::CreateTopics => "create-topics",
            Action::Mark => "mark",
            Action::Backups => "backups",
            Action::SearchNext => "search-next",
            Action::SearchPrev => "search-prev",
            Action::RecoverVerify => "recover-verify",
            Action::RecoverRollback => "recover-rollback",
            Action::NextView => "next-view",
            Action::PrevView => "prev-view",
            Action::ViewOverview => "view-overview",
            Action::ViewNodes => "view-nodes",
            Action::ViewWorkloads => "view-workloads",
            Action::ViewPods => "view-pods",
            Action::ViewEvents => "view-events",
            Action::ViewReleases => "view-releases",
            Action::ViewTopics => "view-topics",
            Action::ViewInventory => "view-inventory",
        }
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Action::Quit => "Quit",
            Action::Help => "Show this help",
            Action::CommandMode => "Command mode (:pods, :releases, :ctx …)",
            Action::FilterMode => "Filter the list",
            Action::Up => "Move up",
            Action::Down => "Move down",
            Action::PageUp => "Page up",
            Action::PageDown => "Page down",
            Action::Top => "Go to the top",
            Action::Bottom => "Go to the bottom",
            Action::Enter => "Open the selection",
            Action::Back => "Back / cancel",
            Action::Scale => "Scale the workload",
            Action::Cordon => "Cordon the node",
            Action::Uncordon => "Uncordon the node",
            Action::Drain => "Drain the node",
            Action::Logs => "Show logs",
            Action::PreviousLogs => "Show logs of the previous container",
            Action::FollowToggle => "Follow logs on/off",
            Action::WrapToggle => "Wrap long log lines on/off",
            Action::TimestampsToggle => "Log timestamps on/off (as kubectl logs --timestamps)",
            Action::SaveLog => "Save the log shown to a file (the path is shown)",
            Action::ObjectEvents => "The events of the selection, newest first",
            Action::Describe => "Describe the selection",
            Action::Yaml => "The selection as YAML (a release: its manifest; secrets masked)",
            Action::Delete => "Delete the pod (asks first)",
            Action::Restart => "Rollout restart the workload (asks first)",
            Action::Links => "Dashboard links of the selection (copy / open)",
            Action::SortNext => "Sort by the next column (shown in the title)",
            Action::SortReverse => "Reverse the sort order",
            Action::Refresh => "Refresh",
            Action::ToggleAllNamespaces => "All namespaces on/off",
            Action::Rollback => "Roll the release back",
            Action::Upgrade => "Upgrade the release",
            Action::History => "Release history",
            Action::Diff => "Diff a revision against the previous one (or the marked one)",
            Action::RevealSecrets => "Show/hide secret values",
            Action::CreateTopics => "Create the plan's missing topics (asks first)",
            Action::Mark => "Mark a revision as the base of the next diff",
            Action::Backups => "The release's backups",
            Action::SearchNext => "Next line matching the log search (newer)",
            Action::SearchPrev => "Previous line matching the log search (older)",
            Action::RecoverVerify => "Verify an interrupted upgrade or rollback",
            Action::RecoverRollback => "Roll back an interrupted upgrade or rollback",
            Action::NextView => "Next view",
            Action::PrevView => "Previous view",
            Action::ViewOverview => "Overview",
            Action::ViewNodes => "Nodes",
            Action::ViewWorkloads => "Workloads",
            Action::ViewPods => "Pods",
            Action::ViewEvents => "Events",
            Action::ViewReleases => "Helm releases",
            Action::ViewTopics => "Kafka topics",
            Action::ViewInventory => "Version inventory: what runs in each environment",
        }
    }

    /// Whether the console does something with the action on `screen`. The help overlay
    /// lists only these, and the console answers any other "not available here" whatever
    /// key the config binds it to. `refresh` acts nowhere: the lists are live (watched).
    /// `delete` deletes a pod, nothing else.
    pub fn acts_on(self, screen: Screen) -> bool {
        use Action::*;
        use Screen::*;
        match self {
            Quit | Help | CommandMode | Up | Down | PageUp | PageDown | Top | Bottom | Back
            | NextView | PrevView | ViewOverview | ViewNodes | ViewWorkloads | ViewPods
            | ViewEvents | ViewReleases | ViewTopics | ViewInventory => true,
            // The Overview lists problems, which no filter narrows.
            FilterMode => screen != Overview,
            // Events and a pod's own screen have nothing to open.
            Enter => !matches!(screen, Events | PodDetail),
            Scale => screen == Workloads,
            Cordon | Uncordon | Drain => screen == Nodes,
            Logs => matches!(screen, Workloads | Pods),
            PreviousLogs => matches!(screen, Pods | PodDetail),
            FollowToggle | SearchNext | SearchPrev => screen == PodDetail,
            WrapToggle | TimestampsToggle | SaveLog => screen == PodDetail,
            ObjectEvents => matches!(screen, Nodes | Workloads | Pods | PodDetail),
            // Describing a pod opens its screen (containers, events, log); anything else
            // listed opens its description over the table, as YAML does.
            Describe => matches!(screen, Nodes | Workloads | Pods | Events | Releases),
            Yaml => matches!(screen, Nodes | Workloads | Pods | Events | Releases),
            Delete => screen == Pods,
            Restart => screen == Workloads,
            Links => matches!(screen, Workloads | Pods | Releases),
            SortNext | SortReverse => {
                matches!(screen, Nodes | Workloads | Pods | Events | Releases)
            }
            Refresh => false,
            ToggleAllNamespaces => matches!(screen, Workloads | Pods | Events | Releases),
            Rollback | Upgrade | History | Diff | RevealSecrets | Mark | Backups
            | RecoverVerify | RecoverRollback => screen == Releases,
            CreateTopics => screen == Topics,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The screens a binding can be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Screen {
    Overview,
    Nodes,
    Workloads,
    Pods,
    PodDetail,
    Events,
    Releases,
    Topics,
}

impl Screen {
    /// Every screen, in declaration order.
    pub const ALL: [Screen; 8] = [
        Screen::Overview,
        Screen::Nodes,
        Screen::Workloads,
        Screen::Pods,
        Screen::PodDetail,
        Screen::Events,
        Screen::Releases,
        Screen::Topics,
    ];

    /// The screen's name as written in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Screen::Overview => "overview",
            Screen::Nodes => "nodes",
            Screen::Workloads => "workloads",
            Screen::Pods => "pods",
            Screen::PodDetail => "pod-detail",
            Screen::Events => "events",
            Screen::Releases => "releases",
            Screen::Topics => "topics",
        }
    }
}

impl fmt::Display for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key spec that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key `{spec}`: {reason}")]
pub struct KeySpecError {
    pub spec: String,
    pub reason: String,
}

/// A key with its modifiers, as written in the config (`G`, `ctrl-c`, `shift-tab`, `pgdn`).
///
/// Normalised so that equal keys compare equal: letters typed with SHIFT are stored as the
/// uppercase letter without SHIFT, and `shift-tab` is `BackTab` without SHIFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeySpec {
    /// A key without modifiers.
    pub const fn plain(code: KeyCode) -> Self {
        KeySpec {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    /// Parses a key spec; see the module documentation for the syntax.
    pub fn parse(spec: &str) -> Result<Self, KeySpecError> {
        let error = |reason: &str| KeySpecError {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if spec.is_empty() {
            return Err(error("empty key"));
        }
        let mut mods = KeyModifiers::NONE;
        let mut rest = spec;
        loop {
            let lower = rest.to_ascii_lowercase();
            let Some((modifier, len)) = [
                ("ctrl-", KeyModifiers::CONTROL),
                ("control-", KeyModifiers::CONTROL),
                ("alt-", KeyModifiers::ALT),
                ("shift-", KeyModifiers::SHIFT),
            ]
            .into_iter()
            .find(|(prefix, _)| lower.starts_with(prefix) && lower.len() > prefix.len())
            .map(|(prefix, modifier)| (modifier, prefix.len())) else {
                break;
            };
            if mods.contains(modifier) {
                return Err(error("modifier given twice"));
            }
            mods |= modifier;
            rest = &rest[len..];
        }

        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => named_key(&rest.to_ascii_lowercase()).ok_or_else(|| {
                error(
                    "expected a single character or one of esc, enter, tab, shift-tab, backspace, \
                     delete, insert, up, down, left, right, pgup, pgdn, home, end, space, f1-f24, \
                     optionally prefixed by ctrl-, alt- or shift-",
                )
            })?,
        };

        let code = if mods.contains(KeyModifiers::SHIFT) {
            match code {
                KeyCode::Char(c) if c.is_alphabetic() => {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::Char(uppercase(c))
                }
                KeyCode::Char(_) => {
                    return Err(error(
                        "shift- only goes with letters and named keys: write the shifted \
                         character itself (`?`, not `shift-/`)",
                    ));
                }
                KeyCode::Tab | KeyCode::BackTab => {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::BackTab
                }
                other => other,
            }
        } else {
            code
        };
        Ok(KeySpec { code, mods })
    }

    /// Whether a key press (or repeat) from the terminal is this key. Releases never match.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        if event.kind == KeyEventKind::Release {
            return false;
        }
        let (code, mods) = normalize(event.code, event.modifiers);
        code == self.code && mods == self.mods
    }
}

fn uppercase(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Folds SHIFT into the key where the key itself already says it.
fn normalize(code: KeyCode, mut mods: KeyModifiers) -> (KeyCode, KeyModifiers) {
    let shift = mods.contains(KeyModifiers::SHIFT);
    let code = match code {
        KeyCode::Char(c) => {
            mods.remove(KeyModifiers::SHIFT);
            if shift && c.is_lowercase() {
                KeyCode::Char(uppercase(c))
            } else {
                KeyCode::Char(c)
            }
        }
        KeyCode::BackTab => {
            mods.remove(KeyModifiers::SHIFT);
            KeyCode::BackTab
        }
        KeyCode::Tab if shift => {
            mods.remove(KeyModifiers::SHIFT);
            KeyCode::BackTab
        }
        other => other,
    };
    (code, mods)
}

fn named_key(name: &str) -> Option<KeyCode> {
    Some(match name {
        "esc" | "escape" => KeyCode::Esc,
        "enter" | "return" => KeyCode::Enter,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "backspace" | "bs" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" | "ins" => KeyCode::Insert,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pgup" | "pageup" | "page-up" => KeyCode::PageUp,
        "pgdn" | "pgdown" | "pagedown" | "page-down" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "space" => KeyCode::Char(' '),
        _ => {
            let n: u8 = name.strip_prefix('f')?.parse().ok()?;
            if !(1..=24).contains(&n) {
                return None;
            }
            KeyCode::F(n)
        }
    })
}

impl FromStr for KeySpec {
    type Err = KeySpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeySpec::parse(s)
    }
}

impl fmt::Display for KeySpec {
    /// The canonical spelling, which parses back to the same key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (modifier, prefix) in [
            (KeyModifiers::CONTROL, "ctrl-"),
            (KeyModifiers::ALT, "alt-"),
            (KeyModifiers::SHIFT, "shift-"),
        ] {
            if self.mods.contains(modifier) {
                f.write_str(prefix)?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl Serialize for KeySpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeySpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spec = String::deserialize(deserializer)?;
        KeySpec::parse(&spec).map_err(de::Error::custom)
    }
}

/// Whether a binding comes from the defaults or from the user's config. User bindings take
/// precedence over default ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Default,
    User,
}

/// Keys for one action, on some screens or (with `screens: None`) on all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub action: Action,
    pub keys: Vec<KeySpec>,
    pub screens: Option<Vec<Screen>>,
    pub origin: Origin,
}

impl Binding {
    fn applies_to(&self, screen: Screen) -> bool {
        self.screens
            .as_ref()
            .is_none_or(|screens| screens.contains(&screen))
    }

    /// Lower wins: user scoped, user global, default scoped, default global.
    fn rank(&self) -> u8 {
        match (self.origin, self.screens.is_some()) {
            (Origin::User, true) => 0,
            (Origin::User, false) => 1,
            (Origin::Default, true) => 2,
            (Origin::Default, false) => 3,
        }
    }
}

/// The `keys:` section of the config file: new keys for some actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct KeyMapConfig(pub BTreeMap<Action, KeyOverride>);

/// New keys for one action. `screens: None` keeps the action's default screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOverride {
    pub keys: Vec<KeySpec>,
    pub screens: Option<Vec<Screen>>,
}

impl<'de> Deserialize<'de> for KeyOverride {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Scoped {
            keys: Vec<KeySpec>,
            #[serde(default)]
            screens: Option<Vec<Screen>>,
        }

        struct OverrideVisitor;

        impl<'de> Visitor<'de> for OverrideVisitor {
            type Value = KeyOverride;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key, a list of keys, or { keys: [...], screens: [...] }")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<KeyOverride, E> {
                Ok(KeyOverride {
                    keys: vec![KeySpec::parse(value).map_err(E::custom)?],
                    screens: None,
                })
            }

            /// `view-topics: 7`: a digit key written as a YAML number.
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<KeyOverride, E> {
                self.visit_str(&value.to_string())
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<KeyOverride, A::Error> {
                let keys = Vec::<KeySpec>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(KeyOverride {
                    keys,
                    screens: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeyOverride, A::Error> {
                let scoped = Scoped::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if scoped.screens.as_ref().is_some_and(Vec::is_empty) {
                    return Err(de::Error::custom(
                        "`screens` is empty: leave it out to keep the action's default screens",
                    ));
                }
                Ok(KeyOverride {
                    keys: scoped.keys,
                    screens: scoped.screens,
                })
            }
        }

        deserializer.deserialize_any(OverrideVisitor)
    }
}

/// A key map that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMapError {
    /// Two bindings of the same precedence give one key two actions on one screen.
    #[error("key `{key}` is bound to both `{first}` and `{second}` on the {screen} screen")]
    Conflict {
        key: String,
        first: Action,
        second: Action,
        screen: Screen,
    },
}

/// All key bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    bindings: Vec<Binding>,
}

/// The default bindings: action, key specs, screens (`None`: every screen).
type DefaultBinding = (Action, &'static [&'static str], Option<Vec<Screen>>);

fn default_table() -> Vec<DefaultBinding> {
    use Action::*;
    use Screen::*;
    let all = None;
    let only = |screens: &[Screen]| Some(screens.to_vec());
    vec![
        (Quit, &["q", "ctrl-c"], all.clone()),
        (Help, &["?"], all.clone()),
        (CommandMode, &[":"], all.clone()),
        (FilterMode, &["/"], all.clone()),
        (Up, &["k", "up"], all.clone()),
        (Down, &["j", "down"], all.clone()),
        (PageUp, &["ctrl-b", "pgup"], all.clone()),
        (PageDown, &["ctrl-f", "pgdn"], all.clone()),
        (Top, &["g", "home"], all.clone()),
        (Bottom, &["G", "end"], all.clone()),
        (Enter, &["enter"], all.clone()),
        (Back, &["esc"], all.clone()),
        (Scale, &["s"], only(&[Workloads])),
        (Cordon, &["c"], only(&[Nodes])),
        (Uncordon, &["u"], only(&[Nodes])),
        (Drain, &["d"], only(&[Nodes])),
        (Logs, &["l"], only(&[Workloads, Pods, PodDetail])),
        (PreviousLogs, &["p"], only(&[Pods, PodDetail])),
        (FollowToggle, &["f"], only(&[PodDetail])),
        (WrapToggle, &["w"], only(&[PodDetail])),
        (TimestampsToggle, &["t"], only(&[PodDetail])),
        (SaveLog, &["ctrl-s"], only(&[PodDetail])),
        (
            ObjectEvents,
            &["e"],
            only(&[Nodes, Workloads, Pods, PodDetail]),
        ),
        (Describe, &["d", "i"], all.clone()),
        (
            Yaml,
            &["y"],
            only(&[Nodes, Workloads, Pods, Events, Releases]),
        ),
        (Delete, &["ctrl-d"], only(&[Pods])),
        (Restart, &["r"], only(&[Workloads])),
        (Links, &["o"], only(&[Workloads, Pods, Releases])),
        (
            SortNext,
            &[">"],
            only(&[Nodes, Workloads, Pods, Events, Releases]),
        ),
        (
            SortReverse,
            &["<"],
            only(&[Nodes, Workloads, Pods, Events, Releases]),
        ),
        (Refresh, &["ctrl-r"], all.clone()),
        (
            ToggleAllNamespaces,
            &["0"],
            only(&[Workloads, Pods, Events, Releases]),
        ),
        (Rollback, &["r"], only(&[Releases])),
        (Upgrade, &["u"], only(&[Releases])),
        (History, &["h"], only(&[Releases])),
        (Diff, &["v"], only(&[Releases])),
        (Mark, &["space"], only(&[Releases])),
        (Backups, &["b"], only(&[Releases])),
        (SearchNext, &["n"], only(&[PodDetail])),
        (RecoverVerify, &["V"], only(&[Releases])),
        (RecoverRollback, &["R"], only(&[Releases])),
        (SearchPrev, &["N"], only(&[PodDetail])),
        (RevealSecrets, &["x"], only(&[Releases, PodDetail])),
        (CreateTopics, &["c"], only(&[Topics])),
        (NextView, &["tab"], all.clone()),
        (PrevView, &["shift-tab"], all.clone()),
        (ViewOverview, &["1"], all.clone()),
        (ViewNodes, &["2"], all.clone()),
        (ViewWorkloads, &["3"], all.clone()),
        (ViewPods, &["4"], all.clone()),
        (ViewEvents, &["5"], all.clone()),
        (ViewReleases, &["6"], all.clone()),
        (ViewTopics, &["7"], all.clone()),
        (ViewInventory, &["8"], all),
    ]
}

impl Default for KeyMap {
    /// k9s-like defaults; see the module documentation for the one key that changes meaning.
    fn default() -> Self {
        let bindings = default_table()
            .into_iter()
            .map(|(action, keys, screens)| Binding {
                action,
                // Every spec in the table parses (tested), so nothing is dropped here.
                keys: keys
                    .iter()
                    .filter_map(|key| KeySpec::parse(key).ok())
                    .collect(),
                screens,
                origin: Origin::Default,
            })
            .collect();
        KeyMap { bindings }
    }
}

impl KeyMap {
    /// The defaults with the user's `keys:` section applied.
    pub fn with_overrides(config: &KeyMapConfig) -> Result<KeyMap, KeyMapError> {
        KeyMap::default().overridden(config)
    }

    /// This map with the user's `keys:` section applied: each named action loses its keys and
    /// gets the configured ones, on the configured screens or else on its current screens.
    pub fn overridden(mut self, config: &KeyMapConfig) -> Result<KeyMap, KeyMapError> {
        for (&action, user) in &config.0 {
            let current: Vec<&Binding> = self
                .bindings
                .iter()
                .filter(|b| b.action == action)
                .collect();
            let current_screens =
                if current.is_empty() || current.iter().any(|b| b.screens.is_none()) {
                    None
                } else {
                    let mut screens: Vec<Screen> = current
                        .iter()
                        .flat_map(|b| b.screens.iter().flatten().copied())
                        .collect();
                    screens.sort();
                    screens.dedup();
                    Some(screens)
                };
            let binding = Binding {
                action,
                keys: user.keys.clone(),
                screens: user.screens.clone().or(current_screens),
                origin: Origin::User,
            };
            match self.bindings.iter().position(|b| b.action == action) {
                Some(at) => {
                    self.bindings.retain(|b| b.action != action);
                    self.bindings.insert(at, binding);
                }
                None => self.bindings.push(binding),
            }
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks that no key has two actions of the same precedence on any screen.
    pub fn validate(&self) -> Result<(), KeyMapError> {
        for screen in Screen::ALL {
            let applicable: Vec<&Binding> = self
                .bindings
                .iter()
                .filter(|b| b.applies_to(screen))
                .collect();
            for (i, first) in applicable.iter().enumerate() {
                for second in &applicable[i + 1..] {
                    if first.rank() != second.rank() || first.action == second.action {
                        continue;
                    }
                    if let Some(key) = first.keys.iter().find(|k| second.keys.contains(k)) {
                        return Err(KeyMapError::Conflict {
                            key: key.to_string(),
                            first: first.action,
                            second: second.action,
                            screen,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// All bindings, in display order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The action a key press triggers on `screen`, if any.
    pub fn action_for(&self, screen: Screen, event: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .filter(|b| b.applies_to(screen) && b.keys.iter().any(|k| k.matches(event)))
            .min_by_key(|b| b.rank())
            .map(|b| b.action)
    }

    /// The binding that decides `key` on `screen`.
    fn effective(&self, screen: Screen, key: &KeySpec) -> Option<&Binding> {
        self.bindings
            .iter()
            .filter(|b| b.applies_to(screen) && b.keys.contains(key))
            .min_by_key(|b| b.rank())
    }

    /// The keys that trigger `action` on `screen` (keys taken over by another binding there
    /// are left out).
    pub fn keys_for(&self, screen: Screen, action: Action) -> Vec<KeySpec> {
        self.bindings
            .iter()
            .filter(|b| b.action == action && b.applies_to(screen))
            .flat_map(|b| {
                b.keys.iter().filter(move |k| {
                    self.effective(screen, k)
                        .is_some_and(|e| std::ptr::eq(e, b))
                })
            })
            .copied()
            .collect()
    }

    /// Every key that does something on `screen`, for the help overlay: (key, action,
    /// description), in binding order. A key bound to an action that does not act there
    /// ([`Action::acts_on`]) is left out.
    pub fn bindings_for(&self, screen: Screen) -> Vec<(String, Action, &'static str)> {
        self.bindings
            .iter()
            .filter(|b| b.applies_to(screen) && b.action.acts_on(screen))
            .flat_map(|b| {
                b.keys
                    .iter()
                    .filter(move |k| {
                        self.effective(screen, k)
                            .is_some_and(|e| std::ptr::eq(e, b))
                    })
                    .map(move |k| (k.to_string(), b.action, b.action.description()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn press(c: char) -> KeyEvent {
        key(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn spec(s: &str) -> KeySpec {
        KeySpec::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn config(yaml: &str) -> Result<KeyMapConfig, serde_yaml::Error> {
        serde_yaml::from_str(yaml)
    }

    #[test]
    fn parses_key_specs() {
        let none = KeyModifiers::NONE;
        for (text, code, mods) in [
            ("q", KeyCode::Char('q'), none),
            ("G", KeyCode::Char('G'), none),
            ("shift-g", KeyCode::Char('G'), none),
            ("?", KeyCode::Char('?'), none),
            (":", KeyCode::Char(':'), none),
            ("/", KeyCode::Char('/'), none),
            ("-", KeyCode::Char('-'), none),
            ("0", KeyCode::Char('0'), none),
            ("9", KeyCode::Char('9'), none),
            ("ctrl-c", KeyCode::Char('c'), KeyModifiers::CONTROL),
            ("Ctrl-F", KeyCode::Char('F'), KeyModifiers::CONTROL),
            ("ctrl--", KeyCode::Char('-'), KeyModifiers::CONTROL),
            (
                "alt-ctrl-x",
                KeyCode::Char('x'),
                KeyModifiers::CONTROL | KeyModifiers::ALT,
            ),
            ("esc", KeyCode::Esc, none),
            ("Enter", KeyCode::Enter, none),
            ("up", KeyCode::Up, none),
            ("down", KeyCode::Down, none),
            ("pgup", KeyCode::PageUp, none),
            ("pgdn", KeyCode::PageDown, none),
            ("home", KeyCode::Home, none),
            ("end", KeyCode::End, none),
            ("tab", KeyCode::Tab, none),
            ("shift-tab", KeyCode::BackTab, none),
            ("shift-up", KeyCode::Up, KeyModifiers::SHIFT),
            ("space", KeyCode::Char(' '), none),
            ("f5", KeyCode::F(5), none),
        ] {
            assert_eq!(spec(text), KeySpec { code, mods }, "{text}");
        }
    }

    #[test]
    fn refuses_bad_key_specs_naming_them() {
        for bad in [
            "",
            "ctrl-",
            "ctrl-ctrl-c",
            "shift-/",
            "pgupp",
            "f25",
            "f0",
            "hyper-q",
        ] {
            let err = KeySpec::parse(bad).unwrap_err();
            assert_eq!(err.spec, bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for binding in KeyMap::default().bindings() {
            for k in &binding.keys {
                assert_eq!(spec(&k.to_string()), *k, "{k}");
            }
        }
        assert_eq!(spec("shift-tab").to_string(), "shift-tab");
        assert_eq!(spec("ctrl-c").to_string(), "ctrl-c");
        assert_eq!(spec("shift-g").to_string(), "G");
    }

    #[test]
    fn uppercase_letters_match_with_or_without_shift() {
        let big_g = spec("G");
        assert!(big_g.matches(&press('G')));
        assert!(big_g.matches(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)));
        assert!(big_g.matches(&key(KeyCode::Char('g'), KeyModifiers::SHIFT)));
        assert!(!big_g.matches(&press('g')));
        assert!(!spec("g").matches(&press('G')));
        assert!(!spec("g").matches(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)));
        // Shifted punctuation arrives with SHIFT on some terminals.
        assert!(spec("?").matches(&key(KeyCode::Char('?'), KeyModifiers::SHIFT)));
        assert!(spec(":").matches(&key(KeyCode::Char(':'), KeyModifiers::SHIFT)));
    }

    #[test]
    fn modifiers_must_match_exactly() {
        let ctrl_c = spec("ctrl-c");
        assert!(ctrl_c.matches(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!ctrl_c.matches(&press('c')));
        assert!(!spec("c").matches(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!ctrl_c.matches(&key(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL | KeyModifiers::ALT
        )));
        assert!(!spec("up").matches(&key(KeyCode::Up, KeyModifiers::SHIFT)));
        assert!(spec("shift-up").matches(&key(KeyCode::Up, KeyModifiers::SHIFT)));
    }

    #[test]
    fn shift_tab_matches_both_encodings_and_releases_never_match() {
        let back = spec("shift-tab");
        assert!(back.matches(&key(KeyCode::BackTab, KeyModifiers::SHIFT)));
        assert!(back.matches(&key(KeyCode::BackTab, KeyModifiers::NONE)));
        assert!(back.matches(&key(KeyCode::Tab, KeyModifiers::SHIFT)));
        assert!(!spec("tab").matches(&key(KeyCode::Tab, KeyModifiers::SHIFT)));

        let release = KeyEvent::new_with_kind(
            KeyCode::Char('q'),
            KeyModifiers::NONE,
            KeyEventKind::Release,
        );
        assert!(!spec("q").matches(&release));
        let repeat =
            KeyEvent::new_with_kind(KeyCode::Char('j'), KeyModifiers::NONE, KeyEventKind::Repeat);
        assert!(spec("j").matches(&repeat));
    }

    #[test]
    fn defaults_are_consistent_and_cover_every_action() {
        let map = KeyMap::default();
        map.validate().unwrap();
        for action in Action::ALL {
            let binding = map
                .bindings()
                .iter()
                .find(|b| b.action == action)
                .unwrap_or_else(|| panic!("no default binding for {action}"));
            assert!(!binding.keys.is_empty(), "{action} has no keys");
            let on_some_screen = Screen::ALL
                .iter()
                .any(|&screen| !map.keys_for(screen, action).is_empty());
            assert!(on_some_screen, "{action} is shadowed everywhere");
        }
        for (action, keys, _) in default_table() {
            for key in keys {
                KeySpec::parse(key).unwrap_or_else(|e| panic!("default key of {action}: {e}"));
            }
        }
    }

    #[test]
    fn default_keys() {
        let map = KeyMap::default();
        let on = |screen, event: KeyEvent| map.action_for(screen, &event);
        let ctrl = |c| key(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(on(Screen::Pods, press('q')), Some(Action::Quit));
        assert_eq!(on(Screen::Pods, ctrl('c')), Some(Action::Quit));
        assert_eq!(on(Screen::Pods, press('?')), Some(Action::Help));
        assert_eq!(on(Screen::Pods, press(':')), Some(Action::CommandMode));
        assert_eq!(on(Screen::Pods, press('/')), Some(Action::FilterMode));
        assert_eq!(on(Screen::Pods, press('j')), Some(Action::Down));
        assert_eq!(
            on(Screen::Pods, key(KeyCode::Up, KeyModifiers::NONE)),
            Some(Action::Up)
        );
        assert_eq!(on(Screen::Pods, ctrl('f')), Some(Action::PageDown));
        assert_eq!(on(Screen::Pods, ctrl('b')), Some(Action::PageUp));
        assert_eq!(on(Screen::Pods, press('g')), Some(Action::Top));
        assert_eq!(on(Screen::Pods, press('G')), Some(Action::Bottom));
        assert_eq!(
            on(Screen::Pods, key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            on(Screen::Pods, key(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Action::Enter)
        );
        assert_eq!(
            on(Screen::Pods, key(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Action::Back)
        );
        assert_eq!(on(Screen::Workloads, press('s')), Some(Action::Scale));
        assert_eq!(on(Screen::Nodes, press('c')), Some(Action::Cordon));
        assert_eq!(on(Screen::Nodes, press('u')), Some(Action::Uncordon));
        assert_eq!(on(Screen::Releases, press('6')), Some(Action::ViewReleases));
        assert_eq!(on(Screen::Topics, press('z')), None);
        assert_eq!(on(Screen::Topics, press('c')), Some(Action::CreateTopics));
        assert_eq!(on(Screen::Workloads, press('c')), None);
        assert_eq!(on(Screen::Pods, ctrl('d')), Some(Action::Delete));
        assert_eq!(on(Screen::Workloads, press('r')), Some(Action::Restart));
        assert_eq!(on(Screen::Releases, press('r')), Some(Action::Rollback));
        assert_eq!(on(Screen::Pods, press('>')), Some(Action::SortNext));
        assert_eq!(on(Screen::Pods, press('<')), Some(Action::SortReverse));
    }

    #[test]
    fn screen_scoping() {
        let map = KeyMap::default();
        // `d` drains on nodes and describes elsewhere; `i` describes everywhere.
        assert_eq!(
            map.action_for(Screen::Nodes, &press('d')),
            Some(Action::Drain)
        );
        assert_eq!(
            map.action_for(Screen::Pods, &press('d')),
            Some(Action::Describe)
        );
        assert_eq!(
            map.action_for(Screen::Nodes, &press('i')),
            Some(Action::Describe)
        );
        // `u` uncordons on nodes and upgrades on releases; nothing on pods.
        assert_eq!(
            map.action_for(Screen::Releases, &press('u')),
            Some(Action::Upgrade)
        );
        assert_eq!(map.action_for(Screen::Pods, &press('u')), None);
        assert_eq!(map.action_for(Screen::Pods, &press('s')), None);
        assert_eq!(
            map.action_for(Screen::Nodes, &press('c')),
            Some(Action::Cordon)
        );
        assert_eq!(map.action_for(Screen::Workloads, &press('c')), None);

        assert_eq!(
            map.keys_for(Screen::Nodes, Action::Describe),
            vec![spec("i")]
        );
        assert_eq!(
            map.keys_for(Screen::Pods, Action::Describe),
            vec![spec("d"), spec("i")]
        );
    }

    #[test]
    fn help_lists_every_effective_key_of_the_screen() {
        let map = KeyMap::default();
        let nodes = map.bindings_for(Screen::Nodes);
        assert!(nodes.contains(&("d".to_string(), Action::Drain, "Drain the node")));
        // On nodes `d` drains; `i` describes.
        assert!(nodes.contains(&("i".to_string(), Action::Describe, "Describe the selection")));
        assert!(
            !nodes
                .iter()
                .any(|(k, a, _)| k == "d" && *a == Action::Describe)
        );
        let pods = map.bindings_for(Screen::Pods);
        assert!(pods.contains(&("i".to_string(), Action::Describe, "Describe the selection")));
        assert!(!nodes.iter().any(|(_, a, _)| *a == Action::Rollback));
        assert!(
            nodes
                .iter()
                .any(|(k, a, _)| k == "shift-tab" && *a == Action::PrevView)
        );

        for screen in Screen::ALL {
            let listed = map.bindings_for(screen);
            // Every listed key triggers what the list says, and no key is listed twice.
            for (text, action, _) in &listed {
                assert!(action.acts_on(screen), "{action} listed on {screen}");
                assert!(
                    !matches!(action, Action::Refresh),
                    "{action} listed on {screen}, where it does nothing"
                );
                let k = spec(text);
                assert_eq!(map.action_for(screen, &key(k.code, k.mods)), Some(*action));
                assert_eq!(listed.iter().filter(|(t, _, _)| t == text).count(), 1);
            }
        }
    }

    #[test]
    fn overrides_replace_the_keys_of_named_actions() {
        let cfg = config(
            "scale: [\"s\", \"S\"]\n\
             refresh: ctrl-l\n\
             drain: { keys: [\"D\"], screens: [nodes] }\n\
             delete: []\n",
        )
        .unwrap();
        let map = KeyMap::with_overrides(&cfg).unwrap();
        assert_eq!(
            map.action_for(Screen::Workloads, &press('S')),
            Some(Action::Scale)
        );
        assert_eq!(
            map.action_for(Screen::Workloads, &press('s')),
            Some(Action::Scale)
        );
        // Screens left out keep the default scope.
        assert_eq!(map.action_for(Screen::Pods, &press('S')), None);
        let ctrl = |c| key(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(
            map.action_for(Screen::Pods, &ctrl('l')),
            Some(Action::Refresh)
        );
        assert_eq!(map.action_for(Screen::Pods, &ctrl('r')), None);
        // `d` on nodes falls back to describe once drain moved to `D`.
        assert_eq!(
            map.action_for(Screen::Nodes, &press('D')),
            Some(Action::Drain)
        );
        assert_eq!(
            map.action_for(Screen::Nodes, &press('d')),
            Some(Action::Describe)
        );
        assert_eq!(map.action_for(Screen::Pods, &ctrl('d')), None);
        // Untouched actions keep their defaults.
        assert_eq!(
            map.action_for(Screen::Pods, &press('q')),
            Some(Action::Quit)
        );
    }

    #[test]
    fn user_keys_win_over_default_keys() {
        let cfg = config("refresh: [s]\ncordon: { keys: [q], screens: [nodes] }\n").unwrap();
        let map = KeyMap::with_overrides(&cfg).unwrap();
        assert_eq!(
            map.action_for(Screen::Workloads, &press('s')),
            Some(Action::Refresh)
        );
        assert_eq!(
            map.action_for(Screen::Nodes, &press('q')),
            Some(Action::Cordon)
        );
        assert_eq!(
            map.action_for(Screen::Pods, &press('q')),
            Some(Action::Quit)
        );
        assert!(map.keys_for(Screen::Workloads, Action::Scale).is_empty());
    }

    #[test]
    fn digits_may_be_written_as_numbers() {
        let cfg = config("view-topics: 9\nview-pods: [8, 4]\n").unwrap();
        let map = KeyMap::with_overrides(&cfg).unwrap();
        assert_eq!(
            map.action_for(Screen::Pods, &press('9')),
            Some(Action::ViewTopics)
        );
        assert_eq!(
            map.action_for(Screen::Pods, &press('8')),
            Some(Action::ViewPods)
        );
        assert_eq!(map.action_for(Screen::Pods, &press('7')), None);
        assert!(config("view-pods: 42\n").is_err());
    }

    #[test]
    fn conflicting_user_keys_are_reported() {
        let cfg = config("refresh: [x]\nhelp: [x]\n").unwrap();
        let err = KeyMap::with_overrides(&cfg).unwrap_err().to_string();
        assert!(
            err.contains("`x`") && err.contains("help") && err.contains("refresh"),
            "{err}"
        );
    }

    #[test]
    fn unknown_actions_and_bad_keys_are_named_with_their_location() {
        let err = config("scale: [s]\nscael: [S]\n").unwrap_err().to_string();
        assert!(err.contains("scael") && err.contains("line 2"), "{err}");

        let err = config("scale: [s, ctrl-]\n").unwrap_err().to_string();
        assert!(err.contains("`ctrl-`") && err.contains("line 1"), "{err}");

        let err = config("drain: { keys: [D], screens: [nodez] }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nodez") && err.contains("line 1"), "{err}");

        let err = config("drain: { key: [D] }\n").unwrap_err().to_string();
        assert!(err.contains("key") && err.contains("line 1"), "{err}");

        let err = config("drain: { keys: [D], screens: [] }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("screens"), "{err}");
    }

    #[test]
    fn action_and_screen_names_match_serde() {
        for action in Action::ALL {
            let parsed: Action = serde_yaml::from_str(action.name()).unwrap();
            assert_eq!(parsed, action);
        }
        for screen in Screen::ALL {
            let parsed: Screen = serde_yaml::from_str(screen.name()).unwrap();
            assert_eq!(parsed, screen);
        }
    }
}
