//! termios(3) settings of the terminal kinds: what `raw`, `echo=`, `b115200`, `cs8`,
//! `parenb=`, `cstopb=`, `crtscts=`, `clocal=` and `sigint` change, applied with
//! `tcsetattr(TCSANOW)` before the first byte moves, and the saved settings put back on drop
//! (`tty:`; a pty sockbox made goes away with them).

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::termios::{
    self, BaudRate, ControlFlags, LocalFlags, SetArg, SpecialCharacterIndices, Termios,
};

use crate::addr::TermOptions;
use crate::error::{Error, Result};

/// The termios speed of a rate the parser accepted (`BAUD_RATES`).
fn baud_rate(rate: u32) -> Option<BaudRate> {
    use BaudRate::*;
    Some(match rate {
        50 => B50,
        75 => B75,
        110 => B110,
        134 => B134,
        150 => B150,
        200 => B200,
        300 => B300,
        600 => B600,
        1200 => B1200,
        1800 => B1800,
        2400 => B2400,
        4800 => B4800,
        9600 => B9600,
        19200 => B19200,
        38400 => B38400,
        57600 => B57600,
        115200 => B115200,
        230400 => B230400,
        460800 => B460800,
        500000 => B500000,
        576000 => B576000,
        921600 => B921600,
        1000000 => B1000000,
        1152000 => B1152000,
        1500000 => B1500000,
        2000000 => B2000000,
        2500000 => B2500000,
        3000000 => B3000000,
        3500000 => B3500000,
        4000000 => B4000000,
        _ => return None,
    })
}

/// The speed bits of `c_cflag` (`CBAUD`), to see whether the device kept the rate asked.
fn speed_bits(t: &Termios) -> libc::tcflag_t {
    libc::termios::from(t.clone()).c_cflag & libc::CBAUD
}

/// `t` changed as the options say; settings not given are left as they are.
pub(crate) fn changed(mut t: Termios, o: &TermOptions, target: &str) -> Result<Termios> {
    if o.raw {
        termios::cfmakeraw(&mut t);
    }
    if let Some(on) = o.echo {
        t.local_flags.set(LocalFlags::ECHO, on);
    }
    if o.sigint {
        // Signals from keys, Ctrl-C as the interrupt character, even after `raw`.
        t.local_flags.insert(LocalFlags::ISIG);
        t.control_chars[SpecialCharacterIndices::VINTR as usize] = 3;
    }
    if let Some(rate) = o.baud {
        let speed = baud_rate(rate)
            .ok_or_else(|| Error::Usage(format!("{target}: {rate} is not a termios speed")))?;
        termios::cfsetspeed(&mut t, speed)
            .map_err(|e| Error::Refused(format!("{target}: cannot set {rate} baud: {e}")))?;
    }
    if let Some(bits) = o.charsize {
        t.control_flags.remove(ControlFlags::CSIZE);
        t.control_flags.insert(match bits {
            5 => ControlFlags::CS5,
            6 => ControlFlags::CS6,
            7 => ControlFlags::CS7,
            _ => ControlFlags::CS8,
        });
    }
    let switches = [
        (o.parenb, ControlFlags::PARENB),
        (o.cstopb, ControlFlags::CSTOPB),
        (o.crtscts, ControlFlags::CRTSCTS),
        (o.clocal, ControlFlags::CLOCAL),
    ];
    for (on, flag) in switches {
        if let Some(on) = on {
            t.control_flags.set(flag, on);
        }
    }
    Ok(t)
}

/// Apply the options to the terminal `fd` (`tcgetattr`, change, `tcsetattr(TCSANOW)`), then
/// read the settings back: a device that refused the speed asked is an error naming both
/// rates. Returns the settings the terminal had before.
pub(crate) fn apply(fd: impl AsFd, o: &TermOptions, target: &str) -> Result<Termios> {
    let fd = fd.as_fd();
    let before = termios::tcgetattr(fd).map_err(|e| match e {
        nix::errno::Errno::ENOTTY => {
            Error::Refused(format!("{target}: not a terminal (tcgetattr says ENOTTY)"))
        }
        e => Error::Refused(format!("{target}: tcgetattr: {}", e.desc())),
    })?;
    if !o.sets_termios() {
        return Ok(before);
    }
    let wanted = changed(before.clone(), o, target)?;
    termios::tcsetattr(fd, SetArg::TCSANOW, &wanted)
        .map_err(|e| Error::Refused(format!("{target}: tcsetattr: {}", e.desc())))?;
    crate::narrate!("tcsetattr({target}, TCSANOW)");
    if let Some(rate) = o.baud {
        let now = termios::tcgetattr(fd)
            .map_err(|e| Error::Refused(format!("{target}: tcgetattr: {}", e.desc())))?;
        if speed_bits(&now) != speed_bits(&wanted) {
            // Put back what was there; the error is what the user needs to see.
            let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &before);
            return Err(Error::Refused(format!(
                "{target}: the device refused {rate} baud"
            )));
        }
    }
    Ok(before)
}

/// Half-close of a pty master: when the slave is in canonical mode (`ICANON`), write its
/// end-of-file character (`VEOF`, Ctrl-D), which the line discipline turns into end of file
/// for the program reading the slave, after the line being typed. In raw mode there is no end
/// of file to give, and nothing is written. The termios read on a master are the slave's.
pub(crate) fn send_eof(master: &OwnedFd) {
    let Ok(t) = termios::tcgetattr(master) else {
        return;
    };
    if !t.local_flags.contains(LocalFlags::ICANON) {
        return;
    }
    let eof = t.control_chars[SpecialCharacterIndices::VEOF as usize];
    // A line in progress takes one VEOF to be handed over as it is, the next is end of file;
    // after a complete line the first one is, and the second an end of file read again.
    if nix::unistd::write(master, &[eof, eof]).is_ok() {
        crate::narrate!("end of input: VEOF ({eof:#04x}) twice to the pty");
    }
}

/// Puts a terminal's settings back when dropped (`tty:` on exit). Holds them as the plain C
/// struct, which (unlike nix's `Termios`) can be shared between threads.
pub(crate) struct Restore {
    fd: OwnedFd,
    saved: libc::termios,
}

impl Restore {
    pub(crate) fn new(fd: OwnedFd, saved: Termios) -> Self {
        Restore {
            fd,
            saved: saved.into(),
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        // TCSANOW: waiting for output to drain could wait for ever on a line nobody reads.
        let _ = termios::tcsetattr(&self.fd, SetArg::TCSANOW, &Termios::from(self.saved));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::pty::openpty;

    fn pty_termios() -> (nix::pty::OpenptyResult, Termios) {
        let p = openpty(None, None).unwrap();
        let t = termios::tcgetattr(&p.slave).unwrap();
        (p, t)
    }

    #[test]
    fn every_accepted_rate_is_a_termios_speed() {
        for rate in crate::addr::BAUD_RATES {
            assert!(baud_rate(*rate).is_some(), "{rate}");
        }
    }

    #[test]
    fn options_not_given_change_nothing() {
        let (_p, t) = pty_termios();
        let same = changed(t.clone(), &TermOptions::default(), "x").unwrap();
        assert_eq!(same, t);
    }

    #[test]
    fn settings_are_applied_read_back_and_restored() {
        let (p, before) = pty_termios();
        let o = TermOptions {
            raw: true,
            echo: Some(false),
            baud: Some(115200),
            charsize: Some(7),
            parenb: Some(true),
            cstopb: Some(true),
            clocal: Some(true),
            ..TermOptions::default()
        };
        // Linux's pty driver keeps CS8 and no parity whatever is asked: those two are
        // checked on the settings asked for, the rest as the terminal reads them back.
        let asked = changed(before.clone(), &o, "pty").unwrap();
        assert_eq!(asked.control_flags & ControlFlags::CSIZE, ControlFlags::CS7);
        assert!(asked.control_flags.contains(ControlFlags::PARENB));
        let saved = apply(&p.slave, &o, "pty").unwrap();
        assert_eq!(saved, before);
        let now = termios::tcgetattr(&p.slave).unwrap();
        assert!(!now.local_flags.contains(LocalFlags::ECHO));
        assert!(!now.local_flags.contains(LocalFlags::ICANON));
        assert!(now.control_flags.contains(ControlFlags::CSTOPB));
        assert!(now.control_flags.contains(ControlFlags::CLOCAL));
        assert_eq!(termios::cfgetospeed(&now), BaudRate::B115200);
        drop(Restore::new(p.slave.try_clone().unwrap(), saved));
        assert_eq!(termios::tcgetattr(&p.slave).unwrap(), before);
    }

    #[test]
    fn sigint_turns_signals_on_after_raw() {
        let (_p, t) = pty_termios();
        let o = TermOptions {
            raw: true,
            sigint: true,
            ..TermOptions::default()
        };
        let t = changed(t, &o, "x").unwrap();
        assert!(t.local_flags.contains(LocalFlags::ISIG));
        assert_eq!(t.control_chars[SpecialCharacterIndices::VINTR as usize], 3);
    }

    #[test]
    fn a_file_is_not_a_terminal() {
        let f = tempfile::tempfile().unwrap();
        let e = apply(&f, &TermOptions::default(), "tty:/x").unwrap_err();
        assert!(e.to_string().contains("not a terminal"), "{e}");
    }
}
