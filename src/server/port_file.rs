//! `--port-file`: the bound port, written so a reader never sees half of it.

use crate::error::{Error, Result};
use std::path::Path;

/// Writes `port` and a newline to a temporary file beside `path`, then
/// renames it over `path`: readers see no file or the whole number.
///
/// # Errors
/// The errno of the failed write or rename (`ENOENT` for a missing
/// directory, `EACCES`), naming `path`.
pub fn write(path: &Path, port: u16) -> Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let fail = |err: std::io::Error| {
        let errno = rustix::io::Errno::from_io_error(&err).unwrap_or(rustix::io::Errno::IO);
        Error::on("write", path.display(), errno)
    };
    std::fs::write(&temporary, format!("{port}\n")).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(|err| {
        let _ = std::fs::remove_file(&temporary);
        fail(err)
    })
}
