//! OpenAPI schemas of the domain's values (feature `openapi`), built from the domain's
//! own lists, limits and patterns, so that the HTTP API's document states each rule
//! that the code enforces and cannot drift from it. The views here and the server's
//! request and response types use them through `#[schema(schema_with = …)]`.

use keyward_core::key::KEY_ID_LEN;
use keyward_core::{
    AuditAction, Description, EnvName, KeyName, KeyStatus, Kind, Level, OrgId, OrgName, ProjectId,
    ProjectName, Resource, Role,
};
use keyward_core::{Catalog, Plans};
use utoipa::openapi::schema::{
    Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type,
};

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A string that is one of `values`.
pub fn one_of(values: impl IntoIterator<Item = &'static str>) -> Object {
    string().enum_values(Some(values)).build()
}

/// A string matching `pattern`.
pub fn matching(pattern: impl Into<String>) -> Object {
    string().pattern(Some(pattern)).build()
}

/// An HTTP method the check knows, in any case; or `null`.
pub fn method_or_null() -> Object {
    let any_case = |name: &str| -> String {
        name.chars()
            .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()))
            .collect()
    };
    let methods: Vec<String> = Level::METHODS.iter().map(|(m, _)| any_case(m)).collect();
    or_null(matching(format!("^(?:{})$", methods.join("|"))))
}

/// An e-mail address as people are created with: `local@domain.tld` with no white
/// space inside (around it is ignored), the domain with a dot inside. (Also at most
/// 254 bytes, which a pattern cannot count.)
pub fn email() -> Object {
    let ws = keyward_core::names::WHITE_SPACE;
    let cc = keyward_core::names::CONTROL;
    let any = format!("[^{ws}{cc}]");
    let not_dot = format!("[^.{ws}{cc}]");
    matching(format!(
        r"^[{ws}]*[^@{ws}{cc}]+@{not_dot}{any}*\.{any}*{not_dot}[{ws}]*$"
    ))
}

/// A scope of `catalog` (`resource:action`), every action of a resource
/// (`resource:*`), or every scope (`*`); white space around it is ignored.
pub fn scope(catalog: &Catalog) -> Object {
    let mut names: Vec<String> = catalog.scopes().into_iter().map(|(name, _)| name).collect();
    names.extend(catalog.resources().map(|r| format!("{r}:*")));
    names.push("*".to_owned());
    let escaped: Vec<String> = names.iter().map(|n| escape(n)).collect();
    let ws = keyward_core::names::WHITE_SPACE;
    string()
        .pattern(Some(format!("^[{ws}]*(?:{})[{ws}]*$", escaped.join("|"))))
        .description(Some(format!("One of: {}.", names.join(", "))))
        .build()
}

/// `s` with the regex metacharacters escaped.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\^$.|?*+()[]{}".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

pub fn level() -> Object {
    one_of(Level::ALL.map(Level::as_str))
}

pub fn level_or_null() -> Object {
    or_null(level())
}

/// Organization access: `none` or a level.
pub fn org_access() -> Object {
    one_of(["none"].into_iter().chain(Level::ALL.map(Level::as_str)))
}

pub fn org_access_or_null() -> Object {
    or_null(org_access())
}

pub fn kind() -> Object {
    one_of(Kind::ALL.map(Kind::as_str))
}

pub fn key_status() -> Object {
    one_of(KeyStatus::ALL.map(KeyStatus::as_str))
}

pub fn role() -> Object {
    one_of(Role::ALL.map(Role::as_str))
}

pub fn role_or_null() -> Object {
    or_null(role())
}

pub fn audit_action() -> Object {
    one_of(AuditAction::ALL.map(AuditAction::as_str))
}

/// A key id: 16 letters and digits.
pub fn key_id() -> Object {
    matching(format!("^[0-9A-Za-z]{{{KEY_ID_LEN}}}$"))
}

/// A key id as a path or query parameter: white space around it is ignored.
pub fn key_id_param() -> Object {
    let ws = keyward_core::names::WHITE_SPACE;
    matching(format!("^[{ws}]*[0-9A-Za-z]{{{KEY_ID_LEN}}}[{ws}]*$"))
}

/// An organization id: `org_` and 16 letters and digits.
pub fn org_id() -> Object {
    matching(format!("^{}[0-9A-Za-z]{{16}}$", OrgId::PREFIX))
}

pub fn key_name() -> Object {
    matching(KeyName::pattern())
}

pub fn key_name_or_null() -> Object {
    or_null(key_name())
}

/// A description: left out when blank.
pub fn description() -> Object {
    blank_or(Description::pattern())
}

pub fn description_or_null() -> Object {
    or_null(description())
}

/// A person's display name: left out when blank, else a name like a key's.
pub fn display_name_or_null() -> Object {
    or_null(blank_or(KeyName::pattern()))
}

pub fn org_name() -> Object {
    matching(OrgName::pattern())
}

/// A new project's name: neither `*` nor starting with `proj_`, which stand for
/// every project and for project ids.
pub fn project_name() -> Object {
    let ws = keyward_core::names::WHITE_SPACE;
    matching(format!(
        r"^(?![{ws}]*(?:\*[{ws}]*$|{}))(?:{})",
        ProjectId::PREFIX,
        ProjectName::pattern()
    ))
}

/// A plan of `plans`, by name; white space around it is ignored.
pub fn plan(plans: &Plans) -> Object {
    let names = plans.names();
    let escaped: Vec<String> = names.iter().map(|n| escape(n)).collect();
    let ws = keyward_core::names::WHITE_SPACE;
    string()
        .pattern(Some(format!("^[{ws}]*(?:{})[{ws}]*$", escaped.join("|"))))
        .description(Some(format!("One of: {}.", names.join(", "))))
        .build()
}

/// The operator's plans decide the names: the `Plan` schema is filled in from them
/// (`keyward_server::openapi::document_for`). `null`: the default plan, or no change.
pub fn plan_or_null() -> utoipa::openapi::Schema {
    utoipa::openapi::Schema::OneOf(
        utoipa::openapi::OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("Plan"))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

pub fn env_name() -> Object {
    matching(EnvName::PATTERN)
}

/// An environment name, or `*` for every environment of the key's kind.
pub fn env_scope() -> Object {
    matching(format!(r"^\*$|{}", EnvName::PATTERN))
}

pub fn resource() -> Object {
    matching(Resource::PATTERN)
}

/// The resources a grant is limited to, or `null` for every resource.
pub fn resources_or_null() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(resource())
        .build()
}

/// An RFC 3339 time.
pub fn date_time() -> Object {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
}

/// The same schema, also allowing `null`.
pub fn or_null(mut schema: Object) -> Object {
    let mut types: Vec<Type> = match schema.schema_type {
        SchemaType::Type(t) => vec![t],
        SchemaType::Array(ts) => ts,
        SchemaType::AnyValue => return schema,
    };
    if !types.contains(&Type::Null) {
        types.push(Type::Null);
    }
    schema.schema_type = SchemaType::Array(types);
    if let Some(values) = &mut schema.enum_values {
        values.push(serde_json::Value::Null);
    }
    schema
}

/// Optional text that counts as left out when blank, else must pass `pattern`.
pub fn blank_or(pattern: String) -> Object {
    matching(format!(
        "{}|{pattern}",
        keyward_core::names::blank_pattern()
    ))
}
