//! `memory_stats`, `MemoryStats`, `MemoryMonitor`, `PressureEvent`: mem-monitor for Python.

use std::time::Duration;

use mem_monitor::{MemoryMonitor as RustMonitor, PressureEvent as RustEvent, Thresholds};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::convert::{mb, mb_to_bytes};
use crate::errors;

/// One sample of process and system memory.
#[pyclass(module = "membound._native", name = "MemoryStats", frozen)]
#[derive(Clone)]
pub(crate) struct MemoryStats(pub(crate) mem_monitor::MemoryStats);

#[pymethods]
impl MemoryStats {
    /// When the sample was taken, seconds since the Unix epoch.
    #[getter]
    fn timestamp(&self) -> f64 {
        self.0.timestamp
    }
    /// Resident memory of this process, MB.
    #[getter]
    fn process_mb(&self) -> f64 {
        self.0.process_mb()
    }
    /// Resident memory of this process, bytes.
    #[getter]
    fn process_rss_bytes(&self) -> u64 {
        self.0.process_rss_bytes
    }
    /// Virtual size of this process, MB.
    #[getter]
    fn process_virtual_mb(&self) -> f64 {
        self.0.process_virtual_mb()
    }
    /// Physical RAM, MB.
    #[getter]
    fn system_total_mb(&self) -> f64 {
        self.0.system_total_mb()
    }
    /// RAM available without swapping, MB.
    #[getter]
    fn system_available_mb(&self) -> f64 {
        self.0.system_available_mb()
    }
    /// Effective used percentage (0-100): of the cgroup limit when one is set, else of RAM.
    #[getter]
    fn system_used_percent(&self) -> f64 {
        self.0.system_used_percent
    }
    /// The cgroup v2 memory limit in MB, or None when the process runs without one.
    #[getter]
    fn cgroup_limit_mb(&self) -> Option<f64> {
        self.0.cgroup_limit_mb()
    }
    /// The cgroup v2 memory usage in MB, or None.
    #[getter]
    fn cgroup_usage_mb(&self) -> Option<f64> {
        self.0.cgroup_usage_mb()
    }
    /// PSI "some avg10" (percent of time some task stalled on memory), or None.
    #[getter]
    fn psi_some_avg10(&self) -> Option<f64> {
        self.0.psi_some_avg10
    }
    /// PSI "full avg10", or None.
    #[getter]
    fn psi_full_avg10(&self) -> Option<f64> {
        self.0.psi_full_avg10
    }
    /// The pressure level: "low", "medium" or "high".
    #[getter]
    fn level(&self) -> &'static str {
        self.0.level.as_str()
    }
    /// Whether the level is "high".
    #[getter]
    fn is_high_pressure(&self) -> bool {
        self.0.is_high_pressure()
    }
    /// Every figure as a dict (bytes, as in `membound monitor --json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::convert::to_py(py, &self.0)
    }
    fn __repr__(&self) -> String {
        format!(
            "MemoryStats(process_mb={:.1}, system_used_percent={:.1}, level={:?})",
            self.0.process_mb(),
            self.0.system_used_percent,
            self.0.level.as_str()
        )
    }
}

/// Takes one memory sample now: process RSS, system use (of the cgroup v2 limit when one is
/// set), PSI and the pressure level. Raises MonitorError where the OS reports no memory.
#[pyfunction]
fn memory_stats(py: Python<'_>) -> PyResult<MemoryStats> {
    py.detach(mem_monitor::memory_stats)
        .map(MemoryStats)
        .map_err(errors::monitor)
}

/// A change of pressure level, as given to `on_pressure` callbacks.
#[pyclass(module = "membound._native", name = "PressureEvent", frozen)]
pub(crate) struct PressureEvent(RustEvent);

#[pymethods]
impl PressureEvent {
    /// The level before the change ("low", "medium" or "high").
    #[getter]
    fn previous(&self) -> &'static str {
        self.0.from.as_str()
    }
    /// The level after the change.
    #[getter]
    fn level(&self) -> &'static str {
        self.0.to.as_str()
    }
    /// The sample that caused the change.
    #[getter]
    fn stats(&self) -> MemoryStats {
        MemoryStats(self.0.stats.clone())
    }
    fn __repr__(&self) -> String {
        format!(
            "PressureEvent({} -> {}, process_mb={:.1})",
            self.0.from,
            self.0.to,
            self.0.stats.process_mb()
        )
    }
}

/// Watches memory on a background thread and calls `on_pressure` on level changes.
///
/// `MemoryMonitor(interval_ms=500, on_pressure=None, *, history_capacity=3600,
/// process_medium_mb=None, process_high_mb=None, system_medium_percent=None,
/// system_high_percent=None, hysteresis=0.05)`. Levels: "medium" from 2 GB of process RSS or
/// 70 % system use, "high" from 4 GB or 85 % (unless set), with hysteresis on the way down.
/// Callbacks get a `PressureEvent` on the monitor's thread. A context manager: `with` starts
/// and stops it.
#[pyclass(module = "membound._native", name = "MemoryMonitor")]
pub(crate) struct MemoryMonitor {
    inner: Option<RustMonitor>,
}

impl MemoryMonitor {
    fn monitor(&self) -> &RustMonitor {
        // Only `None` during drop.
        self.inner
            .as_ref()
            .unwrap_or_else(|| unreachable!("the monitor is set until the object is dropped"))
    }
}

fn thresholds(
    base: Thresholds,
    process_medium_mb: Option<f64>,
    process_high_mb: Option<f64>,
    system_medium_percent: Option<f64>,
    system_high_percent: Option<f64>,
) -> PyResult<Thresholds> {
    let mut t = base;
    if let Some(v) = process_medium_mb {
        t.process_medium_bytes = mb_to_bytes("process_medium_mb", v)?;
    }
    if let Some(v) = process_high_mb {
        t.process_high_bytes = mb_to_bytes("process_high_mb", v)?;
    }
    if let Some(v) = system_medium_percent {
        t.system_medium_percent = v;
    }
    if let Some(v) = system_high_percent {
        t.system_high_percent = v;
    }
    Ok(t)
}

fn interval(interval_ms: f64) -> PyResult<Duration> {
    if !interval_ms.is_finite() || interval_ms < 1.0 {
        return Err(errors::value_error(format!(
            "interval_ms must be at least 1, got {interval_ms}"
        )));
    }
    Ok(Duration::from_secs_f64(interval_ms / 1000.0))
}

#[pymethods]
impl MemoryMonitor {
    #[new]
    #[pyo3(signature = (interval_ms = 500.0, on_pressure = None, *, history_capacity = 3600,
        process_medium_mb = None, process_high_mb = None, system_medium_percent = None,
        system_high_percent = None, hysteresis = 0.05))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn new(
        interval_ms: f64,
        on_pressure: Option<Py<PyAny>>,
        history_capacity: usize,
        process_medium_mb: Option<f64>,
        process_high_mb: Option<f64>,
        system_medium_percent: Option<f64>,
        system_high_percent: Option<f64>,
        hysteresis: f64,
    ) -> PyResult<Self> {
        let t = thresholds(
            Thresholds::default(),
            process_medium_mb,
            process_high_mb,
            system_medium_percent,
            system_high_percent,
        )?;
        let monitor = RustMonitor::builder()
            .interval(interval(interval_ms)?)
            .history_capacity(history_capacity)
            .thresholds(t)
            .hysteresis(hysteresis)
            .build()
            .map_err(errors::monitor)?;
        let this = Self {
            inner: Some(monitor),
        };
        if let Some(cb) = on_pressure {
            this.add_callback(cb)?;
        }
        Ok(this)
    }

    /// Adds a callback called with a `PressureEvent` on every level change. It runs on the
    /// monitor's thread: keep it short; an exception in it is reported as unraisable.
    fn on_pressure(&self, callback: Py<PyAny>) -> PyResult<()> {
        self.add_callback(callback)
    }

    /// Starts the sampling thread (a first sample is taken before it returns).
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let m = self.monitor();
        py.detach(|| m.start()).map_err(errors::monitor)
    }

    /// Stops the sampling thread and waits for it.
    fn stop(&self, py: Python<'_>) {
        let m = self.monitor();
        // Without the GIL: the thread may be waiting for it to run a callback.
        py.detach(|| m.stop());
    }

    /// Whether the sampling thread runs.
    #[getter]
    fn is_running(&self) -> bool {
        self.monitor().is_running()
    }

    /// The current pressure level (with hysteresis): "low", "medium" or "high".
    #[getter]
    fn level(&self) -> &'static str {
        self.monitor().level().as_str()
    }

    /// Takes a sample now (recorded, and published if the level changes).
    fn sample_now(&self, py: Python<'_>) -> PyResult<MemoryStats> {
        let m = self.monitor();
        py.detach(|| m.sample_now())
            .map(MemoryStats)
            .map_err(errors::monitor)
    }

    /// The latest sample, or None before the first.
    fn current(&self) -> Option<MemoryStats> {
        self.monitor().current_stats().map(MemoryStats)
    }

    /// The samples kept, oldest first.
    fn history(&self) -> Vec<MemoryStats> {
        self.monitor()
            .history()
            .into_iter()
            .map(MemoryStats)
            .collect()
    }

    /// The sample with the highest process RSS so far, or None before the first.
    fn peak(&self) -> Option<MemoryStats> {
        self.monitor().peak().map(MemoryStats)
    }

    /// How many samples were taken and how many level changes were published.
    fn counters(&self) -> (u64, u64) {
        self.monitor().counters()
    }

    /// Changes the thresholds (MB for the process, percent for the system); the next sample
    /// is classified under them. Unnamed thresholds keep their value.
    #[pyo3(signature = (*, process_medium_mb = None, process_high_mb = None,
        system_medium_percent = None, system_high_percent = None))]
    fn set_thresholds(
        &self,
        process_medium_mb: Option<f64>,
        process_high_mb: Option<f64>,
        system_medium_percent: Option<f64>,
        system_high_percent: Option<f64>,
    ) -> PyResult<()> {
        let m = self.monitor();
        let t = thresholds(
            m.thresholds(),
            process_medium_mb,
            process_high_mb,
            system_medium_percent,
            system_high_percent,
        )?;
        m.set_thresholds(t).map_err(errors::monitor)
    }

    /// The thresholds in force: process_medium_mb, process_high_mb, system_medium_percent,
    /// system_high_percent.
    fn thresholds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let t = self.monitor().thresholds();
        let d = PyDict::new(py);
        d.set_item("process_medium_mb", mb(t.process_medium_bytes))?;
        d.set_item("process_high_mb", mb(t.process_high_bytes))?;
        d.set_item("system_medium_percent", t.system_medium_percent)?;
        d.set_item("system_high_percent", t.system_high_percent)?;
        Ok(d)
    }

    fn __enter__<'a>(slf: PyRef<'a, Self>, py: Python<'a>) -> PyResult<PyRef<'a, Self>> {
        slf.start(py)?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.stop(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "MemoryMonitor(running={}, level={:?})",
            self.monitor().is_running(),
            self.monitor().level().as_str()
        )
    }
}

impl MemoryMonitor {
    fn add_callback(&self, callback: Py<PyAny>) -> PyResult<()> {
        Python::attach(|py| {
            if !callback.bind(py).is_callable() {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "on_pressure must be callable",
                ));
            }
            Ok(())
        })?;
        self.monitor().on_pressure(move |event: &RustEvent| {
            Python::attach(|py| {
                let event = PressureEvent(event.clone());
                if let Err(e) = callback.call1(py, (event,)) {
                    e.write_unraisable(py, Some(callback.bind(py)));
                }
            });
        });
        Ok(())
    }
}

impl Drop for MemoryMonitor {
    fn drop(&mut self) {
        if let Some(m) = self.inner.take() {
            // Stopping joins the thread, which may be waiting for the GIL in a callback.
            Python::attach(|py| py.detach(move || drop(m)));
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MemoryStats>()?;
    m.add_class::<PressureEvent>()?;
    m.add_class::<MemoryMonitor>()?;
    m.add_function(wrap_pyfunction!(memory_stats, m)?)?;
    Ok(())
}
