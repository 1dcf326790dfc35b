//! The OpenAPI description, generated from the handlers' annotations and the answer types, served
//! as `/openapi.json` (no UI bundle: nothing is downloaded at build time).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{card, error, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "musav", description = "Mood label and valence–arousal point of audio files, from a trained musav run."),
    paths(
        routes::healthz,
        routes::readyz,
        routes::metrics,
        routes::model,
        routes::predict,
        routes::predict_batch,
        routes::reload
    ),
    components(schemas(
        error::ErrorBody,
        error::ErrorDetail,
        card::ModelCard,
        routes::PredictAnswer,
        routes::BatchAnswer,
        routes::BatchItem,
        routes::ReloadAnswer
    )),
    modifiers(&BearerKey)
)]
pub struct ApiDoc;

/// The `Authorization: Bearer KEY` scheme the `/v1/` routes name (needed only with `--api-key`).
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as JSON text.
pub fn json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".into())
}
