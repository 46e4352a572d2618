//! Schemas compiled on several threads at once. libxml2 2.9's schema
//! compiler is not thread-safe: its first call set up the built-in types
//! without a lock (libxml2 issue 930), and once two compiles of
//! XBeteiligung — two tests of one binary, each for its own demo — were
//! seen spinning for good inside `xmlSchemaParse`. The crate now sets the
//! types up in `init` and compiles one schema at a time. The hang itself
//! did not come back in 3 × 4 threads × 60 rounds of this test before that
//! change; the test holds the situation: catalogues compiled side by side
//! must all come back, and compile.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;
use xoev_schema::Catalogue;

fn schemas() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas"))
}

#[test]
fn catalogues_compile_on_several_threads_at_once() {
    let (done, finished) = mpsc::channel();
    let threads = 4;
    for t in 0..threads {
        let done = done.clone();
        std::thread::spawn(move || {
            for round in 0..6 {
                // a catalogue of its own: every entry is compiled afresh
                let catalogue = Catalogue::load(schemas()).expect("catalogue");
                let entries = catalogue.entries();
                // each thread starts at another entry, so that different and
                // equal schemas are compiled side by side
                for i in 0..entries.len() {
                    let e = &entries[(i + t + round) % entries.len()];
                    if let Err(err) = e.schema() {
                        panic!("{} {}: {err}", e.name, e.version);
                    }
                }
            }
            let _ = done.send(t);
        });
    }
    drop(done);
    for _ in 0..threads {
        // far more than the compiles need (a few seconds in all): a thread
        // that does not come back is stuck inside libxml2
        match finished.recv_timeout(Duration::from_secs(240)) {
            Ok(_) => {}
            Err(e) => panic!("a compiling thread did not finish: {e}"),
        }
    }
}
