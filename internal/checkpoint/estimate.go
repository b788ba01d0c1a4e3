package checkpoint

import (
	"math"
	"sort"
	"time"
)

// Session is one worker session as the coordinator recorded it. An open
// session (the worker is still connected) has lasted at least now − Start:
// its length is right-censored.
type Session struct {
	Start, End time.Time
	Open       bool
}

// Prior is what the estimator believes before it has data: Weight
// pseudo-sessions of mean Mean. It is a Gamma(Weight, Weight·Mean) prior on
// the session end rate.
type Prior struct {
	Mean   time.Duration
	Weight float64
}

// DefaultPrior: three pseudo-sessions of five minutes, a short browser
// visit. Guessing short errs on the side of checkpointing too often, which
// costs a little overhead, rather than too rarely, which loses work.
var DefaultPrior = Prior{Mean: 5 * time.Minute, Weight: 3}

// Estimate is a censored estimate of the mean session length.
type Estimate struct {
	Mean      time.Duration // estimated mean session length τ̂
	Completed int           // sessions that ended
	Exposure  time.Duration // total observed session time, open sessions included
}

// EstimateMeanSession estimates τ with DefaultPrior.
func EstimateMeanSession(sessions []Session, now time.Time) time.Duration {
	return EstimateMeanSessionPrior(sessions, now, DefaultPrior).Mean
}

// EstimateMeanSessionPrior estimates the mean of exponentially distributed
// session lengths from complete and right-censored observations:
//
//	τ̂ = (exposure + w·τ₀) / (completed + w)
//
// where exposure is the total observed time of all sessions (open ones up to
// now). With w = 0 it is the maximum-likelihood estimate; with a prior it is
// the reciprocal of the posterior mean rate, which tends to the MLE as
// sessions accumulate and to τ₀ when there are none (so with a zero Prior
// and no completed session, Mean is 0: unknown). Sessions with End
// before Start, or starting after now, count as zero length.
func EstimateMeanSessionPrior(sessions []Session, now time.Time, p Prior) Estimate {
	var exposure float64 // seconds
	completed := 0
	for _, s := range sessions {
		end := s.End
		if s.Open {
			end = now
		} else {
			completed++
		}
		if d := end.Sub(s.Start).Seconds(); d > 0 {
			exposure += d
		}
	}
	w := max(p.Weight, 0)
	den := float64(completed) + w
	if den == 0 {
		return Estimate{Mean: p.Mean, Exposure: seconds(exposure)}
	}
	mean := (exposure + w*p.Mean.Seconds()) / den
	return Estimate{Mean: seconds(mean), Completed: completed, Exposure: seconds(exposure)}
}

func seconds(s float64) time.Duration {
	if s >= math.MaxInt64/1e9 {
		return math.MaxInt64
	}
	return time.Duration(s * 1e9)
}

// RateSample is one measured stretch of a guest's run: the fuel it
// consumed and the guest run time it took (RunTime).
type RateSample struct {
	Fuel    uint64
	Seconds float64
}

// RunTime is the guest run time a rate sample may count for a stretch the
// coordinator watched for observed (from granting the lease, or accepting
// the previous checkpoint, to receiving this report), of which the worker
// says it ran the guest for reported (0: it did not say). ok is false when
// there is no sample to take.
//
// A stretch that starts at the lease grant also covers the worker fetching
// and compiling the module and the task waiting for a slot: counted as run
// time, one module compile made a tiny task look 2000 times slower than
// the guest runs. Such a stretch counts only with the worker's report. The
// coordinator cannot check a report, so it never counts more time than it
// saw pass; a worker that says it ran in less time looks faster, which
// FuelRate weighs by the time claimed, so a short claim weighs little.
// A stretch that starts at an accepted checkpoint is run time to the
// coordinator's own clock (plus the next checkpoint's capture and
// transfer, small next to the interval).
func RunTime(observed, reported time.Duration, fromGrant bool) (d time.Duration, ok bool) {
	switch {
	case observed <= 0:
		return 0, false
	case reported > 0:
		return min(reported, observed), true
	case fromGrant:
		return 0, false
	}
	return observed, true
}

// FuelRate estimates fuel per second as the time-weighted median of the
// samples' rates: the rate at which half the measured guest time ran
// faster (0 with no usable sample). Weighing by time makes a few tiny
// tasks, whose rates are mostly noise (timer resolution, fixed per-task
// costs), count for as little as the time they ran; the median keeps a few
// very fast or very slow workers (native versus a throttled background
// tab) from moving the grid. Samples with no fuel or no time are ignored.
func FuelRate(samples []RateSample) float64 {
	type wr struct{ rate, w float64 }
	rs := make([]wr, 0, len(samples))
	var total float64
	for _, s := range samples {
		if s.Fuel > 0 && s.Seconds > 0 && !math.IsInf(s.Seconds, 1) {
			rs = append(rs, wr{float64(s.Fuel) / s.Seconds, s.Seconds})
			total += s.Seconds
		}
	}
	if len(rs) == 0 {
		return 0
	}
	sort.Slice(rs, func(a, b int) bool { return rs[a].rate < rs[b].rate })
	var acc float64
	for i, r := range rs {
		acc += r.w
		switch {
		case acc > total/2:
			return r.rate
		case acc == total/2 && i+1 < len(rs):
			// Exactly half the time below: between this rate and the next.
			return (r.rate + rs[i+1].rate) / 2
		}
	}
	return rs[len(rs)-1].rate
}

// MinFuelGrid is the smallest fuel interval FuelGrid returns: below it a
// checkpoint would cost far more than the work it protects.
const MinFuelGrid = 1 << 20

// FuelGrid turns an interval in seconds into a fuel interval: the product
// rounded to the nearest number with three significant bits (m·2^e, m in
// 8..15), so steps are at most 1/8 apart and consecutive estimates that
// differ by a few percent almost always give the same grid. Rounding moves
// the interval by at most 6.25%, which costs less than 0.2% of the checkpoint
// overhead (the optimum is flat). It returns MinFuelGrid for intervals below
// it and for non-positive or NaN input.
func FuelGrid(intervalSeconds, fuelPerSecond float64) uint64 {
	f := intervalSeconds * fuelPerSecond
	if !(f >= MinFuelGrid) {
		return MinFuelGrid
	}
	if f >= 1<<62 {
		return 1 << 62
	}
	e := math.Ilogb(f) - 3 // f = m·2^e with m in [8, 16)
	m := math.Round(math.Ldexp(f, -e))
	return uint64(m) << e
}

// StableFuelGrid is FuelGrid with hysteresis: it keeps current while the
// ideal interval stays within 12.5% of it, so that estimates wandering
// around a rounding boundary do not flip the grid back and forth. current 0
// means none yet. A task keeps the grid it was created with regardless (its
// replicas must checkpoint at the same fuel points); this keeps the grids of
// successive tasks of a job equal too.
func StableFuelGrid(current uint64, intervalSeconds, fuelPerSecond float64) uint64 {
	next := FuelGrid(intervalSeconds, fuelPerSecond)
	if current == 0 {
		return next
	}
	ideal := max(intervalSeconds*fuelPerSecond, MinFuelGrid)
	if r := ideal / float64(current); r >= 1/1.125 && r <= 1.125 {
		return current
	}
	return next
}
