package result

import (
	"math"
	"strconv"
	"strings"
)

// FormatValue formats v in the given metric unit for people: "4.21ms",
// "3.2s", "96.4%", "1,204", "8,431/s".
func FormatValue(v float64, unit string) string {
	switch unit {
	case UnitMs:
		return formatMs(v)
	case UnitSeconds:
		return formatSeconds(v)
	case UnitFraction:
		return formatPercent(v)
	case UnitRate:
		return FormatThousands(v, 1) + "/s"
	case UnitCount:
		return FormatThousands(v, 0)
	}
	return formatNum(v)
}

func formatMs(v float64) string {
	switch {
	case v >= 1000:
		return formatNum(round(v/1000, 2)) + "s"
	case v >= 100:
		return formatNum(round(v, 0)) + "ms"
	case v >= 10:
		return formatNum(round(v, 1)) + "ms"
	}
	return formatNum(round(v, 3)) + "ms"
}

func formatSeconds(v float64) string {
	if v >= 100 {
		return formatNum(round(v, 0)) + "s"
	}
	return formatNum(round(v, 1)) + "s"
}

func formatPercent(v float64) string {
	p := v * 100
	switch {
	case p == 100 || p == 0:
		return formatNum(p) + "%"
	case p >= 99.9 || p < 1:
		return formatNum(round(p, 3)) + "%"
	}
	return formatNum(round(p, 2)) + "%"
}

// FormatThousands groups digits ("12,345.6") for counts people scan, with at
// most decimals decimals (trailing zeros dropped).
func FormatThousands(v float64, decimals int) string {
	s := strconv.FormatFloat(round(v, decimals), 'f', decimals, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac != "" && strings.TrimRight(frac, "0") != "" {
		out += "." + strings.TrimRight(frac, "0")
	}
	if neg {
		out = "-" + out
	}
	return out
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

func formatCount(n uint64) string { return FormatThousands(float64(n), 0) }
