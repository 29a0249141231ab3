//! Child processes that cannot outlive the program that started them by accident: a
//! [`ChildProcess`] is killed and reaped when dropped, which also covers early returns,
//! errors and panics (`make demo` must stop everything it started).

use anyhow::{Context, bail};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A started program; killed (SIGKILL) and waited for on drop.
#[derive(Debug)]
pub struct ChildProcess {
    name: String,
    child: Child,
    first_line: Option<mpsc::Receiver<std::io::Result<String>>>,
}

impl ChildProcess {
    /// Starts `command` with its stdout piped (read it with [`ChildProcess::first_line`]).
    /// Stderr and stdin are left as the caller configured them.
    pub fn spawn(name: impl Into<String>, command: &mut Command) -> anyhow::Result<Self> {
        let name = name.into();
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {name} ({command:?})"))?;
        let stdout = child.stdout.take().context("stdout was not piped")?;
        let (tx, rx) = mpsc::channel();
        // A thread hands over the first line and then keeps draining stdout, so the child
        // never blocks on (or dies of) a full or closed pipe.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = reader.read_line(&mut line).map(|_| line.trim().to_string());
            let _ = tx.send(first);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        Ok(Self {
            name,
            child,
            first_line: Some(rx),
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The first line the child prints on stdout (e.g. `github-fake`'s base URL), waiting at
    /// most `timeout`. Can be called once.
    pub fn first_line(&mut self, timeout: Duration) -> anyhow::Result<String> {
        let rx = self
            .first_line
            .take()
            .context("the first line was already read")?;
        let received = rx.recv_timeout(timeout);
        let note = self.exit_note();
        match received {
            Ok(Ok(line)) if !line.is_empty() => Ok(line),
            Ok(Ok(_)) => bail!(
                "{} closed its stdout without printing anything{note}",
                self.name
            ),
            Ok(Err(e)) => Err(e).with_context(|| format!("reading {}'s stdout", self.name)),
            Err(_) => bail!("{} printed nothing within {timeout:?}{note}", self.name),
        }
    }

    /// `Some(status)` once the child has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Fails if the child has exited (e.g. a server that died on start-up).
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.exited() {
            Some(status) => bail!("{} exited early ({status})", self.name),
            None => Ok(()),
        }
    }

    fn exit_note(&mut self) -> String {
        self.exited()
            .map(|s| format!(" (it exited: {s})"))
            .unwrap_or_default()
    }

    /// Kills the child and reaps it; idempotent.
    pub fn stop(&mut self) {
        if self.exited().is_none() {
            // SIGKILL: pmhub and the fake keep nothing worth flushing, and a stuck child
            // must not keep the demo from finishing.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port that was free a moment ago, for programs that must be told their port up
/// front. (Another process could take it in between; on a development machine that is rare
/// enough.)
pub fn free_loopback_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The `pmhub` and `github-fake` executables a program drives.
pub struct Binaries {
    /// `pmhub`.
    pub pmhub: PathBuf,
    /// `github-fake`.
    pub github_fake: PathBuf,
}

impl Binaries {
    /// Finds both in `bin_dir`, or beside the running program when `None`; a missing
    /// one is an error that says how to build it (`build_hint`, a command).
    pub fn locate(bin_dir: Option<&Path>, build_hint: &str) -> anyhow::Result<Self> {
        let dir = match bin_dir {
            Some(dir) => dir.to_path_buf(),
            None => std::env::current_exe()?
                .parent()
                .context("this program has no folder")?
                .to_path_buf(),
        };
        let executable = |name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            if !path.is_file() {
                bail!(
                    "{} not found: build it first ({build_hint})",
                    path.display()
                );
            }
            Ok(path)
        };
        Ok(Self {
            pmhub: executable("pmhub")?,
            github_fake: executable("github-fake")?,
        })
    }
}

/// Creates (or truncates) `dir/name` for a child process's log.
pub fn log_file(dir: &Path, name: &str) -> anyhow::Result<File> {
    let path = dir.join(name);
    File::create(&path).with_context(|| format!("creating {}", path.display()))
}
