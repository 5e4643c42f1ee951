package app

import (
	"jifen/internal/mailing"
)

// buildMailing makes the mass-mail lists, suppression list and templates
// (邮件群发, docs/mailing.md) and derives the key of the unsubscribe links
// from the keyring, the same in every process of the installation.
func (a *App) buildMailing() {
	a.Mailing = mailing.NewLists(a.DB, a.Audit, a.Clock)
	a.unsubscribeKey = mailing.UnsubscribeKey(a.Keys)
}

// UnsubscribeKey is the key that signs the unsubscribe links of campaign
// mail (for the campaign sender).
func (a *App) UnsubscribeKey() []byte { return a.unsubscribeKey }
