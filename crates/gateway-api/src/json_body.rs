//! A JSON body whose errors wait until the handler asks for it. actix extracts a handler's
//! arguments concurrently, so with `web::Json` a malformed body could answer 400 before the token
//! and role checks ran — telling a caller without the right about the endpoint's fields. Handlers
//! check the role first, then call [`JsonBody::into_inner`].

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use domain::ApiError;
use serde::de::DeserializeOwned;

pub struct JsonBody<T>(Result<T, ApiError>);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<T>::from_request(req, payload);
        Box::pin(async move {
            Ok(JsonBody(json.await.map(web::Json::into_inner).map_err(|e| match e.as_error::<ApiError>() {
                Some(api) => api.clone(),
                None => ApiError::bad_param("body", "invalid JSON body"),
            })))
        })
    }
}
