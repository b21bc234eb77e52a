//! Process-wide memory settings made once at start.

/// Most malloc arenas glibc may create.
///
/// glibc gives each thread that allocates its own arena, up to eight per core, and each
/// keeps freed memory for itself. With one thread per connection that costs about 35 KiB of
/// RSS per player and lets RSS creep across connection churn; two arenas are plenty for a
/// server whose hot path allocates one buffer per frame.
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at `MALLOC_ARENAS` (a no-op with other C libraries).
///
/// Call before any thread is spawned.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called at start, before any
    // other thread exists, with a parameter and value glibc documents.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
}
