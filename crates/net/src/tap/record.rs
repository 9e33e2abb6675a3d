//! `--record DIR`: each direction of each connection as a raw file, `DIR/N-a2b.bin` and
//! `DIR/N-b2a.bin` (N the connection number), holding exactly the bytes that moved, for replay
//! (`sockbox connect ADDR < DIR/3-a2b.bin`) or comparison. Both files are created when the
//! connection opens, so a direction that carried nothing is an empty file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::{Dir, Event, View, What};

/// The raw recorder.
pub struct RecordView {
    dir: PathBuf,
    files: HashMap<u64, [BufWriter<File>; 2]>,
}

impl RecordView {
    /// Record into `dir`, which must exist and be writable (the binary checks that before it
    /// opens anything).
    pub fn new(dir: PathBuf) -> RecordView {
        RecordView {
            dir,
            files: HashMap::new(),
        }
    }

    /// The file of connection `conn`'s direction `d`.
    pub fn path(&self, conn: u64, d: Dir) -> PathBuf {
        self.dir.join(format!("{conn}-{}.bin", d.name()))
    }

    fn create(&self, conn: u64, d: Dir) -> io::Result<BufWriter<File>> {
        let p = self.path(conn, d);
        let f = File::create(&p)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        Ok(BufWriter::with_capacity(256 * 1024, f))
    }
}

impl View for RecordView {
    fn name(&self) -> String {
        format!("--record {}", self.dir.display())
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match &ev.what {
            What::Open { .. } => {
                let files = [
                    self.create(ev.conn, Dir::AtoB)?,
                    self.create(ev.conn, Dir::BtoA)?,
                ];
                self.files.insert(ev.conn, files);
                Ok(())
            }
            What::Data { dir, data, .. } => match self.files.get_mut(&ev.conn) {
                Some(f) => f[dir.index()].write_all(data),
                None => Ok(()),
            },
            What::Close { .. } => match self.files.remove(&ev.conn) {
                Some([mut x, mut y]) => {
                    x.flush()?;
                    y.flush()
                }
                None => Ok(()),
            },
            What::Shutdown { .. } | What::Reset { .. } => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        for [x, y] in self.files.values_mut() {
            x.flush()?;
            y.flush()?;
        }
        Ok(())
    }
}
