// Package textdist finds the closest known word to a typo, for the
// did-you-mean hints in scenario and target errors.
package textdist

import "strings"

// Distance is the Levenshtein edit distance between a and b (bytes).
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Closest returns the candidate nearest to word (case-insensitive) when it
// is within maxDist edits, or "" when nothing is a plausible typo.
func Closest(word string, candidates []string, maxDist int) string {
	best, bestD := "", maxDist+1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		if d := Distance(lw, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Suggest returns the candidate a typo most plausibly meant: the closest
// within two edits (three for words over 8 bytes), else, for words over 3
// bytes, one containing the other (a missing suffix such as "_ms"), else "".
func Suggest(word string, candidates []string) string {
	limit := 2
	if len(word) > 8 {
		limit = 3
	}
	if best := Closest(word, candidates, limit); best != "" {
		return best
	}
	if len(word) > 3 {
		for _, c := range candidates {
			if strings.Contains(c, word) || strings.Contains(word, c) {
				return c
			}
		}
	}
	return ""
}
