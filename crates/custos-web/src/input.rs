//! A JSON body handed to its use case even when it does not parse, so that the use case
//! decides the caller's permission before the body's validity (see `custos_app::Input`).
//! Only a body over the size limit is refused here (413): it was never read.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use custos_app::{AppError, Input};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::AppState;

/// A JSON body, parsed or with the reason it could not be, for a use case taking
/// `impl Into<Input<T>>`.
pub struct JsonInput<T>(pub Input<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonInput<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        match ApiJson::<T>::from_request(req, state).await {
            Ok(ApiJson(value)) => Ok(JsonInput(Input::from(value))),
            Err(ApiError(e @ AppError::TooLarge(_))) => Err(ApiError(e)),
            Err(ApiError(e)) => Ok(JsonInput(Input::invalid(e))),
        }
    }
}
