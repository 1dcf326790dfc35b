//! Uploads to temp files: the body (raw, or one multipart part) is streamed to disk as it arrives,
//! counted against the upload limit, and given the extension of the format it holds, so the
//! decoders (which pick their path by extension) read it exactly as `musav predict` reads a file.
//! The format comes from the file's first bytes; the declared type or file name only fills in
//! when the bytes do not say.

use std::path::PathBuf;
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::multipart::{Field, MultipartError};
use axum::http::HeaderMap;
use tokio::io::AsyncWriteExt;

use super::error::ApiError;

/// An uploaded file on disk; the directory (and file) go when this is dropped.
#[derive(Debug)]
pub struct Upload {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    /// The client's file name, or `upload`.
    pub name: String,
    pub bytes: u64,
}

const ACCEPTED: &str = "send WAV, MP3, OGG/Vorbis or FLAC as audio/* or application/octet-stream, \
                        or as the `audio` field of multipart/form-data";

/// The format a Content-Type names: `Ok(None)` means "look at the bytes".
pub fn declared_format(content_type: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    let Some(ct) = content_type else {
        return Err(ApiError::Unsupported(format!(
            "the request has no Content-Type; {ACCEPTED}"
        )));
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Ok(match essence.as_str() {
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg" => Some("mp3"),
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some("wav"),
        "audio/ogg" | "audio/vorbis" | "application/ogg" => Some("ogg"),
        "audio/flac" | "audio/x-flac" => Some("flac"),
        "application/octet-stream" => None,
        e if e.starts_with("audio/") => None,
        other => {
            return Err(ApiError::Unsupported(format!(
                "Content-Type {other} is not audio; {ACCEPTED}"
            )));
        }
    })
}

/// The format a file's first bytes show.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    match head {
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'A',
            b'V',
            b'E',
            ..,
        ] => Some("wav"),
        [b'O', b'g', b'g', b'S', ..] => Some("ogg"),
        [b'f', b'L', b'a', b'C', ..] => Some("flac"),
        [b'I', b'D', b'3', ..] => Some("mp3"),
        [0xFF, b, ..] if b & 0xE0 == 0xE0 => Some("mp3"),
        _ => None,
    }
}

fn extension_of(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    ["wav", "mp3", "ogg", "flac"]
        .into_iter()
        .find(|&known| known == ext)
}

/// Bytes being written to a temp file.
struct Sink {
    dir: tempfile::TempDir,
    file: tokio::fs::File,
    head: Vec<u8>,
    bytes: u64,
    limit: u64,
}

fn internal(e: std::io::Error) -> ApiError {
    ApiError::Internal(format!("cannot write the upload to a temp file: {e}"))
}

impl Sink {
    fn new(limit: u64) -> Result<Sink, ApiError> {
        let dir = tempfile::Builder::new()
            .prefix("musav-upload-")
            .tempdir()
            .map_err(internal)?;
        let file = std::fs::File::create(dir.path().join("upload")).map_err(internal)?;
        Ok(Sink {
            dir,
            file: tokio::fs::File::from_std(file),
            head: Vec::with_capacity(16),
            bytes: 0,
            limit,
        })
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ApiError> {
        self.bytes += data.len() as u64;
        if self.bytes > self.limit {
            return Err(ApiError::TooLarge {
                limit_mb: self.limit >> 20,
            });
        }
        let want = 16usize.saturating_sub(self.head.len()).min(data.len());
        self.head.extend_from_slice(&data[..want]);
        self.file.write_all(data).await.map_err(internal)
    }

    /// Names the file by its format; an empty or unrecognised upload is a 415.
    async fn finish(
        mut self,
        fallback: Option<&'static str>,
        name: String,
    ) -> Result<Upload, ApiError> {
        self.file.flush().await.map_err(internal)?;
        if self.bytes == 0 {
            return Err(ApiError::Unsupported(format!(
                "{name}: the upload is empty; {ACCEPTED}"
            )));
        }
        let Some(ext) = sniff(&self.head).or(fallback) else {
            return Err(ApiError::Unsupported(format!(
                "{name}: not recognised as WAV, MP3, OGG/Vorbis or FLAC audio; {ACCEPTED}"
            )));
        };
        let path = self.dir.path().join(format!("upload.{ext}"));
        tokio::fs::rename(self.dir.path().join("upload"), &path)
            .await
            .map_err(internal)?;
        Ok(Upload {
            _dir: self.dir,
            path,
            name,
            bytes: self.bytes,
        })
    }
}

/// A raw-body upload (`Content-Type: audio/*` or `application/octet-stream`).
pub async fn receive_raw(
    headers: &HeaderMap,
    mut body: Body,
    limit: u64,
) -> Result<Upload, ApiError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let declared = declared_format(ct)?;
    let mut sink = Sink::new(limit)?;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| body_error(&e.to_string(), limit))?;
        if let Ok(data) = frame.into_data()
            && let Err(e) = sink.write(&data).await
        {
            linger(body, limit);
            return Err(e);
        }
    }
    sink.finish(declared, "upload".into()).await
}

/// Reads and drops what is left of a body the answer no longer needs (up to twice the upload
/// limit, for at most five seconds), so a client still sending it reads the early answer (413,
/// 503) instead of a connection reset.
pub fn linger(mut body: Body, limit: u64) {
    let cap = limit.saturating_mul(2).max(16 << 20);
    tokio::spawn(async move {
        let drain = async {
            let mut seen = 0u64;
            while let Some(Ok(frame)) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                if let Ok(data) = frame.into_data() {
                    seen += data.len() as u64;
                    if seen > cap {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
    });
}

/// An error while reading a body: over the limit (413) or broken (400).
fn body_error(message: &str, limit: u64) -> ApiError {
    if message.contains("length limit") {
        ApiError::TooLarge {
            limit_mb: limit >> 20,
        }
    } else {
        ApiError::bad_request(
            "bad_body",
            format!("the request body could not be read: {message}"),
        )
    }
}

pub fn multipart_error(e: MultipartError, limit: u64) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge {
            limit_mb: limit >> 20,
        }
    } else {
        ApiError::bad_request(
            "bad_multipart",
            format!("malformed multipart/form-data: {}", e.body_text()),
        )
    }
}

/// One multipart part to a temp file. The outer error fails the request (malformed multipart,
/// over the limit); the inner one is this part's own (empty, not audio).
pub async fn receive_part(
    mut field: Field<'_>,
    limit: u64,
) -> Result<Result<Upload, ApiError>, ApiError> {
    let name = field
        .file_name()
        .map(str::to_string)
        .unwrap_or_else(|| "upload".into());
    // The part's type or file name is only a fallback, never a reason to refuse: browsers label
    // audio parts inconsistently.
    let fallback = declared_format(field.content_type())
        .ok()
        .flatten()
        .or_else(|| extension_of(&name));
    let mut sink = Sink::new(limit)?;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
        sink.write(&chunk).await?;
    }
    Ok(sink.finish(fallback, name).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_bytes_then_the_declaration() {
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Some("wav"));
        assert_eq!(sniff(b"OggS\0\x02"), Some("ogg"));
        assert_eq!(sniff(b"fLaC\0\0"), Some("flac"));
        assert_eq!(sniff(b"ID3\x04"), Some("mp3"));
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x00]), Some("mp3"));
        assert_eq!(sniff(b"hello, world"), None);
        assert_eq!(declared_format(Some("audio/mpeg")).unwrap(), Some("mp3"));
        assert_eq!(
            declared_format(Some("audio/x-wav; charset=x")).unwrap(),
            Some("wav")
        );
        assert_eq!(
            declared_format(Some("application/octet-stream")).unwrap(),
            None
        );
        assert_eq!(declared_format(Some("audio/aac")).unwrap(), None);
        assert!(declared_format(Some("text/plain")).is_err());
        assert!(declared_format(None).is_err());
        assert_eq!(extension_of("song.FLAC"), Some("flac"));
        assert_eq!(extension_of("notes.txt"), None);
    }
}
