package faq

// Synonyms are expanded at query time, not indexed.
//
// Why not Bleve's native synonym sources: those expand single tokens, are
// stored inside the index (so every change to the list would need a
// MappingVersion bump and a rebuild), and cannot say "these words signal the
// topic but are too vague to search for". Query-time expansion searches
// multi-word synonyms as phrases ("money back"; "sign in", all of whose
// other words are stop words, as "sign"), lets the word the customer
// actually typed count more than its synonyms, and is changed by editing
// this file, without rebuilding the index.

// synonymGroup is a set of words and phrases customers use for one thing.
type synonymGroup struct {
	// terms are interchangeable: any of them in a query searches for all
	// of them. A multi-word term is searched as a phrase.
	terms []string
	// cues are phrases that, in a query, mean the group, but are too
	// generic to search for themselves ("how much" is about cost, but
	// articles say "how much" about anything).
	cues []string
}

// shopSynonyms returns the synonym groups of an ink-and-toner shop's help
// center. Matching is on stems, so listing one inflection ("ship") covers
// the others ("ships", "shipping", "shipped"). It returns a fresh slice so
// no caller can change another's table.
func shopSynonyms() []synonymGroup {
	return []synonymGroup{
		{terms: []string{"cartridge", "toner", "ink"}},
		{terms: []string{"refund", "money back", "reimburse", "reimbursement", "return"}},
		{terms: []string{"ship", "shipment", "delivery", "deliver", "arrive", "arrival", "package", "parcel"}},
		{terms: []string{"password", "log in", "login", "sign in", "signin", "locked out", "lockout", "lock out"}},
		{terms: []string{"yield", "pages", "page yield"}},
		{terms: []string{"coupon", "discount", "promo code", "promo", "promotion", "voucher", "coupon code", "discount code"}},
		{terms: []string{"track", "tracking", "order status"},
			cues: []string{"where is my order", "where's my order", "where is my package", "where's my package"}},
		{terms: []string{"cost", "price", "fee", "charge"},
			cues: []string{"how much"}},
		{terms: []string{"check", "cheque", "money order"}},
	}
}
