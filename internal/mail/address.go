package mail

import "strings"

// SplitPlus splits a sub-addressed mailbox into its base address and tag,
// both lower-cased: "support+t1234@Example.com" gives
// ("support@example.com", "t1234"). An address without a tag gives itself
// and ""; surrounding angle brackets and white space are ignored.
func SplitPlus(addr string) (base, tag string) {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, ""
	}
	local, domain := addr[:at], addr[at:]
	local, tag, _ = strings.Cut(local, "+")
	return local + domain, tag
}
