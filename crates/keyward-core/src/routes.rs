//! The forward-auth route table: which project, environment, resource and level an
//! original request (method and path) asks for. Proxies such as nginx `auth_request`
//! only tell keyward the method and the URI; this table turns them into an [`Asked`],
//! so the check itself stays the one every surface uses.
//!
//! A path pattern is a list of segments: a literal, `{name}` (one segment, captured),
//! `*` (one segment) or, last only, `**` (the rest, zero or more segments). Matching is
//! on the raw (still percent-encoded) path, without its query, and never allocates
//! beyond the captures. The first route that matches, in file order, wins.

use crate::check::{Asked, InvalidAsk};
use crate::grant::Resource;
use crate::level::Level;

/// A route as the config file writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSpec {
    /// Methods it applies to, such as `["GET", "HEAD"]`; empty: every method.
    pub methods: Vec<String>,
    /// Such as `/api/v1/projects/{project}/forms/**`.
    pub path: String,
    /// A resource of the scope catalog, such as `forms`.
    pub resource: Option<String>,
    /// `{name}` (a captured segment), `header:Name`, or a fixed name.
    pub project: Option<String>,
    /// As `project`.
    pub environment: Option<String>,
    /// Overrides the level the method maps to.
    pub level: Option<String>,
}

/// Where a route takes the project or environment from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Fixed(String),
    /// A segment captured by `{name}` in the path.
    Capture(String),
    /// A header of the original request, as the proxy passes it on.
    Header(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
    One,
    Rest,
}

/// A checked route.
#[derive(Debug, Clone)]
pub struct Route {
    methods: Vec<String>,
    path: String,
    segments: Vec<Segment>,
    resource: Option<Resource>,
    project: Option<Source>,
    environment: Option<Source>,
    level: Option<Level>,
}

impl Route {
    /// The pattern as written, for logs and errors.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The routes, in file order.
#[derive(Debug, Clone, Default)]
pub struct RouteTable(Vec<Route>);

/// A route that cannot work; `index` counts from 1, as people count routes in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {index} ('{path}'): {reason}")]
pub struct InvalidRoute {
    pub index: usize,
    pub path: String,
    pub reason: String,
}

/// A route that matched a request, with the segments its `{name}`s captured.
#[derive(Debug)]
pub struct Matched<'r, 'p> {
    /// Counting from 1.
    pub index: usize,
    pub route: &'r Route,
    captures: Vec<(&'r str, &'p str)>,
}

const METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];

impl RouteTable {
    pub fn parse(specs: &[RouteSpec]) -> Result<Self, InvalidRoute> {
        specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                Route::parse(spec).map_err(|reason| InvalidRoute {
                    index: i + 1,
                    path: crate::echo::echo(&spec.path, 80),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(RouteTable)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The first route for this method (upper case, as HTTP sends it) and path.
    pub fn find<'r, 'p>(&'r self, method: &str, path: &'p str) -> Option<Matched<'r, 'p>> {
        self.0.iter().enumerate().find_map(|(i, route)| {
            if !route.methods.is_empty() && !route.methods.iter().any(|m| m == method) {
                return None;
            }
            route.matches(path).map(|captures| Matched {
                index: i + 1,
                route,
                captures,
            })
        })
    }
}

impl Route {
    fn parse(spec: &RouteSpec) -> Result<Self, String> {
        let mut methods = Vec::with_capacity(spec.methods.len());
        for m in &spec.methods {
            let upper = m.trim().to_ascii_uppercase();
            if !METHODS.contains(&upper.as_str()) {
                return Err(format!(
                    "method '{}' is not one of {}",
                    crate::echo::echo(m, 20),
                    METHODS.join(", ")
                ));
            }
            methods.push(upper);
        }
        let segments = pattern(&spec.path)?;
        let captured = |name: &str| {
            segments
                .iter()
                .any(|s| matches!(s, Segment::Capture(c) if c == name))
        };
        let source = |field: &str, value: &Option<String>| -> Result<Option<Source>, String> {
            let Some(v) = value else { return Ok(None) };
            let v = v.trim();
            let source = if let Some(name) = v.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                if !captured(name) {
                    return Err(format!(
                        "{field} = '{v}' names no segment of the path; add {{{name}}} to the path or take {field} from elsewhere"
                    ));
                }
                Source::Capture(name.to_owned())
            } else if let Some(name) = v.strip_prefix("header:") {
                let name = name.trim();
                if name.is_empty() || !name.bytes().all(is_token_byte) {
                    return Err(format!("{field} = '{v}': give a header name after 'header:', such as 'header:X-Environment'"));
                }
                Source::Header(name.to_ascii_lowercase())
            } else if v.is_empty() {
                return Err(format!("{field} is empty; leave it out or give a name"));
            } else {
                Source::Fixed(v.to_owned())
            };
            Ok(Some(source))
        };
        let project = source("project", &spec.project)?;
        let environment = source("environment", &spec.environment)?;
        if project.is_some() != environment.is_some() {
            return Err("give both project and environment, or neither (a check of the key's organization access)".into());
        }
        let resource = spec
            .resource
            .as_deref()
            .map(|r| Resource::parse(r.trim()).map_err(|e| format!("resource: {e}")))
            .transpose()?;
        if resource.is_some() && project.is_none() {
            return Err(
                "a resource is inside a project: give the project and environment too".into(),
            );
        }
        let level = spec
            .level
            .as_deref()
            .map(|l| Level::parse(l.trim()).map_err(|e| format!("level: {e}")))
            .transpose()?;
        Ok(Route {
            methods,
            path: spec.path.clone(),
            segments,
            resource,
            project,
            environment,
            level,
        })
    }

    fn matches<'r, 'p>(&'r self, path: &'p str) -> Option<Vec<(&'r str, &'p str)>> {
        let rest = path.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let mut captures = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Rest => return Some(captures),
                _ => {
                    let part = parts.next()?;
                    match segment {
                        Segment::Literal(l) if l == part => {}
                        Segment::Capture(name) if !part.is_empty() => {
                            captures.push((name.as_str(), part));
                        }
                        Segment::One if !part.is_empty() => {}
                        _ => return None,
                    }
                }
            }
        }
        parts.next().is_none().then_some(captures)
    }
}

/// A path pattern's segments, checked.
fn pattern(path: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("the path must start with '/', such as '/api/v1/projects/{project}/**'".into());
    };
    if path.contains(['?', '#']) {
        return Err("the path is matched without the query: leave out '?' and '#'".into());
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let mut out = Vec::with_capacity(raw.len());
    for (i, part) in raw.iter().enumerate() {
        let segment = match *part {
            "**" if i + 1 == raw.len() => Segment::Rest,
            "**" => {
                return Err("'**' matches the rest of the path, so it can only come last".into())
            }
            "*" => Segment::One,
            p if p.starts_with('{') && p.ends_with('}') && p.len() > 2 => {
                let name = &p[1..p.len() - 1];
                if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(format!(
                        "'{{{name}}}': a capture's name is letters, digits and '_'"
                    ));
                }
                if out
                    .iter()
                    .any(|s| matches!(s, Segment::Capture(c) if c == name))
                {
                    return Err(format!("'{{{name}}}' is captured twice"));
                }
                Segment::Capture(name.to_owned())
            }
            p if p.contains(['{', '}', '*']) => {
                return Err(format!(
                    "segment '{}': '{{name}}', '*' and '**' stand for whole segments only",
                    crate::echo::echo(p, 40)
                ))
            }
            p => Segment::Literal(p.to_owned()),
        };
        out.push(segment);
    }
    Ok(out)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Matched<'_, '_> {
    /// The segment captured by `{name}`.
    pub fn capture(&self, name: &str) -> Option<&str> {
        self.captures
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    /// What the request asks for. `header` gives a header of the original request by
    /// lower-case name. Fails when the method maps to no level (and the route sets
    /// none), or a header the route reads is missing.
    pub fn asked<'h>(
        &self,
        method: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<Asked, InvalidAsk> {
        let route = self.route;
        let level = match route.level {
            Some(l) => l,
            None => Level::for_method(method).map_err(|e| InvalidAsk {
                field: "method",
                message: format!("method: {e}"),
            })?,
        };
        let resolve = |field: &'static str,
                       source: &Option<Source>|
         -> Result<Option<String>, InvalidAsk> {
            match source {
                None => Ok(None),
                Some(Source::Fixed(v)) => Ok(Some(v.clone())),
                Some(Source::Capture(name)) => Ok(self.capture(name).map(str::to_owned)),
                Some(Source::Header(name)) => match header(name) {
                    Some(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
                    _ => Err(InvalidAsk {
                        field,
                        message: format!(
                            "route {} ('{}') takes the {field} from the '{name}' header, which the request did not carry",
                            self.index, route.path
                        ),
                    }),
                },
            }
        };
        let project = resolve("project", &route.project)?;
        let environment = resolve("environment", &route.environment)?;
        Asked::from_parts(
            project.as_deref(),
            environment.as_deref(),
            None,
            Some(level),
            route.resource.as_ref().map(Resource::as_str),
        )
    }
}

/// Why a request path could mean another path to the upstream than to the route
/// table, if it could: a `.` or `..` segment (written plainly or percent-encoded), an
/// empty segment (`//`), a backslash, or an encoded `/` or `\`. Servers and proxies
/// normalise these differently (nginx resolves `..` and merges slashes before choosing
/// a location), so a path the table reads as `/api/forms/../admin` may reach the
/// upstream as `/api/admin`. Forward auth refuses such paths rather than guess.
pub fn ambiguous_path(path: &str) -> Option<&'static str> {
    // This runs on every forward-auth request. Nearly every path holds none of the
    // bytes an ambiguity needs, which a few `memchr` scans show at once; only a path
    // with a `%`, a `.`, a backslash or two slashes in a row is looked at closely.
    let bytes = path.as_bytes();
    if !bytes.contains(&b'%')
        && !bytes.contains(&b'.')
        && !bytes.contains(&b'\\')
        && !path.contains("//")
    {
        return None;
    }
    if bytes.contains(&b'\\') {
        return Some("a backslash");
    }
    let encoded =
        |w: &[u8], hi: u8, lo: u8| w[0] == b'%' && w[1] == hi && w[2].eq_ignore_ascii_case(&lo);
    if bytes
        .windows(3)
        .any(|w| encoded(w, b'2', b'f') || encoded(w, b'5', b'c'))
    {
        return Some("an encoded '/' or '\\'");
    }
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        if matches!(dots(segment.as_bytes()), Some(1 | 2)) {
            return Some("a '.' or '..' segment");
        }
        // An empty last segment is a trailing slash, which is fine.
        if segment.is_empty() && segments.peek().is_some() {
            return Some("an empty segment ('//')");
        }
    }
    None
}

/// How many dots a segment is, when it is nothing but dots, each written `.` or
/// percent-encoded (`%2e`, `%2E`); `None` when it holds anything else.
fn dots(mut segment: &[u8]) -> Option<usize> {
    let mut n = 0;
    while !segment.is_empty() {
        segment = match segment {
            [b'.', rest @ ..] => rest,
            [b'%', b'2', e, rest @ ..] if e.eq_ignore_ascii_case(&b'e') => rest,
            _ => return None,
        };
        n += 1;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule as first written, a copy per segment: the one-pass version must
    /// answer exactly as it does.
    fn ambiguous_path_reference(path: &str) -> Option<&'static str> {
        if path.contains('\\') {
            return Some("a backslash");
        }
        let lower = path.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") {
            return Some("an encoded '/' or '\\'");
        }
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        for (i, segment) in segments.iter().enumerate() {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            if decoded == "." || decoded == ".." {
                return Some("a '.' or '..' segment");
            }
            if segment.is_empty() && i + 1 < segments.len() {
                return Some("an empty segment ('//')");
            }
        }
        None
    }

    proptest::proptest! {
        #[test]
        fn the_one_pass_check_answers_as_the_reference(
            segments in proptest::collection::vec("(\\.|%2[eE]|%2[fF]|%5[cC]|%|2|e|a|\\\\){0,3}", 0..5)
        ) {
            let path = format!("/{}", segments.join("/"));
            proptest::prop_assert_eq!(ambiguous_path(&path), ambiguous_path_reference(&path));
        }
    }

    #[test]
    fn paths_the_upstream_could_read_otherwise_are_named() {
        for ok in [
            "/",
            "/api/v1/forms",
            "/api/v1/forms/",
            "/api/v1/forms/a.b",
            "/a/..b/c",
            "/a/%41",
            "/a/.../b",
            "/a/%2e%2e%2E/b",
            "/a/%2",
        ] {
            assert_eq!(ambiguous_path(ok), None, "{ok}");
        }
        for bad in [
            "/api/forms/../admin",
            "/api/forms/./x",
            "/api/forms/%2e%2e/admin",
            "/api/forms/.%2E/admin",
            "/api/forms/..",
            "/api//admin",
            "/api/a%2Fb",
            "/api/a%5cb",
            "/api\\admin",
        ] {
            assert!(ambiguous_path(bad).is_some(), "{bad}");
        }
    }
    use proptest::prelude::*;

    fn spec(path: &str) -> RouteSpec {
        RouteSpec {
            path: path.into(),
            project: Some("{project}".into()),
            environment: Some("production".into()),
            ..RouteSpec::default()
        }
    }

    fn table(specs: &[RouteSpec]) -> RouteTable {
        RouteTable::parse(specs).unwrap()
    }

    #[test]
    fn a_pattern_matches_the_paths_it_names_and_no_others() {
        let t = table(&[spec("/api/v1/projects/{project}/forms/**")]);
        for path in [
            "/api/v1/projects/site/forms",
            "/api/v1/projects/site/forms/",
            "/api/v1/projects/site/forms/1/answers",
        ] {
            let m = t.find("GET", path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(m.capture("project"), Some("site"));
        }
        for path in [
            "/api/v1/projects//forms",
            "/api/v1/projects/site",
            "/api/v1/projects/site/formsx",
            "api/v1/projects/site/forms",
            "/api/v1/projects/a/b/forms",
            "",
        ] {
            assert!(t.find("GET", path).is_none(), "{path}");
        }
    }

    #[test]
    fn the_first_matching_route_wins_and_methods_filter() {
        let mut write = spec("/p/{project}/*");
        write.methods = vec!["post".into()];
        write.level = Some("manage".into());
        let t = table(&[write, spec("/p/{project}/**")]);
        assert_eq!(t.find("POST", "/p/a/b").unwrap().index, 1);
        assert_eq!(t.find("GET", "/p/a/b").unwrap().index, 2);
        assert_eq!(t.find("POST", "/p/a/b/c").unwrap().index, 2);
        let asked = t.find("POST", "/p/a/b").unwrap().asked("POST", |_| None);
        assert!(matches!(
            asked,
            Ok(Asked::Project {
                level: Level::Manage,
                ..
            })
        ));
    }

    #[test]
    fn the_level_comes_from_the_method_as_the_product_maps_it() {
        let t = table(&[RouteSpec {
            resource: Some("forms".into()),
            ..spec("/{project}/**")
        }]);
        for (method, level) in [
            ("GET", Level::Read),
            ("HEAD", Level::Read),
            ("OPTIONS", Level::Read),
            ("POST", Level::Write),
            ("PUT", Level::Write),
            ("PATCH", Level::Write),
            ("DELETE", Level::Manage),
        ] {
            let asked = t.find(method, "/site/x").unwrap().asked(method, |_| None);
            match asked {
                Ok(Asked::Project {
                    project,
                    environment,
                    resource,
                    level: l,
                }) => {
                    assert_eq!(
                        (project.as_str(), environment.as_str(), l),
                        ("site", "production", level)
                    );
                    assert_eq!(resource.unwrap().as_str(), "forms");
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(t
            .find("TRACE", "/site/x")
            .unwrap()
            .asked("TRACE", |_| None)
            .is_err());
    }

    #[test]
    fn headers_give_the_environment_and_a_missing_one_is_named() {
        let t = table(&[RouteSpec {
            environment: Some("header:X-Env".into()),
            ..spec("/{project}")
        }]);
        let m = t.find("GET", "/site").unwrap();
        let asked = m.asked("GET", |h| (h == "x-env").then_some("preview"));
        assert!(
            matches!(asked, Ok(Asked::Project { environment, .. }) if environment == "preview")
        );
        let e = m.asked("GET", |_| None).unwrap_err();
        assert!(e.message.contains("'x-env' header"), "{e}");
    }

    #[test]
    fn bad_routes_are_refused_naming_the_route_and_the_fix() {
        let cases = [
            (spec("api/x"), "must start with '/'"),
            (spec("/a/**/b"), "only come last"),
            (spec("/a/x*"), "whole segments only"),
            (spec("/a/{project}/{project}"), "captured twice"),
            (spec("/a/{proj-ect}"), "letters, digits"),
            (spec("/a/b"), "names no segment"),
            (spec("/a/{project}?x"), "without the query"),
            (
                RouteSpec {
                    methods: vec!["BREW".into()],
                    ..spec("/{project}")
                },
                "not one of",
            ),
            (
                RouteSpec {
                    environment: None,
                    ..spec("/{project}")
                },
                "both project and environment",
            ),
            (
                RouteSpec {
                    level: Some("admin".into()),
                    ..spec("/{project}")
                },
                "level:",
            ),
            (
                RouteSpec {
                    environment: Some("header:".into()),
                    ..spec("/{project}")
                },
                "header name",
            ),
        ];
        for (bad, reason) in cases {
            let e = RouteTable::parse(&[spec("/{project}"), bad.clone()]).unwrap_err();
            assert_eq!(e.index, 2, "{bad:?}");
            assert!(e.to_string().starts_with("route 2 ("), "{e}");
            assert!(e.reason.contains(reason), "{bad:?}: {e}");
        }
    }

    proptest! {
        /// `{x}` captures exactly one whole segment: never a '/', never nothing.
        #[test]
        fn a_capture_never_spans_a_slash(
            a in "[a-z0-9%.-]{0,8}", b in "[a-z0-9/%.-]{0,12}", method in "[A-Z]{0,7}"
        ) {
            let t = table(&[spec("/p/{project}/x")]);
            let middle = format!("{a}{b}");
            let path = format!("/p/{middle}/x");
            let found = t.find(&method, &path);
            prop_assert_eq!(found.is_some(), !middle.is_empty() && !middle.contains('/'));
            if let Some(m) = found {
                prop_assert_eq!(m.capture("project"), Some(middle.as_str()));
            }
        }

        /// `**` matches any rest, and a pattern of literals matches only itself.
        #[test]
        fn rest_matches_any_tail_and_literals_only_themselves(
            tail in "[a-z/]{0,20}", other in "/[a-z/]{0,12}"
        ) {
            let t = table(&[spec("/{project}/api/**"), spec("/{project}/exact")]);
            let with_tail = format!("/s/api/{tail}");
            prop_assert_eq!(t.find("GET", &with_tail).map(|m| m.index), Some(1));
            let m = t.find("GET", &other);
            if let Some(m) = m {
                prop_assert!(other.starts_with('/'));
                if m.index == 2 {
                    prop_assert!(other.ends_with("/exact") && other.matches('/').count() == 2);
                }
            }
        }

        /// No input, pattern or path, makes parsing or matching panic.
        #[test]
        fn nothing_panics(path in "\\PC{0,40}", pattern in "\\PC{0,30}", method in "\\PC{0,8}") {
            let parsed = RouteTable::parse(&[RouteSpec { path: pattern, ..RouteSpec::default() }]);
            if let Ok(t) = parsed {
                if let Some(m) = t.find(&method, &path) {
                    let _ = m.asked(&method, |_| Some("x"));
                }
            }
            let t = table(&[spec("/{project}/*/**")]);
            if let Some(m) = t.find("GET", &path) {
                let _ = m.asked(&method, |_| None);
            }
        }
    }
}
