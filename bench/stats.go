package main

import (
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method, in milliseconds; ds is sorted in place.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(float64(len(ds))*p/100+0.999999999) - 1
	rank = max(0, min(rank, len(ds)-1))
	return ms(ds[rank])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(ours, baseline float64) float64 {
	if baseline == 0 {
		return 0
	}
	return ours / baseline
}
