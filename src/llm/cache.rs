//! Answers on disk, keyed by what was asked: a rerun is instant, works offline and gives the same
//! names. The key is a SHA-256 of the request body (model, messages, sampling parameters, schema), not
//! of the endpoint URL, so a server restarted on another port still hits.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The request, kept so an entry can be inspected by hand.
    request: serde_json::Value,
    content: String,
    /// The other choices of a request that asked for several (`n`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    more: Vec<String>,
}

impl Cache {
    pub fn new(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    pub fn key(request: &serde_json::Value) -> String {
        let digest = Sha256::digest(request.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The cached answer contents (every choice, the first first); an unreadable or foreign entry
    /// counts as a miss.
    pub fn get(&self, request: &serde_json::Value) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(self.path(&Cache::key(request))).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        (entry.request == *request)
            .then(|| std::iter::once(entry.content).chain(entry.more).collect())
    }

    /// Stores an answer's choices atomically (a crash never leaves a truncated entry behind).
    pub fn put(&self, request: &serde_json::Value, choices: &[String]) -> std::io::Result<()> {
        let Some((content, more)) = choices.split_first() else {
            return Ok(());
        };
        let entry = Entry {
            request: request.clone(),
            content: content.clone(),
            more: more.to_vec(),
        };
        let bytes = serde_json::to_vec_pretty(&entry).map_err(std::io::Error::other)?;
        crate::fsio::write_atomic(&self.path(&Cache::key(request)), &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_key_depends_on_every_parameter() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path());
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0});
        assert_eq!(c.get(&a), None);
        c.put(&a, &["{\"name\": \"Sad\"}".to_string()]).unwrap();
        assert_eq!(c.get(&a), Some(vec!["{\"name\": \"Sad\"}".to_string()]));
        let n = json!({"model": "m", "n": 2});
        c.put(&n, &["a".to_string(), "b".to_string()]).unwrap();
        assert_eq!(c.get(&n), Some(vec!["a".to_string(), "b".to_string()]));
        let mut b = a.clone();
        b["temperature"] = json!(0.5);
        assert_eq!(c.get(&b), None);
        let mut m = a.clone();
        m["model"] = json!("other");
        assert_eq!(c.get(&m), None);
    }

    #[test]
    fn corrupt_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path());
        let a = json!({"model": "m"});
        c.put(&a, &["x".to_string()]).unwrap();
        std::fs::write(c.path(&Cache::key(&a)), "{trunc").unwrap();
        assert_eq!(c.get(&a), None);
    }
}
