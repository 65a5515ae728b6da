// Prometheus metrics: the platform's gauges, counters and histograms, and who may read them.
export { type MetricsAccess, type MetricsVerdict, metricsVerdict } from "./access.ts";
export { type MetricsSources, PlatformMetrics } from "./metrics.ts";
