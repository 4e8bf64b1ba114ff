//! Helpers: a session between two new users, uploads as the app sends them, and the s3s-fs
//! server of `dragoman_conformance::s3_server` (the one the S3 adapter's own tests use).
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Account, TestApp};

pub use dragoman_conformance::s3_server::{ACCESS_KEY, S3Server, SECRET_KEY};

/// A PNG of one grey pixel with a private ancillary chunk (`paDd`, which decoders skip) of
/// `pad` bytes.
fn png_padded(pad: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut out, 1, 1);
    encoder.set_color(::png::ColorType::Grayscale);
    let mut writer = encoder.write_header().expect("a PNG header");
    writer
        .write_chunk(::png::chunk::ChunkType(*b"paDd"), &vec![b'p'; pad])
        .expect("the padding chunk");
    writer.write_image_data(&[0x80]).expect("the pixel");
    writer.finish().expect("the PNG");
    out
}

/// A whole, valid PNG of exactly `len` bytes (at least about 80); shorter, only the PNG
/// signature and filler (for tests that never complete the upload).
pub fn png(len: usize) -> Vec<u8> {
    let smallest = png_padded(0).len();
    if len < smallest {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.resize(len, 7);
        return bytes;
    }
    let bytes = png_padded(len - smallest);
    assert_eq!(bytes.len(), len);
    bytes
}

/// A whole, valid JPEG (8 x 8 pixels) of exactly `len` bytes (at least about 700), padded with
/// a comment segment.
pub fn jpeg(len: usize) -> Vec<u8> {
    let mut image = Vec::new();
    let pixels: Vec<u8> = (0..8 * 8 * 3).map(|i| (i * 7 % 256) as u8).collect();
    jpeg_encoder::Encoder::new(&mut image, 90)
        .encode(&pixels, 8, 8, jpeg_encoder::ColorType::Rgb)
        .expect("a JPEG");
    // SOI, then a COM segment (FF FE, a length that counts itself), then the rest.
    let pad = len - image.len() - 4;
    let segment = u16::try_from(pad + 2).expect("a comment of at most 64 KiB");
    let mut bytes = image[..2].to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(&segment.to_be_bytes());
    bytes.resize(bytes.len() + pad, b' ');
    bytes.extend_from_slice(&image[2..]);
    assert_eq!(bytes.len(), len);
    bytes
}

/// A PDF of one empty page whose content stream holds `pad` bytes of spaces.
fn pdf_padded(pad: usize) -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let content = doc.add_object(Stream::new(dictionary! {}, vec![b' '; pad]));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("a PDF");
    out
}

/// A whole, valid PDF of exactly `len` bytes (at least about 600).
pub fn pdf(len: usize) -> Vec<u8> {
    // The stream's /Length grows by a digit now and then: a few rounds settle it.
    let mut pad = len.saturating_sub(pdf_padded(0).len());
    for _ in 0..8 {
        let bytes = pdf_padded(pad);
        if bytes.len() == len {
            return bytes;
        }
        pad = (pad + len).saturating_sub(bytes.len());
    }
    panic!("no PDF of exactly {len} bytes");
}

/// `len` bytes that start as a PNG does and go on as an HTML page.
pub fn png_signature_then_html(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script>".to_vec();
    bytes.resize(len - 7, b' ');
    bytes.extend_from_slice(b"</html>");
    bytes
}

/// An HTML page of exactly `len` bytes.
pub fn html(len: usize) -> Vec<u8> {
    let mut bytes = b"<html><script>alert(document.cookie)</script>".to_vec();
    bytes.resize(len - 7, b' ');
    bytes.extend_from_slice(b"</html>");
    bytes
}

/// A session between a new client and a new interpreter.
pub async fn session(app: &TestApp) -> (String, Account, Account) {
    let interpreter = app.available_interpreter().await;
    let client = app.signup("client").await;
    let request = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    assert_eq!(request.status(), StatusCode::CREATED);
    let offer = app.wait_for_offer(&interpreter).await;
    let session = app.accept(&interpreter, &offer).await;
    (
        session["id"].as_str().expect("id").to_owned(),
        client,
        interpreter,
    )
}

/// Sends `body` to the upload `url` with the upload's headers, one of them optionally replaced.
pub async fn put(
    upload: &Value,
    url: &str,
    body: Vec<u8>,
    replace: Option<(&str, &str)>,
) -> StatusCode {
    assert_eq!(upload["method"], "PUT");
    let mut request = reqwest::Client::new().put(url);
    for (name, value) in upload["headers"].as_object().expect("headers") {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // set from the body
        }
        let value = match replace {
            Some((n, v)) if n.eq_ignore_ascii_case(name) => v,
            _ => value.as_str().expect("a header value"),
        };
        request = request.header(name, value);
    }
    request
        .body(body)
        .send()
        .await
        .expect("storage answers")
        .status()
}

/// Uploads `body` exactly as `upload` says.
pub async fn upload(upload: &Value, body: Vec<u8>) -> StatusCode {
    put(upload, upload["url"].as_str().expect("url"), body, None).await
}

pub async fn fetch(url: &str) -> (StatusCode, Vec<u8>) {
    let response = reqwest::get(url).await.expect("storage answers");
    let status = response.status();
    (status, response.bytes().await.expect("a body").to_vec())
}
