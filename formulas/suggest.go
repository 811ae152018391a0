package formulas

import (
	"strings"
)

// didYouMean returns "; did you mean X?" for the candidate closest to name by
// edit distance (case-insensitive), or "" when none is close.
func didYouMean(name string, candidates []string) string {
	const maxLen = 64 // longer names are not typos worth the quadratic cost
	if len(name) > maxLen {
		return ""
	}
	best, bestDist := "", -1
	lower := strings.ToLower(name)
	for _, cand := range candidates {
		if len(cand) > maxLen || cand == name {
			continue
		}
		d := editDistance(lower, strings.ToLower(cand))
		if bestDist < 0 || d < bestDist {
			best, bestDist = cand, d
		}
	}
	limit := 1
	if len(name) >= 5 {
		limit = 2
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return "; did you mean " + best + "?"
}

// editDistance is the optimal string alignment distance between a and b,
// by bytes: insertions, deletions, substitutions and adjacent swaps.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
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
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
