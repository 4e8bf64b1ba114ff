//! Interpreter profiles (what they can be offered) and their manual status.

use axum::extract::State;
use chrono::{DateTime, Utc};
use dragoman_domain::{
    InterpreterStatus, LanguageCode, LanguageSkill, Level, Modality, ModalitySet, Profile,
    Specialization, SpecializationSet,
};
use dragoman_ports::InterpreterRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{InterpreterCaller, Json};
use crate::problem::{ApiError, Checks, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_profile, get_profile))
        .routes(routes!(put_status))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageView {
    /// BCP 47 primary language subtag: `es`, `zh`, `ase`.
    #[schema(example = "es")]
    pub code: String,
    /// `native`, `professional` or `conversational`.
    pub level: String,
    pub certified: bool,
}

/// What an interpreter can be offered.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileView {
    pub languages: Vec<LanguageView>,
    /// From `general`, `medical`, `legal`, `business`, `education`, `social_services`.
    pub specializations: Vec<String>,
    /// From `video`, `audio`.
    pub modalities: Vec<String>,
}

impl From<&Profile> for ProfileView {
    fn from(p: &Profile) -> Self {
        Self {
            languages: p
                .languages()
                .iter()
                .map(|l| LanguageView {
                    code: l.code.to_string(),
                    level: l.level.as_str().to_owned(),
                    certified: l.certified,
                })
                .collect(),
            specializations: p
                .specializations
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            modalities: p.modalities.iter().map(|m| m.as_str().to_owned()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    /// `available`, `away`, `offline`, `reserved`, `busy` or `wrap_up`.
    pub status: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InterpreterView {
    /// Null until the interpreter saves one.
    pub profile: Option<ProfileView>,
    pub status: StatusView,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `available`, `away` or `offline`.
    pub status: String,
}

fn status_view(r: &InterpreterRecord) -> StatusView {
    StatusView {
        status: r.status.as_str().to_owned(),
        since: r.status_since,
    }
}

/// Parses a profile body, collecting every invalid entry.
fn parse_profile(body: &ProfileView) -> Result<Profile, ApiError> {
    let mut checks = Checks::default();
    let mut languages = Vec::with_capacity(body.languages.len());
    for (i, l) in body.languages.iter().enumerate() {
        match (LanguageCode::parse(&l.code), Level::parse(&l.level)) {
            (Ok(code), Ok(level)) => languages.push(LanguageSkill {
                code,
                level,
                certified: l.certified,
            }),
            (code, level) => {
                for e in [code.err(), level.err()].into_iter().flatten() {
                    checks.push(
                        format!(
                            "languages[{i}].{}",
                            if e.field == "language" {
                                "code"
                            } else {
                                e.field
                            }
                        ),
                        e.reason,
                    );
                }
            }
        }
    }
    let mut specializations = SpecializationSet::default();
    for (i, s) in body.specializations.iter().enumerate() {
        match Specialization::parse(s) {
            Ok(s) => specializations.insert(s),
            Err(e) => checks.push(format!("specializations[{i}]"), e.reason),
        }
    }
    let mut modalities = ModalitySet::default();
    for (i, m) in body.modalities.iter().enumerate() {
        match Modality::parse(m) {
            Ok(m) => modalities.insert(m),
            Err(e) => checks.push(format!("modalities[{i}]"), e.reason),
        }
    }
    checks.done()?;
    Ok(Profile::new(languages, specializations, modalities)?)
}

/// Replaces the caller's profile.
#[utoipa::path(put, path = "/v1/interpreters/me", tag = "interpreters", request_body = ProfileView,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the profile as saved", body = ProfileView),
        (status = 403, description = "not an interpreter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "an unknown language, level, specialization or modality", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_profile(
    State(state): State<AppState>,
    InterpreterCaller(caller): InterpreterCaller,
    Json(body): Json<ProfileView>,
) -> Result<Json<ProfileView>, ApiError> {
    let profile = parse_profile(&body)?;
    let saved = state.profiles.replace(caller.id, &profile).await?;
    Ok(Json((&saved).into()))
}

/// The caller's profile and status.
#[utoipa::path(get, path = "/v1/interpreters/me", tag = "interpreters", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller's profile and status", body = InterpreterView),
        (status = 403, description = "not an interpreter", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_profile(
    State(state): State<AppState>,
    InterpreterCaller(caller): InterpreterCaller,
) -> Result<Json<InterpreterView>, ApiError> {
    let record = state.profiles.of(caller.id).await?;
    Ok(Json(InterpreterView {
        profile: record.profile.as_ref().map(ProfileView::from),
        status: status_view(&record),
    }))
}

/// Sets the caller's status to `available`, `away` or `offline`.
#[utoipa::path(put, path = "/v1/interpreters/me/status", tag = "interpreters", request_body = StatusBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the status and since when", body = StatusView),
        (status = 403, description = "not an interpreter", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "in a session, or no profile yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "a status other than available, away or offline", body = Problem, content_type = "application/problem+json"),
    ))]
async fn put_status(
    State(state): State<AppState>,
    InterpreterCaller(caller): InterpreterCaller,
    Json(body): Json<StatusBody>,
) -> Result<Json<StatusView>, ApiError> {
    let wanted = InterpreterStatus::parse_manual(&body.status)?;
    let view = state.profiles.set_status(caller.id, wanted).await?;
    Ok(Json(StatusView {
        status: view.status,
        since: view.since,
    }))
}
