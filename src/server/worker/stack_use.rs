//! A session thread's stack: how much of it has been touched (its high-water mark, to size
//! `--worker-stack-kib` from measurement), and giving back the part a one-off deep call
//! (the TLS handshake) left behind.
//!
//! Pages of a thread's stack stay resident once touched, so the resident part of the
//! mapping is the deepest the thread has been since the pages were last given back.

/// The calling thread's stack: its lowest address and its size.
#[cfg(target_os = "linux")]
fn bounds() -> Option<(*mut libc::c_void, usize)> {
    use std::mem::MaybeUninit;
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; it is destroyed after
    // pthread_attr_getstack has read it.
    unsafe {
        let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let mut attr = attr.assume_init();
        let mut base: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut base, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (got == 0 && !base.is_null()).then_some((base, size))
    }
}

#[cfg(target_os = "linux")]
fn page_size() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()
}

/// Bytes of the calling thread's stack that are resident (Linux; None elsewhere or on error).
#[cfg(target_os = "linux")]
pub(super) fn touched() -> Option<usize> {
    let (base, size) = bounds()?;
    let page = page_size()?;
    let mut pages = vec![0u8; size.div_ceil(page)];
    // SAFETY: mincore reads the page table for this thread's own stack mapping and writes
    // one byte per page into `pages`, which holds one per page.
    if unsafe { libc::mincore(base, size, pages.as_mut_ptr()) } != 0 {
        return None;
    }
    Some(pages.iter().filter(|p| **p & 1 != 0).count() * page)
}

/// Gives back the pages of the calling thread's stack below this call's frame (less a page
/// of margin); they come back zeroed if the thread goes that deep again.
#[cfg(target_os = "linux")]
#[inline(never)]
pub(super) fn release_below_here() {
    let (Some((base, _)), Some(page)) = (bounds(), page_size()) else {
        return;
    };
    let marker = std::hint::black_box(0u8);
    let here = std::ptr::addr_of!(marker) as usize;
    let low = base as usize;
    let end = (here & !(page - 1)).saturating_sub(page);
    if end > low {
        // SAFETY: [low, end) lies in this thread's stack at least a page below this call's
        // frame: the stack grows down, so nothing live is there. The kernel drops those
        // pages and gives zeroed ones if they are touched again (as for a new thread).
        unsafe {
            libc::madvise(base, end - low, libc::MADV_DONTNEED);
        }
    }
}

/// Bytes of the calling thread's stack that are resident (Linux; None elsewhere or on error).
#[cfg(not(target_os = "linux"))]
pub(super) fn touched() -> Option<usize> {
    None
}

/// Gives back the stack below this call (Linux; elsewhere nothing).
#[cfg(not(target_os = "linux"))]
pub(super) fn release_below_here() {}
