//! Prometheus metrics of the server: requests by route template and status, latency, requests in
//! flight, requests queued for a worker, and which run answers. Labels come from the route
//! template and fixed kinds only, never from user input, so the series count stays bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The matched route template (`/v1/predict`), or `unmatched`.
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub run: String,
}

fn latency_histogram() -> Histogram {
    // 5 ms … ~80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Gauge,
    /// Admitted requests waiting for a worker.
    pub queued: Gauge,
    model: Family<RunLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("musav");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let in_flight = Gauge::default();
        let queued = Gauge::default();
        let model = Family::<RunLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to answer, by route",
            latency.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "queue_depth",
            "Admitted prediction requests waiting for a worker",
            queued.clone(),
        );
        registry.register(
            "model_run",
            "The run being served (1 for the current run)",
            model.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            queued,
            model,
        }
    }

    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// Marks `run` as the one served (the previous one disappears from the series).
    pub fn set_run(&self, run: &str) {
        self.model.clear();
        self.model
            .get_or_create(&RunLabels {
                run: run.to_string(),
            })
            .set(1);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_latency_and_the_current_run() {
        let m = Metrics::new();
        m.record("POST", "/v1/predict", 200, 0.05);
        m.set_run("run-a");
        m.set_run("run-b");
        let text = m.render();
        assert!(
            text.contains(
                "musav_http_requests_total{method=\"POST\",route=\"/v1/predict\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("musav_http_request_duration_seconds_bucket"));
        assert!(text.contains("musav_model_run{run=\"run-b\"} 1"), "{text}");
        assert!(!text.contains("run-a"), "{text}");
    }
}
