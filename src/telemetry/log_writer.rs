//! The log writer: every thread appends its finished line to one shared buffer, and a background
//! thread writes the buffer out in batches (one `write` per batch), when it reaches a size or when a
//! short interval has passed since its first line. A request therefore never waits on stderr nor
//! wakes another thread per line: only the first line of a batch wakes the writer thread.
//!
//! Not lossy: audit lines must not vanish. When stderr is slower than the lines come, the buffer
//! grows to a cap, and then the threads logging wait for room (back-pressure), each wait counted in
//! [`backpressure_waits`] (exported as a metric). Lines still buffered are written when the
//! [`FlushGuard`] drops at exit.

use std::io::Write;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

/// How the buffer is flushed.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// A batch is written as soon as it holds this many bytes.
    pub batch_bytes: usize,
    /// A batch is written at the latest this long after its first line.
    pub max_delay: Duration,
    /// Threads logging wait while the buffer holds this many bytes (the writer is behind).
    pub max_buffered_bytes: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings { batch_bytes: 64 * 1024, max_delay: Duration::from_millis(20), max_buffered_bytes: 8 << 20 }
    }
}

/// Times a thread logging had to wait for room in a full buffer (process-wide: there is one log).
static BACKPRESSURE_WAITS: LazyLock<Counter> = LazyLock::new(Counter::default);

/// The counter of back-pressure waits, registered as a metric by every `Metrics`.
pub fn backpressure_waits() -> Counter {
    BACKPRESSURE_WAITS.clone()
}

struct State {
    buffer: Vec<u8>,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread: a first line in an empty buffer, a full batch, or shutdown.
    wake_writer: Condvar,
    /// Wakes threads waiting for room.
    room: Condvar,
    settings: BatchSettings,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A thread that panicked while holding the lock left whole lines behind (appends are single
        // `extend_from_slice` calls), so the buffer is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends one line; `false` when the writer thread is gone (shut down or never started).
    fn append(&self, line: &[u8]) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        if state.buffer.len() + line.len() > self.settings.max_buffered_bytes && !state.buffer.is_empty() {
            BACKPRESSURE_WAITS.inc();
            self.wake_writer.notify_one();
            while state.buffer.len() + line.len() > self.settings.max_buffered_bytes
                && !state.buffer.is_empty()
                && !state.closed
            {
                state = self.room.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.closed {
                return false;
            }
        }
        let before = state.buffer.len();
        state.buffer.extend_from_slice(line);
        let after = state.buffer.len();
        drop(state);
        // The writer sleeps without a deadline while the buffer is empty, and with one while a batch
        // fills: it needs waking only for the first line and when the batch is full.
        if before == 0 || (before < self.settings.batch_bytes && after >= self.settings.batch_bytes) {
            self.wake_writer.notify_one();
        }
        true
    }

    /// The writer thread: waits for a first line, lets the batch fill for at most `max_delay`, writes it.
    fn run(&self, mut sink: impl Write) {
        let mut batch = Vec::with_capacity(self.settings.batch_bytes);
        let mut state = self.lock();
        loop {
            while state.buffer.is_empty() && !state.closed {
                state = self.wake_writer.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            let deadline = Instant::now() + self.settings.max_delay;
            while state.buffer.len() < self.settings.batch_bytes && !state.closed {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                state = self
                    .wake_writer
                    .wait_timeout(state, deadline - now)
                    .map(|(state, _)| state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner().0);
            }
            if state.buffer.is_empty() && state.closed {
                return;
            }
            std::mem::swap(&mut state.buffer, &mut batch);
            drop(state);
            self.room.notify_all();
            // Nothing useful can be done when stderr itself fails; the lines are gone either way.
            let _ = sink.write_all(&batch);
            let _ = sink.flush();
            batch.clear();
            state = self.lock();
        }
    }
}

/// A `tracing_subscriber` writer whose lines go to the shared batch buffer.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Keep until exit: dropping it writes what is buffered and stops the writer thread.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake_writer.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A writer to `sink` (stderr in the server) and the guard that flushes it at exit.
pub fn batch_writer(sink: impl Write + Send + 'static, settings: BatchSettings) -> (BatchWriter, FlushGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State { buffer: Vec::with_capacity(settings.batch_bytes), closed: false }),
        wake_writer: Condvar::new(),
        room: Condvar::new(),
        settings,
    });
    let writer_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name("api2mcp-log".to_string())
        .spawn(move || writer_shared.run(sink))
        .map_err(|error| eprintln!("warning: no log writer thread ({error}); log lines are written by the caller"))
        .ok();
    if thread.is_none() {
        // Without the thread nothing drains the buffer: write through instead.
        shared.lock().closed = true;
    }
    (BatchWriter { shared: shared.clone() }, FlushGuard { shared, thread })
}

/// One line as the fmt layer hands it over: appended whole (the layer writes each event in one call).
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if !self.shared.append(line) {
            // Shut down (or never started): write through, so late lines are not lost.
            std::io::stderr().write_all(line)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records each `write_all` batch.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(data.to_vec());
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn write_line(writer: &BatchWriter, line: &str) {
        use tracing_subscriber::fmt::MakeWriter;
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn lines_are_written_in_batches_and_flushed_at_exit() {
        let recorder = Recorder::default();
        // A delay no test run reaches: only size and the guard flush.
        let settings =
            BatchSettings { batch_bytes: 1 << 20, max_delay: Duration::from_secs(3600), max_buffered_bytes: 2 << 20 };
        let (writer, guard) = batch_writer(recorder.clone(), settings);
        for index in 0..1000 {
            write_line(&writer, &format!("line {index}\n"));
        }
        drop(guard);
        let batches = recorder.0.lock().unwrap().clone();
        assert_eq!(batches.len(), 1, "one write for the whole batch");
        let text = String::from_utf8(batches.concat()).unwrap();
        let expected: String = (0..1000).map(|index| format!("line {index}\n")).collect();
        assert_eq!(text, expected);
    }

    #[test]
    fn a_batch_is_written_after_the_delay_without_more_lines() {
        let recorder = Recorder::default();
        let settings =
            BatchSettings { batch_bytes: 1 << 20, max_delay: Duration::from_millis(5), max_buffered_bytes: 2 << 20 };
        let (writer, _guard) = batch_writer(recorder.clone(), settings);
        write_line(&writer, "only line\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while recorder.0.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the line was not written within 10 s");
            std::thread::yield_now();
        }
        assert_eq!(recorder.0.lock().unwrap().concat(), b"only line\n");
    }

    /// A sink that blocks until released: the buffer fills, and writers must wait, not drop.
    struct Gate(Arc<(Mutex<bool>, Condvar)>, Recorder);

    impl Write for Gate {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let (open, changed) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = changed.wait(open).unwrap();
            }
            self.1.write(data)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_buffer_applies_back_pressure_and_loses_nothing() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let recorder = Recorder::default();
        let settings = BatchSettings { batch_bytes: 64, max_delay: Duration::from_millis(1), max_buffered_bytes: 256 };
        let (writer, guard) = batch_writer(Gate(gate.clone(), recorder.clone()), settings);
        let waits_before = BACKPRESSURE_WAITS.get();
        let producer = {
            let writer = writer.clone();
            std::thread::spawn(move || {
                for index in 0..200 {
                    write_line(&writer, &format!("line {index:04}\n"));
                }
            })
        };
        // The sink is closed: the producer must end up waiting for room.
        let deadline = Instant::now() + Duration::from_secs(10);
        while BACKPRESSURE_WAITS.get() == waits_before {
            assert!(Instant::now() < deadline, "no back-pressure while the sink is blocked");
            std::thread::yield_now();
        }
        assert!(!producer.is_finished());
        let (open, changed) = &*gate;
        *open.lock().unwrap() = true;
        changed.notify_all();
        producer.join().unwrap();
        drop(guard);
        let text = String::from_utf8(recorder.0.lock().unwrap().concat()).unwrap();
        let expected: String = (0..200).map(|index| format!("line {index:04}\n")).collect();
        assert_eq!(text, expected);
    }
}
