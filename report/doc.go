// Package report owns the result of one cacheproof run: the Result model and
// its versioned JSON form, HDR latency summaries, target expressions and their
// evaluation, and every writer that turns a Result into something a person or
// a pipeline reads (console text, self-contained HTML, JUnit XML, Markdown).
// It also compares two results (regression gate) and merges the results of
// shards of one load.
//
// The package knows nothing of how a result was produced: it imports no Redis
// client and no other cacheproof package, so a Result can be re-rendered,
// compared and merged long after the run, on a machine without Redis.
package report
