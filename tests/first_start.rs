//! A newcomer's first minutes with the `rtmpsd` binary: help and version, the start lines
//! they paste into OBS and ffmpeg, the dual-stack default listener, and a busy port.

mod support;

use std::process::{Command, Output, Stdio};

fn rtmpsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmpsd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtmpsd")
}

#[test]
fn dash_h_and_help_print_usage_and_exit_zero() {
    for flag in ["-h", "--help"] {
        let out = rtmpsd(&[flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flag}: {:?} {text}", out.status);
        assert!(text.starts_with("Usage: rtmpsd"), "{flag}: {text}");
        assert!(text.contains("--listen"), "{flag}: {text}");
    }
}

#[test]
fn version_and_dash_capital_v_print_the_crate_version_and_exit_zero() {
    for flag in ["--version", "-V"] {
        let out = rtmpsd(&[flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flag}: {:?} {text}", out.status);
        assert_eq!(
            text,
            format!("rtmpsd {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}
