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
use sockbox_net::observe::top::{Addr, ClosedRow, Report, UnixPair};

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

/// A cell's sort key: numbers sort largest first, text and addresses in order.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Key<'a> {
    Num(f64),
    Text(&'a str),
    Addr(&'a Addr),
}

impl Key<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (Key::Num(x), Key::Num(y)) => y.total_cmp(x),
            (Key::Text(x), Key::Text(y)) => x.cmp(y),
            (Key::Addr(x), Key::Addr(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        }
    }
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
                let order = self.order(Instant::now());
                let chosen = self.table.selected().and_then(|i| order.get(i)).copied();
                if let Some((pid, owner)) = chosen.and_then(|i| self.owner_of(i)) {
                    self.drill = Some((pid, owner));
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

    /// How many rows the current view has before the drill-down.
    fn len(&self) -> usize {
        let Some(r) = &self.report else {
            return match self.view {
                View::Closed => self.closed.len(),
                _ => 0,
            };
        };
        match self.view {
            View::Processes => r.processes.len(),
            View::Connections => r.connections.len(),
            View::Unix => r.unix_pairs.len(),
            View::Listeners => r.listeners.len(),
            View::Closed => self.closed.len(),
        }
    }

    /// Whether row `i` of the current view belongs to process `pid` (a Unix pair if either
    /// end is its).
    fn belongs(&self, i: usize, pid: u32) -> bool {
        let pid = Some(pid);
        let Some(r) = &self.report else {
            return self.view == View::Closed && self.closed[i].row.pid == pid;
        };
        match self.view {
            View::Processes => r.processes[i].pid == pid,
            View::Connections => r.connections[i].pid == pid,
            View::Unix => r.unix_pairs[i].a.pid == pid || r.unix_pairs[i].b.pid == pid,
            View::Listeners => r.listeners[i].pid == pid,
            View::Closed => self.closed[i].row.pid == pid,
        }
    }

    /// The process of row `i` and the owner text it is shown with, for Enter.
    fn owner_of(&self, i: usize) -> Option<(u32, String)> {
        let (pid, owner) = match (self.view, &self.report) {
            (View::Closed, _) => (self.closed[i].row.pid, &self.closed[i].row.owner),
            (_, None) => return None,
            (View::Processes, Some(r)) => (r.processes[i].pid, &r.processes[i].owner),
            (View::Connections, Some(r)) => (r.connections[i].pid, &r.connections[i].owner),
            (View::Unix, Some(r)) => {
                let u = &r.unix_pairs[i];
                (u.a.pid.or(u.b.pid), &u.a.owner)
            }
            (View::Listeners, Some(r)) => (r.listeners[i].pid, &r.listeners[i].owner),
        };
        Some((pid?, owner.to_string()))
    }

    /// The sort key of row `i`, column `col`, of the current view.
    fn sort_key(&self, i: usize, col: usize, now: Instant) -> Key<'_> {
        let Some(r) = &self.report else {
            return match self.view {
                View::Closed => closed_key(&self.closed[i], col, now),
                _ => Key::Num(0.0),
            };
        };
        let secs = r.interval_s.max(1e-6);
        match self.view {
            View::Processes => {
                let p = &r.processes[i];
                let n = |k: &str| p.sockets.get(k).copied().unwrap_or(0) as f64;
                Key::Num(match col {
                    0 => return Key::Text(&p.owner),
                    1 => n("tcp"),
                    2 => n("udp"),
                    3 => n("unix") + n("unix-dgram") + n("seqpacket"),
                    4 => p.rx_rate,
                    5 => p.tx_rate,
                    6 => p.retrans as f64,
                    7 => p.recv_q as f64,
                    8 => p.send_q as f64,
                    9 => p.opened as f64 / secs,
                    _ => p.closed as f64 / secs,
                })
            }
            View::Connections => {
                let c = &r.connections[i];
                Key::Num(match col {
                    0 => return Key::Addr(&c.local),
                    1 => return Key::Addr(&c.remote),
                    2 => return Key::Text(&c.owner),
                    3 => c.rx_rate,
                    4 => c.tx_rate,
                    5 => c.rtt_ms.unwrap_or(0.0),
                    6 => f64::from(c.cwnd.unwrap_or(0)),
                    7 => c.retrans as f64,
                    8 => c.recv_q as f64,
                    9 => c.send_q as f64,
                    10 => c.idle_s.unwrap_or(0.0),
                    11 => c.rwnd_limited.unwrap_or(0.0),
                    _ => c.sndbuf_limited.unwrap_or(0.0),
                })
            }
            View::Unix => {
                let u = &r.unix_pairs[i];
                match col {
                    0 => Key::Text(&u.a.owner),
                    1 => Key::Num(u.a.queued as f64),
                    2 => Key::Text(&u.b.owner),
                    3 => Key::Num(u.b.queued as f64),
                    4 => Key::Num(stalled_for(u).unwrap_or(-1.0)),
                    5 => Key::Text(u.kind),
                    _ => Key::Text(pair_name(u)),
                }
            }
            View::Listeners => {
                let l = &r.listeners[i];
                match col {
                    0 => Key::Text(l.kind),
                    1 => Key::Addr(&l.local),
                    2 => Key::Text(&l.owner),
                    3 => Key::Num(l.accept_queue as f64),
                    4 => Key::Num(l.backlog as f64),
                    5 => Key::Num(full(l.accept_queue, l.backlog)),
                    _ => Key::Num(l.accepted_rate),
                }
            }
            View::Closed => closed_key(&self.closed[i], col, now),
        }
    }

    /// The cells of row `i` of the current view, as drawn.
    fn cells(&self, i: usize, now: Instant) -> Vec<String> {
        if self.view == View::Closed {
            let c = &self.closed[i];
            let r = &c.row;
            let opt = |v: Option<u64>| v.map_or("-".into(), bytes);
            return vec![
                seconds(now.duration_since(c.at).as_secs_f64()),
                r.local.to_string(),
                r.remote.to_string(),
                r.owner.to_string(),
                opt(r.rx_bytes),
                opt(r.tx_bytes),
                r.rtt_ms.map_or("-".into(), ms),
                r.retrans.map_or("-".into(), |v| v.to_string()),
            ];
        }
        let Some(r) = &self.report else {
            return Vec::new();
        };
        let secs = r.interval_s.max(1e-6);
        match self.view {
            View::Processes => {
                let p = &r.processes[i];
                let n = |k: &str| p.sockets.get(k).copied().unwrap_or(0);
                vec![
                    p.owner.to_string(),
                    n("tcp").to_string(),
                    n("udp").to_string(),
                    (n("unix") + n("unix-dgram") + n("seqpacket")).to_string(),
                    rate(p.rx_rate),
                    rate(p.tx_rate),
                    p.retrans.to_string(),
                    bytes(p.recv_q),
                    bytes(p.send_q),
                    per_second(p.opened as f64 / secs),
                    per_second(p.closed as f64 / secs),
                ]
            }
            View::Connections => {
                let c = &r.connections[i];
                let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.0}", v * 100.0));
                vec![
                    c.local.to_string(),
                    c.remote.to_string(),
                    c.owner.to_string(),
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
                ]
            }
            View::Unix => {
                let u = &r.unix_pairs[i];
                vec![
                    u.a.owner.to_string(),
                    bytes(u.a.queued),
                    u.b.owner.to_string(),
                    bytes(u.b.queued),
                    stalled_for(u).map_or("-".into(), seconds),
                    u.kind.to_string(),
                    pair_name(u).to_string(),
                ]
            }
            View::Listeners => {
                let l = &r.listeners[i];
                vec![
                    l.kind.to_string(),
                    l.local.to_string(),
                    l.owner.to_string(),
                    l.accept_queue.to_string(),
                    l.backlog.to_string(),
                    format!("{:.0}", full(l.accept_queue, l.backlog) * 100.0),
                    if l.kind == "tcp" {
                        per_second(l.accepted_rate)
                    } else {
                        "-".into()
                    },
                ]
            }
            View::Closed => unreachable!("drawn above"),
        }
    }

    /// The rows of the current view, as indices into its list: only the drilled process's,
    /// sorted by the chosen column, ties broken by the columns from the left. Nothing is
    /// formatted here: a view can hold every connection of the host, and a screen shows a
    /// few of them (`cells`).
    fn order(&self, now: Instant) -> Vec<usize> {
        let mut order: Vec<usize> = match &self.drill {
            Some((pid, _)) => (0..self.len()).filter(|&i| self.belongs(i, *pid)).collect(),
            None => (0..self.len()).collect(),
        };
        let (col, reversed) = self.sort[self.view.index()];
        let ncols = self.view.columns().len();
        order.sort_by(|&a, &b| {
            let o = self.sort_key(a, col, now).cmp(&self.sort_key(b, col, now));
            let o = (0..ncols).fold(o, |o, c| {
                o.then_with(|| self.sort_key(a, c, now).cmp(&self.sort_key(b, c, now)))
            });
            if reversed {
                o.reverse()
            } else {
                o
            }
        });
        order
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
        let now = Instant::now();
        let order = self.order(now);
        let n = order.len();
        // Keep a row selected: the last one if rows went away, the first when there were none.
        let selected = match self.table.selected() {
            Some(i) if i >= n && n > 0 => n - 1,
            Some(i) => i,
            None => 0,
        };
        self.table.select(Some(selected));
        // Only the rows that fit below the header are made; the window moves as ratatui's
        // own would, just enough to keep the selection on screen.
        let height = usize::from(area.height.saturating_sub(1));
        let mut offset = self.table.offset().min(n.saturating_sub(1));
        if selected < offset {
            offset = selected;
        } else if height > 0 && selected >= offset + height {
            offset = selected + 1 - height;
        }
        *self.table.offset_mut() = offset;
        let shown = &order[offset.min(n)..(offset + height).min(n)];
        let body = shown.iter().map(|&i| Row::new(self.cells(i, now)));
        let widths = columns.iter().map(|(_, w)| Constraint::Length(*w));
        let table = Table::new(body, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
        let mut window = TableState::default().with_selected((n > 0).then(|| selected - offset));
        f.render_stateful_widget(table, area, &mut window);
    }
}

/// The longest a reader of the pair has been stalled, if one is.
fn stalled_for(u: &UnixPair) -> Option<f64> {
    [&u.a, &u.b]
        .iter()
        .filter_map(|e| e.stalled_for_s)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))
}

/// The pair's name: either end's.
fn pair_name(u: &UnixPair) -> &str {
    u.a.name.as_deref().or(u.b.name.as_deref()).unwrap_or("")
}

/// How full an accept queue is, 0 to 1.
fn full(queue: u64, backlog: u64) -> f64 {
    if backlog > 0 {
        queue as f64 / backlog as f64
    } else {
        0.0
    }
}

fn closed_key(c: &Closed, col: usize, now: Instant) -> Key<'_> {
    let r = &c.row;
    match col {
        // Newest first by default: "largest" is the most recent.
        0 => Key::Num(-now.duration_since(c.at).as_secs_f64()),
        1 => Key::Addr(&r.local),
        2 => Key::Addr(&r.remote),
        3 => Key::Text(&r.owner),
        4 => Key::Num(r.rx_bytes.unwrap_or(0) as f64),
        5 => Key::Num(r.tx_bytes.unwrap_or(0) as f64),
        6 => Key::Num(r.rtt_ms.unwrap_or(0.0)),
        _ => Key::Num(f64::from(r.retrans.unwrap_or(0))),
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
    use sockbox_net::observe::top::{ConnectionRow, ProcessRow, UnixEnd};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn report() -> Report {
        let p = |pid: u32, comm: &str, tx: f64| ProcessRow {
            pid: Some(pid),
            comm: Some(comm.into()),
            owner: format!("{comm} ({pid})").into(),
            tx_rate: tx,
            ..ProcessRow::default()
        };
        let c = conn;
        Report {
            interval_s: 1.0,
            processes: vec![p(10, "slow", 10.0), p(20, "fast", 5e6)],
            connections: vec![c(1000, 10, 10.0), c(2000, 20, 5e6)],
            ..Report::default()
        }
    }

    fn conn(port: u16, pid: u32, tx: f64) -> ConnectionRow {
        ConnectionRow {
            cookie: u64::from(port),
            local: std::net::SocketAddr::from(([127, 0, 0, 1], port)).into(),
            remote: std::net::SocketAddr::from(([127, 0, 0, 1], 80)).into(),
            state: "established",
            owner: format!("p ({pid})").into(),
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

    /// The screen line showing `needle`, and whether it is drawn selected.
    fn line_with(t: &Terminal<TestBackend>, needle: &str) -> Option<(String, bool)> {
        let buf = t.backend().buffer();
        let area = buf.area;
        (0..area.height).find_map(|y| {
            let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
            line.contains(needle).then(|| {
                let selected = buf[(0, y)].modifier.contains(Modifier::REVERSED);
                (line.trim_end().to_string(), selected)
            })
        })
    }

    /// A view of thousands of rows draws the screenful around the selection: the busiest
    /// first, ties by address (port 9 before port 10), paging down moves the window with the
    /// selection, Home goes back.
    #[test]
    fn a_long_view_draws_the_rows_around_the_selection() {
        let mut r = report();
        r.connections = (1..=5000u16)
            .map(|p| conn(p, 10, if p == 4321 { 9e6 } else { 0.0 }))
            .collect();
        let mut s = Screen::new(Duration::from_secs(1), String::new());
        s.update(r, Instant::now());
        s.key(key(KeyCode::Char('2')));
        let mut t = Terminal::new(TestBackend::new(120, 20)).unwrap();
        t.draw(|f| s.draw(f)).unwrap();
        let (first, selected) = line_with(&t, "127.0.0.1:4321 ").expect("the busiest row");
        assert!(selected, "{first}");
        assert!(line_with(&t, "127.0.0.1:9 ").is_some());
        assert!(line_with(&t, "127.0.0.1:10 ").is_some());
        assert!(line_with(&t, "127.0.0.1:300 ").is_none());

        // Row 0 is port 4321, row k after it port k: 30 pages of 10 select port 300.
        for _ in 0..30 {
            s.key(key(KeyCode::PageDown));
        }
        t.draw(|f| s.draw(f)).unwrap();
        let (row, selected) = line_with(&t, "127.0.0.1:300 ").expect("the selected row");
        assert!(selected, "{row}");
        assert!(!line_with(&t, "127.0.0.1:299 ").unwrap().1);
        assert!(line_with(&t, "127.0.0.1:4321 ").is_none());

        // Past the end: the last row stays selected.
        for _ in 0..600 {
            s.key(key(KeyCode::PageDown));
        }
        t.draw(|f| s.draw(f)).unwrap();
        assert!(line_with(&t, "127.0.0.1:5000 ").unwrap().1);

        s.key(key(KeyCode::Home));
        t.draw(|f| s.draw(f)).unwrap();
        assert!(line_with(&t, "127.0.0.1:4321 ").unwrap().1);
    }

    /// Drilled into a process, the Unix view keeps the pairs either end of which is its.
    #[test]
    fn the_unix_view_drilled_keeps_pairs_with_either_end() {
        let end = |pid: u32, inode: u64| UnixEnd {
            inode,
            owner: format!("p ({pid})").into(),
            pid: Some(pid),
            name: None,
            queued: inode,
            stalled: false,
            stalled_for_s: None,
        };
        let pair = |a: UnixEnd, b: UnixEnd| UnixPair {
            kind: "unix",
            a,
            b,
            stalled: false,
        };
        let mut r = report();
        r.unix_pairs = vec![
            pair(end(1, 101), end(10, 102)),
            pair(end(2, 201), end(3, 202)),
            pair(end(10, 301), end(4, 302)),
        ];
        let mut s = Screen::new(Duration::from_secs(1), String::new());
        s.update(r, Instant::now());
        s.key(key(KeyCode::Char('3')));
        s.drill = Some((10, "p (10)".into()));
        let text = screen_text(&mut s, 120, 20);
        assert!(text.contains("p (1)") && text.contains("p (4)"), "{text}");
        assert!(!text.contains("p (2)"), "{text}");
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
