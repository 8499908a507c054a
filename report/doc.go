// Package report writes, compares and merges the results of cacheproof runs
// (the Result model, HDR summaries and targets are in package result): the
// versioned JSON report (WriteJSON, ReadJSON), console text, self-contained
// HTML with SVG charts, JUnit XML and Markdown; Compare, the regression gate
// between two results; and Merge, which combines the results of shards of
// one load exactly.
//
// The package knows nothing of how a result was produced: it imports no
// Redis client and no cacheproof package but result, so a Result can be
// re-rendered, compared and merged long after the run, on a machine without
// Redis.
package report
