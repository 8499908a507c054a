package workload

import (
	"math"
	"math/rand/v2"
	"time"
)

// PhasePlan is one phase of the run as the driver will execute it: the users
// active rise or fall linearly from UsersStart to UsersEnd over Duration
// (equal = steady). Record false marks a warm-up whose operations are not
// counted in the results.
type PhasePlan struct {
	Name                 string
	Duration             time.Duration
	UsersStart, UsersEnd int
	Record               bool
}

// OpKind is what one cache operation does. The kinds after OpDel exercise
// the rest of the seed's cache layer (its Lua scripts, MGET, pub/sub
// invalidation) and the data types a family may ask for; the driver maps
// each to the pool.Manager call the bot would make. Consumers that only
// need to know whether an operation reads, writes or deletes (prefill,
// sizing) use Reads, Writes and Deletes rather than listing kinds, so a new
// kind does not silently fall out of them.
type OpKind uint8

const (
	OpGetOrFetch OpKind = iota // read; on miss fetch from the origin and fill
	OpGet                      // plain read (a session miss is filled by the driver with a Set)
	OpSet                      // write
	OpTouch                    // refresh the TTL (session)
	OpDel                      // delete (invalidation)
	// OpSessionGet reads a session and extends its TTL in one atomic step
	// (the seed's get-and-extend: pool.SessionGet); a miss is filled with a
	// Set like OpGet's.
	OpSessionGet
	// OpMGet reads Keys (with Sizes) in one round trip (pool.MGet); each key
	// is a lookup of Family, and each miss is fetched from the origin and
	// filled.
	OpMGet
	// OpCAS updates Key through compare-and-swap by value (pool's Get,
	// then CompareAndSwap of the value read), retrying on a conflict as the
	// bot would.
	OpCAS
	// OpRateLimit counts one hit against the user's per-command rate-limit
	// counter at Key (the seed's Lua fixed window: pool.RateLimit).
	OpRateLimit
	// OpUpdate writes a new value of Key and invalidates it on every bot
	// instance through pub/sub (pool.Set then pool.Invalidate), so other
	// instances drop what they hold of it.
	OpUpdate
	// OpHGet reads field Field of the hash at Key (a family of type hash);
	// a miss is fetched and filled with OpHSet's write.
	OpHGet
	// OpHSet writes field Field of the hash at Key with the tier's TTL.
	OpHSet
	// OpZRange reads the top of the sorted set at Key (a family of type
	// zset); a miss is fetched and the set filled.
	OpZRange
	// OpZAdd adds or rescores member Field of the sorted set at Key.
	OpZAdd
	// OpHSetAll writes every field of the hash at Key in one HSET (each
	// field Size bytes), as Family.Write says: over what is there, or
	// replacing it (DEL first, in MULTI/EXEC or a pipeline).
	OpHSetAll
	// OpZAddAll writes every member of the sorted set at Key in one ZADD,
	// as Family.Write says (see OpHSetAll).
	OpZAddAll

	// NumOpKinds is the number of kinds: per-kind counters are arrays of
	// this length.
	NumOpKinds int = iota
)

// String names the kind as reports show it.
func (k OpKind) String() string {
	switch k {
	case OpGetOrFetch:
		return "get_or_fetch"
	case OpGet:
		return "get"
	case OpSet:
		return "set"
	case OpTouch:
		return "touch"
	case OpDel:
		return "del"
	case OpSessionGet:
		return "session_get"
	case OpMGet:
		return "mget"
	case OpCAS:
		return "cas"
	case OpRateLimit:
		return "rate_limit"
	case OpUpdate:
		return "update"
	case OpHGet:
		return "hget"
	case OpHSet:
		return "hset"
	case OpZRange:
		return "zrange"
	case OpZAdd:
		return "zadd"
	case OpHSetAll:
		return "hset_all"
	case OpZAddAll:
		return "zadd_all"
	}
	return "unknown"
}

// Reads reports whether the operation looks its key(s) up, so a miss is
// possible (and, for every reading kind, filled afterwards: cache-aside).
func (k OpKind) Reads() bool {
	switch k {
	case OpGetOrFetch, OpGet, OpSessionGet, OpMGet, OpCAS, OpHGet, OpZRange:
		return true
	}
	return false
}

// Writes reports whether the operation writes its key whether or not it
// was present (a fill after a miss is implied by Reads, not this).
func (k OpKind) Writes() bool {
	switch k {
	case OpSet, OpCAS, OpRateLimit, OpUpdate, OpHSet, OpZAdd, OpHSetAll, OpZAddAll:
		return true
	}
	return false
}

// Refreshes reports whether the operation extends a present key's TTL.
func (k OpKind) Refreshes() bool { return k == OpTouch || k == OpSessionGet }

// Deletes reports whether the operation removes its key.
func (k OpKind) Deletes() bool { return k == OpDel }

// Op is one cache operation of a command.
type Op struct {
	Kind   OpKind
	Family *Family // the model's own family; compare by pointer or Name
	Key    string
	// Size is the value size for writes and fills (also on reads, for the
	// fill after a miss); for a hash or sorted set, one field's value or
	// one member's payload. 0 for OpRateLimit, whose counter is an integer
	// the script increments (never write a value there).
	Size int
	// Keys and Sizes are OpMGet's keys and their value sizes (Key and Size
	// are then the first of them). For OpUpdate, Keys are the other keys
	// the update makes stale (link_account: the user's cached profiles),
	// which the driver invalidates with Key in one pool.Invalidate (one
	// pub/sub message to every instance); Sizes is then nil. Keys, Sizes
	// and Families may be shared between commands: read them, never write.
	Keys  []string
	Sizes []int
	// Families are the families of Keys, index for index, when they are
	// not all Family (the settings MGET reads user_connected and
	// guild_locale); nil when every key is one of Family's.
	Families []*Family
	// Field is the hash field (OpHGet, OpHSet) or sorted-set member
	// (OpZAdd) the operation addresses; "" for OpZRange, which reads the
	// set's top, and for OpHSetAll and OpZAddAll, which write every one
	// (Family.Names).
	Field string
}

// Command is one bot command a user issues, as the cache operations it makes.
type Command struct {
	At    time.Duration // intended start, offset from the run start
	Phase int           // index into the phases
	User  UserID
	Name  string // "profile", "matches", "settings_update", "heroes", "link_account", ...
	// Instance is the simulated bot instance (0-based) that handles the
	// command: each instance has its own cache manager and pool, as a
	// sharded Discord bot does, so pub/sub invalidation between them is
	// observable.
	Instance int
	Ops      []Op // executed in order
	// Producer is, for a write of a family's producer (its writers that
	// are not users: a device fleet, a background job), the family's name;
	// "" for a user's command. A producer's command is one write, User 0,
	// Instance its key's number modulo the instances.
	Producer string
}

// Schedule yields commands in intended-start order: an open-loop plan that
// does not wait for the system under test. Aggregate arrivals are Poisson (or
// evenly spaced) at active*CommandsPerUserPerMinute/60 per second, following
// each phase's linear ramp exactly (the rate is integrated, not stepped). The
// active users churn: each session lasts an exponential time and is replaced
// by a newly drawn user, so the active set moves through the population.
//
// Not safe for concurrent use: one driver goroutine calls Next.
type Schedule struct {
	m        *Model
	phases   []PhasePlan
	arr      *rand.Rand // arrivals
	ses      *rand.Rand // session lengths and who becomes active
	cmd      *rand.Rand // command mix and looked-up players
	constant bool
	perSec   float64 // commands per active user per second
	capacity int     // users in the shard

	pi         int           // current phase
	phaseStart time.Duration // offset of the current phase
	tau        float64       // seconds into the current phase of the last arrival
	need       float64       // remaining unit-rate "work" until the next arrival; <0 = draw one

	slots  []slot
	active int
	bits   []uint64 // active users, one bit per UserID
	ends   sessHeap
	lastAt time.Duration

	// Producers' writes, merged with the users' commands: the next user
	// command is drawn ahead (pend) and a producer's write due before it
	// goes first. end is the phases' total; shown is the users active at
	// the last returned command.
	prods     []*producerSched
	pend      Command
	pendOK    bool
	pendUsers int
	usersDone bool
	end       time.Duration
	shown     int
}

// slot is one concurrently active user and its precomputed own keys.
type slot struct {
	user UserID
	gen  uint32
	inst int32 // the bot instance of the user's guild
	// The user's ids, for the keys built per command (rate-limit counters,
	// defined families keyed by the user).
	discord, steam, guild uint64
	keys                  [famUserConnected + 1]string
	sizes                 [famUserConnected + 1]int32
}

// sessEnd is a session's end (slot and its generation), or in a per-key
// producer's heap a key's next write (slot the key's, gen unused).
type sessEnd struct {
	at   time.Duration
	slot int32
	gen  uint32
}

// Schedule returns a schedule over phases. The same model and phases always
// give the same commands.
func (m *Model) Schedule(phases []PhasePlan) *Schedule {
	peak := 0
	for _, p := range phases {
		peak = max(peak, p.UsersStart, p.UsersEnd)
	}
	// Each shard gets its own random streams, so parallel shards do not
	// issue their commands in lock-step.
	seed := m.seed ^ splitmix64(uint64(m.cfg.Shard)<<32|uint64(m.cfg.Shards))
	s := &Schedule{
		m:        m,
		phases:   append([]PhasePlan(nil), phases...),
		arr:      rand.New(rand.NewPCG(seed, 0xa11)),
		ses:      rand.New(rand.NewPCG(seed, 0x5e5)),
		cmd:      rand.New(rand.NewPCG(seed, 0xc3d)),
		constant: m.cfg.Arrival == ArrivalConstant,
		perSec:   m.cfg.CommandsPerUserPerMinute / 60,
		capacity: m.shardSize(),
		need:     -1,
		bits:     make([]uint64, (m.cfg.Population+63)/64),
	}
	s.slots = make([]slot, 0, min(peak, s.capacity))
	for _, p := range phases {
		s.end += max(p.Duration, 0)
	}
	s.newProducers(seed)
	return s
}

// Next returns the next command, a user's or a producer's, in intended
// start order, or false once the last phase has ended.
func (s *Schedule) Next() (Command, bool) {
	if len(s.prods) == 0 {
		c, ok := s.nextUser()
		s.shown = s.active
		return c, ok
	}
	if !s.pendOK && !s.usersDone {
		s.pend, s.pendOK = s.nextUser()
		s.pendUsers, s.usersDone = s.active, !s.pendOK
	}
	i, at := s.nextProducer()
	if s.pendOK && (i < 0 || s.pend.At <= at) {
		s.pendOK = false
		s.shown = s.pendUsers
		return s.pend, true
	}
	if i < 0 {
		return Command{}, false
	}
	return s.produce(i, at), true
}

// nextUser returns the next user command, or false once the last phase
// has ended.
func (s *Schedule) nextUser() (Command, bool) {
	for s.pi < len(s.phases) {
		p := &s.phases[s.pi]
		d := p.Duration.Seconds()
		if d <= 0 {
			s.nextPhase()
			continue
		}
		if s.need < 0 {
			if s.constant {
				s.need = 1
			} else {
				s.need = s.arr.ExpFloat64()
			}
		}
		u0, u1 := float64(max(p.UsersStart, 0)), float64(max(p.UsersEnd, 0))
		users := u0 + (u1-u0)*s.tau/d
		b := s.perSec * users               // rate now
		a := s.perSec * (u1 - u0) / (2 * d) // half the rate's slope
		rem := d - s.tau
		if dt, ok := solveArrival(a, b, s.need, rem); ok {
			s.tau += dt
			s.need = -1
			at := s.phaseStart + time.Duration(s.tau*float64(time.Second))
			users = u0 + (u1-u0)*s.tau/d
			return s.command(at, users), true
		}
		s.need = max(s.need-(b*rem+a*rem*rem), 0)
		s.nextPhase()
	}
	return Command{}, false
}

func (s *Schedule) nextPhase() {
	s.phaseStart += s.phases[s.pi].Duration
	s.pi++
	s.tau = 0
}

// solveArrival finds dt in [0, rem] with a*dt^2 + b*dt = e, the time until
// the integrated rate reaches e; false if it does not within rem.
func solveArrival(a, b, e, rem float64) (float64, bool) {
	if e <= 0 {
		return 0, true
	}
	disc := b*b + 4*a*e
	if disc < 0 {
		return 0, false
	}
	den := b + math.Sqrt(disc)
	if den <= 0 {
		return 0, false
	}
	dt := 2 * e / den
	if dt > rem {
		return 0, false
	}
	return dt, true
}

// Active is the number of users active at the last returned command's time.
func (s *Schedule) Active() int { return s.shown }

// Phase is the index of the phase the schedule is in (len(phases) when done).
func (s *Schedule) Phase() int { return s.pi }

// ActiveUsers appends the currently active users to dst.
func (s *Schedule) ActiveUsers(dst []UserID) []UserID {
	for i := 0; i < s.active; i++ {
		dst = append(dst, s.slots[i].user)
	}
	return dst
}

// command advances the active set to time at and builds one command.
func (s *Schedule) command(at time.Duration, users float64) Command {
	s.lastAt = at
	target := min(max(int(math.Round(users)), 1), s.capacity)
	s.resize(target, at)
	s.churn(at)
	sl := &s.slots[s.cmd.IntN(s.active)]
	return s.build(at, sl)
}

// resize activates or deactivates slots so that n users are active.
func (s *Schedule) resize(n int, at time.Duration) {
	for s.active < n {
		if s.active == len(s.slots) {
			s.slots = append(s.slots, slot{})
		}
		s.startSession(s.active, at)
		s.active++
	}
	for s.active > n {
		s.active--
		sl := &s.slots[s.active]
		s.clearBit(sl.user)
		sl.gen++
	}
}

// churn ends the sessions due by at and starts their replacements.
func (s *Schedule) churn(at time.Duration) {
	for len(s.ends) > 0 && s.ends[0].at <= at {
		e := s.ends.pop()
		if int(e.slot) >= s.active || s.slots[e.slot].gen != e.gen {
			continue // slot was deactivated by a ramp-down since
		}
		s.clearBit(s.slots[e.slot].user)
		s.startSession(int(e.slot), e.at)
	}
}

// startSession puts a newly drawn, not yet active user in slot i, starting at
// start, and schedules the session's end.
func (s *Schedule) startSession(i int, start time.Duration) {
	id := s.drawUser()
	s.setBit(id)
	sl := &s.slots[i]
	sl.gen++
	sl.user = id
	u := s.m.User(id)
	m := s.m
	sl.inst = int32(m.Instance(u.GuildID))
	sl.discord, sl.steam, sl.guild = u.DiscordID, u.SteamID, u.GuildID
	for fi := famStratzProfile; fi <= famUserConnected && m.hasSeed; fi++ {
		var n uint64
		switch fi {
		case famSession, famUserConnected:
			n = u.DiscordID
		case famGuildLocale:
			n = u.GuildID
		default:
			n = u.SteamID
		}
		sl.keys[fi] = m.keyFor(fi, n)
		sl.sizes[fi] = int32(m.Size(&m.fams[fi], sl.keys[fi]))
	}
	length := time.Duration(s.ses.ExpFloat64() * float64(m.cfg.SessionMean))
	s.ends.push(sessEnd{at: start + max(length, time.Millisecond), slot: int32(i), gen: sl.gen})
}

// drawUser draws a user by Config.Zipf popularity who is in the shard and
// not already active. After many collisions (the head of a steep zipf is all
// active) it falls back to a uniform pick and a linear probe.
func (s *Schedule) drawUser() UserID {
	m := s.m
	for range 64 {
		id := m.userPerm.at(m.users.Draw(s.ses))
		if m.inShard(id) && !s.hasBit(UserID(id)) {
			return UserID(id)
		}
	}
	n := m.cfg.Population
	id := s.ses.IntN(n)
	for range n {
		if m.inShard(id) && !s.hasBit(UserID(id)) {
			return UserID(id)
		}
		id++
		if id == n {
			id = 0
		}
	}
	panic("workload: no inactive user left in the shard") // resize never asks for more than capacity
}

func (s *Schedule) hasBit(id UserID) bool { return s.bits[id>>6]&(1<<(id&63)) != 0 }
func (s *Schedule) setBit(id UserID)      { s.bits[id>>6] |= 1 << (id & 63) }
func (s *Schedule) clearBit(id UserID)    { s.bits[id>>6] &^= 1 << (id & 63) }

// pickFamily draws the command's main family by the command weights.
func (s *Schedule) pickFamily() int {
	cum := s.m.cum
	x := s.cmd.Float64() * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

// cmdBuf is one command's operations and the per-command keys of its
// multi-key operations, allocated together: one allocation a command.
type cmdBuf struct {
	ops   [8]Op
	keys  [4]string // [0:2] the settings MGET's, [2:4] an update's invalidations
	sizes [2]int
}

// build turns one command of the user in sl into its cache operations, the
// sequence the bot really makes: count the command against the user's
// rate limit, read and refresh the session, read whether the user linked
// an account and the guild's locale, then the command's own get-or-fetches
// and writes. Each feature changes the sequence as the bot would (see
// Features); with all off it is the sequence before them, operation for
// operation and draw for draw.
func (s *Schedule) build(at time.Duration, sl *slot) Command {
	m := s.m
	fi := s.pickFamily()
	f := &m.fams[fi]
	buf := &cmdBuf{}
	ops := buf.ops[:0]
	if m.rl >= 0 {
		ops = append(ops, s.rateLimitOp(fi, sl))
	}
	if fi >= m.own {
		ops = append(ops, s.ownOp(fi, sl))
		return Command{At: at, Phase: s.pi, User: sl.user, Name: f.Command, Instance: int(sl.inst), Ops: ops}
	}
	own := func(kind OpKind, fam int) Op {
		return Op{Kind: kind, Family: &m.fams[fam], Key: sl.keys[fam], Size: int(sl.sizes[fam])}
	}
	meta := func(fam int) Op {
		ff := &m.fams[fam]
		return Op{Kind: OpGetOrFetch, Family: ff, Key: m.prefix[fam], Size: max(ff.MeanSize, MinValueSize)}
	}
	feat := &m.feat
	if feat.SessionGetAndExtend {
		ops = append(ops, own(OpSessionGet, famSession))
	} else {
		ops = append(ops, own(OpGet, famSession), own(OpTouch, famSession))
	}
	if feat.MGet {
		buf.keys[0], buf.keys[1] = sl.keys[famUserConnected], sl.keys[famGuildLocale]
		buf.sizes[0], buf.sizes[1] = int(sl.sizes[famUserConnected]), int(sl.sizes[famGuildLocale])
		op := own(OpMGet, famUserConnected)
		op.Keys, op.Sizes, op.Families = buf.keys[0:2:2], buf.sizes[:], m.settingsFams
		ops = append(ops, op)
	} else {
		ops = append(ops, own(OpGetOrFetch, famUserConnected), own(OpGetOrFetch, famGuildLocale))
	}
	switch fi {
	case famStratzProfile:
		target := s.target(fi, sl)
		ops = append(ops, s.steamOp(famStratzProfile, target, sl), s.steamOp(famSteamAvatar, target, sl), meta(famMetaPatch))
	case famStratzMatches:
		target := s.target(fi, sl)
		ops = append(ops, s.steamOp(famStratzMatches, target, sl))
		if feat.MGet {
			op := meta(famMetaHeroes)
			op.Kind, op.Keys, op.Sizes, op.Families = OpMGet, m.metaKeys, m.metaSizes, m.metaFams
			ops = append(ops, op)
		} else {
			ops = append(ops, meta(famMetaHeroes), meta(famMetaItems))
		}
	case famOpenDotaProfile:
		target := s.target(fi, sl)
		ops = append(ops, s.steamOp(famOpenDotaProfile, target, sl), s.steamOp(famSteamAvatar, target, sl), meta(famMetaHeroes))
	case famSteamAvatar:
		ops = append(ops, s.steamOp(famSteamAvatar, s.target(fi, sl), sl))
	case famSession:
		// "help": the session and settings reads are all it does.
	case famGuildLocale:
		if feat.CAS {
			ops = append(ops, own(OpCAS, famGuildLocale))
		} else {
			ops = append(ops, own(OpSet, famGuildLocale))
		}
	case famUserConnected:
		if feat.Invalidation {
			buf.keys[2], buf.keys[3] = sl.keys[famStratzProfile], sl.keys[famOpenDotaProfile]
			op := own(OpUpdate, famUserConnected)
			op.Keys, op.Families = buf.keys[2:4:4], m.profileFams
			ops = append(ops, op)
		} else {
			ops = append(ops, own(OpSet, famUserConnected), own(OpDel, famStratzProfile), own(OpDel, famOpenDotaProfile))
		}
	default:
		ops = append(ops, meta(fi))
	}
	return Command{At: at, Phase: s.pi, User: sl.user, Name: f.Command, Instance: int(sl.inst), Ops: ops}
}

// rateLimitOp counts command fi against the user's rate-limit counter,
// "ratelimit:{discordId}:{command}".
func (s *Schedule) rateLimitOp(fi int, sl *slot) Op {
	m := s.m
	return Op{Kind: OpRateLimit, Family: &m.fams[m.rl], Key: joinKey("ratelimit:", sl.discord, m.rlTail[fi])}
}

// ownOp is the one operation of a command of a family the scenario
// defined: a write with the family's Writes share, a delete with its
// Deletes share, else a read, of the type's command, on a key of its
// pattern.
func (s *Schedule) ownOp(fi int, sl *slot) Op {
	m := s.m
	f := &m.fams[fi]
	// One draw picks write, delete or read; none when the family only
	// reads.
	write, del := false, false
	if f.Writes > 0 || f.Deletes > 0 {
		u := s.cmd.Float64()
		write = u < f.Writes
		del = !write && u < f.Writes+f.Deletes
	}
	var key string
	switch m.ph[fi] {
	case phNone:
		key = f.KeyPattern
	case phID:
		key = joinKey(m.prefix[fi], uint64(m.keyPerm[fi].at(m.keySamp[fi].Draw(s.cmd))), m.suffix[fi])
	case phDiscord:
		key = joinKey(m.prefix[fi], sl.discord, m.suffix[fi])
	case phSteam:
		key = joinKey(m.prefix[fi], sl.steam, m.suffix[fi])
	case phGuild:
		key = joinKey(m.prefix[fi], sl.guild, m.suffix[fi])
	case phUser:
		key = joinKey(m.prefix[fi], uint64(sl.user), m.suffix[fi])
	}
	if write {
		return s.writeOp(fi, key, s.cmd)
	}
	if del {
		return Op{Kind: OpDel, Family: f, Key: key}
	}
	op := Op{Family: f, Key: key, Size: m.Size(f, key)}
	switch f.Type {
	case TypeHash:
		op.Kind, op.Field = OpHGet, f.Names[s.cmd.IntN(len(f.Names))]
	case TypeZSet:
		op.Kind = OpZRange
	default:
		op.Kind = OpGetOrFetch
	}
	return op
}

// writeOp is one write of key of defined family fi, as its type and write
// mode say: a field or member drawn from r, the whole value, or for a
// string a set (an update that invalidates every instance's copy with
// features.invalidation). Users' writes and producers' are the same
// operations.
func (s *Schedule) writeOp(fi int, key string, r *rand.Rand) Op {
	m := s.m
	f := &m.fams[fi]
	op := Op{Kind: f.writeKind(m.feat.Invalidation), Family: f, Key: key, Size: m.Size(f, key)}
	if op.Kind == OpHSet || op.Kind == OpZAdd {
		op.Field = f.Names[r.IntN(len(f.Names))]
	}
	return op
}

// target returns the steamId a lookup command is about: usually the user's
// own (steamId 0 stands for it), sometimes another player's drawn by the
// family's popularity.
func (s *Schedule) target(fi int, sl *slot) uint64 {
	f := &s.m.fams[fi]
	if f.Shared <= 0 || s.cmd.Float64() >= f.Shared {
		return 0
	}
	return steamMin + uint64(s.m.lookupPerm.at(s.m.lookups[fi].Draw(s.cmd)))
}

func (s *Schedule) steamOp(fi int, target uint64, sl *slot) Op {
	m := s.m
	f := &m.fams[fi]
	if target == 0 || target == steamMin+uint64(sl.user) {
		return Op{Kind: OpGetOrFetch, Family: f, Key: sl.keys[fi], Size: int(sl.sizes[fi])}
	}
	key := m.keyFor(fi, target)
	return Op{Kind: OpGetOrFetch, Family: f, Key: key, Size: m.Size(f, key)}
}

// sessHeap is a binary min-heap of session ends by time (typed, so pushes do
// not box into interfaces).
type sessHeap []sessEnd

func (h *sessHeap) push(e sessEnd) {
	*h = append(*h, e)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *sessHeap) pop() sessEnd {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	a.down(0)
	*h = a
	return top
}

// init orders a filled heap.
func (h sessHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// down moves entry i down to its place (after its time grew, or to fill
// the root).
func (h sessHeap) down(i int) {
	n := len(h)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].at < h[m].at {
			m = l
		}
		if r < n && h[r].at < h[m].at {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
