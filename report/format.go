package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cacheproof/cacheproof/result"
)

// The writers format values the way targets report them (result.FormatValue);
// these are its per-unit shorthands plus the few forms only writers use.

func formatMs(v float64) string      { return result.FormatValue(v, result.UnitMs) }
func formatSeconds(v float64) string { return result.FormatValue(v, result.UnitSeconds) }
func formatPercent(v float64) string { return result.FormatValue(v, result.UnitFraction) }
func formatCount(n uint64) string    { return result.FormatValue(float64(n), result.UnitCount) }

func formatThousands(v float64, decimals int) string { return result.FormatThousands(v, decimals) }

func formatBytes(v int64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%d B", v)
	}
	f, exp := float64(v), 0
	for f >= unit && exp < 4 {
		f /= unit
		exp++
	}
	return fmt.Sprintf("%s %ciB", formatNum(round(f, 1)), "KMGT"[exp-1])
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}
