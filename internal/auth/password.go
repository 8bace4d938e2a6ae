package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go/data"
	"golang.org/x/crypto/argon2"
)

// Password policy.
const (
	MinPasswordLen   = 12   // characters (runes)
	MaxPasswordBytes = 1024 // bounds the work an attacker can make us hash
)

// HashParams are the argon2id cost parameters. They are stored with every
// hash, so they can be raised later: a hash made with lower parameters is
// replaced at the agent's next successful sign-in.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32 // iterations
	Threads uint8
	KeyLen  uint32 // bytes
	SaltLen uint32 // bytes
}

// DefaultHashParams are OWASP's recommended argon2id settings: 19 MiB,
// two iterations, one lane.
var DefaultHashParams = HashParams{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// below reports whether p is weaker than want in any parameter that makes a
// hash costlier to attack.
func (p HashParams) below(want HashParams) bool {
	return p.Memory < want.Memory || p.Time < want.Time || p.KeyLen < want.KeyLen || p.SaltLen < want.SaltLen
}

// hashPassword returns the PHC string for password under p:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, both base64 without padding.
func hashPassword(password string, p HashParams) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed argon2id hash")

// parseHash decodes a PHC string written by hashPassword.
func parseHash(encoded string) (p HashParams, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", errBadHash, parts[2])
	}
	var m, t uint64
	var th uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, errBadHash
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			th = n
		default:
			return p, nil, nil, errBadHash
		}
	}
	if m == 0 || t == 0 || th == 0 || th > 255 {
		return p, nil, nil, errBadHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) == 0 {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return p, nil, nil, errBadHash
	}
	p = HashParams{Memory: uint32(m), Time: uint32(t), Threads: uint8(th), KeyLen: uint32(len(key)), SaltLen: uint32(len(salt))}
	return p, salt, key, nil
}

// verifyPassword reports whether password matches encoded, and the
// parameters encoded was made with.
func verifyPassword(encoded, password string) (bool, HashParams, error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, p, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// hasher runs argon2 with a bound on how many hashes run at once, so that a
// burst of sign-ins cannot make the process allocate Memory KiB per request
// without limit.
type hasher struct {
	params HashParams
	sem    chan struct{}

	dummyOnce sync.Once
	dummy     string
}

func newHasher(p HashParams, concurrency int) *hasher {
	return &hasher{params: p, sem: make(chan struct{}, max(1, concurrency))}
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.sem }

// hash hashes password with the current parameters.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return hashPassword(password, h.params)
}

// verify checks password against encoded. An empty encoded verifies against
// a dummy hash made with the current parameters and always fails: unknown
// and inactive accounts then cost the same time as real ones.
func (h *hasher) verify(ctx context.Context, encoded, password string) (ok bool, p HashParams, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, p, err
	}
	defer h.release()
	if encoded == "" {
		h.dummyOnce.Do(func() {
			h.dummy, err = hashPassword(rand.Text(), h.params)
		})
		if err != nil {
			return false, p, err
		}
		_, p, err = verifyPassword(h.dummy, password)
		return false, p, err
	}
	return verifyPassword(encoded, password)
}

// CheckPassword applies the password policy: at least MinPasswordLen
// characters, at most MaxPasswordBytes bytes, not one of the common
// passwords (compared case-insensitively) and not the email address. The
// returned error is an apperr.KindInvalid error whose message says which rule
// failed.
func CheckPassword(password, email string) error {
	if !utf8.ValidString(password) {
		return ErrPasswordNotUTF8
	}
	if len(password) > MaxPasswordBytes {
		return ErrPasswordTooLong
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return ErrPasswordTooShort
	}
	lower := strings.ToLower(password)
	if e := strings.ToLower(strings.TrimSpace(email)); e != "" && strings.TrimSpace(lower) == e {
		return ErrPasswordIsEmail
	}
	if commonPasswords()[lower] {
		return ErrPasswordCommon
	}
	return nil
}

// commonSuffixes are what people append to a common password to get past a
// length rule ("password" → "password1234").
var commonSuffixes = []string{
	"1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890",
	"0", "00", "000", "01", "007", "11", "111", "69", "99", "2020", "2021", "2022", "2023", "2024",
	"2025", "2026", "!", "!!", "1!", "12!", "123!", "1234!", "@123", "#1", "$",
}

// commonPasswords is the set of lowercased common passwords that are long
// enough to pass the length rule, built once on first use. The source is
// zxcvbn's frequency list of 7,141 leaked passwords; as only a handful of
// those reach MinPasswordLen by themselves, the set also holds each of them
// with commonSuffixes appended and each doubled ("monkeymonkey"), the
// variations people reach for when told "at least 12 characters". Shorter
// entries are left out: the length rule already rejects them, and leaving
// them out keeps the set to a few megabytes.
var commonPasswords = sync.OnceValue(func() map[string]bool {
	raw, err := data.Asset("data/Passwords.json")
	if err != nil {
		panic("auth: zxcvbn password list missing: " + err.Error())
	}
	var list struct{ List []string }
	if err := json.Unmarshal(raw, &list); err != nil {
		panic("auth: zxcvbn password list: " + err.Error())
	}
	set := make(map[string]bool, 50_000)
	add := func(s string) {
		if utf8.RuneCountInString(s) >= MinPasswordLen {
			set[s] = true
		}
	}
	for _, base := range list.List {
		base = strings.ToLower(base)
		add(base)
		add(base + base)
		for _, suf := range commonSuffixes {
			add(base + suf)
		}
	}
	return set
})
