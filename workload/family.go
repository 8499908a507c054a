package workload

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Origin source names: the upstream a family's misses fall through to.
const (
	SourceStratz   = "stratz"
	SourceOpenDota = "opendota"
	SourceSteam    = "steam"
	SourceInternal = "internal"
)

// Data types a family's keys may hold.
const (
	TypeString = "string"
	TypeHash   = "hash"
	TypeZSet   = "zset"
)

// Value-size distributions of a family (Family.SizeDist).
const (
	// SizeLognormal (the default, "") draws sizes lognormally around the
	// mean (sigma 0.5, bounded to [mean/8, mean*8]): real cached API
	// responses are right-skewed.
	SizeLognormal = "lognormal"
	// SizeFixed gives every value the mean size (rows of a fixed layout).
	SizeFixed = "fixed"
	// SizeUniform draws sizes uniformly in [MinSize, MaxSize].
	SizeUniform = "uniform"
)

// The placeholders a key pattern may hold (one at most in a family the
// scenario defines). Any {name} is accepted; what it stands for is its
// binding:
//
//   - {discordId}, {steamId}, {guildId}: the issuing user's own ids, as the
//     seed's patterns use them;
//   - {id}, or any other name when the family gives keys: N: the n-th key of
//     a key space of N keys, drawn by the family's popularity ("id range");
//   - any other name without keys: the issuing user's number in the
//     population ("profile:{userId}").
//
// Keys belong to a family by the whole pattern (internal/keypattern), not
// by the text before the placeholder, so "driver:{id}:loc" and
// "driver:{id}:eta" are two families.
const (
	PlaceholderID        = "{id}"
	PlaceholderDiscordID = "{discordId}"
	PlaceholderSteamID   = "{steamId}"
	PlaceholderGuildID   = "{guildId}"
)

// Placeholders lists the placeholders with a fixed meaning; any other
// {name} is bound by the family's keys (see above).
var Placeholders = []string{PlaceholderID, PlaceholderDiscordID, PlaceholderSteamID, PlaceholderGuildID}

// Popularity kinds.
const (
	PopZipf    = "zipf"
	PopUniform = "uniform"
	PopHotspot = "hotspot"
)

// Popularity says how often each key of a family is asked for relative to the
// others. Zipf uses Exponent (rank k is drawn with weight k^-Exponent; real
// cache traces show 1.0-1.5). Hotspot sends HotShare of the draws uniformly to
// the first HotFraction of the keys and the rest uniformly to the others, as
// YCSB's hotspot generator does. Uniform ignores the other fields.
type Popularity struct {
	Kind        string  // "zipf" | "uniform" | "hotspot"
	Exponent    float64 // zipf only, > 0
	HotFraction float64 // hotspot only, in (0,1)
	HotShare    float64 // hotspot only, in (0,1]
}

// Validate reports whether p describes a distribution the sampler can draw.
func (p Popularity) Validate() error {
	switch p.Kind {
	case PopZipf:
		if !(p.Exponent > 0) || math.IsInf(p.Exponent, 0) || p.Exponent > 10 {
			return fmt.Errorf("zipf exponent %v must be in (0, 10]", p.Exponent)
		}
	case PopUniform:
	case PopHotspot:
		if !(p.HotFraction > 0 && p.HotFraction < 1) {
			return fmt.Errorf("hotspot hot_fraction %v must be in (0, 1)", p.HotFraction)
		}
		if !(p.HotShare > 0 && p.HotShare <= 1) {
			return fmt.Errorf("hotspot hot_share %v must be in (0, 1]", p.HotShare)
		}
	default:
		return fmt.Errorf("popularity kind %q is not one of zipf, uniform, hotspot", p.Kind)
	}
	return nil
}

// Family is one key family of the seed's catalogue: the keys of one shape, the
// tier and TTL the cache layer gives them, their mean value size, the upstream
// that answers their misses, and the bot command that mainly reads them.
type Family struct {
	Name       string // e.g. "stratz_profile"
	KeyPattern string // e.g. "stratz:profile:{steamId}"
	// Tier names the cache tier the family's keys are filed under, as the
	// seed's catalogue does: one of pool's tiers (pool.TierNames, their one
	// source, which workload does not import; harness checks every family's
	// tier against them).
	//
	// Tier is "" for a family with its own TTL outside the tiers: the
	// rate-limit counters, and a scenario's family written with ttl:
	// instead of tier:. The driver writes such keys with TTL (as harness
	// gives the seed's own TTLs, by key pattern: pool.Config.KeyTTL) and
	// counts them under a tier of its choosing.
	Tier string
	// Type is the Redis data type the family's keys hold: TypeString (the
	// default, ""), TypeHash or TypeZSet; it decides which operations the
	// schedule issues on them.
	Type string
	TTL  time.Duration // 0 = none; for a rate-limit family, the window
	// RateLimit is, for a family of rate-limit counters (OpRateLimit), the
	// hits a key allows per window (TTL); 0 for every other family.
	RateLimit int64
	MeanSize  int    // bytes; sizes are drawn lognormally around it
	Source    string // origin: "stratz" | "opendota" | "steam" | "internal"
	// Popularity means, per family: for the steamId families, which other
	// players are looked up (see Shared); for guild_locale, how users spread
	// over guilds (guild sizes). Session and user_connected keys follow the
	// active users, who are drawn by Config.Zipf; meta families have a single
	// key. Zipf families take Config.Zipf as their exponent unless overridden.
	Popularity Popularity

	// Command is the bot command whose main read is this family ("profile",
	// "matches", ...), and Weight its share of the command mix (relative to the
	// other families' weights; 0 = never issued on its own).
	Command string
	Weight  float64
	// Shared is, for families keyed by steamId, the share of lookups that are
	// for another player's id (drawn by Popularity over the population) rather
	// than the issuing user's own.
	Shared float64
	// Index is the family's position in its model's Families(), so per-family
	// counters on the hot path are array slots, not map entries keyed by name.
	Index int

	// The fields below describe a family a scenario defines (Defined); the
	// seed's families leave them zero, their command structure being the
	// bot's (Schedule.build).

	// Defined marks a family the scenario defined itself (not the seed's
	// catalogue, not the built-in rate-limit counters). Its commands are
	// its own: one read or write of one of its keys (see Writes).
	Defined bool
	// Keys is the key space of a pattern bound to an id range ({id}, or any
	// other name with keys: N): keys "...{id}..." for id in [0, Keys),
	// drawn by Popularity. 0 for the other patterns.
	Keys int
	// Writes is the share of the family's commands that write (set, hset,
	// zadd; update with features.invalidation) rather than read
	// (get_or_fetch, hget, zrange).
	Writes float64
	// Deletes is the share of the family's commands that delete their key
	// (OpDel: an invalidation, the next read misses), drawn after Writes
	// from the same draw; 0 draws nothing more, so a family without
	// deletes issues the same commands as before they existed.
	Deletes float64
	// Fields is, for a hash family, the fields a key holds (HGet and HSet
	// address one, drawn uniformly; a miss fills the hash); Members is,
	// for a sorted-set family, the members a key holds (ZAdd rescores one,
	// ZRange reads the top; a miss fills the set).
	Fields, Members int
	// Names are a hash family's field names or a sorted-set family's
	// member names ("f0".., "m0"..), formatted once by the model (New):
	// what a field write picks from and a whole-value write sets. Shared:
	// read, never write.
	Names []string
	// SizeDist is how value sizes spread: SizeLognormal ("", around
	// MeanSize), SizeFixed (MeanSize) or SizeUniform (in [MinSize,
	// MaxSize], MeanSize their midpoint). For a hash or sorted set it is
	// the size of one field's value or one member's payload.
	SizeDist         string
	MinSize, MaxSize int
	// Write is how a hash or sorted-set family writes (WriteField, the
	// default "", or a whole-value mode: see WriteModes); "" for a string.
	Write string
	// Producer, when not nil, writes the family at its own rate, apart
	// from its users' commands (Schedule merges its writes in).
	Producer *Producer
}

// Write modes of a hash or sorted-set family (Family.Write).
const (
	// WriteField writes one field (HSET key f v) or member (ZADD).
	WriteField = "field"
	// WriteWhole writes every field in one HSET, or every member in one
	// ZADD, over what the key holds (fields it does not name stay).
	WriteWhole = "whole"
	// WriteReplaceMulti deletes the key and writes the whole value in
	// one MULTI/EXEC: readers see the old value or the new one.
	WriteReplaceMulti = "replace_multi"
	// WriteReplacePipeline deletes the key and writes the whole value in
	// one pipeline without MULTI: a reader between the two misses.
	WriteReplacePipeline = "replace_pipeline"
)

// WritesWhole reports whether the family's writes write its whole value.
func (f *Family) WritesWhole() bool { return f.Write != "" && f.Write != WriteField }

// Producer is a family's writers that are not its users (a fleet of
// devices, a background job): every key rewritten every Every (each off by
// a uniform draw within ±Jitter), or Rate writes a second over keys drawn
// by the family's popularity. Exactly one of Every and Rate is set.
type Producer struct {
	Every, Jitter time.Duration
	Rate          float64
}

// String says how the producer writes, as reports show it: "every 4s ± 1s"
// or "20/s".
func (p Producer) String() string {
	switch {
	case p.Every > 0 && p.Jitter > 0:
		return fmt.Sprintf("every %s ± %s", p.Every, p.Jitter)
	case p.Every > 0:
		return "every " + p.Every.String()
	}
	return strconv.FormatFloat(p.Rate, 'g', -1, 64) + "/s"
}

// WriteOp names the operation a write of the family issues, with a
// whole-value write's mode: "set", "hset", "hset_all replace_multi". It
// says, in reports, which the scenario chose.
func (f *Family) WriteOp(invalidation bool) string {
	k := f.writeKind(invalidation)
	if f.WritesWhole() {
		return k.String() + " " + f.Write
	}
	return k.String()
}

// WholeWrite says in words what one of the family's whole-value writes
// sends ("DEL and one HSET of its 200 fields in MULTI/EXEC"), for the
// report's notes; "" when the family writes one field at a time or is a
// string.
func (f *Family) WholeWrite() string {
	if !f.WritesWhole() {
		return ""
	}
	cmd, what := "HSET", fmt.Sprintf("its %d fields", len(f.Names))
	if f.Type == TypeZSet {
		cmd, what = "ZADD", fmt.Sprintf("its %d members", len(f.Names))
	}
	switch f.Write {
	case WriteReplaceMulti:
		return fmt.Sprintf("DEL and one %s of %s in MULTI/EXEC (readers see the old value or the new)", cmd, what)
	case WriteReplacePipeline:
		return fmt.Sprintf("DEL and one %s of %s in one pipeline, not atomic (a reader between them misses)", cmd, what)
	}
	return fmt.Sprintf("one %s of %s over what the key holds", cmd, what)
}

// writeKind is the operation a write of a defined family is, by its type
// and write mode; a string's is an update that invalidates every
// instance's copy with features.invalidation.
func (f *Family) writeKind(invalidation bool) OpKind {
	switch {
	case f.Type == TypeHash && f.WritesWhole():
		return OpHSetAll
	case f.Type == TypeHash:
		return OpHSet
	case f.Type == TypeZSet && f.WritesWhole():
		return OpZAddAll
	case f.Type == TypeZSet:
		return OpZAdd
	case invalidation:
		return OpUpdate
	}
	return OpSet
}

// RateLimitFamily is the name of the built-in family of per-user,
// per-command rate-limit counters (features.rate_limit).
const RateLimitFamily = "rate_limit"

// Defaults of the rate-limit counters: a common Discord bot cooldown, five
// uses of a command per user per minute. At the default six commands a
// minute spread over ten commands a user rarely reaches it; a scenario that
// raises commands_per_user_per_minute sees the script refuse.
const (
	DefaultRateLimitHits   = 5
	DefaultRateLimitWindow = time.Minute
)

// rateLimitFamily is the built-in family of rate-limit counters: one key
// per user and command ("ratelimit:{discordId}:{command}"), outside the
// tiers (Tier ""), expiring with its window (TTL), counted by the seed's
// Lua fixed window (OpRateLimit). It issues no command of its own.
func rateLimitFamily(hits int64, window time.Duration) Family {
	return Family{Name: RateLimitFamily, KeyPattern: "ratelimit:{discordId}:{command}", TTL: window, RateLimit: hits,
		MeanSize: 8, SizeDist: SizeFixed, Source: SourceInternal, Popularity: Popularity{Kind: PopUniform}, Command: ""}
}

// Key family indexes into DefaultFamilies, used to build op sequences without
// a map lookup.
const (
	famStratzProfile = iota
	famStratzMatches
	famOpenDotaProfile
	famSteamAvatar
	famSession
	famGuildLocale
	famUserConnected
	famMetaHeroes
	famMetaItems
	famMetaPatch
	numFamilies
)

const kib = 1024

// DefaultFamilies returns the seed's ten key families with the TTLs and mean
// sizes of its catalogue (DESIGN.md) and a command mix that an SRE would
// believe for a Dota 2 stats bot: profile and match lookups dominate, meta
// reads are common, settings writes are rare. Each call returns a new slice.
func DefaultFamilies() []Family {
	zipf := Popularity{Kind: PopZipf, Exponent: DefaultZipf}
	uni := Popularity{Kind: PopUniform}
	return []Family{
		famStratzProfile:   {Name: "stratz_profile", KeyPattern: "stratz:profile:{steamId}", Tier: "api", TTL: 300 * time.Second, MeanSize: 2 * kib, Source: SourceStratz, Popularity: zipf, Command: "profile", Weight: 30, Shared: 0.3},
		famStratzMatches:   {Name: "stratz_matches", KeyPattern: "stratz:matches:{steamId}", Tier: "api", TTL: 300 * time.Second, MeanSize: 5 * kib, Source: SourceStratz, Popularity: zipf, Command: "matches", Weight: 25, Shared: 0.3},
		famOpenDotaProfile: {Name: "opendota_profile", KeyPattern: "opendota:profile:{steamId}", Tier: "api", TTL: 600 * time.Second, MeanSize: 2 * kib, Source: SourceOpenDota, Popularity: zipf, Command: "opendota", Weight: 10, Shared: 0.3},
		famSteamAvatar:     {Name: "steam_avatar", KeyPattern: "steam:avatar:{steamId}", Tier: "api", TTL: 86400 * time.Second, MeanSize: 1 * kib, Source: SourceSteam, Popularity: zipf, Command: "avatar", Weight: 5, Shared: 0.5},
		famSession:         {Name: "session", KeyPattern: "session:{discordId}", Tier: "session", TTL: 1800 * time.Second, MeanSize: 500, Source: SourceInternal, Popularity: zipf, Command: "help", Weight: 0},
		famGuildLocale:     {Name: "guild_locale", KeyPattern: "guild:locale:{guildId}", Tier: "persistent", TTL: 0, MeanSize: 100, Source: SourceInternal, Popularity: zipf, Command: "settings_update", Weight: 2},
		famUserConnected:   {Name: "user_connected", KeyPattern: "user:connected:{discordId}", Tier: "persistent", TTL: 0, MeanSize: 100, Source: SourceInternal, Popularity: zipf, Command: "link_account", Weight: 3},
		famMetaHeroes:      {Name: "meta_heroes", KeyPattern: "meta:heroes", Tier: "meta", TTL: 3600 * time.Second, MeanSize: 50 * kib, Source: SourceInternal, Popularity: uni, Command: "heroes", Weight: 10},
		famMetaItems:       {Name: "meta_items", KeyPattern: "meta:items", Tier: "meta", TTL: 3600 * time.Second, MeanSize: 30 * kib, Source: SourceInternal, Popularity: uni, Command: "items", Weight: 8},
		famMetaPatch:       {Name: "meta_current_patch", KeyPattern: "meta:current_patch", Tier: "meta", TTL: 3600 * time.Second, MeanSize: 1 * kib, Source: SourceInternal, Popularity: uni, Command: "patch", Weight: 7},
	}
}
