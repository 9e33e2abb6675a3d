//! `--drop-fds P` on `relay --pass-fds`: each descriptor carried with `SCM_RIGHTS` is lost in
//! transit with probability P, while the bytes it came with are passed on. Losing one is
//! closing the relay's copy before `sendmsg(2)`: the kernel passes only the descriptors it is
//! given, so the receiver gets the message with fewer (or no) `SCM_RIGHTS` entries, as when a
//! sender's descriptor table was full or a buggy sender forgot one.

use std::os::fd::OwnedFd;

use super::DirFaults;

impl DirFaults {
    /// The descriptor-passing relay's one call into the faults, for each message before it is
    /// sent: removes (and closes) the descriptors lost, logging each. `offset`: bytes passed in
    /// this direction before the message; `message`: its number in this direction, from 0.
    pub(crate) fn pass_fds(&mut self, fds: &mut Vec<OwnedFd>, offset: u64, message: u64) {
        let p = self.spec.drop_fds;
        if p <= 0.0 || fds.is_empty() || !self.run.active() {
            return;
        }
        let (run, rng, conn, dir) = (&self.run, &mut self.rng, self.conn, self.dir);
        fds.retain(|_| {
            let lost = rng.chance(p);
            if lost {
                run.log
                    .add(conn, Some(dir), "drop-fds", offset, Some(message));
            }
            !lost
        });
    }
}
