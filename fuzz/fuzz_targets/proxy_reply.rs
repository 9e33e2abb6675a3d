//! Whatever a SOCKS or HTTP proxy answers, opening a proxy address through it ends in a
//! connection or an error, never a panic or a hang: the real client code (`endpoint::connect`
//! on a `socks5:`/`socks4:`/`socks4a:`/`http-connect:` address) talks to a loopback listener
//! that answers with the fuzzer's bytes and closes.
//!
//! Input: byte 0 picks the proxy kind and whether credentials are given, the rest is the
//! proxy's whole answer.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sockbox_net::addr::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

struct Harness {
    rt: Runtime,
    listener: TcpListener,
    port: u16,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback listener");
        let port = listener.local_addr().expect("its address").port();
        Harness { rt, listener, port }
    })
}

const KINDS: [&str; 4] = ["socks5", "socks4", "socks4a", "http-connect"];

fuzz_target!(|data: &[u8]| {
    let [pick, reply @ ..] = data else {
        return;
    };
    let h = harness();
    let kind = KINDS[usize::from(pick & 3)];
    // The target is never dialled: only the proxy (the fuzzer's listener) is.
    let target = if kind == "socks4" { "127.0.0.1:9" } else { "localhost:9" };
    let auth = if pick & 4 != 0 { ",auth=u:p" } else { "" };
    let addr: Address = format!("{kind}:127.0.0.1:{}/{target}{auth}", h.port)
        .parse()
        .expect("a valid proxy address");
    h.rt.block_on(async {
        let proxy = async {
            let Ok((mut s, _)) = h.listener.accept().await else {
                return;
            };
            let _ = s.write_all(reply).await;
            let _ = s.shutdown().await;
            // Read what the client sends until it closes (bounded), so the answer is not
            // cut short by a reset.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(n) = s.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        };
        let client = async {
            // Ok or Err are both fine; the connection, if any, is closed at once.
            let _ = sockbox_net::endpoint::connect(&addr, Some(Duration::from_secs(2))).await;
        };
        tokio::join!(proxy, client);
    });
});
