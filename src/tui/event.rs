//! The terminal loop: set the terminal up, show the start-up screen while the data loads on a
//! background thread, then draw, read one event, collect finished jobs, and repeat. The terminal
//! is restored on every exit path (ratatui's panic hook covers panics).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::Duration;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyCode, KeyEventKind, KeyModifiers,
};
use ratatui::crossterm::execute;

use super::app::App;
use super::jobs::Jobs;
use super::namer::Namer;
use super::{ReviewOptions, Session, TuiError, load, views};

/// Runs the review until the user quits.
pub fn run(opts: ReviewOptions, namer: Arc<dyn Namer>) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let mut terminal = ratatui::try_init()?;
    // ratatui's panic hook restores raw mode and the screen; mouse reporting is ours to undo.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        hook(info);
    }));
    let mut out = std::io::stdout();
    let _ = execute!(out, EnableMouseCapture);
    let res = start(&mut terminal, opts, namer).and_then(|s| match s {
        Some(session) => main_loop(&mut terminal, App::new(session)),
        None => Ok(()),
    });
    let _ = execute!(out, DisableMouseCapture);
    let _ = out.flush();
    ratatui::restore();
    res
}

enum Loading {
    Stage(String),
    Done(Box<Result<Session, TuiError>>),
}

/// Draws the start-up screen until loading finishes; `None` when the user quit meanwhile.
fn start(
    terminal: &mut DefaultTerminal,
    opts: ReviewOptions,
    namer: Arc<dyn Namer>,
) -> Result<Option<Session>, TuiError> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let progress = |s: &str| {
            let _ = tx.send(Loading::Stage(s.to_string()));
        };
        let res = load(&opts, namer, &progress);
        let _ = tx.send(Loading::Done(Box::new(res)));
    });
    let mut stage = "starting".to_string();
    let mut tick = 0;
    loop {
        terminal.draw(|f| views::loading::render(&stage, tick, f.area(), f.buffer_mut()))?;
        match rx.recv_timeout(Duration::from_millis(80)) {
            Ok(Loading::Stage(s)) => stage = s,
            Ok(Loading::Done(res)) => return res.map(Some),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => tick += 1,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(TuiError::Interrupted);
            }
        }
        while event::poll(Duration::ZERO)? {
            if let Event::Key(k) = event::read()?
                && (k.code == KeyCode::Char('q')
                    || (k.code == KeyCode::Char('c')
                        && k.modifiers.contains(KeyModifiers::CONTROL)))
            {
                return Ok(None);
            }
        }
    }
}

fn main_loop(terminal: &mut DefaultTerminal, mut app: App) -> Result<(), TuiError> {
    let jobs = Jobs::default();
    let size = terminal.size()?;
    app.resize(size.width, size.height);
    let mut redraw = true;
    loop {
        if redraw {
            terminal.draw(|f| f.render_widget(&app, f.area()))?;
            redraw = false;
        }
        let wait = if app.busy().is_some() { 80 } else { 250 };
        if event::poll(Duration::from_millis(wait))? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => app.handle_key(k),
                Event::Mouse(m) => app.handle_mouse(m),
                Event::Resize(w, h) => app.resize(w, h),
                _ => {}
            }
            redraw = true;
        }
        for (id, out) in jobs.finished() {
            app.on_job(id, out);
            redraw = true;
        }
        for job in app.take_jobs() {
            jobs.spawn(job);
        }
        if app.busy().is_some() {
            app.on_tick();
            redraw = true;
        }
        if app.should_quit {
            return Ok(());
        }
    }
}
