//! Board profiles: the limits and cipher order each board in `boards/` runs with, as the
//! defaults under `board = "NAME"` (or `--board NAME`). The config file's own keys and the
//! command line still override each of them.
//!
//! The numbers are `boards/<board>/board.env`'s; a test holds the two together.

use crate::config::{Args, CipherOrder};

/// One board's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardProfile {
    /// The board's folder name in `boards/`.
    pub name: &'static str,
    /// `cipher_order`: chacha on cores without AES instructions.
    pub cipher_order: CipherOrder,
    /// `max_connections`.
    pub max_connections: usize,
    /// `gop_cache_kib`.
    pub gop_cache_kib: usize,
    /// `player_queue`.
    pub player_queue: usize,
    /// `worker_stack_kib`.
    pub worker_stack_kib: usize,
}

const fn profile(
    name: &'static str,
    cipher_order: CipherOrder,
    max_connections: usize,
    gop_cache_kib: usize,
    player_queue: usize,
    worker_stack_kib: usize,
) -> BoardProfile {
    BoardProfile {
        name,
        cipher_order,
        max_connections,
        gop_cache_kib,
        player_queue,
        worker_stack_kib,
    }
}

use CipherOrder::{Aes, ChaCha};

/// Every board, as in `boards/*/board.env`.
pub const BOARDS: &[BoardProfile] = &[
    profile("pi-zero2w-aarch64", ChaCha, 64, 2048, 256, 256),
    profile("pi-zero2w-armv7", ChaCha, 64, 2048, 256, 256),
    profile("pi3-aarch64", ChaCha, 200, 4096, 384, 256),
    profile("pi3-armv7", ChaCha, 200, 4096, 384, 256),
    profile("pi4-aarch64", ChaCha, 600, 8192, 512, 256),
    profile("pi4-armv7", ChaCha, 500, 8192, 512, 256),
    profile("pi5-aarch64", Aes, 1000, 16384, 1024, 256),
    profile("x86-64", Aes, 2000, 32768, 1024, 512),
];

impl BoardProfile {
    /// The profile called `name`; the error lists the boards there are.
    pub fn named(name: &str) -> Result<BoardProfile, String> {
        BOARDS
            .iter()
            .find(|b| b.name == name)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
                format!(
                    "--board {name:?} is unknown: use one of {}",
                    names.join(", ")
                )
            })
    }

    /// Sets each option `args` leaves unset to this board's value; returns the keys it set.
    pub fn fill(&self, args: &mut Args) -> Vec<&'static str> {
        let mut set = Vec::new();
        let mut fill = |key: &'static str, slot: &mut Option<usize>, value: usize| {
            if slot.is_none() {
                *slot = Some(value);
                set.push(key);
            }
        };
        fill(
            "max_connections",
            &mut args.max_connections,
            self.max_connections,
        );
        fill("gop_cache_kib", &mut args.gop_cache_kib, self.gop_cache_kib);
        fill("player_queue", &mut args.player_queue, self.player_queue);
        fill(
            "worker_stack_kib",
            &mut args.worker_stack_kib,
            self.worker_stack_kib,
        );
        if args.cipher_order.is_none() {
            args.cipher_order = Some(self.cipher_order);
            set.push("cipher_order");
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// `KEY=value` from a board.env text.
    fn env_value<'a>(text: &'a str, key: &str) -> &'a str {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key}= in board.env"))
            .trim_matches('"')
    }

    #[test]
    fn profiles_are_the_board_env_files() {
        let boards = Path::new(env!("CARGO_MANIFEST_DIR")).join("boards");
        let mut on_disk: Vec<String> = std::fs::read_dir(&boards)
            .expect("boards/")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("board.env").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        assert_eq!(on_disk, names, "one profile per boards/*/board.env");
        for board in BOARDS {
            let text = std::fs::read_to_string(boards.join(board.name).join("board.env")).unwrap();
            let number = |key| env_value(&text, key).parse::<usize>().unwrap();
            let order: CipherOrder = env_value(&text, "CIPHER_ORDER").parse().unwrap();
            assert_eq!(
                *board,
                profile(
                    board.name,
                    order,
                    number("MAX_CONNECTIONS"),
                    number("GOP_CACHE_KIB"),
                    number("PLAYER_QUEUE"),
                    number("WORKER_STACK_KIB"),
                ),
                "{}",
                board.name
            );
        }
    }

    #[test]
    fn a_board_fills_only_what_is_unset() {
        let mut args = Args {
            max_connections: Some(7),
            ..Args::default()
        };
        let set = BoardProfile::named("pi4-aarch64").unwrap().fill(&mut args);
        assert_eq!(args.max_connections, Some(7));
        assert_eq!(args.gop_cache_kib, Some(8192));
        assert_eq!(args.cipher_order, Some(CipherOrder::ChaCha));
        assert!(!set.contains(&"max_connections"));
        assert!(set.contains(&"gop_cache_kib"));
        let err = BoardProfile::named("pi9").unwrap_err();
        assert!(err.contains("pi4-aarch64"), "{err}");
    }
}
