// Package result owns what one cacheproof run found: the Result model (the
// data of the versioned JSON report), HDR latency histograms and their
// summaries, and the target language (metrics, expressions such as "< 5ms",
// their evaluation and the verdict).
//
// Targets are parsed once, when they are loaded: ParseTarget turns a
// TargetSpec (as written) into a Target carrying the parsed Expr, and
// Evaluate, Finalize and everything downstream use it without parsing again.
//
// The package sits below everything that produces or reads a result
// (harness, chaos, report, the command): it imports no Redis client and no
// other cacheproof package apart from small internal helpers, so a Result
// can be re-evaluated long after the run, on a machine without Redis.
package result
