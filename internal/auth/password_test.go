package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDefaultHashParamsMeetMinimums(t *testing.T) {
	p := DefaultHashParams
	if p.Memory < 19*1024 || p.Time < 2 || p.Threads != 1 || p.KeyLen < 32 || p.SaltLen < 16 {
		t.Fatalf("DefaultHashParams = %+v, want memory >= 19 MiB, time >= 2, threads 1, key >= 32, salt >= 16", p)
	}
	if got := (Options{}).withDefaults().Hash; got != DefaultHashParams {
		t.Fatalf("default Options hash = %+v, want DefaultHashParams", got)
	}
}

// TestHashRealDefaults runs argon2id at the real cost once: the encoded
// string carries the parameters and verifies, a wrong password does not.
func TestHashRealDefaults(t *testing.T) {
	h := newHasher(DefaultHashParams, 1)
	ctx := context.Background()
	enc, err := h.hash(ctx, agentPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("encoded = %q, want PHC argon2id with m=19456,t=2,p=1", enc)
	}
	ok, p, err := h.verify(ctx, enc, agentPassword)
	if err != nil || !ok {
		t.Fatalf("verify right password = %v, %v", ok, err)
	}
	if p != DefaultHashParams {
		t.Fatalf("parsed params = %+v, want %+v", p, DefaultHashParams)
	}
	if ok, _, err := h.verify(ctx, enc, agentPassword+"x"); err != nil || ok {
		t.Fatalf("verify wrong password = %v, %v", ok, err)
	}
	// The dummy used for unknown accounts costs the same and never matches.
	if ok, p, err := h.verify(ctx, "", agentPassword); err != nil || ok || p != DefaultHashParams {
		t.Fatalf("verify against dummy = %v, %+v, %v", ok, p, err)
	}
}

func TestParseHash(t *testing.T) {
	good, err := hashPassword("whatever-it-is-123", fastHash)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		encoded string
		wantErr bool
	}{
		{"valid", good, false},
		{"empty", "", true},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu", true},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1), true},
		{"old version", strings.Replace(good, "v=19", "v=16", 1), true},
		{"zero memory", strings.Replace(good, "m=64", "m=0", 1), true},
		{"unknown param", strings.Replace(good, "p=1", "x=1", 1), true},
		{"bad salt", strings.Replace(good, "$argon2id$v=19$m=64,t=1,p=1$", "$argon2id$v=19$m=64,t=1,p=1$!!", 1), true},
		{"missing key", good[:strings.LastIndex(good, "$")], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := parseHash(tt.encoded)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseHash(%q) err = %v, wantErr %v", tt.encoded, err, tt.wantErr)
			}
		})
	}
}

func TestHashParamsBelow(t *testing.T) {
	cur := DefaultHashParams
	tests := []struct {
		name string
		p    HashParams
		want bool
	}{
		{"same", cur, false},
		{"less memory", HashParams{Memory: cur.Memory - 1, Time: cur.Time, Threads: 1, KeyLen: 32, SaltLen: 16}, true},
		{"fewer iterations", HashParams{Memory: cur.Memory, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, true},
		{"shorter key", HashParams{Memory: cur.Memory, Time: cur.Time, Threads: 1, KeyLen: 16, SaltLen: 16}, true},
		{"stronger", HashParams{Memory: 2 * cur.Memory, Time: 3, Threads: 1, KeyLen: 32, SaltLen: 16}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.below(cur); got != tt.want {
				t.Fatalf("below = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	set := commonPasswords()
	if len(set) < 10_000 {
		t.Fatalf("common password list has %d entries, want >= 10,000", len(set))
	}
	for _, p := range []string{"password1234", "qwertyuiop123", "iloveyou1234", "monkeymonkey", "football2024", "masturbation"} {
		if !set[p] {
			t.Errorf("%q is not in the common password list", p)
		}
	}
	for p := range set {
		if p != strings.ToLower(p) || len([]rune(p)) < MinPasswordLen {
			t.Fatalf("entry %q should be lowercase and at least %d characters", p, MinPasswordLen)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name, password, email string
		want                  error
	}{
		{"ok", agentPassword, "ann@example.com", nil},
		{"ok unicode 12 runes", "ñandú-café-ü", "ann@example.com", nil},
		{"too short", "short-pass1", "ann@example.com", ErrPasswordTooShort},
		{"empty", "", "ann@example.com", ErrPasswordTooShort},
		{"too long", strings.Repeat("a-b", 342)[:1025], "ann@example.com", ErrPasswordTooLong},
		{"max length", strings.Repeat("x7-", 341) + "z", "ann@example.com", nil},
		{"common", "password1234", "ann@example.com", ErrPasswordCommon},
		{"common any case", "QwertyUIOP123", "ann@example.com", ErrPasswordCommon},
		{"is email", "Ann.Smith@Example.com", "ann.smith@example.com", ErrPasswordIsEmail},
		{"not utf8", "abcdefghijk\xff", "ann@example.com", ErrPasswordNotUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password, tt.email)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckPassword = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"ann@example.com", "ann@example.com", false},
		{"  Ann.Smith@Example.COM ", "ann.smith@example.com", false},
		{"", "", true},
		{"ann", "", true},
		{"Ann <ann@example.com>", "", true},
		{"ann@", "", true},
		{strings.Repeat("a", 250) + "@x.com", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeEmail(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
