//! Colours and text attributes of the console, by role.
//!
//! A [`Theme`] maps each [`Role`] (a table header, a selected row, a failing workload…) to a
//! ratatui [`Style`]. Views ask for a role, never for a colour, so a theme file can restyle
//! everything and `NO_COLOR` can turn every colour off.
//!
//! Theme files are YAML, one entry per role:
//!
//! ```yaml
//! row_selected: { fg: black, bg: light_blue, modifiers: [bold] }
//! failing: { fg: "#D55E00", modifiers: [bold, reversed] }
//! dim: { fg: 244 }
//! ```
//!
//! Colours are names (`red`, `light_blue`, `dark_gray`, `reset`…), `#rrggbb`, or a 0-255
//! palette index. Modifiers are `bold`, `dim`, `italic`, `underlined`, `reversed` and
//! `crossed_out`. A role a file leaves out keeps the terminal's own style. Three themes ship
//! with the binary (`dark`, `light`, `high-contrast`) and are available even when no theme file
//! exists on disk.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// What a piece of text is, as far as styling goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The whole screen, under everything else: a theme whose colours are chosen for one
    /// background (light text on white) sets that background and its text colour here, so
    /// it reads the same in any terminal. `bg: reset` keeps the terminal's own.
    Background,
    /// A pane's title.
    Title,
    /// The border of a pane without focus.
    Border,
    /// The border of the pane with focus.
    BorderFocused,
    /// A table's header row.
    Header,
    /// An ordinary table row.
    Row,
    /// The selected table row.
    RowSelected,
    /// Secondary text: ages, hints, placeholders.
    Dim,
    /// A key in the key-hint bar or the help overlay.
    KeyHint,
    /// The status bar at the bottom of the screen.
    StatusBar,
    /// An error message.
    Error,
    /// A warning message, or a warning event.
    Warning,
    /// A healthy resource.
    Ok,
    /// A resource on its way to health (rolling out, pending, starting).
    Progressing,
    /// A resource running below what was asked of it (fewer ready replicas, lag growing).
    Degraded,
    /// A resource that is broken (crash-looping, failed release, stalled consumer).
    Failing,
    /// A resource deliberately stopped (scaled to zero, suspended job, cordoned node).
    Suspended,
    /// A resource whose state is not known yet.
    Unknown,
    /// The filter input line.
    Filter,
    /// The `:` command input line.
    CommandLine,
    /// A dialog (confirmation, form) drawn over the screen.
    Dialog,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 21] = [
        Role::Background,
        Role::Title,
        Role::Border,
        Role::BorderFocused,
        Role::Header,
        Role::Row,
        Role::RowSelected,
        Role::Dim,
        Role::KeyHint,
        Role::StatusBar,
        Role::Error,
        Role::Warning,
        Role::Ok,
        Role::Progressing,
        Role::Degraded,
        Role::Failing,
        Role::Suspended,
        Role::Unknown,
        Role::Filter,
        Role::CommandLine,
        Role::Dialog,
    ];

    /// The role's name as written in theme files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Background => "background",
            Role::Title => "title",
            Role::Border => "border",
            Role::BorderFocused => "border_focused",
            Role::Header => "header",
            Role::Row => "row",
            Role::RowSelected => "row_selected",
            Role::Dim => "dim",
            Role::KeyHint => "key_hint",
            Role::StatusBar => "status_bar",
            Role::Error => "error",
            Role::Warning => "warning",
            Role::Ok => "ok",
            Role::Progressing => "progressing",
            Role::Degraded => "degraded",
            Role::Failing => "failing",
            Role::Suspended => "suspended",
            Role::Unknown => "unknown",
            Role::Filter => "filter",
            Role::CommandLine => "command_line",
            Role::Dialog => "dialog",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The themes compiled into the binary: name and YAML text.
const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.yaml"),
    ),
];

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No theme file by that name in the search directories, and no built-in theme either.
    #[error(
        "theme `{name}` not found: looked for {name}.yaml in {searched} and among the built-in themes ({builtin})"
    )]
    NotFound {
        name: String,
        searched: String,
        builtin: String,
    },
    /// The theme file exists but could not be read.
    #[error("cannot read theme file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The theme file is not a valid theme: the line and column, and what is wrong there in
    /// helmdeck's words ([`crate::config::yaml_problem`]) — never the file's content.
    #[error("invalid theme {origin}: {problem}")]
    Parse { origin: String, problem: String },
}

/// A style for every [`Role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    styles: [Style; Role::ALL.len()],
}

impl Default for Theme {
    /// The `dark` theme (the same as `themes/dark.yaml`).
    fn default() -> Self {
        let s = Style::new();
        let mut theme = Theme::plain();
        for (role, style) in [
            (Role::Background, s.bg(Color::Reset)),
            (
                Role::Title,
                s.fg(Color::LightCyan).add_modifier(Modifier::BOLD),
            ),
            (Role::Border, s.fg(Color::DarkGray)),
            (Role::BorderFocused, s.fg(Color::LightBlue)),
            (
                Role::Header,
                s.fg(Color::White).add_modifier(Modifier::BOLD),
            ),
            (Role::Row, s.fg(Color::Gray)),
            (
                Role::RowSelected,
                s.fg(Color::Black)
                    .bg(Color::LightBlue)
                    .add_modifier(Modifier::BOLD),
            ),
            (Role::Dim, s.fg(Color::DarkGray)),
            (
                Role::KeyHint,
                s.fg(Color::LightBlue).add_modifier(Modifier::BOLD),
            ),
            (Role::StatusBar, s.fg(Color::Black).bg(Color::Gray)),
            (
                Role::Error,
                s.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            ),
            (Role::Warning, s.fg(Color::Yellow)),
            (Role::Ok, s.fg(Color::Green)),
            (Role::Progressing, s.fg(Color::Cyan)),
            (
                Role::Degraded,
                s.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            (
                Role::Failing,
                s.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            ),
            (Role::Suspended, s.fg(Color::Magenta)),
            (
                Role::Unknown,
                s.fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
            ),
            (
                Role::Filter,
                s.fg(Color::LightYellow).add_modifier(Modifier::BOLD),
            ),
            (
                Role::CommandLine,
                s.fg(Color::LightCyan).add_modifier(Modifier::BOLD),
            ),
            (Role::Dialog, s.fg(Color::White).bg(Color::Indexed(236))),
        ] {
            theme.set(role, style);
        }
        theme
    }
}

impl Theme {
    /// Every role with the terminal's own style.
    pub fn plain() -> Self {
        Theme {
            styles: [Style::new(); Role::ALL.len()],
        }
    }

    /// The style for `role`.
    pub fn style(&self, role: Role) -> Style {
        self.styles[role.index()]
    }

    /// Replaces the style for `role`.
    pub fn set(&mut self, role: Role, style: Style) {
        self.styles[role.index()] = style;
    }

    /// A theme without any colour, for `NO_COLOR` (<https://no-color.org>): roles are told apart
    /// by bold, reversed, underlined, dim and italic text only.
    pub fn no_color() -> Self {
        let s = Style::new();
        let mut theme = Theme::plain();
        for (role, modifiers) in [
            (Role::Background, Modifier::empty()),
            (Role::Title, Modifier::BOLD),
            (Role::Border, Modifier::empty()),
            (Role::BorderFocused, Modifier::BOLD),
            (Role::Header, Modifier::BOLD | Modifier::UNDERLINED),
            (Role::Row, Modifier::empty()),
            (Role::RowSelected, Modifier::REVERSED),
            (Role::Dim, Modifier::DIM),
            (Role::KeyHint, Modifier::BOLD),
            (Role::StatusBar, Modifier::REVERSED),
            (Role::Error, Modifier::BOLD | Modifier::REVERSED),
            (Role::Warning, Modifier::BOLD),
            (Role::Ok, Modifier::empty()),
            (Role::Progressing, Modifier::ITALIC),
            (Role::Degraded, Modifier::BOLD),
            (Role::Failing, Modifier::BOLD | Modifier::REVERSED),
            (Role::Suspended, Modifier::DIM),
            (Role::Unknown, Modifier::DIM | Modifier::ITALIC),
            (Role::Filter, Modifier::UNDERLINED),
            (Role::CommandLine, Modifier::BOLD),
            (Role::Dialog, Modifier::empty()),
        ] {
            theme.set(role, s.add_modifier(modifiers));
        }
        theme
    }

    /// Whether the user asked for no colour: `NO_COLOR` is set and not empty.
    pub fn no_color_requested() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
    }

    /// Names of the themes compiled into the binary.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(name, _)| *name)
    }

    /// A theme compiled into the binary, by name.
    pub fn builtin(name: &str) -> Option<Result<Theme, ThemeError>> {
        BUILTIN
            .iter()
            .find(|(builtin, _)| *builtin == name)
            .map(|(name, text)| Theme::from_yaml(text, &format!("(built-in) themes/{name}.yaml")))
    }

    /// Loads a theme by name or by path.
    ///
    /// A value containing a path separator or ending in `.yaml`/`.yml` is a path and is read as
    /// is. Otherwise it is a name: the first `<dir>/<name>.yaml` (or `.yml`) found in
    /// `search_dirs`, in order, wins; failing that, the built-in theme of that name.
    pub fn load<P: AsRef<Path>>(
        name_or_path: &str,
        search_dirs: &[P],
    ) -> Result<Theme, ThemeError> {
        if is_path(name_or_path) {
            return Theme::from_file(Path::new(name_or_path));
        }
        for dir in search_dirs {
            for ext in ["yaml", "yml"] {
                let path = dir.as_ref().join(format!("{name_or_path}.{ext}"));
                if path.is_file() {
                    return Theme::from_file(&path);
                }
            }
        }
        if let Some(theme) = Theme::builtin(name_or_path) {
            return theme;
        }
        let searched = if search_dirs.is_empty() {
            "no directory".to_string()
        } else {
            search_dirs
                .iter()
                .map(|dir| dir.as_ref().display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(ThemeError::NotFound {
            name: name_or_path.to_string(),
            searched,
            builtin: Theme::builtin_names().collect::<Vec<_>>().join(", "),
        })
    }

    /// Reads a theme file.
    pub fn from_file(path: &Path) -> Result<Theme, ThemeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ThemeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Theme::from_yaml(&text, &path.display().to_string())
    }

    /// Parses theme YAML; `origin` (usually the file name) prefixes error messages.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let file = parse_file(text).map_err(|e| ThemeError::Parse {
            origin: origin.to_string(),
            problem: crate::config::yaml_problem(text, &e),
        })?;
        let mut theme = Theme::plain();
        for (role, spec) in file {
            theme.set(role, spec.to_style());
        }
        Ok(theme)
    }
}

fn is_path(name_or_path: &str) -> bool {
    name_or_path.contains('/')
        || name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml")
}

fn parse_file(text: &str) -> Result<BTreeMap<Role, StyleSpec>, serde_yaml::Error> {
    // An empty file (or one holding only comments) is an empty theme, not an error.
    if text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    }) {
        return Ok(BTreeMap::new());
    }
    crate::core::yaml::from_str(text)
}

/// One role's entry in a theme file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    #[serde(default)]
    fg: Option<ColorSpec>,
    #[serde(default)]
    bg: Option<ColorSpec>,
    #[serde(default)]
    modifiers: Vec<ModifierSpec>,
}

impl StyleSpec {
    fn to_style(&self) -> Style {
        let mut style = Style::new();
        if let Some(ColorSpec(color)) = self.fg {
            style = style.fg(color);
        }
        if let Some(ColorSpec(color)) = self.bg {
            style = style.bg(color);
        }
        for modifier in &self.modifiers {
            style = style.add_modifier(modifier.modifier());
        }
        style
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ModifierSpec {
    Bold,
    Dim,
    Italic,
    Underlined,
    Reversed,
    CrossedOut,
}

impl ModifierSpec {
    fn modifier(self) -> Modifier {
        match self {
            ModifierSpec::Bold => Modifier::BOLD,
            ModifierSpec::Dim => Modifier::DIM,
            ModifierSpec::Italic => Modifier::ITALIC,
            ModifierSpec::Underlined => Modifier::UNDERLINED,
            ModifierSpec::Reversed => Modifier::REVERSED,
            ModifierSpec::CrossedOut => Modifier::CROSSED_OUT,
        }
    }
}

/// A colour as written in a theme file: a name, `#rrggbb`, or a palette index.
#[derive(Debug, Clone, Copy)]
struct ColorSpec(Color);

const COLOR_EXPECTED: &str =
    "a colour name (red, light_blue, dark_gray…), #rrggbb, or a palette index 0-255";
const PALETTE_EXPECTED: &str = "a palette index 0-255";

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ColorVisitor;

        impl Visitor<'_> for ColorVisitor {
            type Value = ColorSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(COLOR_EXPECTED)
            }

            // Refusals go through `invalid_value`, whose message puts what was expected
            // last: the error shown names that, not the file's text.
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<ColorSpec, E> {
                u8::try_from(value)
                    .map(|index| ColorSpec(Color::Indexed(index)))
                    .map_err(|_| {
                        E::invalid_value(de::Unexpected::Unsigned(value), &PALETTE_EXPECTED)
                    })
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<ColorSpec, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::invalid_value(
                        de::Unexpected::Signed(value),
                        &PALETTE_EXPECTED,
                    )),
                }
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<ColorSpec, E> {
                Color::from_str(value.trim())
                    .map(ColorSpec)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(value), &self))
            }
        }

        deserializer.deserialize_any(ColorVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin_text(name: &str) -> &'static str {
        BUILTIN
            .iter()
            .find(|(builtin, _)| *builtin == name)
            .map(|(_, text)| *text)
            .unwrap_or_else(|| panic!("no built-in theme {name}"))
    }

    #[test]
    fn role_names_match_the_file_keys() {
        for role in Role::ALL {
            let parsed: Role = serde_yaml::from_str(role.name()).unwrap();
            assert_eq!(parsed, role);
            assert_eq!(
                role.index(),
                Role::ALL.iter().position(|r| *r == role).unwrap()
            );
        }
    }

    #[test]
    fn every_shipped_theme_parses_and_defines_every_role() {
        for name in Theme::builtin_names() {
            let text = builtin_text(name);
            let roles = parse_file(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            for role in Role::ALL {
                let spec = roles
                    .get(&role)
                    .unwrap_or_else(|| panic!("theme {name} does not define `{role}`"));
                assert!(
                    spec.fg.is_some() || spec.bg.is_some() || !spec.modifiers.is_empty(),
                    "theme {name} gives `{role}` no style at all"
                );
            }
            Theme::builtin(name).unwrap().unwrap();
        }
    }

    /// The light theme's dark text is unreadable on a dark terminal unless it brings its
    /// own background; the dark theme keeps the terminal's.
    #[test]
    fn the_light_theme_sets_its_background_and_text_colour() {
        let light = Theme::builtin("light").unwrap().unwrap();
        let bg = light.style(Role::Background);
        assert_eq!(bg.bg, Some(Color::Rgb(0xFF, 0xFF, 0xFF)));
        assert_eq!(bg.fg, Some(Color::Rgb(0x24, 0x29, 0x2F)));
        let hc = Theme::builtin("high-contrast").unwrap().unwrap();
        assert_eq!(hc.style(Role::Background).bg, Some(Color::Rgb(0, 0, 0)));
        assert_eq!(
            Theme::default().style(Role::Background).bg,
            Some(Color::Reset)
        );
        assert_eq!(Theme::no_color().style(Role::Background), Style::new());
    }

    #[test]
    fn the_code_default_is_the_shipped_dark_theme() {
        let dark = Theme::from_yaml(builtin_text("dark"), "dark.yaml").unwrap();
        assert_eq!(dark, Theme::default());
    }

    #[test]
    fn high_contrast_uses_only_the_okabe_ito_palette_and_neutrals() {
        let okabe_ito = [
            Color::Rgb(0xE6, 0x9F, 0x00),
            Color::Rgb(0x56, 0xB4, 0xE9),
            Color::Rgb(0x00, 0x9E, 0x73),
            Color::Rgb(0xF0, 0xE4, 0x42),
            Color::Rgb(0x00, 0x72, 0xB2),
            Color::Rgb(0xD5, 0x5E, 0x00),
            Color::Rgb(0xCC, 0x79, 0xA7),
        ];
        let neutral = |c: Color| {
            matches!(
                c,
                Color::Black | Color::White | Color::Gray | Color::DarkGray | Color::Reset
            ) || matches!(c, Color::Rgb(r, g, b) if r == g && g == b)
                || matches!(c, Color::Indexed(i) if i >= 232)
        };
        let theme = Theme::builtin("high-contrast").unwrap().unwrap();
        for role in Role::ALL {
            let style = theme.style(role);
            for color in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    okabe_ito.contains(&color) || neutral(color),
                    "high-contrast `{role}` uses {color:?}, outside the Okabe-Ito palette"
                );
            }
        }
        // Healthy and failing must differ by more than hue.
        assert_ne!(
            theme.style(Role::Ok).add_modifier,
            theme.style(Role::Failing).add_modifier
        );
    }

    #[test]
    fn colours_parse_as_names_hex_and_indexes() {
        let theme = Theme::from_yaml(
            "title: { fg: light_blue, bg: \"#E69F00\", modifiers: [bold, underlined] }\n\
             row: { fg: 208 }\n\
             dim: { fg: \"244\" }\n",
            "test.yaml",
        )
        .unwrap();
        assert_eq!(
            theme.style(Role::Title),
            Style::new()
                .fg(Color::LightBlue)
                .bg(Color::Rgb(0xE6, 0x9F, 0x00))
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        );
        assert_eq!(theme.style(Role::Row), Style::new().fg(Color::Indexed(208)));
        assert_eq!(theme.style(Role::Dim), Style::new().fg(Color::Indexed(244)));
        assert_eq!(theme.style(Role::Header), Style::new());
    }

    #[test]
    fn a_bad_colour_reports_file_line_and_what_a_colour_is() {
        let err = Theme::from_yaml(
            "title: { fg: white }\nrow:\n  fg: light_bleu\n",
            "themes/mine.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("themes/mine.yaml"), "{err}");
        assert!(
            err.contains("line 3 column 7: invalid value (expected a colour name"),
            "{err}"
        );
        assert!(!err.contains("light_bleu"), "{err}");
    }

    #[test]
    fn an_out_of_range_index_is_refused() {
        let err = Theme::from_yaml("row: { fg: 300 }\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 1") && err.contains("expected a palette index 0-255"),
            "{err}"
        );
        assert!(!err.contains("300"), "{err}");
    }

    #[test]
    fn an_unknown_role_or_modifier_is_refused_with_its_location() {
        let err = Theme::from_yaml("title: { fg: red }\nrow_slected: { fg: red }\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2 column 1: unknown name") && err.contains("`row_selected`"),
            "{err}"
        );
        assert!(!err.contains("row_slected"), "{err}");

        let err = Theme::from_yaml("title:\n  modifiers: [bold, blink]\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("unknown name") && err.contains("`bold`"),
            "{err}"
        );
        assert!(!err.contains("blink"), "{err}");
    }

    /// A file that is not a theme (`--theme /etc/passwd`) is reported by line and column,
    /// without a word of what it holds.
    #[test]
    fn a_file_that_is_not_a_theme_is_not_echoed() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nsvc:x:999:999:hunter2:/srv:/bin/sh\n";
        let err = Theme::from_yaml(passwd, "/etc/passwd")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid theme /etc/passwd: line 1 column 1: wrong type (expected a map)"
        );
        let err = Theme::from_yaml("title: { fg: \"hunter2 }\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid YAML"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn no_color_styles_carry_no_colour() {
        let theme = Theme::no_color();
        for role in Role::ALL {
            let style = theme.style(role);
            assert_eq!(style.fg, None, "{role}");
            assert_eq!(style.bg, None, "{role}");
            assert_eq!(style.underline_color, None, "{role}");
        }
        // Still tells the selection apart from an ordinary row.
        assert_ne!(theme.style(Role::RowSelected), theme.style(Role::Row));
    }

    #[test]
    fn load_prefers_a_file_in_the_search_dirs_then_falls_back_to_builtin() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(second.path().join("dark.yaml"), "title: { fg: red }\n").unwrap();
        std::fs::write(first.path().join("mine.yml"), "row: { fg: blue }\n").unwrap();
        let dirs = [first.path().to_path_buf(), second.path().to_path_buf()];

        let dark = Theme::load("dark", &dirs).unwrap();
        assert_eq!(dark.style(Role::Title), Style::new().fg(Color::Red));

        let mine = Theme::load("mine", &dirs).unwrap();
        assert_eq!(mine.style(Role::Row), Style::new().fg(Color::Blue));

        let light = Theme::load("light", &dirs).unwrap();
        assert_eq!(light, Theme::builtin("light").unwrap().unwrap());

        let no_dirs: [PathBuf; 0] = [];
        assert_eq!(Theme::load("dark", &no_dirs).unwrap(), Theme::default());
    }

    #[test]
    fn load_accepts_a_path_and_reports_missing_themes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custom.yaml");
        std::fs::write(&path, "error: { fg: \"#D55E00\" }\n").unwrap();
        let theme = Theme::load(path.to_str().unwrap(), &[dir.path()]).unwrap();
        assert_eq!(
            theme.style(Role::Error),
            Style::new().fg(Color::Rgb(0xD5, 0x5E, 0x00))
        );

        let err = Theme::load("solarized", &[dir.path()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("solarized") && err.contains("high-contrast"),
            "{err}"
        );

        let missing = dir.path().join("nope.yaml");
        let err = Theme::load(missing.to_str().unwrap(), &[dir.path()]).unwrap_err();
        assert!(matches!(err, ThemeError::Io { .. }), "{err}");
    }

    #[test]
    fn an_empty_file_is_a_plain_theme() {
        assert_eq!(
            Theme::from_yaml("# nothing yet\n", "t.yaml").unwrap(),
            Theme::plain()
        );
    }
}
