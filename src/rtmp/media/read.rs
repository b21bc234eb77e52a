//! Bounds-checked reads of big-endian fields from a media payload; every miss is `TooShort`.

use super::error::MediaError;

/// Fails with `TooShort` unless `payload` holds at least `needed` bytes.
pub(super) fn need(payload: &[u8], needed: usize) -> Result<(), MediaError> {
    if payload.len() < needed {
        Err(MediaError::TooShort {
            needed,
            seen: payload.len(),
        })
    } else {
        Ok(())
    }
}

/// The `N` bytes at `at`, or `TooShort`.
fn array_at<const N: usize>(payload: &[u8], at: usize) -> Result<[u8; N], MediaError> {
    let end = at.saturating_add(N);
    payload
        .get(at..end)
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or(MediaError::TooShort {
            needed: end,
            seen: payload.len(),
        })
}

/// The byte at `at`, or `TooShort`.
pub(super) fn byte_at(payload: &[u8], at: usize) -> Result<u8, MediaError> {
    array_at::<1>(payload, at).map(|[b]| b)
}

/// The big-endian u16 at `at`, or `TooShort`.
pub(super) fn u16_at(payload: &[u8], at: usize) -> Result<u16, MediaError> {
    array_at(payload, at).map(u16::from_be_bytes)
}

/// The big-endian UI24 at `at`, or `TooShort`.
pub(super) fn u24_at(payload: &[u8], at: usize) -> Result<u32, MediaError> {
    array_at::<3>(payload, at).map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
}

/// The big-endian FourCC at `at`, or `TooShort`.
pub(super) fn fourcc_at(payload: &[u8], at: usize) -> Result<u32, MediaError> {
    array_at(payload, at).map(u32::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_names_the_bytes_needed() {
        let bytes = [1, 2, 3, 4, 5];
        assert_eq!(byte_at(&bytes, 4), Ok(5));
        assert_eq!(u16_at(&bytes, 3), Ok(0x0405));
        assert_eq!(u24_at(&bytes, 2), Ok(0x030405));
        assert_eq!(fourcc_at(&bytes, 1), Ok(0x02030405));
        assert_eq!(
            fourcc_at(&bytes, 2),
            Err(MediaError::TooShort { needed: 6, seen: 5 })
        );
        assert_eq!(
            byte_at(&bytes, usize::MAX),
            Err(MediaError::TooShort {
                needed: usize::MAX,
                seen: 5
            })
        );
        assert_eq!(need(&bytes, 5), Ok(()));
        assert_eq!(
            need(&bytes, 6),
            Err(MediaError::TooShort { needed: 6, seen: 5 })
        );
    }
}
