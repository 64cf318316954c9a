//! Replacing a file so that readers see the old content or the new, never a
//! part: the token file and snapshot recordings both write this way.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file with a unique name
/// in the same directory, fsync, rename over `path`, fsync the directory.
/// With `private`, the file is created with mode 0600 (on Unix) from the
/// start, so a secret is never readable by others, not even briefly.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path, private)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A file written in pieces (a streamed batch report) that appears at its
/// path only when [`AtomicFile::commit`] is called, whole; dropped without
/// it, the temporary file is removed and the old content stays.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    path: PathBuf,
    dir: PathBuf,
    tmp: PathBuf,
    file: Option<fs::File>,
}

impl AtomicFile {
    /// Creates the temporary file beside `path` (mode 0600 with `private`).
    pub(crate) fn create(path: &Path, private: bool) -> std::io::Result<AtomicFile> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        // Unique per process and per write: concurrent writers never share a
        // temporary file, and a crashed writer's leftover is never reused.
        let tmp = dir.join(format!(
            ".{file_name}.{}.{}.tmp",
            std::process::id(),
            rand::random::<u32>()
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let file = options.open(&tmp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            dir,
            tmp,
            file: Some(file),
        })
    }

    /// fsync, rename over the path, fsync the directory. On failure the
    /// temporary file is removed and the old content stays.
    pub(crate) fn commit(mut self) -> std::io::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let result = (|| {
            file.sync_all()?;
            drop(file);
            fs::rename(&self.tmp, &self.path)?;
            // Make the rename itself durable (best effort: not every
            // platform can open a directory).
            if let Ok(d) = fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("the file was already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.json");
        fs::write(&path, b"old").expect("write");
        write_atomically(&path, b"new", false).expect("atomic write");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The target is a directory: the rename fails, nothing is left over.
        let target = dir.path().join("sub");
        fs::create_dir(&target).expect("mkdir");
        fs::write(target.join("x"), b"keep").expect("write");
        assert!(write_atomically(&target, b"new", false).is_err());
        assert_eq!(fs::read(target.join("x")).expect("read"), b"keep");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        write_atomically(&path, b"s", true).expect("write");
        let mode = fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_uncommitted_file_leaves_the_old_content_and_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.ndjson");
        fs::write(&path, b"old").expect("write");
        let mut f = AtomicFile::create(&path, false).expect("create");
        f.write_all(b"half").expect("write");
        drop(f);
        assert_eq!(fs::read(&path).expect("read"), b"old");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
