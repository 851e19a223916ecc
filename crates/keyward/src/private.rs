//! Files and folders only their owner may read: the data directory, the pepper, the
//! saved logins. Made with their mode from the start, so there is no moment in which
//! another user could open them.

use std::io::Write;
use std::path::Path;

/// Creates `dir` (and any missing parent) with mode 0700. One that exists already is
/// left as it is.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes a new file with mode 0600 and syncs it; fails if `path` exists.
pub fn write_new(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
