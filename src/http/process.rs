//! The process's own figures: resident memory from /proc.

/// Resident set size in bytes, from `/proc/self/statm` (None where there is no procfs).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages = parse_statm_resident(&statm)?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok()?.checked_mul(pages)
}

/// The resident page count: the second field of `statm`.
fn parse_statm_resident(statm: &str) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_second_field_is_the_resident_pages() {
        assert_eq!(parse_statm_resident("1234 567 89 1 0 300 0\n"), Some(567));
        assert_eq!(parse_statm_resident("1234"), None);
    }

    #[test]
    fn this_process_has_some_resident_memory() {
        let rss = resident_bytes().expect("procfs");
        assert!(rss > 1 << 20, "{rss}");
    }
}
