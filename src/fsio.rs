//! Atomic file writes: everything the user makes (label maps, exports, checkpoints) is written to a
//! temporary file beside its destination and renamed into place, so a crash or a full disk never
//! leaves a half-written file where a good one used to be.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_renamed(path, bytes, true)
}

/// [`write_atomic`] without the fsync, for cache entries: data musav derives again whenever an
/// entry does not read back (a cache reader validates every entry). The rename still keeps a
/// partly written file from ever appearing under `path`; only a power loss can leave an entry
/// empty, which then reads as a miss. The fsync was the bulk of a feature run's system time.
pub fn write_atomic_cache(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_renamed(path, bytes, false)
}

fn write_renamed(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("musav")
        ))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Replaces directory `dest` by the fully written directory `staged` (both on one file system).
///
/// An existing `dest` is moved aside first and removed only after the new one is in place, so at
/// every moment either the old or the new directory exists in full.
pub fn replace_dir(staged: &Path, dest: &Path) -> std::io::Result<()> {
    if dest.exists() {
        let aside = sibling(dest, ".old");
        if aside.exists() {
            std::fs::remove_dir_all(&aside)?;
        }
        std::fs::rename(dest, &aside)?;
        if let Err(e) = std::fs::rename(staged, dest) {
            // Put the previous directory back before reporting.
            let _ = std::fs::rename(&aside, dest);
            return Err(e);
        }
        std::fs::remove_dir_all(&aside)?;
    } else {
        std::fs::rename(staged, dest)?;
    }
    Ok(())
}

/// A fresh staging directory beside `dest` (same file system, so the final rename is atomic).
pub fn staging_dir(dest: &Path) -> std::io::Result<tempfile::TempDir> {
    let dir = parent_dir(dest);
    std::fs::create_dir_all(&dir)?;
    tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("musav")
        ))
        .suffix(".partial")
        .tempdir_in(dir)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    parent_dir(path).join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("map.toml");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second version").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second version");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp files left behind: {names:?}");
    }

    #[test]
    fn replace_dir_swaps_contents() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("export");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("old.txt"), "old").unwrap();
        let staged = staging_dir(&dest).unwrap();
        std::fs::write(staged.path().join("new.txt"), "new").unwrap();
        let staged_path = staged.keep();
        replace_dir(&staged_path, &dest).unwrap();
        assert!(dest.join("new.txt").exists());
        assert!(!dest.join("old.txt").exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
