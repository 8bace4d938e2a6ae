package main

import (
	"github.com/printshop/helpdesk/internal/config"
	"github.com/printshop/helpdesk/internal/helpcenter"
)

// siteName is the shop the help center speaks for.
const siteName = "4inkjets"

// knownDepartments holds what the shop posts about each department besides
// its email address: the phone line and what it handles. The addresses come
// from --inboxes, so the help center always shows where mail really goes.
var knownDepartments = map[string]helpcenter.Department{
	"Customer Service":    {Phone: "800-465-5387", Note: "Orders, shipping, returns and product questions. Live support 7 days a week."},
	"Corporate Sales":     {Phone: "866-465-2583", Note: "Volume pricing and business accounts."},
	"School & Government": {Name: "School & Government Sales", Phone: "888-375-6648", Note: "Contract options and specially priced accounts for agencies and schools."},
	"Abuse Reports":       {Note: "Received spam that seems to come from us? Forward the whole email here."},
}

// departments lists one contact per inbox, in the order of --inboxes.
func departments(inboxes []config.Inbox) []helpcenter.Department {
	out := make([]helpcenter.Department, 0, len(inboxes))
	for _, in := range inboxes {
		d := knownDepartments[in.Queue]
		if d.Name == "" {
			d.Name = in.Queue
		}
		d.Email = in.Address
		out = append(out, d)
	}
	return out
}
