//! The input of a use case as it arrived: parsed, or the reason it could not be.
//!
//! A caller without a use case's permission must get 403 whatever it sent — not a 422
//! that describes the body it may not submit. So a front end that parses a body (the
//! HTTP API's JSON) hands a failed parse to the use case instead of answering itself, and
//! the use case checks the permission first, then opens the input. Programs and the CLI
//! pass the value itself (`From<T>`).

use crate::error::{AppError, AppResult};

pub struct Input<T>(Result<T, AppError>);

impl<T> Input<T> {
    /// An input that could not be read; the use case reports `error` after its
    /// permission check.
    pub fn invalid(error: AppError) -> Self {
        Input(Err(error))
    }

    /// The value, or the error that replaced it. Call after the permission check.
    pub fn get(self) -> AppResult<T> {
        self.0
    }
}

impl<T> From<T> for Input<T> {
    fn from(value: T) -> Self {
        Input(Ok(value))
    }
}
