//! The HTTP ceiling: hyper answering every request with a fixed 200 and a small JSON
//! body, on the same runtime settings as `keyward serve`. With `keyed_hash`, it also
//! computes what no check can skip: the keyed hash (HMAC-SHA-256 under a pepper) of
//! the key in `x-api-key` or `Authorization: Bearer`, compared in constant time with a stored one,
//! with the same code as keyward's check. The answer is 200 whatever the comparison
//! says: the figure is what hashing costs, not a check. With `forward_auth_answer`, the
//! answer is the one keyward's forward auth gives a metered key (its header fields, with
//! fixed values, and no body): what writing that answer costs.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

/// The header fields of keyward's forward-auth answer to a valid metered key, as
/// `bench/forward-auth.sh` sees it (besides `date` and `content-length`, which hyper
/// writes).
const FORWARD_AUTH_ANSWER: [(&str, &str); 6] = [
    ("x-keyward-key-id", "r8zQCAjK6H6nUWeU"),
    ("x-keyward-org-id", "org_DSHqQYVNXEpiRIFy"),
    ("x-keyward-key-kind", "live"),
    (
        "ratelimit-policy",
        "\"default\";q=1000000000;w=1, \"quota\";q=4611686018427387903;w=2678400",
    ),
    (
        "ratelimit",
        "\"default\";r=999999999;t=1, \"quota\";r=4611686018425630467;t=2467672",
    ),
    ("x-request-id", "b6fb2887db9871f3c22de00676e2aa2b"),
];

pub async fn serve(
    listen: std::net::SocketAddr,
    keyed_hash: bool,
    forward_auth_answer: bool,
) -> anyhow::Result<()> {
    let peppers =
        keyward_core::PepperSet::parse("bare-hyper-pepper-0123456789abcdefghijklmnopqrstuvwxyz")?;
    let stored = peppers.hash_str("kw_live_not-a-key-of-any-fixture");
    let hashing = std::sync::Arc::new(keyed_hash.then_some((peppers, stored)));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("ready");
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true).ok();
        let hashing = hashing.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                if let Some((peppers, stored)) = hashing.as_ref() {
                    let headers = req.headers();
                    let key = headers
                        .get("x-api-key")
                        .and_then(|v| v.to_str().ok())
                        .or_else(|| {
                            headers
                                .get(hyper::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.strip_prefix("Bearer "))
                        })
                        .unwrap_or_default();
                    std::hint::black_box(peppers.verify_str(key, stored));
                }
                async move {
                    if forward_auth_answer {
                        let mut answer = Response::new(Full::new(Bytes::new()));
                        for (name, value) in FORWARD_AUTH_ANSWER {
                            answer.headers_mut().insert(
                                hyper::header::HeaderName::from_static(name),
                                hyper::header::HeaderValue::from_static(value),
                            );
                        }
                        return Ok::<_, Infallible>(answer);
                    }
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from_static(
                                b"{\"valid\":true,\"outcome\":\"valid\"}",
                            )))
                            .unwrap_or_default(),
                    )
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
