//! How the SQLite store keeps a JSON document in a column: short text as it is, long text
//! compressed.
//!
//! An order read from Commerce is ten to fifty kilobytes of JSON, and most of the bytes the store
//! writes. Kept as text, each such document spans several overflow pages, which are written to the
//! write-ahead log, then again to the database at the checkpoint, and read back through the chain
//! when the record is mapped. JSON compresses well (an order read from Commerce to about a fifth
//! of its size with LZ4), and LZ4 compresses and decompresses at a gigabyte a second or more, so a compressed
//! document costs less CPU to compress and store than the pages it saves.
//!
//! A document of [`COMPRESS_FROM`] bytes or more is therefore kept as a BLOB: the four bytes
//! [`MAGIC`], then an LZ4 block with its uncompressed length in front (little-endian `u32`, the
//! layout of `lz4_flex::compress_prepend_size`). Shorter documents, and every document written by
//! an earlier release, are TEXT. A reader takes either: JSON text never starts with a NUL byte.

use std::borrow::Cow;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo};
use sqlx::{Encode, Sqlite, Type};

/// Documents of this many bytes or more are stored compressed: about a quarter of a page, below
/// which a document fits in its row and there is little to save.
pub const COMPRESS_FROM: usize = 1024;

/// The first bytes of a compressed document.
pub const MAGIC: &[u8; 4] = b"\0lz4";

/// LZ4 cannot expand a block more than about 255 times; a stated length beyond that is corruption,
/// refused before anything is allocated for it.
const MAX_RATIO: usize = 255;

/// A document as bound to a `document` column: its text, or its compressed bytes.
#[derive(Debug)]
pub enum StoredText<'a> {
    /// Kept as TEXT.
    Text(&'a str),
    /// Kept as a BLOB: [`MAGIC`] and the compressed block.
    Compressed(Vec<u8>),
}

impl<'a> StoredText<'a> {
    /// The stored form of `text`: compressed when it is long enough and compression makes it
    /// smaller.
    #[must_use]
    pub fn of(text: &'a str) -> Self {
        if text.len() < COMPRESS_FROM {
            return Self::Text(text);
        }
        let block = lz4_flex::compress_prepend_size(text.as_bytes());
        if MAGIC.len() + block.len() >= text.len() {
            return Self::Text(text);
        }
        let mut bytes = Vec::with_capacity(MAGIC.len() + block.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&block);
        Self::Compressed(bytes)
    }
}

impl Type<Sqlite> for StoredText<'_> {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <&[u8] as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for StoredText<'q> {
    fn encode_by_ref(
        &self,
        args: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        args.push(match self {
            Self::Text(text) => SqliteArgumentValue::Text(Cow::Borrowed(text)),
            Self::Compressed(bytes) => SqliteArgumentValue::Blob(Cow::Owned(bytes.clone())),
        });
        Ok(IsNull::No)
    }

    fn encode(self, args: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        args.push(match self {
            Self::Text(text) => SqliteArgumentValue::Text(Cow::Borrowed(text)),
            Self::Compressed(bytes) => SqliteArgumentValue::Blob(Cow::Owned(bytes)),
        });
        Ok(IsNull::No)
    }
}

/// The text of a stored document, from the column's bytes (TEXT or BLOB).
///
/// # Errors
/// What is wrong with it: a compressed block that does not decompress or states an impossible
/// length, or bytes that are not UTF-8.
pub fn text_of(bytes: Vec<u8>) -> Result<String, String> {
    let Some(block) = bytes.strip_prefix(MAGIC) else {
        return String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"));
    };
    let Some(length) = block.first_chunk::<4>().map(|n| u32::from_le_bytes(*n)) else {
        return Err("a compressed document shorter than its length field".to_owned());
    };
    let limit = block.len().saturating_mul(MAX_RATIO).saturating_add(16);
    if usize::try_from(length).map_or(true, |n| n > limit) {
        return Err(format!(
            "a compressed document of {} bytes claims {length} bytes uncompressed",
            block.len()
        ));
    }
    let raw = lz4_flex::decompress_size_prepended(block)
        .map_err(|e| format!("a compressed document does not decompress: {e}"))?;
    // A block cut short after a run of literals decodes without an error, to less text.
    if raw.len() != usize::try_from(length).unwrap_or(usize::MAX) {
        return Err(format!(
            "a compressed document of {length} bytes decompresses to {} bytes",
            raw.len()
        ));
    }
    String::from_utf8(raw).map_err(|e| format!("a compressed document is not UTF-8 text: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_like(len: usize) -> String {
        let mut text = String::from("{\"items\":[");
        let mut n = 0;
        while text.len() < len {
            text.push_str(&format!(
                "{{\"sku\":\"SKU-{n}\",\"name\":\"Widget {n} – blau\",\"price\":\"{n}.95\"}},"
            ));
            n += 1;
        }
        text.push_str("{}]}");
        text
    }

    fn stored(text: &str) -> Vec<u8> {
        match StoredText::of(text) {
            StoredText::Text(t) => t.as_bytes().to_vec(),
            StoredText::Compressed(bytes) => bytes,
        }
    }

    #[test]
    fn short_documents_stay_text_and_long_ones_are_compressed() {
        let short = order_like(COMPRESS_FROM - 200);
        assert!(short.len() < COMPRESS_FROM);
        assert!(matches!(StoredText::of(&short), StoredText::Text(t) if t == short));

        let long = order_like(15_000);
        let StoredText::Compressed(bytes) = StoredText::of(&long) else {
            panic!("a 15 KB document is kept as text");
        };
        assert!(bytes.starts_with(MAGIC));
        assert!(
            bytes.len() * 3 < long.len(),
            "{} bytes compressed to {}",
            long.len(),
            bytes.len()
        );
    }

    #[test]
    fn text_that_does_not_compress_stays_text() {
        // Every character differs from the ones before it within LZ4's reach of matches.
        let text: String = (0..3000u32)
            .map(|n| char::from_u32(0x4e00 + (n * 7919) % 20_000).unwrap_or('x'))
            .collect();
        assert!(text.len() >= COMPRESS_FROM);
        assert!(matches!(StoredText::of(&text), StoredText::Text(t) if t == text));
    }

    #[test]
    fn both_forms_read_back_as_the_text_written() {
        for len in [0, 10, COMPRESS_FROM - 1, COMPRESS_FROM, 50_000] {
            let text = order_like(len);
            assert_eq!(text_of(stored(&text)).as_deref(), Ok(text.as_str()));
        }
        assert_eq!(text_of(Vec::new()).as_deref(), Ok(""));
    }

    #[test]
    fn damaged_documents_are_refused_with_a_reason() {
        let mut bytes = stored(&order_like(5_000));
        bytes.truncate(bytes.len() / 2);
        let err = text_of(bytes).expect_err("half a block");
        assert!(err.contains("does not decompress"), "{err}");

        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(b"\x10x");
        let err = text_of(huge).expect_err("impossible length");
        assert!(err.contains("claims 4294967295 bytes"), "{err}");

        // A whole block that states more than it holds decodes without an error, to less.
        let mut block = lz4_flex::compress_prepend_size(b"0123456789abcdef0123");
        block[0] += 5;
        let err = text_of([&MAGIC[..], &block].concat()).expect_err("states more");
        assert!(
            err.contains("of 25 bytes decompresses to 20 bytes"),
            "{err}"
        );

        let err = text_of(MAGIC[..].to_vec()).expect_err("no length");
        assert!(err.contains("shorter than its length field"), "{err}");

        let err = text_of(vec![b'{', 0xff]).expect_err("not UTF-8");
        assert!(err.contains("not UTF-8"), "{err}");

        let not_utf8 = lz4_flex::compress_prepend_size(&[0xff; 2000]);
        let err = text_of([&MAGIC[..], &not_utf8].concat()).expect_err("not UTF-8 inside");
        assert!(err.contains("compressed document is not UTF-8"), "{err}");
    }
}
