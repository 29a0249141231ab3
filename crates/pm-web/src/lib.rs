//! pmhub's built-in web UI, served at `/ui/`.
//!
//! The UI is a Vite + Preact single-page app (sources in `ui/`, written against the typed
//! client in `client/`). Its build (`dist/`) is committed and embedded into the binary with
//! `rust-embed`, so `cargo build` needs no Node and the binary needs no files beside it.
//!
//! - `/ui` redirects to `/ui/`.
//! - `/ui/assets/*` are content-hashed: `Cache-Control: public, max-age=31536000, immutable`.
//! - Everything else (`index.html`, and any path without a file extension, which is a
//!   client-side route answered with `index.html`) is `Cache-Control: no-cache`.
//! - A missing file (a path with an extension, or under `assets/`) is a plain 404.
//! - Every answer carries [`CONTENT_SECURITY_POLICY`] (no inline script, nothing from another
//!   origin), `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
//!
//! The UI calls `/api/v1` on the same origin with the API token in the `Authorization`
//! header; this crate knows nothing about the API.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

/// The policy sent with every UI answer: only this origin, no inline script or style
/// attributes from elsewhere, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'";

/// Hashed assets never change under their name.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `index.html` must be revalidated so a new build is picked up at once.
pub const NO_CACHE: &str = "no-cache";

#[derive(RustEmbed)]
#[folder = "dist/"]
struct Assets;

/// Mounts `/ui` and `/ui/{path}`. Call it outside any authenticated scope: the page itself
/// is public; the API calls it makes carry the token.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/ui").route(web::get().to(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, "/ui/"))
            .finish()
    })))
    .service(
        web::resource("/ui/{path:.*}")
            .route(web::get().to(serve))
            .route(web::head().to(serve)),
    );
}

async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let mut response = answer(path.as_str());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if req.method() == actix_web::http::Method::HEAD {
        response = response.drop_body().map_into_boxed_body();
    }
    response
}

fn answer(path: &str) -> HttpResponse {
    let path = path.trim_start_matches('/');
    let (name, file) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        None if is_client_route(path) => match Assets::get("index.html") {
            Some(file) => ("index.html", file),
            None => return not_found(),
        },
        None => return not_found(),
    };
    let cache = if name.starts_with("assets/") {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, file.metadata.mimetype()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((
            header::ETAG,
            format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12])),
        ))
        .body(file.data.into_owned())
}

/// A path the single-page app routes itself (`projects/abc`), not a file (`x.js`).
fn is_client_route(path: &str) -> bool {
    !path.starts_with("assets/")
        && !path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CACHE_CONTROL, NO_CACHE))
        .content_type("text/plain; charset=utf-8")
        .body("not found")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Names of the embedded files (for tests and diagnostics).
pub fn files() -> impl Iterator<Item = String> {
    Assets::iter().map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test};

    async fn get(path: &str) -> actix_web::dev::ServiceResponse {
        let app = test::init_service(App::new().configure(configure)).await;
        test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await
    }

    fn header<'a>(res: &'a actix_web::dev::ServiceResponse, name: &str) -> &'a str {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    fn hashed_asset(ext: &str) -> String {
        files()
            .find(|f| f.starts_with("assets/") && f.ends_with(ext))
            .unwrap_or_else(|| panic!("no built .{ext} asset in dist/; run make ui"))
    }

    #[actix_web::test]
    async fn bare_ui_redirects_to_the_slash() {
        let res = get("/ui").await;
        assert_eq!(res.status(), 308);
        assert_eq!(header(&res, "location"), "/ui/");
    }

    #[actix_web::test]
    async fn index_is_html_not_cached_with_a_strict_policy() {
        let res = get("/ui/").await;
        assert_eq!(res.status(), 200);
        assert!(header(&res, "content-type").starts_with("text/html"));
        assert_eq!(header(&res, "cache-control"), NO_CACHE);
        let csp = header(&res, "content-security-policy");
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(header(&res, "x-content-type-options"), "nosniff");
        let body = test::read_body(res).await;
        let html = std::str::from_utf8(&body).unwrap();
        assert!(html.contains("<div id=\"app\">"), "{html}");
        // No inline script and nothing from another origin.
        assert!(
            !html.contains("<script>") && !html.contains("http://") && !html.contains("https://")
        );
    }

    #[actix_web::test]
    async fn client_routes_get_the_index() {
        let res = get("/ui/projects/billing-x7k2q9").await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "cache-control"), NO_CACHE);
        assert!(header(&res, "content-type").starts_with("text/html"));
        assert!(!header(&res, "content-security-policy").is_empty());
    }

    #[actix_web::test]
    async fn hashed_assets_are_immutable_with_their_type() {
        let js = hashed_asset(".js");
        let res = get(&format!("/ui/{js}")).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "cache-control"), IMMUTABLE);
        assert!(header(&res, "content-type").contains("javascript"));
        assert!(!header(&res, "etag").is_empty());
        let css = hashed_asset(".css");
        let res = get(&format!("/ui/{css}")).await;
        assert_eq!(header(&res, "content-type"), "text/css");
        assert_eq!(header(&res, "cache-control"), IMMUTABLE);
    }

    #[actix_web::test]
    async fn missing_files_are_404_not_the_index() {
        for path in [
            "/ui/assets/nope-1234.js",
            "/ui/nope.png",
            "/ui/projects/x/y.map",
        ] {
            let res = get(path).await;
            assert_eq!(res.status(), 404, "{path}");
            assert!(!header(&res, "content-security-policy").is_empty());
        }
    }

    #[actix_web::test]
    async fn head_has_the_headers_and_no_body() {
        let app = test::init_service(App::new().configure(configure)).await;
        let req = test::TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/ui/")
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "cache-control"), NO_CACHE);
        assert!(test::read_body(res).await.is_empty());
    }
}
