//! RTMP message timestamps: 32-bit milliseconds that wrap.

/// A 32-bit RTMP timestamp in milliseconds; all arithmetic wraps at 2^32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamp(pub u32);

impl Timestamp {
    /// The zero timestamp.
    pub const ZERO: Timestamp = Timestamp(0);

    /// The raw millisecond value.
    pub fn millis(self) -> u32 {
        self.0
    }

    /// This timestamp moved forward by `delta` milliseconds, wrapping at 2^32.
    pub fn wrapping_add(self, delta: u32) -> Timestamp {
        Timestamp(self.0.wrapping_add(delta))
    }

    /// Signed distance from `earlier` to `self`, taking the shorter way round the wrap.
    ///
    /// Serial-number arithmetic (RFC 1982 style): a result in `i32` range, negative when
    /// `self` is before `earlier`.
    pub fn since(self, earlier: Timestamp) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_past_u32_max_wraps() {
        assert_eq!(Timestamp(u32::MAX - 1).wrapping_add(3), Timestamp(1));
    }

    #[test]
    fn distance_across_the_wrap_is_small_and_positive() {
        assert_eq!(Timestamp(5).since(Timestamp(u32::MAX - 4)), 10);
        assert_eq!(Timestamp(u32::MAX - 4).since(Timestamp(5)), -10);
    }

    #[test]
    fn distance_of_half_the_range_is_negative() {
        assert_eq!(Timestamp(1 << 31).since(Timestamp(0)), i32::MIN);
        assert_eq!(Timestamp((1 << 31) - 1).since(Timestamp(0)), i32::MAX);
    }
}
