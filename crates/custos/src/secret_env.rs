//! Settings from the environment: a variable, or for secrets the contents of the file
//! named by `NAME_FILE` (container and systemd credentials).

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `NAME` or the contents of the file named by `NAME_FILE`.
pub fn secret_env(name: &str) -> Result<Option<String>, String> {
    if let Some(v) = env(name) {
        return Ok(Some(v));
    }
    match env(&format!("{name}_FILE")) {
        Some(path) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| format!("cannot read {name}_FILE ({path}): {e}")),
        None => Ok(None),
    }
}
