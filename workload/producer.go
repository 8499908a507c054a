package workload

import (
	"math/rand/v2"
	"time"
)

// MaxProducerKeys bounds the keys a per-key producer (every:) follows: the
// schedule keeps each key's next write in a heap, 16 bytes a key.
const MaxProducerKeys = 1_000_000

// producerSched is one family's producer inside a Schedule: the writes
// that are not the users', at the producer's own rate, merged with the
// users' commands in time order. Its random stream is its own, so a
// producer added to a scenario leaves the users' commands as they were.
type producerSched struct {
	fi  int
	r   *rand.Rand
	ids []uint64 // a per-key producer's key numbers (the shard's), by slot
	// due is a per-key producer's next write of each key, a min-heap of
	// (time, slot in ids); a rate producer's next write is next.
	due     sessHeap
	every   time.Duration
	jitter  time.Duration
	rate    float64 // writes a second (this shard's share)
	next    time.Duration
	stopped bool
}

// newProducers builds the schedule's producers, one per family with one,
// each on a random stream of its own seeded from the shard's seed and the
// family's index.
func (s *Schedule) newProducers(seed uint64) {
	m := s.m
	for fi := range m.fams {
		f := &m.fams[fi]
		if f.Producer == nil {
			continue
		}
		p := &producerSched{fi: fi, r: rand.New(rand.NewPCG(seed, 0x70726f64^uint64(fi)<<8)), every: f.Producer.Every, jitter: f.Producer.Jitter}
		shards := max(m.cfg.Shards, 1)
		if p.every > 0 {
			n := 1
			if m.ph[fi] == phID {
				n = f.Keys
			}
			for id := range n {
				if shards == 1 || id%shards == m.cfg.Shard {
					p.ids = append(p.ids, uint64(id))
				}
			}
			// Each key writes first at its own phase in [0, every), so
			// the fleet's writes spread evenly from the start.
			p.due = make(sessHeap, len(p.ids))
			for i := range p.ids {
				p.due[i] = sessEnd{at: time.Duration(p.r.Int64N(int64(p.every))), slot: int32(i)}
			}
			p.due.init()
		} else {
			p.rate = f.Producer.Rate / float64(shards)
			p.next = s.producerGap(p)
		}
		s.prods = append(s.prods, p)
	}
}

// producerGap is the time to a rate producer's next write: exponential
// (Poisson writes), or 1/rate with arrival: constant.
func (s *Schedule) producerGap(p *producerSched) time.Duration {
	gap := 1 / p.rate
	if !s.constant {
		gap *= p.r.ExpFloat64()
	}
	return time.Duration(gap * float64(time.Second))
}

// nextProducer returns the producer whose write is due first and when, or
// -1 when none is due before the schedule's end.
func (s *Schedule) nextProducer() (int, time.Duration) {
	best, at := -1, time.Duration(0)
	for i, p := range s.prods {
		t, ok := p.peek()
		if !ok || t >= s.end {
			continue
		}
		if best < 0 || t < at {
			best, at = i, t
		}
	}
	return best, at
}

// peek is the producer's next write's time.
func (p *producerSched) peek() (time.Duration, bool) {
	if p.every > 0 {
		if len(p.due) == 0 {
			return 0, false
		}
		return p.due[0].at, true
	}
	return p.next, p.rate > 0
}

// produce returns producer i's write due at at as a command of its own and
// schedules the producer's next.
func (s *Schedule) produce(i int, at time.Duration) Command {
	p := s.prods[i]
	m := s.m
	f := &m.fams[p.fi]
	var id uint64
	if p.every > 0 {
		d := &p.due[0]
		id = p.ids[d.slot]
		step := p.every
		if p.jitter > 0 {
			step += time.Duration(p.r.Int64N(2*int64(p.jitter)+1)) - p.jitter
		}
		d.at += max(step, time.Millisecond)
		p.due.down(0)
	} else {
		if m.ph[p.fi] == phID {
			id = uint64(m.keyPerm[p.fi].at(m.keySamp[p.fi].Draw(p.r)))
		}
		p.next += s.producerGap(p)
	}
	key := f.KeyPattern
	if m.ph[p.fi] == phID {
		key = joinKey(m.prefix[p.fi], id, m.suffix[p.fi])
	}
	buf := &[1]Op{s.writeOp(p.fi, key, p.r)}
	return Command{At: at, Phase: s.phaseAt(at), Name: f.Command, Producer: f.Name, Instance: int(id % m.instances), Ops: buf[:]}
}

// phaseAt is the index of the phase time at falls in.
func (s *Schedule) phaseAt(at time.Duration) int {
	var end time.Duration
	for i, p := range s.phases {
		end += p.Duration
		if at < end {
			return i
		}
	}
	return len(s.phases) - 1
}
