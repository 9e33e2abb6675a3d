//! `sockbox top`'s full-screen view: what is on screen (view, sort column, drill-down, pause,
//! the filter being typed) and how a [`Report`] is drawn with ratatui. Keys change the state
//! here and say what the loop in `cmd/top.rs` must do ([`Outcome`]); nothing here reads the
//! terminal or samples sockets, so tests draw into ratatui's `TestBackend`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};
use ratatui::Frame;
use sockbox_net::observe::top::{ClosedRow, Report};

use super::observe::rate;

/// The smallest screen the tables fit on; below it a message is drawn instead.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 12;

/// Closed connections kept for the closed view, newest first.
const CLOSED_KEPT: usize = 500;

/// The five views, in the order of their keys (1 to 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Processes,
    Connections,
    Unix,
    Listeners,
    Closed,
}

const VIEWS: [View; 5] = [
    View::Processes,
    View::Connections,
    View::Unix,
    View::Listeners,
    View::Closed,
];

impl View {
    fn title(self) -> &'static str {
        match self {
            View::Processes => "Processes",
            View::Connections => "Connections",
            View::Unix => "Unix pairs",
            View::Listeners => "Listeners",
            View::Closed => "Closed",
        }
    }

    fn index(self) -> usize {
        VIEWS.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// Column names and widths; the first numeric column is the default sort.
    fn columns(self) -> &'static [(&'static str, u16)] {
        match self {
            View::Processes => &[
                ("OWNER", 22),
                ("TCP", 5),
                ("UDP", 5),
                ("UNIX", 5),
                ("RX/s", 8),
                ("TX/s", 8),
                ("RETRANS", 7),
                ("RECV-Q", 8),
                ("SEND-Q", 8),
                ("OPEN/s", 7),
                ("CLOSE/s", 7),
            ],
            View::Connections => &[
                ("LOCAL", 20),
                ("REMOTE", 20),
                ("OWNER", 16),
                ("RX/s", 6),
                ("TX/s", 6),
                ("RTT", 6),
                ("CWND", 4),
                ("RETR", 4),
                ("RECV-Q", 6),
                ("SEND-Q", 6),
                ("IDLE", 4),
                ("RWND%", 5),
                ("SBUF%", 5),
            ],
            View::Unix => &[
                ("A", 22),
                ("A QUEUED", 9),
                ("B", 22),
                ("B QUEUED", 9),
                ("STALLED", 8),
                ("KIND", 9),
                ("NAME", 30),
            ],
            View::Listeners => &[
                ("KIND", 9),
                ("LOCAL", 30),
                ("OWNER", 22),
                ("QUEUE", 6),
                ("BACKLOG", 7),
                ("FULL%", 5),
                ("ACCEPT/s", 8),
            ],
            View::Closed => &[
                ("AGO", 5),
                ("LOCAL", 22),
                ("REMOTE", 22),
                ("OWNER", 18),
                ("RX", 10),
                ("TX", 10),
                ("RTT", 7),
                ("RETR", 5),
            ],
        }
    }

    /// The column naming a row's process.
    fn owner_column(self) -> usize {
        match self {
            View::Processes | View::Unix => 0,
            View::Connections | View::Listeners => 2,
            View::Closed => 3,
        }
    }

    fn default_sort(self) -> usize {
        match self {
            View::Processes => 5,
            View::Connections => 4,
            View::Unix => 1,
            View::Listeners => 3,
            View::Closed => 0,
        }
    }
}

/// A cell's sort key: numbers sort largest first, text alphabetically.
#[derive(Clone, Debug, PartialEq)]
enum Key {
    Num(f64),
    Text(String),
}

/// One table row: what is shown, what it sorts by, whose it is.
struct Line_ {
    cells: Vec<String>,
    keys: Vec<Key>,
    pid: Option<u32>,
}

/// What the loop must do after a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing outside the screen changed.
    Redraw,
    /// Leave the view.
    Quit,
    /// Sample with this filter (the `ls` flags typed after `/`) from now on.
    Filter(String),
}

/// A closed connection and when the view learned of it.
struct Closed {
    at: Instant,
    row: ClosedRow,
}

/// What the screen shows.
pub struct Screen {
    pub view: View,
    /// Per view: the sort column and whether it is reversed.
    sort: [(usize, bool); 5],
    table: TableState,
    pub paused: bool,
    /// Only this process's rows.
    pub drill: Option<(u32, String)>,
    /// The filter in force, as typed.
    pub filter: String,
    /// The filter being typed after `/`.
    pub editing: Option<String>,
    /// One line for the status bar (a filter refused, ...), until the next key.
    pub message: Option<String>,
    interval: Duration,
    report: Option<Report>,
    closed: VecDeque<Closed>,
}

impl Screen {
    pub fn new(interval: Duration, filter: String) -> Self {
        let mut sort = [(0, false); 5];
        for v in VIEWS {
            sort[v.index()].0 = v.default_sort();
        }
        Screen {
            view: View::Processes,
            sort,
            table: TableState::default().with_selected(Some(0)),
            paused: false,
            drill: None,
            filter,
            editing: None,
            message: None,
            interval,
            report: None,
            closed: VecDeque::new(),
        }
    }

    /// A new report: shown unless paused (closes are kept either way).
    pub fn update(&mut self, report: Report, now: Instant) {
        for c in report.closed.iter().rev() {
            self.closed.push_front(Closed {
                at: now,
                row: c.clone(),
            });
        }
        self.closed.truncate(CLOSED_KEPT);
        if !self.paused || self.report.is_none() {
            self.report = Some(report);
        }
    }

    /// Forget what was shown (a new filter: the next report starts afresh).
    pub fn reset(&mut self) {
        self.report = None;
        self.closed.clear();
    }

    /// A key pressed.
    pub fn key(&mut self, key: KeyEvent) -> Outcome {
        self.message = None;
        if let Some(text) = &mut self.editing {
            match key.code {
                KeyCode::Enter => {
                    let text = std::mem::take(text);
                    self.editing = None;
                    return Outcome::Filter(text);
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Outcome::Quit
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return Outcome::Redraw;
        }
        let v = self.view.index();
        let ncols = self.view.columns().len();
        match key.code {
            KeyCode::Char('q') => return Outcome::Quit,
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Outcome::Quit
            }
            KeyCode::Char(c @ '1'..='5') => self.show(VIEWS[c as usize - '1' as usize]),
            KeyCode::Tab => self.show(VIEWS[(v + 1) % VIEWS.len()]),
            KeyCode::BackTab => self.show(VIEWS[(v + VIEWS.len() - 1) % VIEWS.len()]),
            KeyCode::Char('>') | KeyCode::Right => {
                self.sort[v] = ((self.sort[v].0 + 1) % ncols, false);
            }
            KeyCode::Char('<') | KeyCode::Left => {
                self.sort[v] = ((self.sort[v].0 + ncols - 1) % ncols, false);
            }
            KeyCode::Char('r') => self.sort[v].1 = !self.sort[v].1,
            KeyCode::Char('p') | KeyCode::Char(' ') => self.paused = !self.paused,
            KeyCode::Char('/') => self.editing = Some(self.filter.clone()),
            KeyCode::Down | KeyCode::Char('j') => self.table.select_next(),
            KeyCode::Up | KeyCode::Char('k') => self.table.select_previous(),
            KeyCode::PageDown => self.table.scroll_down_by(10),
            KeyCode::PageUp => self.table.scroll_up_by(10),
            KeyCode::Home => self.table.select_first(),
            KeyCode::Enter => {
                let rows = self.rows();
                let chosen = self.table.selected().and_then(|i| rows.get(i));
                if let Some(pid) = chosen.and_then(|r| r.pid) {
                    let owner = chosen.map(|r| r.cells[self.view.owner_column()].clone());
                    self.drill = Some((pid, owner.unwrap_or_default()));
                    if self.view == View::Processes {
                        self.show(View::Connections);
                    }
                }
            }
            KeyCode::Esc | KeyCode::Backspace => self.drill = None,
            _ => {}
        }
        Outcome::Redraw
    }

    fn show(&mut self, view: View) {
        self.view = view;
        self.table.select(Some(0));
    }

    /// The rows of the current view, filtered to the drilled process and sorted.
    fn rows(&self) -> Vec<Line_> {
        let Some(r) = &self.report else {
            return Vec::new();
        };
        let secs = r.interval_s.max(1e-6);
        let now = Instant::now();
        let mut rows: Vec<Line_> = match self.view {
            View::Processes => r
                .processes
                .iter()
                .map(|p| {
                    let n = |k: &str| p.sockets.get(k).copied().unwrap_or(0);
                    let unix = n("unix") + n("unix-dgram") + n("seqpacket");
                    let nums = [
                        n("tcp") as f64,
                        n("udp") as f64,
                        unix as f64,
                        p.rx_rate,
                        p.tx_rate,
                        p.retrans as f64,
                        p.recv_q as f64,
                        p.send_q as f64,
                        p.opened as f64 / secs,
                        p.closed as f64 / secs,
                    ];
                    let mut cells = vec![p.owner.clone()];
                    cells.extend([
                        n("tcp").to_string(),
                        n("udp").to_string(),
                        unix.to_string(),
                        rate(p.rx_rate),
                        rate(p.tx_rate),
                        p.retrans.to_string(),
                        bytes(p.recv_q),
                        bytes(p.send_q),
                        per_second(nums[8]),
                        per_second(nums[9]),
                    ]);
                    let mut keys = vec![Key::Text(p.owner.clone())];
                    keys.extend(nums.into_iter().map(Key::Num));
                    Line_ {
                        cells,
                        keys,
                        pid: p.pid,
                    }
                })
                .collect(),
            View::Connections => r
                .connections
                .iter()
                .map(|c| {
                    let pct =
                        |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.0}", v * 100.0));
                    Line_ {
                        cells: vec![
                            c.local.clone(),
                            c.remote.clone(),
                            c.owner.clone(),
                            rate(c.rx_rate),
                            rate(c.tx_rate),
                            c.rtt_ms.map_or("-".into(), ms),
                            c.cwnd.map_or("-".into(), |v| v.to_string()),
                            c.retrans.to_string(),
                            bytes(c.recv_q),
                            bytes(c.send_q),
                            c.idle_s.map_or("-".into(), seconds),
                            pct(c.rwnd_limited),
                            pct(c.sndbuf_limited),
                        ],
                        keys: vec![
                            Key::Text(c.local.clone()),
                            Key::Text(c.remote.clone()),
                            Key::Text(c.owner.clone()),
                            Key::Num(c.rx_rate),
                            Key::Num(c.tx_rate),
                            Key::Num(c.rtt_ms.unwrap_or(0.0)),
                            Key::Num(f64::from(c.cwnd.unwrap_or(0))),
                            Key::Num(c.retrans as f64),
                            Key::Num(c.recv_q as f64),
                            Key::Num(c.send_q as f64),
                            Key::Num(c.idle_s.unwrap_or(0.0)),
                            Key::Num(c.rwnd_limited.unwrap_or(0.0)),
                            Key::Num(c.sndbuf_limited.unwrap_or(0.0)),
                        ],
                        pid: c.pid,
                    }
                })
                .collect(),
            View::Unix => r
                .unix_pairs
                .iter()
                .map(|u| {
                    let stalled = [&u.a, &u.b]
                        .iter()
                        .filter_map(|e| e.stalled_for_s)
                        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
                    let name =
                        u.a.name
                            .clone()
                            .or_else(|| u.b.name.clone())
                            .unwrap_or_default();
                    Line_ {
                        cells: vec![
                            u.a.owner.clone(),
                            bytes(u.a.queued),
                            u.b.owner.clone(),
                            bytes(u.b.queued),
                            stalled.map_or("-".into(), seconds),
                            u.kind.to_string(),
                            name.clone(),
                        ],
                        keys: vec![
                            Key::Text(u.a.owner.clone()),
                            Key::Num(u.a.queued as f64),
                            Key::Text(u.b.owner.clone()),
                            Key::Num(u.b.queued as f64),
                            Key::Num(stalled.unwrap_or(-1.0)),
                            Key::Text(u.kind.to_string()),
                            Key::Text(name),
                        ],
                        pid: u.a.pid.or(u.b.pid),
                    }
                })
                .filter(|l| {
                    // A pair belongs to a drilled process if either end is its.
                    let Some((pid, _)) = &self.drill else {
                        return true;
                    };
                    r.unix_pairs.iter().any(|u| {
                        (u.a.pid == Some(*pid) || u.b.pid == Some(*pid))
                            && u.a.owner == l.cells[0]
                            && u.b.owner == l.cells[2]
                    })
                })
                .collect(),
            View::Listeners => r
                .listeners
                .iter()
                .map(|l| {
                    let full = if l.backlog > 0 {
                        l.accept_queue as f64 / l.backlog as f64
                    } else {
                        0.0
                    };
                    Line_ {
                        cells: vec![
                            l.kind.to_string(),
                            l.local.clone(),
                            l.owner.clone(),
                            l.accept_queue.to_string(),
                            l.backlog.to_string(),
                            format!("{:.0}", full * 100.0),
                            if l.kind == "tcp" {
                                per_second(l.accepted_rate)
                            } else {
                                "-".into()
                            },
                        ],
                        keys: vec![
                            Key::Text(l.kind.to_string()),
                            Key::Text(l.local.clone()),
                            Key::Text(l.owner.clone()),
                            Key::Num(l.accept_queue as f64),
                            Key::Num(l.backlog as f64),
                            Key::Num(full),
                            Key::Num(l.accepted_rate),
                        ],
                        pid: l.pid,
                    }
                })
                .collect(),
            View::Closed => self
                .closed
                .iter()
                .map(|c| {
                    let ago = now.duration_since(c.at).as_secs_f64();
                    let r = &c.row;
                    let opt = |v: Option<u64>| v.map_or("-".into(), bytes);
                    Line_ {
                        cells: vec![
                            seconds(ago),
                            r.local.clone(),
                            r.remote.clone(),
                            r.owner.clone(),
                            opt(r.rx_bytes),
                            opt(r.tx_bytes),
                            r.rtt_ms.map_or("-".into(), ms),
                            r.retrans.map_or("-".into(), |v| v.to_string()),
                        ],
                        keys: vec![
                            // Newest first by default: "largest" is the most recent.
                            Key::Num(-ago),
                            Key::Text(r.local.clone()),
                            Key::Text(r.remote.clone()),
                            Key::Text(r.owner.clone()),
                            Key::Num(r.rx_bytes.unwrap_or(0) as f64),
                            Key::Num(r.tx_bytes.unwrap_or(0) as f64),
                            Key::Num(r.rtt_ms.unwrap_or(0.0)),
                            Key::Num(f64::from(r.retrans.unwrap_or(0))),
                        ],
                        pid: r.pid,
                    }
                })
                .collect(),
        };
        if let Some((pid, _)) = &self.drill {
            if self.view != View::Unix {
                rows.retain(|l| l.pid == Some(*pid));
            }
        }
        let (col, reversed) = self.sort[self.view.index()];
        rows.sort_by(|a, b| {
            let o = match (&a.keys[col], &b.keys[col]) {
                (Key::Num(x), Key::Num(y)) => y.total_cmp(x),
                (Key::Text(x), Key::Text(y)) => x.cmp(y),
                _ => std::cmp::Ordering::Equal,
            };
            let o = o.then_with(|| a.cells.cmp(&b.cells));
            if reversed {
                o.reverse()
            } else {
                o
            }
        });
        rows
    }

    /// Draw the whole screen.
    pub fn draw(&mut self, f: &mut Frame) {
        let area = f.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = format!(
                "terminal too small: {}x{}, sockbox top needs {MIN_WIDTH}x{MIN_HEIGHT} (q quits)",
                area.width, area.height
            );
            f.render_widget(
                Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
                area,
            );
            return;
        }
        let [head, tabs, body, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        f.render_widget(Paragraph::new(self.head_line()), head);
        f.render_widget(Paragraph::new(self.tab_line()), tabs);
        self.draw_table(f, body);
        f.render_widget(Paragraph::new(self.foot_line()), foot);
    }

    fn head_line(&self) -> Line<'static> {
        let mut s = format!("sockbox top  every {:.1}s", self.interval.as_secs_f64());
        match &self.report {
            None => s.push_str("  sampling..."),
            Some(r) => {
                let t = &r.totals;
                let secs = r.interval_s.max(1e-6);
                s.push_str(&format!(
                    "  sockets {}  rx {}/s  tx {}/s  opened {}/s  closed {}/s",
                    t.sockets,
                    rate(t.rx_rate),
                    rate(t.tx_rate),
                    per_second(t.opened as f64 / secs),
                    per_second(t.closed as f64 / secs),
                ));
                if t.listen_overflows > 0 {
                    s.push_str(&format!("  accept-queue overflows {}", t.listen_overflows));
                }
            }
        }
        let mut spans = vec![Span::raw(s)];
        if self.paused {
            spans.push(Span::styled(
                "  PAUSED",
                Style::default().add_modifier(Modifier::REVERSED),
            ));
        }
        Line::from(spans)
    }

    fn tab_line(&self) -> Line<'static> {
        let mut spans = Vec::new();
        for (i, v) in VIEWS.iter().enumerate() {
            let label = format!(" {} {} ", i + 1, v.title());
            if *v == self.view {
                spans.push(Span::styled(
                    label,
                    Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
                ));
            } else {
                spans.push(Span::raw(label));
            }
        }
        if let Some((_, owner)) = &self.drill {
            spans.push(Span::raw(format!("  only {owner} (Esc: all)")));
        }
        if !self.filter.is_empty() {
            spans.push(Span::raw(format!("  filter: {}", self.filter)));
        }
        Line::from(spans)
    }

    fn foot_line(&self) -> Line<'static> {
        if let Some(text) = &self.editing {
            return Line::from(format!(
                "filter (ls flags: --tcp --port 443 --process nginx; empty for all; Ctrl-U clears): {text}_"
            ));
        }
        if let Some(m) = &self.message {
            return Line::from(Span::styled(
                m.clone(),
                Style::default().add_modifier(Modifier::BOLD),
            ));
        }
        let mut notes = Vec::new();
        if let Some(r) = &self.report {
            if r.lost_events > 0 {
                notes.push(format!(
                    "{} destroy events lost (kernel buffer full)",
                    r.lost_events
                ));
            }
            if r.unreadable_processes > 0 {
                notes.push(format!(
                    "{} processes not readable: their sockets are shown by uid",
                    r.unreadable_processes
                ));
            }
        }
        let (col, rev) = self.sort[self.view.index()];
        let keys = format!(
            "q quit  1-5 view  </> sort ({}{})  r reverse  / filter  p pause  Enter process",
            self.view.columns()[col].0,
            if rev { ", reversed" } else { "" }
        );
        if notes.is_empty() {
            Line::from(keys)
        } else {
            Line::from(format!("{}  |  {keys}", notes.join("; ")))
        }
    }

    fn draw_table(&mut self, f: &mut Frame, area: Rect) {
        let columns = self.view.columns();
        let (sorted, _) = self.sort[self.view.index()];
        let header = Row::new(columns.iter().enumerate().map(|(i, (name, _))| {
            if i == sorted {
                Span::styled(
                    name.to_string(),
                    Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                )
            } else {
                Span::raw(name.to_string())
            }
        }))
        .style(Style::default().add_modifier(Modifier::BOLD));
        let rows = self.rows();
        let n = rows.len();
        let body = rows.into_iter().map(|l| Row::new(l.cells));
        let widths = columns.iter().map(|(_, w)| Constraint::Length(*w));
        let table = Table::new(body, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
        // Keep a row selected: the last one if rows went away, the first when there were none.
        match self.table.selected() {
            Some(i) if i >= n && n > 0 => self.table.select(Some(n - 1)),
            None => self.table.select(Some(0)),
            _ => {}
        }
        f.render_stateful_widget(table, area, &mut self.table);
    }
}

/// A byte count for people: `512`, `12.3K`, `4.5M`.
fn bytes(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        rate(n as f64)
    }
}

fn per_second(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

fn seconds(v: f64) -> String {
    if v < 60.0 {
        format!("{v:.0}s")
    } else if v < 3600.0 {
        format!("{:.0}m", v / 60.0)
    } else {
        format!("{:.0}h", v / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use sockbox_net::observe::top::{ConnectionRow, ProcessRow};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn report() -> Report {
        let p = |pid: u32, comm: &str, tx: f64| ProcessRow {
            pid: Some(pid),
            comm: Some(comm.into()),
            owner: format!("{comm} ({pid})"),
            tx_rate: tx,
            ..ProcessRow::default()
        };
        let c = |port: u16, pid: u32, tx: f64| ConnectionRow {
            cookie: u64::from(port),
            local: format!("127.0.0.1:{port}"),
            remote: "127.0.0.1:80".into(),
            state: "established",
            owner: format!("p ({pid})"),
            pid: Some(pid),
            rx_rate: 0.0,
            tx_rate: tx,
            rx_bytes: None,
            tx_bytes: None,
            rtt_ms: Some(0.05),
            cwnd: Some(10),
            retrans: 0,
            recv_q: 0,
            send_q: 0,
            idle_s: Some(0.0),
            rwnd_limited: None,
            sndbuf_limited: Some(0.25),
        };
        Report {
            interval_s: 1.0,
            processes: vec![p(10, "slow", 10.0), p(20, "fast", 5e6)],
            connections: vec![c(1000, 10, 10.0), c(2000, 20, 5e6)],
            ..Report::default()
        }
    }

    fn screen_text(s: &mut Screen, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| s.draw(f)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn sorts_by_the_chosen_column_and_drills_into_a_process() {
        let mut s = Screen::new(Duration::from_secs(1), String::new());
        s.update(report(), Instant::now());
        let text = screen_text(&mut s, 120, 20);
        let (fast, slow) = (
            text.find("fast (20)").unwrap(),
            text.find("slow (10)").unwrap(),
        );
        assert!(fast < slow, "busiest first by TX/s:\n{text}");
        // Sort by OWNER: one step left of TX/s is RX/s ... go to column 0 with Home-less keys.
        for _ in 0..5 {
            s.key(key(KeyCode::Char('<')));
        }
        let text = screen_text(&mut s, 120, 20);
        assert!(text.contains("sort (OWNER)"), "{text}");
        assert!(text.find("fast (20)").unwrap() < text.find("slow (10)").unwrap());
        s.key(key(KeyCode::Char('r')));
        let text = screen_text(&mut s, 120, 20);
        assert!(text.find("slow (10)").unwrap() < text.find("fast (20)").unwrap());
        // Enter on the first row (slow, reversed order) shows its connections only.
        s.key(key(KeyCode::Enter));
        assert_eq!(s.view, View::Connections);
        let text = screen_text(&mut s, 120, 20);
        assert!(text.contains("127.0.0.1:1000"), "{text}");
        assert!(!text.contains("127.0.0.1:2000"), "{text}");
        assert!(text.contains("only slow (10)"), "{text}");
        s.key(key(KeyCode::Esc));
        let text = screen_text(&mut s, 120, 20);
        assert!(text.contains("127.0.0.1:2000"), "{text}");
    }

    #[test]
    fn filter_typed_after_slash_is_handed_to_the_loop() {
        let mut s = Screen::new(Duration::from_secs(1), String::new());
        assert_eq!(s.key(key(KeyCode::Char('/'))), Outcome::Redraw);
        for c in "--tcp".chars() {
            s.key(key(KeyCode::Char(c)));
        }
        let text = screen_text(&mut s, 100, 14);
        assert!(text.contains("): --tcp_"), "{text}");
        assert_eq!(s.key(key(KeyCode::Enter)), Outcome::Filter("--tcp".into()));
        assert_eq!(s.key(key(KeyCode::Char('q'))), Outcome::Quit);
    }

    #[test]
    fn a_small_terminal_gets_a_message() {
        let mut s = Screen::new(Duration::from_secs(1), String::new());
        s.update(report(), Instant::now());
        let text = screen_text(&mut s, 40, 8);
        assert!(text.contains("terminal too small: 40x8"), "{text}");
    }
}
