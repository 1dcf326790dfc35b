//! Key bindings of the normal mode: one table maps keys to [`Action`]s, and the `?` overlay is drawn
//! from the same table, so the help can never disagree with what the keys do.

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
}

impl Action {
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
                (Action::Help, vec![k('?'), p(F(1))]),
                (Action::Quit, vec![k('q'), Key::ctrl('c')]),
            ],
        }
    }
}

impl KeyMap {
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
    fn no_key_is_bound_twice() {
        let km = KeyMap::default();
        let all: Vec<Key> = km.bindings.iter().flat_map(|(_, k)| k.clone()).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{} bound twice", a.label());
        }
    }
}
