package report

// ClientReport is the load generator's own state during the run: the Go
// runtime settings it ran under, what its garbage collector cost, and its CPU
// and memory. A p99 target missed while the tool's GC paused for 4 ms or its
// CPU was saturated says more about the tool than about Redis; this section
// lets a reader tell the two apart.
type ClientReport struct {
	// GOGC and GOMEMLIMIT as in effect ("off", "400", "4GiB"), with where
	// each came from ("env" or "default" or "tool").
	GOGC          string  `json:"gogc"`
	GOMEMLIMIT    string  `json:"gomemlimit"`
	GOMAXPROCS    int     `json:"gomaxprocs"`
	GCPauseP99Ms  float64 `json:"gc_pause_p99_ms"`
	GCCPUFraction float64 `json:"gc_cpu_fraction"`
	// CPUSeconds is the tool's own user+system CPU over the run (children,
	// such as a redis-server it started, excluded); PeakRSSBytes its peak
	// resident set.
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
}

// ServerLatency is Redis's own per-command latency (INFO latencystats), in
// milliseconds, measured inside the server: the part of client latency that
// Redis itself spent.
type ServerLatency struct {
	Calls uint64  `json:"calls"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
}
