//! What a completed upload must be, checked over the whole file rather than its first bytes: a
//! file that only starts like a PNG (a signature, then HTML) is not a PNG.
//!
//! - PNG (the `png` crate): every row decoded, every chunk's CRC checked, through `IEND`, with
//!   nothing after it. Rows are decoded one at a time, so memory stays that of a row whatever the
//!   image's size.
//! - JPEG (`zune-jpeg`, strict): the whole image decoded to one grey channel (every scan's
//!   entropy-coded data is read; one byte per pixel), at most [`MAX_PIXELS`].
//! - PDF (`lopdf`): parsed as a document (header, objects, cross-reference table, trailer) with
//!   at least one page.
//!
//! These are the decoders the `image` crate itself uses for PNG and JPEG, taken directly: the
//! row-by-row PNG reader bounds memory, which `image`'s whole-image decode does not.
//!
//! Decoding is CPU and memory work on untrusted input: it runs on the blocking pool, at most
//! [`CONCURRENT_CHECKS`] at a time per process (others wait their turn), so a burst of
//! `complete` calls costs at most that many objects (20 MiB each) and decoders at once.

use std::io::Cursor;

use dragoman_ports::{ObjectKey, ObjectStorage};
use tokio::sync::Semaphore;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::EngineError;

/// Largest image accepted, in pixels (about 67 megapixels: beyond any phone camera).
pub(crate) const MAX_PIXELS: usize = 64 * 1024 * 1024;

/// Longest side accepted, in pixels.
const MAX_SIDE: usize = 32_768;

/// What the PNG decoder may allocate besides its row (chunks such as a compressed ICC profile).
const PNG_DECODER_BYTES: usize = 16 * 1024 * 1024;

/// Checks of whole files under way at once in this process.
pub(crate) const CONCURRENT_CHECKS: usize = 2;

static CHECKS: Semaphore = Semaphore::const_new(CONCURRENT_CHECKS);

/// Reads the object at `key` whole and checks that it is a whole, well-formed file of
/// `content_type`: `None` if the object is absent, else the verdict (why not, for the client).
/// The turn is taken before the object is read, so that calls waiting for one hold no bytes.
pub(crate) async fn check_object(
    objects: &dyn ObjectStorage,
    key: &ObjectKey,
    content_type: &str,
) -> Result<Option<Result<(), String>>, EngineError> {
    let _turn = CHECKS
        .acquire()
        .await
        .map_err(|e| EngineError::Internal(e.into()))?;
    let Some(object) = objects.get(key).await? else {
        return Ok(None);
    };
    let content_type = content_type.to_owned();
    let verdict = tokio::task::spawn_blocking(move || check_now(&content_type, &object.bytes))
        .await
        .map_err(|e| EngineError::Internal(e.into()))?;
    Ok(Some(verdict))
}

/// Whether `bytes` are a whole, well-formed file of `content_type`; if not, why.
pub(crate) fn check_now(content_type: &str, bytes: &[u8]) -> Result<(), String> {
    match content_type {
        "image/png" => png_file(bytes).map_err(|e| format!("not a valid PNG image ({e})")),
        "image/jpeg" => jpeg_file(bytes).map_err(|e| format!("not a valid JPEG image ({e})")),
        "application/pdf" => pdf_file(bytes).map_err(|e| format!("not a valid PDF document ({e})")),
        other => Err(format!("{other} is not a type uploads may have")),
    }
}

fn dimensions_allowed(width: usize, height: usize) -> Result<(), String> {
    if width > MAX_SIDE || height > MAX_SIDE || width.saturating_mul(height) > MAX_PIXELS {
        return Err(format!(
            "{width}x{height} pixels: at most {MAX_SIDE} a side and {MAX_PIXELS} in all"
        ));
    }
    Ok(())
}

fn png_file(bytes: &[u8]) -> Result<(), String> {
    let mut cursor = Cursor::new(bytes);
    let decoder = png::Decoder::new_with_limits(
        &mut cursor,
        png::Limits {
            bytes: PNG_DECODER_BYTES,
        },
    );
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let (width, height) = (reader.info().width, reader.info().height);
    dimensions_allowed(width as usize, height as usize)?;
    while reader.next_row().map_err(|e| e.to_string())?.is_some() {}
    reader.finish().map_err(|e| e.to_string())?;
    drop(reader);
    if cursor.position() != bytes.len() as u64 {
        return Err("bytes after the end of the image".to_owned());
    }
    Ok(())
}

fn jpeg_file(bytes: &[u8]) -> Result<(), String> {
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE)
        .jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = JpegDecoder::new_with_options(Cursor::new(bytes), options);
    decoder.decode_headers().map_err(|e| e.to_string())?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| "no image dimensions".to_owned())?;
    dimensions_allowed(width, height)?;
    let size = decoder
        .output_buffer_size()
        .ok_or_else(|| "no image size".to_owned())?;
    let mut pixels = vec![0; size];
    decoder.decode_into(&mut pixels).map_err(|e| e.to_string())
}

fn pdf_file(bytes: &[u8]) -> Result<(), String> {
    let document = lopdf::Document::load_mem(bytes).map_err(|e| e.to_string())?;
    if document.get_pages().is_empty() {
        return Err("no pages".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real PNG of `width` x `height` grey pixels.
    fn png_image(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().expect("a header");
        let pixels: Vec<u8> = (0..width * height).map(|i| (i % 251) as u8).collect();
        writer.write_image_data(&pixels).expect("pixels");
        writer.finish().expect("finished");
        out
    }

    /// A real JPEG of `width` x `height` colour pixels.
    fn jpeg_image(width: u16, height: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let pixels: Vec<u8> = (0..u32::from(width) * u32::from(height) * 3)
            .map(|i| (i % 251) as u8)
            .collect();
        jpeg_encoder::Encoder::new(&mut out, 85)
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .expect("encoded");
        out
    }

    fn pdf_document() -> Vec<u8> {
        use lopdf::{Document, Object, Stream, dictionary};
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let content = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
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
        doc.save_to(&mut out).expect("saved");
        out
    }

    #[test]
    fn whole_files_pass() {
        assert_eq!(check_now("image/png", &png_image(40, 30)), Ok(()));
        assert_eq!(check_now("image/jpeg", &jpeg_image(40, 30)), Ok(()));
        assert_eq!(check_now("application/pdf", &pdf_document()), Ok(()));
    }

    #[test]
    fn a_jpeg_cut_short_is_refused() {
        let whole = jpeg_image(64, 48);
        assert!(check_now("image/jpeg", &whole[..whole.len() / 2]).is_err());
    }

    #[test]
    fn a_signature_followed_by_anything_else_is_refused() {
        let mut fake_png = b"\x89PNG\r\n\x1a\n".to_vec();
        fake_png.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let mut fake_jpeg = vec![0xff, 0xd8, 0xff, 0xe0];
        fake_jpeg.extend_from_slice(b"<html>");
        let mut fake_pdf = b"%PDF-1.7\n".to_vec();
        fake_pdf.resize(500, b'x');
        for (content_type, bytes) in [
            ("image/png", fake_png),
            ("image/jpeg", fake_jpeg),
            ("application/pdf", fake_pdf),
        ] {
            assert!(
                check_now(content_type, &bytes).is_err(),
                "{content_type} passed"
            );
        }
    }

    #[test]
    fn a_truncated_altered_or_extended_png_is_refused() {
        let whole = png_image(40, 30);
        let truncated = whole[..whole.len() - 20].to_vec();
        let mut altered = whole.clone();
        let middle = altered.len() / 2;
        altered[middle] ^= 0x55;
        let mut extended = whole.clone();
        extended.extend_from_slice(b"<html></html>");
        for bytes in [truncated, altered, extended] {
            assert!(check_now("image/png", &bytes).is_err());
        }
    }

    #[test]
    fn types_are_not_interchangeable() {
        assert!(check_now("image/jpeg", &png_image(4, 4)).is_err());
        assert!(check_now("application/pdf", &png_image(4, 4)).is_err());
        assert!(check_now("image/png", &pdf_document()).is_err());
        assert!(check_now("text/html", b"<html>").is_err());
    }

    fn status_kib(field: &str) -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .expect("/proc/self/status")
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .expect("the field")
    }

    /// Memory of checking a 16 MiB PNG: the process's peak (reset just before, nextest runs
    /// each test in a process of its own) grows by far less than the image, because rows are
    /// decoded one at a time. The figure is printed (`--nocapture`).
    #[test]
    fn a_large_png_is_checked_a_row_at_a_time() {
        let (width, height) = (4096u32, 4096u32);
        let file = {
            // Noise, which does not compress: the file is as large as its pixels.
            let mut seed = 0x2545_f491_u32;
            let pixels: Vec<u8> = (0..width * height)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_compression(png::Compression::NoCompression);
            let mut writer = encoder.write_header().expect("a header");
            writer.write_image_data(&pixels).expect("pixels");
            writer.finish().expect("finished");
            out
        };
        assert!(file.len() > 16 * 1024 * 1024, "{} bytes", file.len());
        std::fs::write("/proc/self/clear_refs", "5").expect("the peak is reset");
        let before = status_kib("VmRSS:");
        assert_eq!(check_now("image/png", &file), Ok(()));
        let grown = status_kib("VmHWM:").saturating_sub(before);
        println!(
            "checking a {width}x{height} PNG of {} KiB: peak memory +{grown} KiB",
            file.len() / 1024
        );
        assert!(
            grown < 4 * 1024,
            "the check grew the process by {grown} KiB"
        );
    }

    #[test]
    fn images_beyond_the_pixel_budget_are_refused_before_decoding() {
        assert!(dimensions_allowed(8_000, 8_000).is_ok());
        assert!(dimensions_allowed(9_000, 9_000).is_err());
        assert!(dimensions_allowed(40_000, 10).is_err());
    }
}
