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

    /// The cached answer content; an unreadable or foreign entry counts as a miss.
    pub fn get(&self, request: &serde_json::Value) -> Option<String> {
        let text = std::fs::read_to_string(self.path(&Cache::key(request))).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        (entry.request == *request).then_some(entry.content)
    }

    /// Stores an answer atomically (a crash never leaves a truncated entry behind).
    pub fn put(&self, request: &serde_json::Value, content: &str) -> std::io::Result<()> {
        let entry = Entry {
            request: request.clone(),
            content: content.to_string(),
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
        c.put(&a, "{\"name\": \"Sad\"}").unwrap();
        assert_eq!(c.get(&a).as_deref(), Some("{\"name\": \"Sad\"}"));
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
        c.put(&a, "x").unwrap();
        std::fs::write(c.path(&Cache::key(&a)), "{trunc").unwrap();
        assert_eq!(c.get(&a), None);
    }
}
