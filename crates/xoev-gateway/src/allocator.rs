//! Tuning of the process allocator (mimalloc, installed by the binaries).

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (mimalloc.h, v3);
/// libmimalloc-sys names no constant for it. The unit test checks that
/// this index reads the option's documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Has mimalloc give freed memory back to the OS at once instead of after
/// its purge delay (1 s in v3). Under steady load the delayed purges kept
/// pages of finished messages resident. `xoev-bench --messages 200000 e2e`,
/// RSS from 50,000 to 200,000 messages: default 76 → 91 MiB (+19.0 %);
/// 10 ms 66 → 73 MiB (+10.5 %); immediately 63 → 68 MiB (+8.1 %, and
/// +6.1 % in another run). The price: ≈ 3 % more CPU per message on one
/// core (`xoev-bench --only pipeline_ec stages`, three A/B pairs: 258.7 vs
/// 267.4 µs), none measurable end to end. An operator's
/// `MIMALLOC_PURGE_DELAY` (milliseconds) is left to decide. Call once,
/// early in `main`; harmless if another allocator serves the process.
pub fn purge_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: setting an option is a plain store mimalloc allows at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_index_names_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the environment decides the value
        }
        // SAFETY: reading an option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000, "mimalloc v3's default purge delay (ms)");
        purge_freed_memory_promptly();
        // SAFETY: reading an option.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            0
        );
    }
}
