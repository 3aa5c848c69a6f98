//! The service handle of this capability: `App` gives it out and every use case of the
//! capability is a method on it. It lives alone here so the capability's files can all
//! name it without importing one another.

/// The use cases of the key ring of personal data: rotation, re-keying, retirement; `App::keyring` gives it out.
pub struct Keyring<'a> {
    pub(crate) app: &'a crate::App,
}
