//! The client's wire types checked against `docs/openapi.json`, the document the
//! server's own tests keep equal to what it serves: a field added, renamed or removed
//! on either side, a changed enum or query parameter, fails here.
//!
//! * Answer types: an instance with every property the schema lists (and one with only
//!   the required ones) must read into the client's type, and the type must write back
//!   the same properties, so the client neither drops nor invents a field.
//! * Request types: a client value with every field set must write only properties the
//!   schema has, of its types and enum values, and cover all of them.
//! * Vocabularies and query parameters: equal sets of values and names.

use crate::types::*;
use crate::Problem;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    ))
    .expect("docs/openapi.json is readable");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

/// A schema with `$ref`s followed, `allOf` merged and `oneOf [null, X]` taken as X
/// (marked nullable).
fn resolve(spec: &Value, schema: &Value) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolve(spec, &spec["components"]["schemas"][name]);
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for part in parts {
            let part = resolve(spec, part);
            if let Some(p) = part.get("properties").and_then(Value::as_object) {
                for (k, v) in p {
                    // A later part narrows an earlier one's property (an enum of types):
                    // keep the earlier's type.
                    properties.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            if let Some(r) = part.get("required").and_then(Value::as_array) {
                required.extend(r.iter().cloned());
            }
        }
        return json!({"type": "object", "properties": properties, "required": required});
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let not_null: Vec<&Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&json!("null")))
            .collect();
        if not_null.len() == 1 {
            let mut inner = resolve(spec, not_null[0]);
            if not_null.len() < options.len() {
                inner["nullable"] = json!(true);
            }
            return inner;
        }
    }
    schema.clone()
}

/// The schema's type other than `null`.
fn type_of(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// An instance of `schema`: every property when `full`, only the required ones
/// otherwise.
fn instance(spec: &Value, schema: &Value, full: bool) -> Value {
    let schema = resolve(spec, schema);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values[0].clone();
    }
    match type_of(&schema) {
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2027-01-02T03:04:05Z"),
            Some("date") => json!("2027-01-02"),
            _ => json!("text"),
        },
        Some("integer") => json!(schema
            .get("minimum")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1)),
        Some("boolean") => json!(true),
        Some("array") => json!([instance(spec, &schema["items"], full)]),
        _ => {
            let required: BTreeSet<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if full || required.contains(name.as_str()) {
                        out.insert(name.clone(), instance(spec, prop, full));
                    }
                }
            } else if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object())
            {
                out.insert("name".into(), instance(spec, extra, full));
            }
            Value::Object(out)
        }
    }
}

/// The property names of a value, all the way down, as paths.
fn shape(value: &Value, at: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{at}.{k}");
                out.insert(path.clone());
                shape(v, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                shape(item, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

fn shape_of(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(value, "", &mut out);
    out
}

/// `T` reads every instance of schema `name` and writes back the same properties.
fn answer<T: DeserializeOwned + Serialize>(spec: &Value, name: &str) {
    let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
    for full in [true, false] {
        let given = instance(spec, &schema, full);
        let read: T = serde_json::from_value(given.clone())
            .unwrap_or_else(|e| panic!("{name} (full: {full}) does not read {given}: {e}"));
        if full {
            let written = serde_json::to_value(&read).unwrap();
            let (given, written) = (shape_of(&given), shape_of(&written));
            assert_eq!(
                given, written,
                "{name}: the schema has {:?} that the client does not keep; the client has {:?} that the schema lacks",
                given.difference(&written).collect::<Vec<_>>(),
                written.difference(&given).collect::<Vec<_>>()
            );
        }
    }
}

/// Whether `value` fits `schema`: types, enums, no property the schema lacks, every
/// required one present. Returns what does not fit.
fn misfits(spec: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if value.is_null() {
        let nullable = schema.get("nullable").is_some()
            || matches!(schema.get("type"), Some(Value::Array(ts)) if ts.contains(&json!("null")));
        if !nullable {
            out.push(format!("{at}: null where the schema allows none"));
        }
        return;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            out.push(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    let fits = match (type_of(&schema), value) {
        (Some("string"), Value::String(_))
        | (Some("boolean"), Value::Bool(_))
        | (Some("array"), Value::Array(_))
        | (Some("object") | None, Value::Object(_)) => true,
        (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
        (None, _) => true,
        _ => false,
    };
    if !fits {
        out.push(format!(
            "{at}: {value} is not of type {:?}",
            type_of(&schema)
        ));
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                misfits(spec, &schema["items"], item, &format!("{at}[]"), out);
            }
        }
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(prop) => misfits(spec, prop, v, &format!("{at}.{k}"), out),
                    None if props.is_some() => out.push(format!("{at}.{k}: not in the schema")),
                    None => {}
                }
            }
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !map.contains_key(r.as_str().unwrap_or_default()) {
                    out.push(format!("{at}.{r}: required, not written"));
                }
            }
        }
        _ => {}
    }
}

/// `value` (a client request with every field set) fits schema `name` and covers
/// every property it has.
fn request<T: Serialize>(spec: &Value, name: &str, value: &T) {
    let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
    let written = serde_json::to_value(value).unwrap();
    let mut out = Vec::new();
    misfits(spec, &schema, &written, name, &mut out);
    let resolved = resolve(spec, &schema);
    for prop in resolved["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if written.get(prop).is_none() {
            out.push(format!(
                "{name}.{prop}: in the schema, not written by the client"
            ));
        }
    }
    assert!(
        out.is_empty(),
        "{name} does not fit the schema:\n{}",
        out.join("\n")
    );
}

/// The query parameters of `GET path`, by name, against what `value` writes.
fn query<T: Serialize>(spec: &Value, path: &str, value: &T) {
    let params: Vec<&Value> = spec["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("no GET {path} in the document"))
        .iter()
        .filter(|p| p["in"] == "query")
        .collect();
    let written = serde_json::to_value(value).unwrap();
    let written = written.as_object().unwrap();
    let names: BTreeSet<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    let ours: BTreeSet<&str> = written.keys().map(String::as_str).collect();
    assert_eq!(names, ours, "the query parameters of GET {path}");
    for p in params {
        let name = p["name"].as_str().unwrap();
        let value = &written[name];
        // A query string is text: a number may come as its digits.
        let value = match (type_of(&p["schema"]), value) {
            (Some("integer"), Value::String(s)) if s.parse::<i64>().is_ok() => json!(1),
            _ => value.clone(),
        };
        let mut out = Vec::new();
        misfits(spec, &p["schema"], &value, name, &mut out);
        assert!(out.is_empty(), "GET {path}: {out:?}");
    }
}

/// A vocabulary has exactly the values the schema's enum at `component.property` has.
fn vocabulary<T: Serialize>(spec: &Value, component: &str, property: &str, all: &[T]) {
    let schema = resolve(
        spec,
        &spec["components"]["schemas"][component]["properties"][property],
    );
    let theirs: BTreeSet<String> = schema["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{component}.{property} has no enum"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let ours: BTreeSet<String> = all
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(theirs, ours, "the values of {component}.{property}");
}

#[test]
fn every_answer_type_reads_and_keeps_exactly_the_schema_properties() {
    let spec = spec();
    answer::<VerifyOut>(&spec, "VerifyOut");
    answer::<VerifiedKey>(&spec, "VerifiedKey");
    answer::<LimitStanding>(&spec, "LimitStanding");
    answer::<QuotaView>(&spec, "QuotaView");
    answer::<KeyView>(&spec, "KeyView");
    answer::<GrantView>(&spec, "GrantView");
    answer::<RateLimitView>(&spec, "RateLimitView");
    answer::<CreatedKeyView>(&spec, "CreatedKeyView");
    answer::<RotatedView>(&spec, "RotatedView");
    answer::<KeyList>(&spec, "KeyList");
    answer::<OrgOut>(&spec, "OrgOut");
    answer::<OrgDetail>(&spec, "OrgDetail");
    answer::<KeysHeld>(&spec, "KeysHeld");
    answer::<OrgList>(&spec, "OrgList");
    answer::<ProjectOut>(&spec, "ProjectOut");
    answer::<ProjectList>(&spec, "ProjectList");
    answer::<EnvOut>(&spec, "EnvOut");
    answer::<EnvList>(&spec, "EnvList");
    answer::<UserOut>(&spec, "UserOut");
    answer::<UserList>(&spec, "UserList");
    answer::<UserDetail>(&spec, "UserDetail");
    answer::<UserMembershipOut>(&spec, "UserMembershipOut");
    answer::<MemberOut>(&spec, "MemberOut");
    answer::<MemberList>(&spec, "MemberList");
    answer::<ProjectAccessOut>(&spec, "ProjectAccessOut");
    answer::<InvitationOut>(&spec, "InvitationOut");
    answer::<CreatedInvitationOut>(&spec, "CreatedInvitationOut");
    answer::<InvitationList>(&spec, "InvitationList");
    answer::<AcceptedOut>(&spec, "AcceptedOut");
    answer::<AuditEventOut>(&spec, "AuditEventOut");
    answer::<AuditList>(&spec, "AuditList");
    answer::<DayUsage>(&spec, "DayUsage");
    answer::<KeyTotal>(&spec, "KeyTotal");
    answer::<KeyUsageView>(&spec, "KeyUsageView");
    answer::<OrgUsageView>(&spec, "OrgUsageView");
    answer::<MeOut>(&spec, "MeOut");
    answer::<ActsFor>(&spec, "ActsFor");
    answer::<ScopeList>(&spec, "ScopeList");
    answer::<ScopeOut>(&spec, "ScopeOut");
    answer::<Problem>(&spec, "Problem");
}

#[test]
fn every_request_type_writes_only_and_all_of_the_schema_properties() {
    let spec = spec();
    let secret = || SecretString::from("kw_live_0123456789abcdef_secret".to_owned());
    let grant = GrantIn {
        resources: Some(vec!["forms".into()]),
        ..GrantIn::new("Website", "production", Level::Read)
    };
    let limit = RateLimitIn {
        name: "burst".into(),
        limit: 10,
        period: "1s".into(),
    };
    let metadata: JsonObject = [("customer".to_owned(), json!("cus_1"))]
        .into_iter()
        .collect();
    request(
        &spec,
        "VerifyIn",
        &VerifyIn {
            project: Some("Website".into()),
            environment: Some("production".into()),
            method: Some("GET".into()),
            level: Some(Level::Read),
            resource: Some("forms".into()),
            ip: Some("203.0.113.7".into()),
            cost: Some(1),
            ..VerifyIn::new(secret())
        },
    );
    request(
        &spec,
        "KeyIn",
        &KeyIn {
            description: Some("CI".into()),
            kind: Some(Kind::Test),
            grants: vec![grant.clone()],
            scopes: vec!["forms:read".into()],
            org_access: Some(OrgAccess::Read),
            expires_at: Some("90d".into()),
            service: true,
            ip_allowlist: vec!["203.0.113.0/24".into()],
            metadata: Some(metadata.clone()),
            rate_limits: Some(vec![limit.clone()]),
            ..KeyIn::new("Acme", "ci")
        },
    );
    request(
        &spec,
        "KeyPatch",
        &KeyPatch {
            name: Some("ci".into()),
            description: Some(None),
            grants: Some(vec![grant]),
            scopes: Some(vec!["forms:read".into()]),
            org_access: Some(OrgAccess::None),
            expires_at: Some(Some("30d".into())),
            ip_allowlist: Some(vec![]),
            metadata: Some(Some(metadata)),
            rate_limits: Some(Some(vec![limit])),
        },
    );
    request(
        &spec,
        "RotateIn",
        &RotateIn {
            grace_period: Some("1h".into()),
        },
    );
    request(
        &spec,
        "OrgIn",
        &OrgIn {
            name: "Acme".into(),
            plan: Some("pro".into()),
        },
    );
    request(
        &spec,
        "OrgPatch",
        &OrgPatch {
            plan: Some("max".into()),
        },
    );
    request(
        &spec,
        "ProjectIn",
        &ProjectIn {
            name: "Website".into(),
        },
    );
    request(
        &spec,
        "EnvIn",
        &EnvIn {
            name: "staging".into(),
            kind: Kind::Test,
        },
    );
    request(
        &spec,
        "UserIn",
        &UserIn {
            email: "a@example.com".into(),
            display_name: Some("A".into()),
        },
    );
    let access = vec![ProjectAccessIn {
        project: "Website".into(),
        level: Level::Write,
    }];
    request(
        &spec,
        "MemberIn",
        &MemberIn {
            role: Role::Member,
            projects: access.clone(),
        },
    );
    request(
        &spec,
        "InvitationIn",
        &InvitationIn {
            email: "b@example.com".into(),
            role: Role::Member,
            projects: access,
        },
    );
    request(&spec, "AcceptIn", &AcceptIn { token: secret() });
}

#[test]
fn query_parameters_match_the_documents() {
    let spec = spec();
    query(
        &spec,
        "/v1/keys",
        &KeyListQuery {
            org: Some("Acme".into()),
            status: Some(KeyStatus::Active),
            kind: Some(Kind::Live),
            cursor: Some("0123456789abcdef".into()),
            limit: Some(10),
        },
    );
    query(
        &spec,
        "/v1/audit-events",
        &AuditQuery {
            org: Some("Acme".into()),
            operator: Some(false),
            key_id: Some("0123456789abcdef".into()),
            actor: Some("cli:alice".into()),
            action: Some("key.revoked".into()),
            since: Some("1h".into()),
            until: Some("1m".into()),
            cursor: Some("42".into()),
            limit: Some(10),
        },
    );
    let day = time::macros::date!(2027 - 01 - 02);
    let range = UsageQuery {
        from: Some(day),
        to: Some(day),
    };
    query(&spec, "/v1/keys/{key_id}/usage", &range);
    query(&spec, "/v1/orgs/{org}/usage", &range);
}

#[test]
fn vocabularies_have_the_documents_values() {
    let spec = spec();
    vocabulary(&spec, "KeyView", "kind", Kind::ALL);
    vocabulary(&spec, "GrantIn", "level", Level::ALL);
    vocabulary(&spec, "KeyView", "org_access", OrgAccess::ALL);
    vocabulary(&spec, "MemberIn", "role", Role::ALL);
    vocabulary(&spec, "KeyView", "status", KeyStatus::ALL);
    vocabulary(&spec, "VerifyOut", "outcome", Outcome::ALL);
}

/// The schema check itself catches drift: a type missing a property, or writing one
/// the schema lacks, fails it.
#[test]
fn the_check_fails_on_a_missing_or_an_invented_property() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Fewer {
        held: u64,
    }
    #[derive(serde::Serialize, serde::Deserialize)]
    struct More {
        held: u64,
        limit: Option<u32>,
        extra: Option<u32>,
    }
    let spec = spec();
    for outcome in [
        std::panic::catch_unwind(|| answer::<Fewer>(&spec, "KeysHeld")),
        std::panic::catch_unwind(|| answer::<More>(&spec, "KeysHeld")),
        std::panic::catch_unwind(|| {
            request(
                &spec,
                "OrgPatch",
                &json!({ "plan": "pro", "colour": "red" }),
            )
        }),
        std::panic::catch_unwind(|| request(&spec, "ProjectIn", &json!({}))),
    ] {
        assert!(outcome.is_err());
    }
}
