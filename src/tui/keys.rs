//! Key bindings of the normal mode: one table maps keys to [`Action`]s, and the `?` overlay is drawn
//! from the same table, so the help can never disagree with what the keys do.
//!
//! A user file (TOML, `--keys FILE`) patches the defaults action by action:
//! `rename = ["r", "F2"]`, `quit = ["q", "C-c"]`. A file that does not parse, names an unknown
//! action or key, or binds one key twice is reported and the defaults stay.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can ask for in normal mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    Up,
    Down,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Rename,
    Move,
    ToNoise,
    Merge,
    Split,
    Recluster,
    NameLabel,
    NameAll,
    AcceptSuggestion,
    Undo,
    Redo,
    Save,
    Export,
    Train,
}

impl Action {
    pub const ALL: [Action; 22] = [
        Action::Quit,
        Action::Help,
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::NextPane,
        Action::PrevPane,
        Action::Rename,
        Action::Move,
        Action::ToNoise,
        Action::Merge,
        Action::Split,
        Action::Recluster,
        Action::NameLabel,
        Action::NameAll,
        Action::AcceptSuggestion,
        Action::Undo,
        Action::Redo,
        Action::Save,
        Action::Export,
        Action::Train,
    ];

    /// The action's name in a key file.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Up => "up",
            Action::Down => "down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::Rename => "rename",
            Action::Move => "move",
            Action::ToNoise => "to_noise",
            Action::Merge => "merge",
            Action::Split => "split",
            Action::Recluster => "recluster",
            Action::NameLabel => "name_label",
            Action::NameAll => "name_all",
            Action::AcceptSuggestion => "accept_suggestion",
            Action::Undo => "undo",
            Action::Redo => "redo",
            Action::Save => "save",
            Action::Export => "export",
            Action::Train => "train",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit (asks first when there are unsaved edits)",
            Action::Help => "show / hide this help",
            Action::Up => "select previous row",
            Action::Down => "select next row",
            Action::Top => "first row",
            Action::Bottom => "last row",
            Action::NextPane => "next pane (labels → tags → noise)",
            Action::PrevPane => "previous pane",
            Action::Rename => "rename the selected label",
            Action::Move => "move the selected tag to a label or to noise",
            Action::ToNoise => "send the selected tag to noise",
            Action::Merge => "merge the selected label into another",
            Action::Split => "split the selected label in two (re-cluster its tags)",
            Action::Recluster => "re-run clustering with other settings",
            Action::NameLabel => "ask the LLM to name the selected label",
            Action::NameAll => "ask the LLM to name all labels and place noise tags",
            Action::AcceptSuggestion => "move a noise tag where the LLM suggested",
            Action::Undo => "undo the last edit",
            Action::Redo => "redo",
            Action::Save => "save the label map",
            Action::Export => "export the single-label set",
            Action::Train => "training screen: export, retrain, validate, compare",
        }
    }
}

/// A key with its modifiers, written the way the help shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }
    const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }
    const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        // Terminals differ in whether Shift+letter also reports SHIFT; the character decides.
        ctrl == self.ctrl && ev.code == self.code
    }

    /// Reads a key as the help writes it: `x`, `C-x`, `Up`, `S-Tab`, `F2`, `Space`, …
    pub fn parse(s: &str) -> Result<Key, String> {
        let (ctrl, rest) = match s.strip_prefix("C-") {
            Some(r) if !r.is_empty() => (true, r),
            _ => (false, s),
        };
        let named = match rest {
            "Space" => Some(KeyCode::Char(' ')),
            "Up" | "↑" => Some(KeyCode::Up),
            "Down" | "↓" => Some(KeyCode::Down),
            "Left" | "←" => Some(KeyCode::Left),
            "Right" | "→" => Some(KeyCode::Right),
            "Tab" => Some(KeyCode::Tab),
            "S-Tab" | "BackTab" => Some(KeyCode::BackTab),
            "Home" => Some(KeyCode::Home),
            "End" => Some(KeyCode::End),
            "Del" | "Delete" => Some(KeyCode::Delete),
            "PageUp" => Some(KeyCode::PageUp),
            "PageDown" => Some(KeyCode::PageDown),
            f => f
                .strip_prefix('F')
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| (1..=12).contains(n))
                .map(KeyCode::F),
        };
        let mut chars = rest.chars();
        let code = match (named, chars.next(), chars.next()) {
            (Some(code), _, _) => code,
            (None, Some(c), None) => KeyCode::Char(c),
            _ => {
                return Err(format!(
                    "unknown key {s:?} (write a character, C-x, Up, Down, Left, Right, Tab, S-Tab, Home, End, Del, PageUp, PageDown, Space or F1–F12)"
                ));
            }
        };
        Ok(Key { code, ctrl })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("C-{base}") } else { base }
    }
}

/// The key table; `Default` is the shipped layout (arrows and vim keys).
#[derive(Debug, Clone)]
pub struct KeyMap {
    pub bindings: Vec<(Action, Vec<Key>)>,
}

impl Default for KeyMap {
    fn default() -> Self {
        use KeyCode::*;
        let k = Key::ch;
        let p = Key::plain;
        KeyMap {
            bindings: vec![
                (Action::Up, vec![k('k'), p(Up)]),
                (Action::Down, vec![k('j'), p(Down)]),
                (Action::Top, vec![k('g'), p(Home)]),
                (Action::Bottom, vec![k('G'), p(End)]),
                (Action::NextPane, vec![p(Tab), k('l'), p(Right)]),
                (Action::PrevPane, vec![p(BackTab), k('h'), p(Left)]),
                (Action::Rename, vec![k('r'), p(F(2))]),
                (Action::Move, vec![k('m')]),
                (Action::ToNoise, vec![k('x'), p(Delete)]),
                (Action::Merge, vec![k('M')]),
                (Action::Split, vec![k('S')]),
                (Action::Recluster, vec![k('c')]),
                (Action::NameLabel, vec![k('n')]),
                (Action::NameAll, vec![k('N')]),
                (Action::AcceptSuggestion, vec![k('a')]),
                (Action::Undo, vec![k('u'), Key::ctrl('z')]),
                (Action::Redo, vec![Key::ctrl('r'), k('U')]),
                (Action::Save, vec![k('s'), Key::ctrl('s')]),
                (Action::Export, vec![k('e')]),
                (Action::Train, vec![k('t'), p(F(5))]),
                (Action::Help, vec![k('?'), p(F(1))]),
                (Action::Quit, vec![k('q'), Key::ctrl('c')]),
            ],
        }
    }
}

/// `$XDG_CONFIG_HOME/musav/keys.toml` (or `~/.config/musav/keys.toml`) when that file exists.
pub fn default_path() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config"))
        })?;
    let p = base.join("musav").join("keys.toml");
    p.exists().then_some(p)
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}; the default keys stay (see ? for them)")]
pub struct KeysError {
    pub path: std::path::PathBuf,
    pub problem: String,
}

impl KeyMap {
    /// The defaults patched by the key file at `path`.
    pub fn load(path: &std::path::Path) -> Result<KeyMap, KeysError> {
        let err = |problem: String| KeysError {
            path: path.to_path_buf(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        KeyMap::default().patched(&text).map_err(err)
    }

    /// Applies a TOML table `action = ["key", …]` to a copy of this map.
    pub fn patched(&self, text: &str) -> Result<KeyMap, String> {
        let table: std::collections::BTreeMap<String, Vec<String>> =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let mut out = self.clone();
        for (name, keys) in table {
            let action = Action::ALL
                .into_iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
                    format!("unknown action {name:?} (one of {})", names.join(", "))
                })?;
            if keys.is_empty() {
                return Err(format!("{name} needs at least one key"));
            }
            let keys = keys
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(slot) = out.bindings.iter_mut().find(|(a, _)| *a == action) {
                slot.1 = keys;
            }
        }
        let all: Vec<(Action, Key)> = out
            .bindings
            .iter()
            .flat_map(|(a, ks)| ks.iter().map(move |k| (*a, *k)))
            .collect();
        for (i, (a, k)) in all.iter().enumerate() {
            if let Some((b, _)) = all[i + 1..].iter().find(|(_, k2)| k2 == k) {
                return Err(format!(
                    "key {} is bound to both {} and {}",
                    k.label(),
                    a.name(),
                    b.name()
                ));
            }
        }
        Ok(out)
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(_, keys)| keys.iter().any(|k| k.matches(ev)))
            .map(|(a, _)| *a)
    }

    /// The first key of an action, for hints in the status bar.
    pub fn hint(&self, action: Action) -> String {
        self.bindings
            .iter()
            .find(|(a, _)| *a == action)
            .and_then(|(_, keys)| keys.first())
            .map_or_else(String::new, Key::label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn arrows_and_vim_keys_map_to_the_same_action() {
        let km = KeyMap::default();
        let none = KeyModifiers::NONE;
        assert_eq!(
            km.action(&key(KeyCode::Char('j'), none)),
            Some(Action::Down)
        );
        assert_eq!(km.action(&key(KeyCode::Down, none)), Some(Action::Down));
        assert_eq!(km.action(&key(KeyCode::Char('k'), none)), Some(Action::Up));
        assert_eq!(
            km.action(&key(KeyCode::Char('M'), KeyModifiers::SHIFT)),
            Some(Action::Merge)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Action::Redo)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('r'), none)),
            Some(Action::Rename)
        );
        assert_eq!(km.action(&key(KeyCode::Char('Z'), none)), None);
    }

    #[test]
    fn a_key_file_patches_one_action_and_keeps_the_rest() {
        let km = KeyMap::default()
            .patched("rename = [\"R\", \"F2\"]\nquit = [\"C-q\"]")
            .unwrap();
        let none = KeyModifiers::NONE;
        assert_eq!(
            km.action(&key(KeyCode::Char('R'), none)),
            Some(Action::Rename)
        );
        assert_eq!(km.action(&key(KeyCode::Char('r'), none)), None);
        assert_eq!(
            km.action(&key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('j'), none)),
            Some(Action::Down)
        );
    }

    #[test]
    fn bad_key_files_name_the_problem() {
        let d = KeyMap::default();
        let e = d.patched("renam = [\"r\"]").unwrap_err();
        assert!(
            e.contains("unknown action \"renam\"") && e.contains("rename"),
            "{e}"
        );
        let e = d.patched("rename = [\"Hyper-r\"]").unwrap_err();
        assert!(e.contains("unknown key \"Hyper-r\""), "{e}");
        let e = d.patched("rename = [\"j\"]").unwrap_err();
        assert!(e.contains("bound to both"), "{e}");
        let e = d.patched("rename = []").unwrap_err();
        assert!(e.contains("at least one key"), "{e}");
        assert!(d.patched("rename = \"r\"").is_err());
    }

    #[test]
    fn every_key_label_parses_back() {
        for (_, keys) in &KeyMap::default().bindings {
            for k in keys {
                assert_eq!(Key::parse(&k.label()).unwrap(), *k, "{}", k.label());
            }
        }
    }

    #[test]
    fn load_falls_back_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys.toml");
        std::fs::write(&p, "save = [\"??\"]").unwrap();
        let e = KeyMap::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("keys.toml") && e.contains("default keys stay"),
            "{e}"
        );
    }

    #[test]
    fn every_action_has_a_key() {
        let km = KeyMap::default();
        for a in Action::ALL {
            assert!(!km.hint(a).is_empty(), "{} has no key", a.name());
        }
        assert_eq!(km.bindings.len(), Action::ALL.len());
    }

    #[test]
    fn no_key_is_bound_twice() {
        let km = KeyMap::default();
        let all: Vec<Key> = km.bindings.iter().flat_map(|(_, k)| k.clone()).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{} bound twice", a.label());
        }
    }
}
