//! A map that decodes a PNG payload with the `image` crate (0.24, default
//! features, as AIO's image samples depend on it), converts it to 8-bit
//! grayscale and encodes it as PNG again. `image`'s decoders pull in rayon and
//! thread spawning, whose pthread symbols Debian's wasi-libc lacks: the
//! fixture for the builder's pthread support.

use std::io::Cursor;

use image::ImageOutputFormat;
use wasm_graph_sdk::macros::map_operator;

fn failure(what: &str, err: impl std::fmt::Display) -> Error {
    Error { message: format!("{what}: {err}") }
}

/// The PNG `bytes` as an 8-bit grayscale PNG.
pub fn to_grayscale_png(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let picture = image::load_from_memory(bytes).map_err(|err| failure("payload is not an image", err))?;
    let mut out = Cursor::new(Vec::new());
    picture.grayscale().write_to(&mut out, ImageOutputFormat::Png).map_err(|err| failure("cannot encode PNG", err))?;
    Ok(out.into_inner())
}

#[map_operator]
fn grayscale(input: DataModel) -> Result<DataModel, Error> {
    let DataModel::Message(mut message) = input else {
        return Err(Error { message: "expected a message".to_owned() });
    };
    message.payload = BufferOrBytes::Bytes(to_grayscale_png(&message.payload.read())?);
    message.content_type = Some(BufferOrString::String("image/png".to_owned()));
    Ok(DataModel::Message(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GenericImageView, Rgb, RgbImage};
    use wasm_graph_sdk::testing;

    #[test]
    fn colour_png_becomes_grayscale_png() {
        let mut png = Cursor::new(Vec::new());
        RgbImage::from_pixel(2, 3, Rgb([255, 0, 0])).write_to(&mut png, ImageOutputFormat::Png).unwrap();
        let out = grayscale(testing::data(png.into_inner())).unwrap();
        let decoded = image::load_from_memory(&testing::payload(&out)).unwrap();
        assert_eq!(decoded.dimensions(), (2, 3));
        assert_eq!(decoded.color(), image::ColorType::L8);
    }

    #[test]
    fn other_payloads_are_errors() {
        let err = grayscale(testing::data(b"not a picture".to_vec())).unwrap_err();
        assert!(err.message.starts_with("payload is not an image"), "{}", err.message);
    }
}
