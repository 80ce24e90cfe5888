//! Replacing a file so that a reader sees the old content or the new one, never a part.
//!
//! node_exporter's textfile collector reads every `*.prom` file in its directory at each
//! scrape; a file caught half-written is a scrape error or, worse, a truncated set of
//! gauges that looks valid. So the report goes to a temporary file in the same directory
//! (same filesystem, so `rename(2)` is atomic), is synced, and is renamed over the target;
//! then the directory is synced so the rename survives a crash. The temporary name starts
//! with a dot and ends in `.tmp`, which the collector ignores (it reads `*.prom` only).
//! If any step fails, the temporary file is removed and the target is left as it was: a
//! stale file is what the "not reported" alert is for.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A step of [`replace`] that failed, with the path it failed on.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {step}", path = path.display())]
pub struct WriteError {
    /// The file that was to be replaced.
    pub path: PathBuf,
    /// Which step failed.
    pub step: &'static str,
    /// What the system said.
    pub source: io::Error,
}

/// Replaces `path` with `contents` atomically (see the module docs). The new file has mode
/// 0644, as node_exporter may run as another user.
pub fn replace(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let fail = |step: &'static str| {
        move |source: io::Error| WriteError {
            path: path.to_path_buf(),
            step,
            source,
        }
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))
        .map_err(fail("check the name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);

    // create_new: never write through a symlink or into another run's file.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(fail("create the temporary file"))?;
    let written = file
        .write_all(contents)
        .map_err(fail("write the temporary file"))
        .and_then(|()| file.sync_all().map_err(fail("sync the temporary file")))
        .and_then(|()| fs::rename(&tmp, path).map_err(fail("rename over it")));
    if let Err(e) = written {
        // The error that matters is the one above; a failed clean-up of our own temporary
        // file would only hide it.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail("sync the directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sdcookie-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir(&d).unwrap();
        d
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replace_swaps_content_and_leaves_no_temporary_file() {
        let d = scratch("swap");
        let f = d.join("sdcookie.prom");
        replace(&f, b"a 1\n").unwrap();
        replace(&f, b"a 2\n").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"a 2\n");
        assert_eq!(entries(&d), ["sdcookie.prom"]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failed_replace_keeps_the_old_file_and_names_the_step() {
        let d = scratch("fail");
        let f = d.join("sdcookie.prom");
        replace(&f, b"old\n").unwrap();
        // A directory where the temporary file would go makes the create step fail.
        let blocker = d.join(format!(".sdcookie.prom.{}.tmp", std::process::id()));
        fs::create_dir(&blocker).unwrap();
        let e = replace(&f, b"new\n").unwrap_err();
        assert_eq!(e.step, "create the temporary file");
        assert_eq!(fs::read(&f).unwrap(), b"old\n");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn replace_into_a_missing_directory_fails() {
        let e = replace(Path::new("/nonexistent-sdcookie-dir/x.prom"), b"x").unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::NotFound);
    }
}
