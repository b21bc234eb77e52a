//! Micro-benchmarks of the protocol core: chunk writer, chunk reader and AMF0, in GB/s.
//!
//! `cargo bench --bench codec`. The media workload is one pass of the fan-out benchmark's
//! clip (`target/bench-media/*.flv` if `benches/fanout-run` made one, else its synthetic
//! stand-in with the same frame-size pattern); the AMF0 workload is the `connect` command
//! OBS sends, an `onStatus` reply and the clip's `onMetaData`. Each case runs for about
//! `CODEC_SECS` (default 1) seconds; the table gives payload bytes per second and ns per
//! operation (a message for the chunk cases, a whole command for AMF0).

#[path = "fanout/media.rs"]
#[allow(dead_code)]
mod media;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use rtmpsd::rtmp::Timestamp;
use rtmpsd::rtmp::amf0::{self, Amf0Writer, AmfLimits};
use rtmpsd::rtmp::chunk::{ChunkLimits, ChunkRead, ChunkReader, ChunkWriter, MessageHeader};
use rtmpsd::rtmp::message::type_id;

/// Runs `op` (which handles `bytes` payload bytes in `ops` operations) for about `secs`.
fn time(name: &str, bytes: usize, ops: usize, secs: f64, mut op: impl FnMut()) {
    op();
    let budget = Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut rounds = 0u64;
    while started.elapsed() < budget {
        op();
        rounds += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let gbps = bytes as f64 * rounds as f64 / elapsed / 1e9;
    let ns = elapsed * 1e9 / (rounds as f64 * ops as f64);
    println!("| {name:<44} | {gbps:>8.2} | {ns:>10.0} |");
}

fn header(kind: u8, ms: u32) -> MessageHeader {
    MessageHeader {
        chunk_stream_id: match kind {
            type_id::AUDIO => 6,
            type_id::VIDEO => 7,
            _ => 5,
        },
        timestamp: Timestamp(ms),
        type_id: kind,
        stream_id: 1,
    }
}

/// Busy CPU seconds of the whole machine so far (from /proc/stat), or 0 where unreadable.
fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4))
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// Waits up to a minute for a second in which the machine was under 15% of a core busy.
fn wait_quiet() -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = machine_busy_secs();
        std::thread::sleep(Duration::from_secs(1));
        let busy = machine_busy_secs() - before;
        if busy < 0.15 || Instant::now() >= deadline {
            return busy;
        }
    }
}

fn main() {
    let busy = wait_quiet();
    let secs: f64 = std::env::var("CODEC_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-media");
    let flv = std::fs::read_dir(&dir).ok().and_then(|d| {
        d.filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "flv"))
    });
    let clip = flv
        .and_then(|p| media::read_flv(&p).ok())
        .unwrap_or_else(|| media::synthetic(4000, 30, 2));
    let messages: Vec<(MessageHeader, &[u8])> = clip
        .frames
        .iter()
        .map(|t| (header(t.type_id, t.ms), t.payload.as_slice()))
        .collect();
    let payload: usize = messages.iter().map(|(_, p)| p.len()).sum();
    println!(
        "Codec micro-benchmarks: {}, {} messages, {} payload bytes per pass; machine {:.0}% \
         of a core busy just before.\n",
        clip.description,
        messages.len(),
        payload,
        busy * 100.0
    );
    println!("| case | GB/s | ns/op |\n|---|---:|---:|");
    let mut out = Vec::with_capacity(payload * 2);
    for chunk_size in [4096u32, 128] {
        let writer = ChunkWriter::new(chunk_size);
        time(
            &format!("chunk writer, {chunk_size}-byte chunks"),
            payload,
            messages.len(),
            secs,
            || {
                out.clear();
                for (h, p) in &messages {
                    writer.write_to_vec(h, p, &mut out);
                }
                black_box(&out);
            },
        );
    }
    for chunk_size in [4096u32, 128] {
        let writer = ChunkWriter::new(chunk_size);
        let mut stream = Vec::new();
        // The peer announces its chunk size first, as every encoder does.
        let set = chunk_size.to_be_bytes();
        ChunkWriter::new(128).write_to_vec(
            &MessageHeader {
                chunk_stream_id: 2,
                timestamp: Timestamp::ZERO,
                type_id: type_id::SET_CHUNK_SIZE,
                stream_id: 0,
            },
            &set,
            &mut stream,
        );
        for (h, p) in &messages {
            writer.write_to_vec(h, p, &mut stream);
        }
        let limits = ChunkLimits::default();
        // Fed in 8 KiB reads, as the server's worker does.
        time(
            &format!("chunk reader, {chunk_size}-byte chunks, 8 KiB reads"),
            payload,
            messages.len(),
            secs,
            || {
                let mut reader = ChunkReader::new(limits);
                let mut got = 0usize;
                let mut carry = [0u8; 64];
                let mut carried = 0usize;
                let mut buf = [0u8; 8192 + 64];
                for piece in stream.chunks(8192) {
                    buf[..carried].copy_from_slice(&carry[..carried]);
                    buf[carried..carried + piece.len()].copy_from_slice(piece);
                    let len = carried + piece.len();
                    let mut pos = 0;
                    loop {
                        match reader.read(&buf[pos..len]) {
                            Ok(ChunkRead::NeedMore { consumed }) => {
                                pos += consumed;
                                break;
                            }
                            Ok(ChunkRead::Message { consumed, message }) => {
                                pos += consumed;
                                got += message.payload.len();
                            }
                            Err(e) => panic!("chunk reader failed on our own stream: {e}"),
                        }
                    }
                    carried = len - pos;
                    carry[..carried].copy_from_slice(&buf[pos..len]);
                }
                assert!(got >= payload - 64, "reader lost bytes: {got} of {payload}");
                black_box(got);
            },
        );
    }
    // AMF0: what OBS sends to connect, what the server answers, the stream's metadata.
    let mut connect = [0u8; 1024];
    let connect_len = {
        let mut w = Amf0Writer::new(&mut connect);
        (|| {
            w.string("connect")?.number(1.0)?.object_start()?;
            w.property("app")?.string("live")?;
            w.property("type")?.string("nonprivate")?;
            w.property("flashVer")?
                .string("FMLE/3.0 (compatible; FMSc/1.0)")?;
            w.property("swfUrl")?
                .string("rtmps://box.local:1936/live")?;
            w.property("tcUrl")?.string("rtmps://box.local:1936/live")?;
            w.object_end()?;
            Ok::<usize, amf0::AmfError>(w.len())
        })()
        .expect("connect fits")
    };
    let connect = &connect[..connect_len];
    let limits = AmfLimits::default();
    time(
        "amf0 decode, connect command",
        connect.len(),
        1,
        secs,
        || {
            black_box(
                amf0::decode_all(black_box(connect), &limits)
                    .map(|v| v.len())
                    .ok(),
            );
        },
    );
    let metadata: Vec<u8> = clip
        .headers
        .iter()
        .find(|t| t.type_id == type_id::DATA_AMF0)
        .map(|t| t.payload.clone())
        .unwrap_or_else(|| connect.to_vec());
    time("amf0 decode, onMetaData", metadata.len(), 1, secs, || {
        black_box(
            amf0::decode_all(black_box(&metadata), &limits)
                .map(|v| v.len())
                .ok(),
        );
    });
    let mut reply = [0u8; 512];
    let mut reply_len = 0;
    time(
        "amf0 encode, onStatus NetStream.Play.Start",
        120,
        1,
        secs,
        || {
            let mut w = Amf0Writer::new(&mut reply);
            let _ = (|| {
                w.string("onStatus")?.number(0.0)?.null()?.object_start()?;
                w.property("level")?.string("status")?;
                w.property("code")?.string("NetStream.Play.Start")?;
                w.property("description")?.string("Started playing.")?;
                w.object_end()?;
                Ok::<(), amf0::AmfError>(())
            })();
            reply_len = w.len();
            black_box(&reply);
        },
    );
    black_box(reply_len);
    let values = amf0::decode_all(connect, &limits).expect("connect decodes");
    time(
        "amf0 encode, connect command (from values)",
        connect.len(),
        1,
        secs,
        || {
            let mut buf = [0u8; 1024];
            let mut w = Amf0Writer::new(&mut buf);
            for v in &values {
                let _ = w.value(v);
            }
            black_box(w.len());
        },
    );
}
