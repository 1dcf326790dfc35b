//! Words of names and tags, and when two words count as the same one. Free-mode names are checked
//! with it ("does this name say anything about these songs?"), and the name-quality figures use it.
//!
//! The stem is deliberately crude (a list of English endings) plus a shared-prefix rule: enough to
//! see that "Melancholy" is about `melancholic` and "Dreamy" about `dream`, without a dictionary.

use std::collections::BTreeSet;
use std::path::Path;

/// Words that join others ("Rock & Roll", "Song of the Day") and say nothing on their own.
const JOINERS: &[&str] = &[
    "&", "and", "of", "the", "a", "an", "for", "in", "with", "to", "or", "n", "at", "on",
];

/// Words a model falls back on when it has nothing to say about the songs: the prompt's own words
/// and fillers that fit every label ("Moods and Themes", "Song of the Day").
pub const GENERIC: &[&str] = &[
    "music",
    "musical",
    "song",
    "songs",
    "track",
    "tracks",
    "tune",
    "tunes",
    "mood",
    "moods",
    "theme",
    "themes",
    "tag",
    "tags",
    "group",
    "groups",
    "name",
    "names",
    "label",
    "labels",
    "json",
    "day",
    "vibe",
    "vibes",
    "sound",
    "sounds",
    "style",
    "styles",
    "genre",
    "genres",
    "playlist",
    "collection",
    "mix",
    "various",
    "other",
    "misc",
];

/// Endings removed by [`stem`], longest first where one ends another.
const ENDINGS: &[&str] = &[
    "ational", "ation", "iness", "ously", "ness", "ment", "ical", "ally", "ing", "ous", "ive",
    "ful", "ity", "ies", "ism", "ist", "ic", "al", "ly", "ed", "er", "es", "s", "y", "e",
];
/// A stem shorter than this is kept whole ("epic" stays "epic", not "ep").
const MIN_STEM: usize = 3;
/// Two stems match when the shorter, at least this long, starts the longer ("medit"/"meditat").
const MIN_SHARED_PREFIX: usize = 4;

/// Lower-case words of a name or tag without joiners: "Movie & Adventure" → `movie`, `adventure`.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty() && !JOINERS.contains(&w.as_str()))
        .collect()
}

pub fn is_generic(word: &str) -> bool {
    GENERIC.contains(&word)
}

/// The word without its longest listed ending (if at least [`MIN_STEM`] letters remain) and
/// without a doubled last consonant: `melancholic`, `melancholy` → `melanchol`; `funny` → `fun`.
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    let mut s = ENDINGS
        .iter()
        .find_map(|e| {
            w.strip_suffix(*e)
                .filter(|base| base.chars().count() >= MIN_STEM)
        })
        .unwrap_or(w.as_str())
        .to_string();
    // "lovely" → "love" → "lov", like "love" itself.
    if s.ends_with('e') && s.chars().count() > MIN_STEM {
        s.pop();
    }
    let mut rev = s.chars().rev();
    if let (Some(a), Some(b)) = (rev.next(), rev.next())
        && a == b
        && a.is_alphabetic()
        && !"aeiou".contains(a)
        && s.chars().count() > MIN_STEM
    {
        s.pop();
    }
    s
}

/// Whether two words are the same word for naming purposes (case, endings and stems aside).
pub fn same_word(a: &str, b: &str) -> bool {
    let (a, b) = (stem(a), stem(b));
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    short.chars().count() >= MIN_SHARED_PREFIX && long.starts_with(short.as_str())
}

/// Words a free-mode name may share to count as grounded: the label's members, the tags they
/// co-occur with, and every tag (and lemma) of the shipped valence/arousal table.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    words: BTreeSet<String>,
}

impl Vocabulary {
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vocabulary {
        let mut v = Vocabulary::default();
        v.extend(texts);
        v
    }

    pub fn extend<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        for t in texts {
            self.words
                .extend(words(t).into_iter().filter(|w| !is_generic(w)));
        }
    }

    /// The first vocabulary word `word` matches.
    pub fn find(&self, word: &str) -> Option<&str> {
        self.words
            .iter()
            .find(|v| same_word(word, v))
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The `tag` and `lemma` columns of a tab-separated tag table such as `data/tag_va.tsv`.
    pub fn from_tag_table(path: &Path) -> Result<Vocabulary, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the tag table: {e}", path.display()))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
        let cols: Vec<usize> = ["tag", "lemma"]
            .iter()
            .filter_map(|c| header.iter().position(|h| h.trim() == *c))
            .collect();
        if cols.is_empty() {
            return Err(format!(
                "{}: the tag table has no `tag` or `lemma` column",
                path.display()
            ));
        }
        let fields: Vec<String> = lines
            .flat_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                cols.iter()
                    .filter_map(|&c| f.get(c).map(|s| s.trim().to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Vocabulary::new(fields.iter().map(String::as_str)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_joiners_and_punctuation() {
        assert_eq!(words("Movie & Adventure"), ["movie", "adventure"]);
        assert_eq!(words("Song of the Day"), ["song", "day"]);
        assert_eq!(words("rock'n'roll, hip-hop"), ["rock'n'roll", "hip", "hop"]);
    }

    #[test]
    fn stems_join_word_forms_and_keep_short_words() {
        assert_eq!(stem("melancholic"), "melanchol");
        assert_eq!(stem("happiness"), stem("happy"));
        assert_eq!(stem("Relaxation"), stem("relaxing"));
        assert_eq!(stem("funny"), "fun");
        assert_eq!(stem("epic"), "epic");
        assert_eq!(stem("sadness"), "sad");
        assert_eq!(stem("lovely"), stem("love"));
    }

    #[test]
    fn same_word_uses_stems_and_long_shared_prefixes_only() {
        assert!(same_word("Dreamy", "dream"));
        assert!(same_word("melancholy", "melancholic"));
        assert!(same_word("meditation", "meditative"));
        assert!(same_word("cinematic", "cinema"));
        assert!(!same_word("fun", "function"));
        assert!(!same_word("movie", "moving"));
        assert!(!same_word("sad", "saddle"));
    }

    #[test]
    fn the_shipped_tag_table_gives_tags_and_lemmas() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/tag_va.tsv");
        let v = Vocabulary::from_tag_table(&path).unwrap();
        assert_eq!(v.find("Ambient"), Some("ambient"));
        assert_eq!(v.find("sadness"), Some("sad"));
        assert_eq!(v.find("Jonathan"), None);
        let e = Vocabulary::from_tag_table(Path::new("/no/such/table.tsv")).unwrap_err();
        assert!(e.contains("/no/such/table.tsv"), "{e}");
    }
}
