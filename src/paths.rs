//! Where smolchat keeps files on this machine, for the server and the client alike.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/smolchat`, or `~/.local/share/smolchat`; `None` without a home
/// directory.
pub fn default_data_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| home::home_dir().map(|home| home.join(".local").join("share")))?;
    Some(data.join("smolchat"))
}
