//! Reads a document from a file or an http(s) URL: the only place that touches the file system or the
//! network for specs. URL fetches have a timeout and a size limit so that a bad URL cannot hang or
//! exhaust startup.

use std::time::Duration;

use url::Url;

/// Largest spec document accepted (the GitHub description is 13 MB).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot read '{path}': {source}")]
    File { path: String, source: std::io::Error },
    #[error("cannot fetch '{url}': {reason}")]
    Http { url: String, reason: String },
    #[error("'{location}' is larger than {limit} bytes")]
    TooLarge { location: String, limit: usize },
    #[error("'{location}' is not UTF-8 text")]
    NotText { location: String },
    #[error("unsupported URL scheme '{scheme}' in '{url}' (use a file path, http or https)")]
    Scheme { url: String, scheme: String },
}

pub struct Fetcher {
    client: Option<reqwest::Client>,
    /// For documents a spec refers to: redirects only within the origin asked for.
    ref_client: Option<reqwest::Client>,
}

impl Fetcher {
    pub fn new() -> Self {
        Fetcher { client: None, ref_client: None }
    }

    fn client(&mut self, url: &Url, referenced: bool) -> Result<reqwest::Client, FetchError> {
        let slot = if referenced { &mut self.ref_client } else { &mut self.client };
        if let Some(client) = slot {
            return Ok(client.clone());
        }
        let builder =
            crate::tls::client_builder().timeout(Duration::from_secs(30)).connect_timeout(Duration::from_secs(10));
        // The spec the user named may move anywhere; a document it refers to may not leave its origin
        // (a stopped redirect is a 3xx answer, reported as such).
        let builder = if referenced {
            builder.redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first = attempt.previous().first().map(Url::origin);
                if attempt.previous().len() > 5 || first.is_some_and(|origin| origin != attempt.url().origin()) {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
        } else {
            builder
        };
        let client =
            builder.build().map_err(|error| FetchError::Http { url: url.to_string(), reason: error.to_string() })?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Reads the document the user named (a file or an http(s) URL).
    pub async fn fetch(&mut self, url: &Url) -> Result<String, FetchError> {
        self.fetch_document(url, false).await
    }

    /// Reads a document a spec refers to: as [`Self::fetch`], with redirects kept on its origin.
    pub async fn fetch_referenced(&mut self, url: &Url) -> Result<String, FetchError> {
        self.fetch_document(url, true).await
    }

    async fn fetch_document(&mut self, url: &Url, referenced: bool) -> Result<String, FetchError> {
        let bytes = match url.scheme() {
            "file" => read_file(url)?,
            "http" | "https" => self.fetch_http(url, referenced).await?,
            scheme => {
                return Err(FetchError::Scheme { url: url.to_string(), scheme: scheme.to_string() });
            }
        };
        to_text(url, bytes)
    }

    async fn fetch_http(&mut self, url: &Url, referenced: bool) -> Result<Vec<u8>, FetchError> {
        let http_error = |reason: String| FetchError::Http { url: url.to_string(), reason };
        let client = self.client(url, referenced)?;
        let mut response = client.get(url.clone()).send().await.map_err(|error| http_error(with_causes(&error)))?;
        if !response.status().is_success() {
            return Err(http_error(format!("HTTP status {}", response.status())));
        }
        match crate::body::read_capped(&mut response, MAX_DOCUMENT_BYTES, crate::body::Overflow::Fail, None).await {
            Ok(body) => Ok(body.bytes),
            Err(crate::body::ReadError::TooLarge) => {
                Err(FetchError::TooLarge { location: url.to_string(), limit: MAX_DOCUMENT_BYTES })
            }
            Err(error) => Err(http_error(error.to_string())),
        }
    }
}

/// The text of a `file:` URL, as [`Fetcher::fetch`] reads it: used again when a diagnostic needs
/// the text of a document whose text was let go after parsing (see `spec::SourceText`).
pub fn read_file_text(url: &Url) -> Result<String, FetchError> {
    to_text(url, read_file(url)?)
}

fn read_file(url: &Url) -> Result<Vec<u8>, FetchError> {
    let path = url.to_file_path().map_err(|_| FetchError::Scheme { url: url.to_string(), scheme: "file".into() })?;
    let metadata =
        std::fs::metadata(&path).map_err(|source| FetchError::File { path: super::display_name(url), source })?;
    if metadata.len() as usize > MAX_DOCUMENT_BYTES {
        return Err(FetchError::TooLarge { location: super::display_name(url), limit: MAX_DOCUMENT_BYTES });
    }
    std::fs::read(&path).map_err(|source| FetchError::File { path: super::display_name(url), source })
}

fn to_text(url: &Url, bytes: Vec<u8>) -> Result<String, FetchError> {
    let mut text = String::from_utf8(bytes).map_err(|_| FetchError::NotText { location: url.to_string() })?;
    if text.starts_with('\u{feff}') {
        text.remove(0);
    }
    Ok(text)
}

/// The error and each of its causes: reqwest's own message is only "error sending request", the
/// reason (connection refused, DNS, TLS, timeout) is in the chain beneath it.
fn with_causes(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers often repeat their inner error's text.
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

/// Turns what the user wrote (a path relative to `base_dir`, or a URL) into an absolute URL.
pub fn to_url(location: &str, base_dir: &std::path::Path) -> Result<Url, String> {
    if location.starts_with("http://") || location.starts_with("https://") || location.starts_with("file://") {
        return Url::parse(location).map_err(|error| format!("'{location}' is not a valid URL: {error}"));
    }
    let path = std::path::Path::new(location);
    let absolute = if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) };
    let absolute = std::path::absolute(&absolute).unwrap_or(absolute);
    Url::from_file_path(&absolute).map_err(|_| format!("'{location}' is not a usable file path"))
}
