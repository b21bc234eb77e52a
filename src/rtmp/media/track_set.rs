//! A set of enhanced-RTMP track ids: which tracks one message carries, which a subscriber can
//! decode.

use core::fmt;

/// A set of track ids (0..=255, a UI8 on the wire), as a 256-bit bitmap: `Copy`, no allocation.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TrackSet([u64; 4]);

impl TrackSet {
    /// No tracks.
    pub const EMPTY: TrackSet = TrackSet([0; 4]);

    /// Just track `id`.
    pub const fn single(id: u8) -> TrackSet {
        let mut words = [0u64; 4];
        words[(id / 64) as usize] = 1 << (id % 64);
        TrackSet(words)
    }

    /// Adds track `id`.
    pub fn insert(&mut self, id: u8) {
        if let Some(word) = self.0.get_mut(usize::from(id / 64)) {
            *word |= 1 << (id % 64);
        }
    }

    /// Whether track `id` is in the set.
    pub fn contains(&self, id: u8) -> bool {
        self.0
            .get(usize::from(id / 64))
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    /// The tracks in either set.
    #[must_use]
    pub fn union(self, other: TrackSet) -> TrackSet {
        let mut words = self.0;
        for (word, theirs) in words.iter_mut().zip(other.0) {
            *word |= theirs;
        }
        TrackSet(words)
    }

    /// The tracks of this set that are not in `other`.
    #[must_use]
    pub fn without(self, other: TrackSet) -> TrackSet {
        let mut words = self.0;
        for (word, theirs) in words.iter_mut().zip(other.0) {
            *word &= !theirs;
        }
        TrackSet(words)
    }

    /// Whether every track of this set is in `other` (the empty set is in every set).
    pub fn is_subset_of(&self, other: &TrackSet) -> bool {
        self.without(*other).is_empty()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }

    /// How many tracks the set holds.
    pub fn len(&self) -> usize {
        self.0.iter().map(|word| word.count_ones() as usize).sum()
    }

    /// The lowest track id in the set.
    pub fn first(&self) -> Option<u8> {
        self.iter().next()
    }

    /// The track ids, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=u8::MAX).filter(|id| self.contains(*id))
    }
}

/// `{0, 1}`.
impl fmt::Debug for TrackSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_every_id_from_0_to_255() {
        let mut set = TrackSet::EMPTY;
        for id in [0u8, 1, 63, 64, 127, 128, 200, 255] {
            assert!(!set.contains(id));
            set.insert(id);
            assert!(set.contains(id));
            assert_eq!(TrackSet::single(id).first(), Some(id));
        }
        assert_eq!(set.len(), 8);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [0, 1, 63, 64, 127, 128, 200, 255]
        );
        assert_eq!(format!("{:?}", TrackSet::single(3)), "{3}");
    }

    #[test]
    fn union_without_and_subset() {
        let a = TrackSet::single(0).union(TrackSet::single(200));
        let b = TrackSet::single(200);
        assert!(b.is_subset_of(&a));
        assert!(!a.is_subset_of(&b));
        assert!(TrackSet::EMPTY.is_subset_of(&b));
        assert_eq!(a.without(b), TrackSet::single(0));
        assert!(a.without(a).is_empty());
        assert_eq!(TrackSet::EMPTY.first(), None);
    }
}
